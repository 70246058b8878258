//! The one error type of the core. Each variant maps to one PHP exception
//! class (see `php/exceptions.rs`), and each message says what went wrong
//! and, where it can, what to do about it.

use std::path::PathBuf;

/// Every error Harp's core can return.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HarpError {
    /// Another process holds the owner lock of this state directory.
    #[error(
        "state directory {dir} is already owned by process {pid}; \
         use Harp\\Client to talk to it, or stop that process first"
    )]
    AlreadyRunning {
        /// The state directory.
        dir: PathBuf,
        /// The owner's process id, as it wrote it into the lock file.
        pid: u32,
    },

    /// No owner process is running for this state directory.
    #[error("no Harp node is running for state directory {dir}: start one with `harp serve --state-dir {dir}` (or `occ harp:daemon`)")]
    NotRunning {
        /// The state directory.
        dir: PathBuf,
    },

    /// A path that Harp refuses to sync.
    #[error("invalid path {path:?}: {rule}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// The rule it broke.
        rule: String,
    },

    /// A peer that is not on the trust list.
    #[error("device {device} is not trusted: {detail}")]
    UntrustedPeer {
        /// The peer's device id.
        device: String,
        /// What happened.
        detail: String,
    },

    /// The disk or the embedded database failed.
    #[error("storage error: {0}")]
    Storage(String),

    /// A malformed frame or message.
    #[error("protocol error: {0}")]
    Protocol(String),

    /// Bad configuration: an option, an INI setting, a state directory.
    #[error("configuration error: {0}")]
    Config(String),

    /// The caller may not do this: a request over the control socket from
    /// a user other than the owner's (and root) that would change trust,
    /// folders or settings.
    #[error("permission denied: {0}")]
    Forbidden(String),

    /// A bug in Harp: a panic that was caught, or a broken invariant.
    #[error("internal error in harp (please report it): {0}")]
    Internal(String),

    /// An error the owner process reported over the control socket, kept
    /// with its kind so the client raises the same exception class.
    #[error("{message}")]
    Remote {
        /// One of the names `kind()` returns.
        kind: &'static str,
        /// The owner's message, verbatim.
        message: String,
    },
}

/// Harp's result type.
pub type Result<T, E = HarpError> = std::result::Result<T, E>;

impl HarpError {
    /// A storage error with the file or action it concerns.
    /// An I/O error the user can fix (full disk, read-only file system, too
    /// many open files) gets the same plain-words hint as `io`.
    pub fn storage(what: impl std::fmt::Display, err: impl std::fmt::Display + 'static) -> Self {
        if let Some(io) = (&err as &dyn std::any::Any).downcast_ref::<std::io::Error>() {
            if let Some(hinted) = Self::hinted(&what, io) {
                return hinted;
            }
        }
        HarpError::Storage(format!("{what}: {err}"))
    }

    /// A storage error from an I/O error, saying in plain words what the
    /// user can do about the ones they can fix: a full disk, a read-only
    /// file system, too many open files.
    pub fn io(what: &str, e: &std::io::Error) -> Self {
        Self::hinted(&what, e).unwrap_or_else(|| HarpError::Storage(format!("{what}: {e}")))
    }

    fn hinted(what: &dyn std::fmt::Display, e: &std::io::Error) -> Option<Self> {
        let hint = match e.raw_os_error() {
            Some(libc::ENOSPC) => {
                "no space left on the disk; nothing was lost, free space and Harp carries on by itself"
            }
            Some(libc::EDQUOT) => {
                "the disk quota is exceeded; nothing was lost, free space and Harp carries on by itself"
            }
            Some(libc::EROFS) => {
                "the file system is read-only; Harp needs its state directory and folders writable"
            }
            Some(libc::EMFILE) | Some(libc::ENFILE) => {
                "too many open files; raise the limit (ulimit -n, or LimitNOFILE= in the systemd unit)"
            }
            Some(libc::EACCES) | Some(libc::EPERM) => {
                "permission denied; the state directory and folders must be writable by this user"
            }
            _ => return None,
        };
        Some(HarpError::Storage(format!("{what}: {hint} ({e})")))
    }

    /// Every name `kind` gives (a `Remote` error carries one of these).
    pub const KINDS: [&'static str; 9] = [
        "already_running",
        "not_running",
        "invalid_path",
        "untrusted_peer",
        "storage",
        "protocol",
        "config",
        "forbidden",
        "internal",
    ];

    /// A short, stable name for the error kind, used on the control socket
    /// so a client can rebuild the same error.
    pub fn kind(&self) -> &'static str {
        match self {
            HarpError::AlreadyRunning { .. } => "already_running",
            HarpError::NotRunning { .. } => "not_running",
            HarpError::InvalidPath { .. } => "invalid_path",
            HarpError::UntrustedPeer { .. } => "untrusted_peer",
            HarpError::Storage(_) => "storage",
            HarpError::Protocol(_) => "protocol",
            HarpError::Config(_) => "config",
            HarpError::Forbidden(_) => "forbidden",
            HarpError::Internal(_) => "internal",
            HarpError::Remote { kind, .. } => kind,
        }
    }

    /// Rebuilds an error that crossed the control socket as (kind, message).
    /// An unknown kind becomes a protocol error.
    pub fn from_remote(kind: &str, message: String) -> Self {
        let kind = Self::KINDS
            .iter()
            .find(|k| **k == kind)
            .copied()
            .unwrap_or("protocol");
        HarpError::Remote { kind, message }
    }
}

/// Turns a caught panic payload into a readable message.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// Debug builds only: panics when the environment variable
/// `HARP_DEBUG_PANIC` names `point` (a comma-separated list). This is how
/// the tests prove that a panic in a binding or in the runtime reaches PHP
/// as an exception. In release builds it compiles to nothing.
#[inline]
pub fn debug_panic_point(point: &str) {
    #[cfg(debug_assertions)]
    {
        if let Ok(v) = std::env::var("HARP_DEBUG_PANIC") {
            if v.split(',').any(|p| p.trim() == point) {
                #[allow(clippy::panic)] // the whole point of this trigger
                {
                    panic!("debug panic at {point}");
                }
            }
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}
