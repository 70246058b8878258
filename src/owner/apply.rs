//! The applier: brings the disk in line with the view. Files the view has
//! and the disk lacks are fetched: the manifest from the store or a peer,
//! each chunk copied from a local file that holds it (delta sync) or
//! fetched from the peers (see `net::schedule`), checked against its BLAKE3
//! hash before it is written, into a temporary file that is fsynced and
//! renamed into place (a file never appears half-written). Files the view
//! dropped are removed if the disk still holds what this device recorded.
//!
//! Up to FILES_IN_FLIGHT files are fetched at once, each with up to
//! CHUNKS_PER_FILE chunk requests in flight, CHUNKS_IN_FLIGHT in all (which
//! bounds memory: at most that many chunks of at most 256 KiB are held).
//! A file whose version is superseded while it is being fetched is
//! cancelled: its requests are dropped (reset on the wire) and its
//! temporary file is removed. Order that matters is kept: conflict copies
//! of a folder before its other files (a copy may be copied from a file
//! about to be overwritten), and removals after the fetches (a renamed
//! file's chunks are copied from its old path).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use sha3::{Digest, Sha3_256};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::{AbortHandle, JoinSet};

use super::{now_ms, warn, Event, Shared};
use crate::chain::dag::Version;
use crate::chain::Hash;
use crate::engine::{hex, tmp_name, Want};
use crate::error::{HarpError, Result};
use crate::fsutil::beneath::{self, Root};
use crate::identity::DeviceId;
use crate::manifest::Manifest;
use crate::net::{Request, Runner};
use crate::store::FileRecord;

/// How often the applier looks again without being woken (peers that
/// connect later, transfers that failed).
const TICK: Duration = Duration::from_secs(2);
/// Files fetched at once.
const FILES_IN_FLIGHT: usize = 16;
/// Chunk requests in flight for one file.
const CHUNKS_PER_FILE: usize = 16;
/// Chunk requests in flight in all.
const CHUNKS_IN_FLIGHT: usize = 64;
/// How far down the queue the applier looks for work it may start.
const LOOKAHEAD: usize = 1024;
/// Manifests the running fetches may hold at once, in KiB: a file's
/// manifest is reserved at its largest possible size (`manifest_bound` of
/// the size its entry states) before it is read, and held until the fetch
/// ends. So entries claiming huge files make this node wait, one such file
/// at a time, instead of holding 16 manifests of 64 MiB each.
const MANIFEST_BUDGET_KIB: usize = 64 * 1024;
/// Most paths `status()` lists as not applied, with their reasons.
const NOT_APPLIED_KEPT: usize = 256;

/// What every fetch needs.
struct Ctx {
    shared: Arc<Shared>,
    runner: Arc<Runner>,
    /// One permit per chunk request in flight, across all files.
    chunk_slots: Arc<Semaphore>,
    /// One permit per KiB of manifest the running fetches may hold (see
    /// MANIFEST_BUDGET_KIB).
    manifest_kib: Arc<Semaphore>,
    /// Files whose chunks are all in place, to be made durable and recorded.
    finisher: mpsc::Sender<Finished>,
}

type Key = (String, String);
/// Verified bytes and the peer that sent them.
type Answer = (Vec<u8>, DeviceId);

/// A file being fetched or removed.
struct Running {
    /// The content being fetched; None for a removal.
    content: Option<Hash>,
    /// The version fetched, and for a conflict copy the path it keeps a
    /// version of: a want with the same content but another version (or
    /// role) replaces it, since the finisher would drop this one.
    want: Option<(Hash, Option<String>)>,
    abort: AbortHandle,
}

impl Running {
    /// A conflict copy's fetch.
    fn copy(&self) -> bool {
        matches!(self.want, Some((_, Some(_))))
    }
}

/// The applier's work: what waits, in order, and what runs.
#[derive(Default)]
struct Queue {
    pending: VecDeque<Want>,
    /// The newest target of each waiting path (None: remove it). A waiting
    /// want whose target is no longer this one is stale and skipped.
    latest: HashMap<Key, Option<Hash>>,
    running: HashMap<Key, Running>,
    /// Downloads left unfinished (nobody had a chunk): their content, whose
    /// temporary file is removed once another version is wanted instead.
    leftovers: HashMap<Key, Hash>,
}

fn key(w: &Want) -> Key {
    match w {
        Want::Fetch { folder, path, .. }
        | Want::Remove { folder, path, .. }
        | Want::Settled { folder, path } => (folder.clone(), path.clone()),
    }
}

fn target(w: &Want) -> Option<Hash> {
    match w {
        Want::Fetch { version, .. } => Some(version.content),
        Want::Remove { .. } | Want::Settled { .. } => None,
    }
}

