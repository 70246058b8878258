//! The thin client: what hooks use, in any PHP process. It starts no
//! thread and keeps no connection: `notify` appends to the outbox, `status`
//! opens a fresh connection to the owner's control socket. Nothing survives
//! between calls, so a forked child is as good a client as its parent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::control::{self, Op};
use crate::error::{HarpError, Result};
use crate::identity::DeviceKey;
use crate::outbox::{self, ChangeKind, Notice};
use crate::owner::lock::{self, Ownership};
use crate::paths;

/// How long `status` waits for the owner.
pub const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// A client of the node that owns a state directory.
#[derive(Debug, Clone)]
pub struct Client {
    dir: PathBuf,
    fsync: bool,
}

impl Client {
    /// A client for `dir`, created (mode 0700) if missing so that notifies
    /// made before the first owner ever ran are kept. With `fsync`, every
    /// notify also waits for the disk (survives a power cut, costs ~ms).
    pub fn new(dir: &Path, fsync: bool) -> Result<Self> {
        Ok(Client {
            dir: crate::fsutil::prepare_state_dir(dir)?,
            fsync,
        })
    }

    /// The canonical state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records that `path` in `folder` changed. Checks its arguments, then
    /// appends one record to the outbox: no network, no hashing.
    pub fn notify(&self, folder: &str, path: &str, kind: &str, from: Option<&str>) -> Result<()> {
        crate::error::debug_panic_point("client.notify");
        let notice = build_notice(folder, path, kind, from)?;
        outbox::append(&self.dir, &notice, self.fsync)
    }

    /// The owner's status, with `role` set to `client`; when no owner runs,
    /// what can be seen from here: `running` false and the outbox count.
    pub fn status(&self) -> Result<Value> {
        match control::request(&self.dir, &Op::Status, STATUS_TIMEOUT) {
            Ok(mut v) => {
                if let Some(o) = v.as_object_mut() {
                    o.insert("role".into(), json!("client"));
                }
                Ok(v)
            }
            Err(HarpError::NotRunning { .. }) => self.local_status(),
            Err(e) => Err(e),
        }
    }

    /// Runs an operation on the owner (`NotRunning` when none runs).
    /// Scans and verifications may take long: they get an hour.
    pub fn call(&self, op: Op) -> Result<Value> {
        let timeout = match op {
            Op::Scan { .. } | Op::Verify { .. } => Duration::from_secs(3600),
            _ => STATUS_TIMEOUT,
        };
        control::request(&self.dir, &op, timeout)
    }

    fn local_status(&self) -> Result<Value> {
        let device_id = DeviceKey::load(&self.dir)?.map(|k| k.device_id().to_string());
        // The socket is gone but a process may still hold the lock (an owner
        // that was constructed but not started).
        let owner = match lock::probe(&self.dir)? {
            Ownership::Owned(pid) => Some(pid),
            Ownership::Free => None,
        };
        Ok(json!({
            "version": crate::VERSION,
            "device_id": device_id,
            "state_dir": self.dir.display().to_string(),
            "role": "client",
            "running": false,
            "pid": owner,
            "outbox": outbox::waiting(&self.dir)?,
        }))
    }
}

/// Checks and normalises what a hook passed to `notify`.
pub fn build_notice(folder: &str, path: &str, kind: &str, from: Option<&str>) -> Result<Notice> {
    paths::check_folder_id(folder)?;
    let kind = ChangeKind::parse(kind)?;
    let path = paths::normalize(path, true)?;
    let from = match (kind, from) {
        (ChangeKind::Rename, Some(f)) => Some(paths::normalize(f, true)?),
        (ChangeKind::Rename, None) => {
            return Err(HarpError::Config(
                "a rename needs the old path: notify($folder, $newPath, 'rename', $oldPath)".into(),
            ))
        }
        (_, Some(_)) => return Err(HarpError::Config("only a rename takes an old path".into())),
        (_, None) => None,
    };
    Ok(Notice {
        folder: folder.to_string(),
        path,
        kind,
        from,
        time_ms: crate::owner::now_ms(),
        pid: std::process::id(),
    })
}
