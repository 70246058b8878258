//! Wakes the owner when a client writes to the outbox: inotify on the state
//! directory, read through tokio's `AsyncFd`. Clients do nothing extra; the
//! kernel tells the owner. A timer in the intake loop covers the rare case
//! of a lost wake-up (a full inotify queue), so this is an accelerator, not
//! the only path.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::error::{HarpError, Result};

/// An inotify instance watching one directory.
pub struct DirWatch {
    fd: AsyncFd<OwnedFd>,
}

impl DirWatch {
    /// Watches `dir` for files being written, created or renamed into it.
    /// Must be called inside the tokio runtime.
    pub fn new(dir: &Path) -> Result<Self> {
        let os = |what: &str| {
            HarpError::storage(
                format!("watching {} ({what})", dir.display()),
                std::io::Error::last_os_error(),
            )
        };
        // SAFETY: plain syscall; the result is checked before use.
        let raw: RawFd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(os("inotify_init1"));
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
        let cpath = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| HarpError::Config("state directory path contains NUL".into()))?;
        let mask = libc::IN_MODIFY | libc::IN_CLOSE_WRITE | libc::IN_MOVED_TO | libc::IN_CREATE;
        // SAFETY: valid descriptor and NUL-terminated path.
        let wd = unsafe { libc::inotify_add_watch(owned.as_raw_fd(), cpath.as_ptr(), mask) };
        if wd < 0 {
            return Err(os("inotify_add_watch"));
        }
        // SAFETY: `owned` is an open inotify descriptor that the AsyncFd
        // owns from here on; nothing else closes or replaces it.
        let fd = unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) }
            .map_err(|e| HarpError::Storage(format!("registering the directory watch: {e}")))?;
        Ok(DirWatch { fd })
    }

    /// Waits until something in the directory changed, then drains the
    /// queued events. Which file changed does not matter: the caller reads
    /// the outbox from its stored position either way.
    pub async fn changed(&self) -> Result<()> {
        loop {
            let mut guard = self
                .fd
                .readable()
                .await
                .map_err(|e| HarpError::storage("waiting on the directory watch", e))?;
            let mut buf = [0u8; 4096];
            let res = guard.try_io(|inner| {
                // SAFETY: reads into a buffer we own, of the length given.
                let n = unsafe {
                    libc::read(
                        inner.get_ref().as_raw_fd(),
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                    )
                };
                if n < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(n)
                }
            });
            match res {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => return Err(HarpError::storage("reading the directory watch", e)),
                Err(_would_block) => continue,
            }
        }
    }
}