impl Queue {
    /// Takes a full pass's wants: they replace what waits.
    fn replace(&mut self, wants: Vec<Want>, ctx: &Ctx) {
        self.pending.clear();
        self.latest.clear();
        // Paths no longer wanted are no longer "not applied".
        let wanted: HashSet<Key> = wants.iter().map(key).collect();
        ctx.shared
            .not_applied
            .lock()
            .retain(|k, _| wanted.contains(k) || self.running.contains_key(k));
        // A fetch running for a path the pass no longer wants anything at
        // is stale: dropped (and its temporary file with it).
        let stale: Vec<Key> = self
            .running
            .iter()
            .filter(|(k, r)| r.content.is_some() && !wanted.contains(*k))
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            self.cancel(&k, ctx);
        }
        self.merge(wants, ctx);
    }

    /// Stops what runs for `k`: its task is aborted, and a fetch's
    /// temporary file removed.
    fn cancel(&mut self, k: &Key, ctx: &Ctx) {
        if let Some(r) = self.running.remove(k) {
            r.abort.abort();
            if let Some(old) = r.content {
                discard_tmp(ctx, &k.0, &k.1, &old);
            }
        }
    }

    /// Adds wants; a running file whose version they supersede is
    /// cancelled, a waiting one is replaced.
    fn merge(&mut self, wants: Vec<Want>, ctx: &Ctx) {
        for w in wants {
            let k = key(&w);
            let t = target(&w);
            if let Some(old) = self.leftovers.get(&k).copied() {
                if Some(old) != t {
                    discard_tmp(ctx, &k.0, &k.1, &old);
                    self.leftovers.remove(&k);
                }
            }
            if let Want::Settled { .. } = w {
                // Nothing to do here any more: a fetch waiting or running
                // for an older want is dropped.
                if self.running.get(&k).is_some_and(|r| r.content.is_some()) {
                    self.cancel(&k, ctx);
                }
                self.latest.remove(&k);
                continue;
            }
            let same = self.running.get(&k).map(|r| match &w {
                Want::Fetch {
                    version, copy_of, ..
                } => r.want.as_ref() == Some(&(version.hash, copy_of.clone())),
                _ => r.content.is_none() && t.is_none(),
            });
            match same {
                Some(true) => continue, // already on its way
                Some(false) => self.cancel(&k, ctx),
                None => {}
            }
            if self.latest.insert(k, t) != Some(t) {
                self.pending.push_back(w);
            }
        }
    }

    /// Starts what may start, up to FILES_IN_FLIGHT. A fetch waits for the
    /// conflict copies of its folder ahead of it, a removal for the fetches.
    fn start(&mut self, ctx: &Arc<Ctx>, tasks: &mut JoinSet<(Key, Option<Hash>, Result<bool>)>) {
        // Folders with a conflict copy, or any fetch, running or waiting
        // ahead of the want being looked at.
        let mut copies: HashSet<String> = HashSet::new();
        let mut fetches: HashSet<String> = HashSet::new();
        for (k, r) in &self.running {
            if r.content.is_some() {
                fetches.insert(k.0.clone());
                if r.copy() {
                    copies.insert(k.0.clone());
                }
            }
        }
        let mut i = 0;
        while i < self.pending.len().min(LOOKAHEAD) && self.running.len() < FILES_IN_FLIGHT {
            let w = &self.pending[i];
            let k = key(w);
            if self.latest.get(&k) != Some(&target(w)) {
                self.pending.remove(i); // superseded while it waited
                continue;
            }
            let (blocked, copy, is_fetch) = match w {
                Want::Fetch {
                    folder, copy_of, ..
                } => (
                    copy_of.is_none() && copies.contains(folder),
                    copy_of.is_some(),
                    true,
                ),
                Want::Remove { folder, .. } => (fetches.contains(folder), false, false),
                Want::Settled { .. } => {
                    self.pending.remove(i); // never queued (see `merge`)
                    continue;
                }
            };
            if blocked || self.running.contains_key(&k) {
                // Waits; what comes after it in its folder waits too.
                if copy {
                    copies.insert(k.0.clone());
                }
                if is_fetch {
                    fetches.insert(k.0);
                }
                i += 1;
                continue;
            }
            self.latest.remove(&k);
            let Some(w) = self.pending.remove(i) else {
                break;
            };
            let c = ctx.clone();
            let (content, want, abort) = match w {
                Want::Fetch {
                    folder,
                    path,
                    version,
                    copy_of,
                } => {
                    let content = version.content;
                    let want = Some((version.hash, copy_of.clone()));
                    let k2 = k.clone();
                    let abort = tasks.spawn(async move {
                        let r = fetch(&c, &folder, &path, &version, copy_of.as_deref()).await;
                        if let Ok(true) = r {
                            c.shared
                                .push_event(event("file_updated", &folder, &path, &version));
                        }
                        (k2, Some(content), r)
                    });
                    (Some(content), want, abort)
                }
                Want::Remove {
                    folder,
                    path,
                    record,
                } => {
                    let k2 = k.clone();
                    let abort = tasks.spawn(async move {
                        let s = c.shared.clone();
                        let (f, p) = (folder.clone(), path.clone());
                        let r = tokio::task::spawn_blocking(move || {
                            s.engine.lock().remove(&f, &p, &record)
                        })
                        .await
                        .unwrap_or_else(|e| Err(HarpError::Internal(e.to_string())));
                        if let Ok(true) = r {
                            c.shared
                                .push_event(path_event("file_deleted", folder, path));
                        }
                        (k2, None, r)
                    });
                    (None, None, abort)
                }
                Want::Settled { .. } => continue, // never queued (see `merge`)
            };
            if content.is_some() {
                fetches.insert(k.0.clone());
            }
            let running = Running {
                content,
                want,
                abort,
            };
            if running.copy() {
                copies.insert(k.0.clone());
            }
            self.running.insert(k, running);
        }
    }

    fn idle(&self) -> bool {
        self.pending.is_empty() && self.running.is_empty()
    }
}

