//! The place gate: an application that has its own file locks (Nextcloud)
//! decides when a file from a peer may be renamed into place.
//!
//! With the gate on (`Harp\Node`'s `place_gate` option), a file whose bytes
//! are all fetched and verified waits in its temporary file: the node emits
//! a `place` event (folder, path, and a token in `seq`), and renames it only
//! once `Node::placeAnswer(token, true)` says so. Nextcloud's `harp:daemon`
//! takes Nextcloud's exclusive lock on the path first, so an upload or an
//! Office save in progress (which holds that lock) is never overwritten;
//! it answers `false` while the path is locked, and the node asks again
//! after `RETRY`. An answer that does not come within `ANSWER_WAIT` counts
//! as `false`. Whatever happens after a `true` (renamed, or left out because
//! the user wrote the file meanwhile, or the fetch cancelled), a `placed`
//! event with the same token follows, so the application can release its
//! lock. With the gate off (the default) nothing waits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::{Event, Shared};
use crate::error::{HarpError, Result};

/// How long a `place` request waits for its answer.
pub const ANSWER_WAIT: Duration = Duration::from_secs(30);
/// How long after a `false` (or no answer) the node asks again.
pub const RETRY: Duration = Duration::from_secs(2);
/// Most requests waiting for an answer at once (FILES_IN_FLIGHT bounds them
/// already; this is a second bound on the map).
const MAX_WAITING: usize = 4096;

/// The gate's state, in `Shared`.
#[derive(Default)]
pub struct Gate {
    on: AtomicBool,
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<bool>>>,
}

impl Gate {
    pub fn set(&self, on: bool) {
        self.on.store(on, Ordering::SeqCst);
    }

    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::SeqCst)
    }

    /// The application's answer to request `token`.
    pub fn answer(&self, token: u64, go: bool) -> Result<()> {
        match self.waiting.lock().remove(&token) {
            Some(tx) => {
                // The request may have given up a moment ago; then it asks again.
                let _ = tx.send(go);
                Ok(())
            }
            None => Err(HarpError::Config(format!(
                "no place request {token} is waiting (answered already, or it waited longer than {} s and asks again with a new token)",
                ANSWER_WAIT.as_secs()
            ))),
        }
    }
}

/// Permission to rename one file into place. Dropping it emits `placed`.
pub struct Permit<'a> {
    shared: &'a Shared,
    folder: String,
    path: String,
    token: u64,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.shared
            .push_event(gate_event("placed", &self.folder, &self.path, self.token));
    }
}

/// `place` or `placed`: a path event with the request's token in `seq`.
fn gate_event(kind: &str, folder: &str, path: &str, token: u64) -> Event {
    Event {
        seq: Some(token),
        ..super::apply::path_event(kind, folder.into(), path.into())
    }
}

/// Waits until the application lets `folder/path` be renamed into place:
/// at once (None) when the gate is off. Asks again every `RETRY` while the
/// answer is no; a cancelled fetch drops this future, and its request with it.
pub async fn ask<'a>(shared: &'a Shared, folder: &str, path: &str) -> Option<Permit<'a>> {
    let gate = &shared.gate;
    if !gate.is_on() {
        return None;
    }
    loop {
        let token = gate.next.fetch_add(1, Ordering::SeqCst) + 1;
        let (tx, rx) = oneshot::channel();
        {
            let mut waiting = gate.waiting.lock();
            if waiting.len() < MAX_WAITING {
                waiting.insert(token, tx);
            }
        }
        let forget = Forget { gate, token };
        shared.push_event(gate_event("place", folder, path, token));
        let go = matches!(tokio::time::timeout(ANSWER_WAIT, rx).await, Ok(Ok(true)));
        drop(forget);
        if go {
            return Some(Permit {
                shared,
                folder: folder.into(),
                path: path.into(),
                token,
            });
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Removes a request from the waiting map when its future ends or is dropped.
struct Forget<'a> {
    gate: &'a Gate,
    token: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.gate.waiting.lock().remove(&self.token);
    }
}
