//! The owner lock: exactly one process per state directory owns the node.
//!
//! The owner holds an exclusive `flock` on `owner.lock` for as long as it
//! lives and writes its pid into the file. The kernel drops the lock when
//! the process dies, however it dies (SIGKILL included), so the next owner
//! takes over without any stale-lock cleanup. A second would-be owner fails
//! at once with `AlreadyRunning`, naming the pid it read from the file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{HarpError, Result};

/// File name of the lock inside the state directory.
pub const LOCK_FILE: &str = "owner.lock";

/// A held owner lock. Dropping it (or the process dying) releases it.
#[derive(Debug)]
pub struct OwnerLock {
    file: File,
    pid: u32,
}

impl OwnerLock {
    /// Takes the lock for `dir`, or says which process holds it.
    pub fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| lock_io_error(&path, e))?;
        // A client probing ownership holds a shared lock for a moment:
        // retry briefly before concluding that another owner runs.
        let mut tries = 0;
        let rc = loop {
            // SAFETY: flock on a valid, open descriptor owned by `file`.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            let busy = rc != 0
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::EWOULDBLOCK);
            if !busy || tries >= 20 {
                break rc;
            }
            tries += 1;
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let pid = read_pid(&mut file).unwrap_or(0);
                return Err(HarpError::AlreadyRunning {
                    dir: dir.to_path_buf(),
                    pid,
                });
            }
            return Err(lock_io_error(&path, err));
        }
        let pid = std::process::id();
        let write = |f: &mut File| -> std::io::Result<()> {
            f.set_len(0)?;
            f.seek(SeekFrom::Start(0))?;
            f.write_all(format!("{pid}\n").as_bytes())?;
            f.sync_data()
        };
        write(&mut file).map_err(|e| lock_io_error(&path, e))?;
        super::forksafe::register(file.as_raw_fd());
        Ok(OwnerLock { file, pid })
    }

    /// The pid that took the lock.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Raw descriptor, for tests that check it does not leak into children.
    pub fn raw_fd(&self) -> i32 {
        self.file.as_raw_fd()
    }
}

impl Drop for OwnerLock {
    fn drop(&mut self) {
        // Unlock explicitly: a child forked from this process shares the
        // open file description and would otherwise keep the lock alive.
        if std::process::id() == self.pid {
            super::forksafe::forget(self.file.as_raw_fd());
            // SAFETY: flock on the descriptor `self.file` owns.
            unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
        }
    }
}

fn lock_io_error(path: &Path, e: std::io::Error) -> HarpError {
    if e.raw_os_error() == Some(libc::EROFS) || e.kind() == std::io::ErrorKind::PermissionDenied {
        HarpError::Config(format!(
            "cannot write the owner lock {}: {e}; the state directory must be writable by this user",
            path.display()
        ))
    } else {
        HarpError::storage(format!("owner lock {}", path.display()), e)
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut s = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

/// Who owns a state directory right now, as seen from any process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// No process holds the lock.
    Free,
    /// A process holds it; its pid as written in the lock file.
    Owned(u32),
}

/// Probes the lock without taking it for longer than the probe itself.
pub fn probe(dir: &Path) -> Result<Ownership> {
    let path: PathBuf = dir.join(LOCK_FILE);
    let mut file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ownership::Free),
        Err(e) => return Err(lock_io_error(&path, e)),
    };
    // A shared lock succeeds only when nobody holds the exclusive one.
    // SAFETY: flock on a valid descriptor owned by `file`.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    if rc == 0 {
        // SAFETY: as above; release at once, explicitly (see OwnerLock::drop).
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
        return Ok(Ownership::Free);
    }
    Ok(Ownership::Owned(read_pid(&mut file).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_in_same_process_is_refused_with_pid_then_freed() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(probe(dir.path()).unwrap(), Ownership::Free);
        let lock = OwnerLock::acquire(dir.path()).unwrap();
        // flock locks belong to open file descriptions, so a second open in
        // the same process conflicts just as another process would.
        match OwnerLock::acquire(dir.path()) {
            Err(HarpError::AlreadyRunning { pid, .. }) => assert_eq!(pid, std::process::id()),
            other => panic!("expected AlreadyRunning, got {other:?}"),
        }
        assert_eq!(
            probe(dir.path()).unwrap(),
            Ownership::Owned(std::process::id())
        );
        drop(lock);
        assert_eq!(probe(dir.path()).unwrap(), Ownership::Free);
        OwnerLock::acquire(dir.path()).unwrap();
    }
}