pub(super) async fn apply_loop(shared: Arc<Shared>, runner: Arc<Runner>) -> Result<()> {
    let (finished, queue) = mpsc::channel(FINISH_BATCH);
    let _finisher = AbortOnDrop(tokio::spawn(finisher(shared.clone(), queue)));
    let ctx = Arc::new(Ctx {
        shared: shared.clone(),
        runner,
        chunk_slots: Arc::new(Semaphore::new(CHUNKS_IN_FLIGHT)),
        manifest_kib: Arc::new(Semaphore::new(MANIFEST_BUDGET_KIB)),
        finisher: finished,
    });
    let mut queue = Queue::default();
    let mut tasks: JoinSet<(Key, Option<Hash>, Result<bool>)> = JoinSet::new();
    // The first pass, and every tick while idle, compares everything; a
    // wake-up after new entries looks only at the paths they touched.
    let mut look = Look::Full;
    let mut again = FullPass::new();
    let mut conflicts_due = true;
    loop {
        if look != Look::Nothing {
            let s = shared.clone();
            let full = look == Look::Full;
            if full {
                again.done(&ctx.runner);
            }
            let wants = tokio::task::spawn_blocking(move || {
                let mut e = s.engine.lock();
                if full {
                    e.wanted()
                } else {
                    e.wanted_recent()
                }
            })
            .await
            .map_err(|e| HarpError::Internal(e.to_string()))??;
            if full {
                queue.replace(wants, &ctx);
            } else {
                queue.merge(wants, &ctx);
            }
        }
        queue.start(&ctx, &mut tasks);
        // Conflict copies are recorded once what was wanted is done, and
        // only after something happened (this is a walk over the view).
        conflicts_due |= look != Look::Nothing;
        if conflicts_due && queue.idle() {
            record_conflicts(&shared).await;
            conflicts_due = false;
        }
        look = tokio::select! {
            _ = shared.apply_wake.notified() => Look::Recent,
            _ = tokio::time::sleep(TICK) => if queue.idle() && again.due(&ctx.runner) {
                Look::Full
            } else if shared.engine.lock().has_dirty() {
                Look::Recent // a scan's local changes, say
            } else {
                Look::Nothing
            },
            Some(done) = tasks.join_next() => {
                if let Ok((k, content, outcome)) = done {
                    if queue.running.get(&k).is_some_and(|r| r.content == content) {
                        queue.running.remove(&k);
                    }
                    match (outcome, content) {
                        // Left unfinished: its temporary file keeps the
                        // verified chunks for the next try, until a newer
                        // version makes them useless.
                        (Ok(false), Some(c)) => {
                            queue.leftovers.insert(k, c);
                            again.retry = true;
                        }
                        (Ok(_), _) => {
                            shared.not_applied.lock().remove(&k);
                            conflicts_due = true;
                        }
                        (Err(e), _) => {
                            // Warned once per path and reason (not on every
                            // pass), and shown by status() until it clears.
                            let msg = e.to_string();
                            let mut not_applied = shared.not_applied.lock();
                            if not_applied.get(&k) != Some(&msg) {
                                warn(&format!("{}/{}: {msg}", k.0, k.1));
                                if not_applied.len() < NOT_APPLIED_KEPT
                                    || not_applied.contains_key(&k)
                                {
                                    not_applied.insert(k, msg);
                                }
                            }
                            // Refused content, or a path blocked by a symlink:
                            // trying again at once gets the same; the next
                            // full pass (or a new entry for the path) tries
                            // again.
                            again.retry |= !matches!(
                                e,
                                HarpError::Protocol(_) | HarpError::InvalidPath { .. }
                            );
                        }
                    }
                }
                Look::Nothing
            }
        };
    }
}

/// Stops a task when the applier stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// When an idle applier compares everything again: when something was
/// left undone (nobody had a chunk, a write failed) or the set of connected
/// peers changed, and at least every FULL_PASS otherwise. Not on every
/// tick: on a folder of 100,000 files that alone kept an idle node busy.
struct FullPass {
    last: Instant,
    retry: bool,
    peers: Vec<DeviceId>,
}

/// The longest an idle applier goes without comparing everything.
const FULL_PASS: Duration = Duration::from_secs(60);

impl FullPass {
    fn new() -> FullPass {
        FullPass {
            last: Instant::now(),
            retry: false,
            peers: Vec::new(),
        }
    }

    fn connected(runner: &Runner) -> Vec<DeviceId> {
        let mut v: Vec<DeviceId> = runner.sources().iter().map(|s| s.device).collect();
        v.sort();
        v
    }

    fn due(&self, runner: &Runner) -> bool {
        self.retry || self.last.elapsed() >= FULL_PASS || Self::connected(runner) != self.peers
    }

