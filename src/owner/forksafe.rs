//! Descriptors a forked child must not keep: the owner lock and the control
//! socket's listener. A `pthread_atfork` child handler closes the child's
//! copies, so a child that outlives its parent neither holds the owner lock
//! (blocking the next owner) nor a dead listening socket (stalling clients).
//!
//! The handler runs in the child between fork and the return to PHP, where
//! only async-signal-safe calls are allowed: it reads atomics and calls
//! close(2), nothing else. It is installed on the first registration, which
//! happens in an owner process, never in MINIT.
//!
//! Known limit: the store's own lock (redb's, on `store.redb`) lives inside
//! redb; a child that outlives its parent keeps that one until it exits.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Once;

const SLOTS: usize = 16;
static FDS: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];
static INSTALL: Once = Once::new();

extern "C" fn close_in_child() {
    for slot in &FDS {
        let fd = slot.swap(-1, Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: close is async-signal-safe; the fd is this process's
            // copy of one the parent registered.
            unsafe { libc::close(fd) };
        }
    }
}

/// Closes `fd` in any child forked from now on, until `forget` is called.
pub fn register(fd: RawFd) {
    INSTALL.call_once(|| {
        // SAFETY: registers a handler that only touches atomics and close().
        unsafe { libc::pthread_atfork(None, None, Some(close_in_child)) };
    });
    for slot in &FDS {
        if slot
            .compare_exchange(-1, fd, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
    }
}

/// Stops closing `fd` in children (call before closing it yourself).
pub fn forget(fd: RawFd) {
    for slot in &FDS {
        let _ = slot.compare_exchange(fd, -1, Ordering::SeqCst, Ordering::SeqCst);
    }
}