    fn done(&mut self, runner: &Runner) {
        self.last = Instant::now();
        self.retry = false;
        self.peers = Self::connected(runner);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    Full,
    Recent,
    Nothing,
}

/// Records the conflict copies fetched so far, with a `conflict` event for
/// each: its folder and the copy's path.
async fn record_conflicts(shared: &Arc<Shared>) {
    let s = shared.clone();
    match tokio::task::spawn_blocking(move || s.engine.lock().record_conflicts()).await {
        Ok(Ok(copies)) => {
            for (folder, path) in copies {
                shared.push_event(path_event("conflict", folder, path));
            }
        }
        Ok(Err(e)) => warn(&format!("recording conflict copies: {e}")),
        Err(e) => warn(&format!("recording conflict copies: {e}")),
    }
}

/// An event about a path, with no version.
pub(super) fn path_event(kind: &str, folder: String, path: String) -> Event {
    Event {
        kind: kind.into(),
        folder: Some(folder),
        path: Some(path),
        device: None,
        hash: None,
        seq: None,
        time_ms: now_ms(),
    }
}

fn event(kind: &str, folder: &str, path: &str, v: &Version) -> Event {
    Event {
        kind: kind.into(),
        folder: Some(folder.into()),
        path: Some(path.into()),
        device: Some(v.author.to_string()),
        hash: Some(hex(&v.content)),
        seq: None,
        time_ms: now_ms(),
    }
}

/// Removes the temporary file of a cancelled download (in its directory,
/// resolved beneath the folder's root).
fn discard_tmp(ctx: &Ctx, folder: &str, path: &str, content: &Hash) {
    let root = ctx.shared.engine.lock().folder_root(folder);
    if let Ok(root) = root {
        let (parent, _) = beneath::split(path);
        if let Ok(dir) = root.dir(parent) {
            // Under the disk lock: the finisher's swap parks the replaced
            // file at this name for a moment.
            let _placing = ctx.shared.disk.lock();
            let _ = beneath::remove_at(dir.as_fd(), &tmp_name(path, content));
        }
    }
}

/// Whether `st` is what this device last recorded at a path (a regular
/// file of the recorded size and mtime).
fn is_recorded(st: &rustix::fs::Stat, recorded: Option<crate::store::FileRecord>) -> bool {
    beneath::is_regular(st)
        && recorded
            .is_some_and(|r| r.size == beneath::size_of(st) && r.mtime_ns == beneath::mtime_ns(st))
}

/// Fetches one file; Ok(false) when it was left alone (a local change not
/// yet recorded sits there, or nobody has the content).
async fn fetch(
    ctx: &Arc<Ctx>,
    folder: &str,
    path: &str,
    v: &Version,
    copy_of: Option<&str>,
) -> Result<bool> {
    let shared = &ctx.shared;
    // What is recorded at the path now, read together with the view: a
    // want computed before a local change that overtook it is dropped here,
    // and one that is still current replaces only this record (`finish`).
    let (root, known, recorded) = {
        let e = shared.engine.lock();
        if !e.still_wanted(folder, path, &v.hash, copy_of) {
            return Ok(false);
        }
        let recorded = shared.store.file(folder, path)?;
        (e.folder_root(folder)?, e.manifest(&v.content)?, recorded)
    };
    if known.is_none() && ctx.runner.sources().is_empty() {
        return Ok(false); // nobody to fetch from yet
    }
    // Never overwrite what the user changed and Harp has not recorded yet
    // (nor a symlink or special file the user put there).
    if let Ok(Some(st)) = root.lstat(path) {
        if !is_recorded(&st, recorded) {
            warn(&format!(
                "{folder}/{path} changed locally and is not recorded yet; not overwritten (a scan records it)"
            ));
            return Ok(false);
        }
    }
    let max = shared.engine.lock().max_file_size(folder);
    if let Some(max) = max.filter(|m| v.size > *m) {
        return Err(HarpError::Config(format!(
            "{folder}/{path} is {} bytes, over the folder's max_file_size of {max}; not fetched (raise it with addFolder's max_file_size)",
            v.size
        )));
    }
    let kib = (manifest_bound(v.size).div_ceil(1024) as usize).clamp(1, MANIFEST_BUDGET_KIB);
    let _manifest_memory = ctx
        .manifest_kib
        .clone()
        .acquire_many_owned(kib as u32)
        .await
        .map_err(|e| HarpError::Internal(e.to_string()))?;
    let manifest = match known {
        Some(m) => {
            check_size(&m, v, folder, path)?;
            m
        }
        // Its own route: waiting for a LAN peer's manifest must not send
        // the chunks over the WAN.
        None => match fetch_manifest(ctx, &v.content, v.size).await? {
            Some((m, from)) => {
                if let Err(e) = check_size(&m, v, folder, path) {
                    ctx.runner.net.refuse(&from, &format!("{e}"));
                    return Err(e);
                }
                m
            }
            None => return Ok(false),
        },
    };
    // Every directory made in its parent, beneath the root; the temporary
    // file created exclusively in the target's directory.
    let parent = beneath::split(path).0;
    let dir = root.create_dir_all(parent).map_err(|e| {
        if e.kind() == std::io::ErrorKind::Other {
            // A symlink or a file where a directory should be: the path
            // cannot be written beneath the folder until the user moves it.
            HarpError::InvalidPath {
                path: format!("{folder}/{path}"),
                rule: format!("cannot be written: {}: {e}", root.show(parent)),
            }
        } else {
            HarpError::storage(format!("creating {}", root.show(parent)), e)
        }
    })?;
    let tmp = tmp_name(path, &v.content);
    let tmp_shown = root.show(&if parent.is_empty() {
        tmp.clone()
    } else {
        format!("{parent}/{tmp}")
    });
    let io = |e: std::io::Error| HarpError::storage(format!("writing {tmp_shown}"), e);
    // The temporary file is named by the path and content, so a download that was
    // interrupted (even by SIGKILL) is found again and resumed: chunks it
    // already holds, verified against their hashes, are not fetched again.
    let (file, found) = beneath::open_temp_at(dir.as_fd(), &tmp).map_err(io)?;
    let st = rustix::fs::fstat(&file).map_err(|e| io(e.into()))?;
    let resumed = found && beneath::size_of(&st) == manifest.size;
    // Room for it, with the reserve kept free, before a byte is written.
    let (free, total) = beneath::space(dir.as_fd()).map_err(io)?;
    let need = manifest
        .size
        .saturating_sub(if resumed { beneath::allocated(&st) } else { 0 });
    if !beneath::fits(free, total, need) {
        if !found {
            let _ = beneath::remove_at(dir.as_fd(), &tmp);
        }
        return Err(no_room(folder, path, need, free, total, &root));
    }
    if !resumed {
        file.set_len(0).map_err(io)?;
        file.set_len(manifest.size).map_err(io)?;
    }
    let file = Arc::new(file);
    let _state = InProgress::start(shared, folder, path, v, &manifest);
    let mut todo = VecDeque::new();
    for (i, c) in manifest.chunks.iter().enumerate() {
        if resumed {
            let mut have = vec![0u8; c.len as usize];
            if file.read_exact_at(&mut have, c.offset).is_ok()
                && blake3::hash(&have).as_bytes() == &c.hash
            {
                chunk_written(shared, folder, path, &file, c, None);
                continue;
            }
        }
        let local = shared.engine.lock().local_chunk(&c.hash)?;
        match local {
            Some(data) => {
                file.write_all_at(&data, c.offset).map_err(io)?;
                chunk_written(shared, folder, path, &file, c, None);
            }
            None => todo.push_back(i),
        }
    }
    // The network: up to CHUNKS_PER_FILE requests in flight for this file.
    let route = Arc::new(Mutex::new(Route::new()));
    let mut inflight: JoinSet<(usize, Result<Option<Answer>>)> = JoinSet::new();
    while !todo.is_empty() || !inflight.is_empty() {
        while inflight.len() < CHUNKS_PER_FILE {
            let Some(i) = todo.pop_front() else { break };
            let permit = ctx
                .chunk_slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| HarpError::Internal(e.to_string()))?;
            let (c, route, hash, len) = (
                ctx.clone(),
                route.clone(),
                manifest.chunks[i].hash,
                manifest.chunks[i].len,
            );
            inflight.spawn(async move {
                let _permit = permit;
                (i, fetch_chunk(&c, &hash, u64::from(len), &route).await)
            });
        }
        let Some(done) = inflight.join_next().await else {
            break;
        };
        let (i, got) = done.map_err(|e| HarpError::Internal(e.to_string()))?;
        let Some((data, from)) = got? else {
            // Nobody has this chunk now: give up on the file for this pass
            // (the verified chunks stay in the temporary file for the next).
            return Ok(false);
        };
        let c = &manifest.chunks[i];
        file.write_all_at(&data, c.offset).map_err(io)?;
        chunk_written(shared, folder, path, &file, c, Some(from));
    }
    let mtime = UNIX_EPOCH + Duration::from_nanos(u64::try_from(v.mtime_ns).unwrap_or(0));
    file.set_times(
        std::fs::FileTimes::new()
            .set_modified(mtime)
            .set_accessed(SystemTime::now()),
    )
    .map_err(io)?;
    drop(file);
    drop(dir);
    // With the place gate on, the application (Nextcloud's harp:daemon,
    // holding its own lock on the path) says when; `placed` follows when
    // the permit is dropped, after the finisher's answer.
    let _permit = super::gate::ask(shared, folder, path).await;
    // Made durable, renamed into place and recorded together with the
    // other files that finish at the same time.
    let (done, answer) = oneshot::channel();
    ctx.finisher
        .send(Finished {
            folder: folder.to_string(),
            path: path.to_string(),
            version: v.clone(),
            copy_of: copy_of.map(str::to_string),
            manifest,
            root,
            tmp,
            was: recorded,
            done,
        })
        .await
        .map_err(|_| HarpError::Internal("the finisher has stopped".into()))?;
    answer
        .await
        .map_err(|_| HarpError::Internal("the finisher has stopped".into()))?
}

/// A file whose chunks are all written and verified in its temporary file.
struct Finished {
    folder: String,
    path: String,
    version: Version,
    /// For a conflict copy, the path whose losing version it keeps.
    copy_of: Option<String>,
    manifest: Manifest,
    /// The folder's root: the target's directory is resolved beneath it
    /// again right before the rename.
    root: Root,
    /// The temporary file's name, in the target's directory.
    tmp: String,
    /// What this device had recorded at the path when the fetch began: a
    /// different record by the time of the rename means the user wrote a
    /// new version meanwhile (and it was recorded), which is not
    /// overwritten.
    was: Option<FileRecord>,
    /// Ok(true): in place and recorded; Ok(false): left out because the
    /// target changed locally meanwhile.
    done: oneshot::Sender<Result<bool>>,
}

/// Most files one group commit takes.
const FINISH_BATCH: usize = 256;

/// Group commit: takes every finished file that is waiting (never waits for
/// more, so a lone file is not delayed), makes their data durable with one
/// syncfs, renames them into place, makes the renames durable with a second
/// syncfs, and records them all in one store commit. A file appears only
/// once its bytes are on disk, so even a power cut never shows half of it;
/// thousands of small files cost a few syncs instead of three fsyncs each.
async fn finisher(shared: Arc<Shared>, mut queue: mpsc::Receiver<Finished>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < FINISH_BATCH {
            match queue.try_recv() {
                Ok(f) => batch.push(f),
                Err(_) => break,
            }
        }
        let s = shared.clone();
        let finished = tokio::task::spawn_blocking(move || finish(&s, batch)).await;
        if let Err(e) = finished {
            warn(&format!("finishing files: {e}"));
        }
    }
}

fn finish(shared: &Shared, batch: Vec<Finished>) {
    // Each target's directory, resolved beneath its root again: the
    // rename happens in that handle, never through a path.
    let mut ready = Vec::with_capacity(batch.len());
    for f in batch {
        let parent = beneath::split(&f.path).0;
        match f.root.dir(parent) {
            Ok(dir) => {
                let shown = f.root.show(parent);
                ready.push((f, dir, shown));
            }
            Err(e) => {
                let err = HarpError::storage(format!("opening {}", f.root.show(parent)), e);
                let _ = f.done.send(Err(err));
            }
        }
    }
    let sync = |files: &[(Finished, OwnedFd, String)]| {
        crate::fsutil::sync_filesystems_of(files.iter().map(|(_, d, s)| (d, s.as_str())))
    };
    if let Err(e) = sync(&ready) {
        for (f, _, _) in ready {
            let _ = f.done.send(Err(e.clone()));
        }
        return;
    }
    let mut moved = Vec::with_capacity(ready.len());
    {
        // Under the engine lock and the disk lock, which a notify or scan
        // holds from reading the disk to recording it: none records between
        // the look at a path and the swap (see `engine::Placing`), and the
        // view is the one the swap is checked against.
        let engine = shared.engine.lock();
        let mut placing = shared.disk.lock();
        for (f, dir, shown) in ready {
            let name = beneath::split(&f.path).1;
            // A version the view no longer wants here (a local change
            // overtook it while it was fetched) is dropped, not put in.
            if !engine.still_wanted(&f.folder, &f.path, &f.version.hash, f.copy_of.as_deref()) {
                let _ = beneath::remove_at(dir.as_fd(), &f.tmp);
                let _ = f.done.send(Ok(false));
                continue;
            }
            // The size and mtime of what goes into place (a rename keeps
            // the inode), to be recorded instead of whatever the path
            // holds by the time the record is written.
            let seen = beneath::stat_at(dir.as_fd(), &f.tmp)
                .ok()
                .flatten()
                .map(|st| (beneath::size_of(&st), beneath::mtime_ns(&st)));
            match put_in_place(shared, &f, dir.as_fd(), name) {
                Ok(true) => {
                    if let Some((size, mtime_ns)) = seen {
                        let record = FileRecord {
                            size,
                            mtime_ns,
                            content: f.version.content,
                            entry: f.version.hash,
                        };
                        placing.insert(&f.folder, &f.path, record, f.was);
                    }
                    moved.push(((f, dir, shown), seen));
                }
                // A file the user wrote while its replacement was being
                // fetched is not overwritten. Its notify records it, as a
                // version concurrent with this one, so neither is lost; the
                // temporary file is removed (if this version is still
                // wanted, it is fetched again).
                Ok(false) => {
                    warn(&format!(
                        "{}/{} changed locally while its new version was fetched; not overwritten (its notify or a scan records it)",
                        f.folder, f.path
                    ));
                    let _ = beneath::remove_at(dir.as_fd(), &f.tmp);
                    let _ = f.done.send(Ok(false));
                }
                Err(e) => {
                    let err = HarpError::storage(format!("renaming {}/{}", shown, f.tmp), e);
                    let _ = f.done.send(Err(err));
                }
            }
        }
    }
    let (moved, seen): (Vec<_>, Vec<_>) = moved.into_iter().unzip();
    let synced = sync(&moved);
    // Recorded under both locks (the engine's first, as a notify takes
    // them), unless a notify or scan recorded the path since the swap: the
    // user wrote over the new version, and that record stands.
    let mut engine = shared.engine.lock();
    let mut placing = shared.disk.lock();
    let mut kept = vec![false; moved.len()];
    let mut rows = Vec::with_capacity(moved.len());
    let mut rows_seen = Vec::with_capacity(moved.len());
    for (i, (f, _, _)) in moved.iter().enumerate() {
        if shared.store.file(&f.folder, &f.path).ok().flatten() == f.was {
            kept[i] = true;
            rows.push((f.folder.as_str(), f.path.as_str(), &f.version, &f.manifest));
            rows_seen.push(seen[i]);
        }
    }
    let recorded = synced.and_then(|()| engine.applied_many_seen(&rows, &rows_seen));
    for (f, _, _) in &moved {
        placing.remove(&f.folder, &f.path);
    }
    drop(placing);
    drop(engine);
    for ((f, _, _), kept) in moved.into_iter().zip(kept) {
        let _ = f.done.send(recorded.clone().map(|()| kept));
    }
}

/// Puts a fetched file in place, unless the disk holds something at its
/// path other than what this device recorded there when the fetch began (a
/// write not recorded yet, or a symlink or special file the user put
/// there): Ok(true) when it is in place, Ok(false) when it was left out.
///
/// The swap is one atomic exchange of names, and the old file is looked at
/// after it, not before: a write the user made a moment before the swap is
/// in the old file then, and the exchange is undone. (A look before a plain
/// rename, as on file systems without renameat2 flags, leaves a window
/// between the two.) Called with the disk lock held.
fn put_in_place(
    shared: &Shared,
    f: &Finished,
    dir: BorrowedFd<'_>,
    name: &str,
) -> std::io::Result<bool> {
    // A version the user wrote and had recorded while this one was fetched:
    // the record moved on, and that version stays.
    let now = shared.store.file(&f.folder, &f.path).ok().flatten();
    if now != f.was {
        return Ok(false);
    }
    match beneath::put_in_place(dir, &f.tmp, name)? {
        // Nothing was there; a recorded file the user deleted meanwhile
        // loses to this version, as a delete loses to a concurrent write.
        beneath::Put::New => Ok(true),
        beneath::Put::Swapped => {
            let old = beneath::stat_at(dir, &f.tmp);
            if matches!(&old, Ok(Some(st)) if is_recorded(st, f.was)) {
                if let Err(e) = beneath::remove_at(dir, &f.tmp) {
                    warn(&format!(
                        "{}/{}: the replaced file stays as {}: {e}",
                        f.folder, f.path, f.tmp
                    ));
                }
                return Ok(true);
            }
            // The user's file goes back to its name; this version, back
            // at the temporary name, is removed by the caller.
            beneath::exchange_at(dir, &f.tmp, name)?;
            Ok(false)
        }
        beneath::Put::Unsupported => {
            let same = match beneath::stat_at(dir, name)? {
                Some(st) => is_recorded(&st, f.was),
                None => true,
            };
            if same {
                beneath::rename_at(dir, &f.tmp, name)?;
            }
            Ok(same)
        }
    }
}

/// A manifest must describe exactly as many bytes as its entry says: a
/// peer's entry cannot make this device write more than it announced.
fn check_size(m: &Manifest, v: &Version, folder: &str, path: &str) -> Result<()> {
    if m.size == v.size {
        return Ok(());
    }
    let e = HarpError::Protocol(format!(
        "manifest {} describes {} bytes but the entry by {} for {folder}/{path} says {}; not written",
        hex(&v.content),
        m.size,
        v.author.short(),
        v.size
    ));
    Err(e)
}

/// The error for a file that would not leave the reserve free.
fn no_room(folder: &str, path: &str, need: u64, free: u64, total: u64, root: &Root) -> HarpError {
    const MIB: u64 = 1 << 20;
    HarpError::Storage(format!(
        "{folder}/{path} not written: it needs {} MiB and {} MiB are free on the disk of {}, \
         where Harp keeps {} MiB free (1% of the disk or 64 MiB, whichever is larger); \
         nothing was changed, free space and Harp fetches it by itself",
        need.div_ceil(MIB),
        free / MIB,
        root.path().display(),
        beneath::reserve(total) / MIB
    ))
}

/// A verified chunk is in the temporary file: count it, and let LAN peers
/// take it from us before the file is done.
fn chunk_written(
    shared: &Shared,
    folder: &str,
    path: &str,
    tmp: &Arc<std::fs::File>,
    c: &crate::manifest::Chunk,
    from: Option<DeviceId>,
) {
    if let Some(t) = shared
        .transfers
        .lock()
        .get_mut(&(folder.to_string(), path.to_string()))
    {
        t.done += u64::from(c.len);
        if let Some(d) = from {
            t.sources.insert(d);
        }
    }
    shared
        .partial
        .lock()
        .insert(c.hash, (tmp.clone(), c.offset, c.len, folder.to_string()));
}

/// A file being fetched, for `status()`.
#[derive(Debug, Clone)]
pub(super) struct Transfer {
    /// Bytes in the file.
    pub total: u64,
    /// Bytes verified and written so far.
    pub done: u64,
    /// When the download started.
    pub started: Instant,
    /// The peers that sent chunks of it.
    pub sources: BTreeSet<DeviceId>,
}

/// The in-memory state of one download (progress, and the chunks peers
/// may take from it), removed when the download ends in any way,
/// cancellation included.
struct InProgress<'a> {
    shared: &'a Shared,
    key: Key,
    content: Hash,
    chunks: Vec<Hash>,
}

impl<'a> InProgress<'a> {
    fn start(
        shared: &'a Shared,
        folder: &str,
        path: &str,
        v: &Version,
        manifest: &Manifest,
    ) -> InProgress<'a> {
        let key = (folder.to_string(), path.to_string());
        shared.transfers.lock().insert(
            key.clone(),
            Transfer {
                total: manifest.size,
                done: 0,
                started: Instant::now(),
                sources: BTreeSet::new(),
            },
        );
        shared
            .partial_manifests
            .lock()
            .insert(v.content, (folder.to_string(), manifest.encode()));
        InProgress {
            shared,
            key,
            content: v.content,
            chunks: manifest.chunks.iter().map(|c| c.hash).collect(),
        }
    }
}

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.shared.transfers.lock().remove(&self.key);
        self.shared.partial_manifests.lock().remove(&self.content);
        let mut partial = self.shared.partial.lock();
        for h in &self.chunks {
            partial.remove(h);
        }
    }
}

/// Per-file state of the "WAN once per site" rule.
struct Route {
    /// True once this file may come over the WAN from here.
    wan_ok: bool,
    /// The last time a LAN peer gave us something for this file.
    last_lan: Instant,
}

impl Route {
    fn new() -> Route {
        Route {
            wan_ok: false,
            last_lan: Instant::now(),
        }
    }
}

/// How long a device that is not the site's WAN fetcher waits for its LAN
/// peers to have a chunk before it fetches over the WAN itself.
const LAN_PATIENCE: Duration = Duration::from_secs(10);
/// How long a request waits for some peer to have what it asks for.
const GIVE_UP: Duration = Duration::from_secs(30);

/// Asks LAN peers first; asks WAN peers only if this device is the site's
/// WAN fetcher (the smallest device ID among this site's connected
/// devices), or its LAN peers have not delivered for LAN_PATIENCE. So when
/// several devices of one office lack a file, one fetches it over the WAN
/// and the others take it from that one over the LAN, chunk by chunk as it
/// arrives. Among the peers allowed, the scheduler picks by measured RTT
/// and throughput, and hedges late requests.
async fn ask_nearest(
    ctx: &Ctx,
    req: &Request,
    len: u64,
    route: &Mutex<Route>,
    accept: impl Fn(&[u8]) -> bool,
) -> Result<Option<Answer>> {
    let started = Instant::now();
    let scheduler = &ctx.runner.scheduler;
    loop {
        let sources = ctx.runner.sources();
        if sources.is_empty() {
            return Ok(None);
        }
        let (lan, wan): (Vec<_>, Vec<_>) = sources.into_iter().partition(|s| s.lan);
        let fetcher = lan.iter().all(|s| ctx.runner.me < s.device);
        if !lan.is_empty() {
            if let Some(got) = scheduler.fetch(lan.clone(), req, len, &accept).await {
                route.lock().last_lan = Instant::now();
                return Ok(Some(got));
            }
        }
        let may_wan = {
            let mut r = route.lock();
            r.wan_ok = r.wan_ok || fetcher || r.last_lan.elapsed() > LAN_PATIENCE;
            r.wan_ok
        };
        if may_wan {
            if !wan.is_empty() {
                if let Some(got) = scheduler.fetch(wan, req, len, &accept).await {
                    return Ok(Some(got));
                }
            }
            if lan.is_empty() || started.elapsed() > GIVE_UP {
                return Ok(None); // nobody has it
            }
        }
        // A LAN peer is fetching it: wait for its copy.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The most bytes the manifest of a `size`-byte file can take: FastCDC's
/// chunks are at least MIN_CHUNK (all but the last), so this allows four
/// times as many as a file can have, and a peer cannot make this device
/// take 64 MiB for a small file's manifest.
fn manifest_bound(size: u64) -> u64 {
    let slack = (crate::manifest::MIN_CHUNK / 4) as u64;
    (4096 + 36 * (size / slack)).min(64 * 1024 * 1024)
}

/// A file's manifest from the peers, and the peer that sent it.
async fn fetch_manifest(
    ctx: &Ctx,
    content: &Hash,
    size: u64,
) -> Result<Option<(Manifest, DeviceId)>> {
    let req = Request::Manifest { hash: hex(content) };
    let route = Mutex::new(Route::new());
    let matches = |b: &[u8]| &<[u8; 32]>::from(Sha3_256::digest(b)) == content;
    match ask_nearest(ctx, &req, manifest_bound(size), &route, matches).await? {
        Some((bytes, from)) => Ok(Some((Manifest::decode(&bytes)?, from))),
        None => Ok(None),
    }
}

async fn fetch_chunk(
    ctx: &Ctx,
    hash: &Hash,
    len: u64,
    route: &Mutex<Route>,
) -> Result<Option<Answer>> {
    let req = Request::Chunk { hash: hex(hash) };
    // Verified before use: a peer cannot slip in other bytes.
    let matches = |b: &[u8]| blake3::hash(b).as_bytes() == hash;
    ask_nearest(ctx, &req, len, route, matches).await
}
