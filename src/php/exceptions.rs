//! The `Harp\Exception\…` tree and the one place where core errors and
//! panics become PHP exceptions.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ext_php_rs::exception::PhpException;
use ext_php_rs::prelude::*;
use ext_php_rs::zend::ce;

use crate::error::{panic_message, HarpError};

/// Base class of every exception Harp throws.
#[php_class]
#[php(name = "Harp\\Exception\\HarpException")]
#[php(extends(ce = ce::exception, stub = "\\Exception"))]
#[derive(Default)]
pub struct HarpException;

/// Another process already owns this state directory; the message names its pid.
#[php_class]
#[php(name = "Harp\\Exception\\AlreadyRunningException")]
#[php(extends(HarpException))]
#[derive(Default)]
pub struct AlreadyRunningException;

/// No owner process runs for this state directory.
#[php_class]
#[php(name = "Harp\\Exception\\NotRunningException")]
#[php(extends(HarpException))]
#[derive(Default)]
pub struct NotRunningException;

/// A path Harp refuses to sync; the message names the rule it broke.
#[php_class]
#[php(name = "Harp\\Exception\\InvalidPathException")]
#[php(extends(HarpException))]
#[derive(Default)]
pub struct InvalidPathException;

/// A device that is not on the trust list.
#[php_class]
#[php(name = "Harp\\Exception\\UntrustedPeerException")]
#[php(extends(HarpException))]
#[derive(Default)]
pub struct UntrustedPeerException;

/// The disk or the store failed (full disk, damaged file, permissions).
#[php_class]
#[php(name = "Harp\\Exception\\StorageException")]
#[php(extends(HarpException))]
#[derive(Default)]
pub struct StorageException;

/// A malformed message from a peer or from the owner.
#[php_class]
#[php(name = "Harp\\Exception\\ProtocolException")]
#[php(extends(HarpException))]
#[derive(Default)]
pub struct ProtocolException;

/// A bad option, INI setting, argument or state directory.
#[php_class]
#[php(name = "Harp\\Exception\\ConfigException")]
#[php(extends(HarpException))]
#[derive(Default)]
pub struct ConfigException;

impl From<HarpError> for PhpException {
    fn from(e: HarpError) -> Self {
        let msg = e.to_string();
        match e.kind() {
            "already_running" => PhpException::from_class::<AlreadyRunningException>(msg),
            "not_running" => PhpException::from_class::<NotRunningException>(msg),
            "invalid_path" => PhpException::from_class::<InvalidPathException>(msg),
            "untrusted_peer" => PhpException::from_class::<UntrustedPeerException>(msg),
            "storage" => PhpException::from_class::<StorageException>(msg),
            "protocol" => PhpException::from_class::<ProtocolException>(msg),
            // A refused control-socket request is about who runs the caller
            // (its user), which is configuration: no class of its own, so
            // the stubs and the app's catch blocks stay as they are.
            "config" | "forbidden" => PhpException::from_class::<ConfigException>(msg),
            _ => PhpException::from_class::<HarpException>(msg),
        }
    }
}

/// Runs a binding's body: a core error becomes its exception class, and a
/// panic becomes a `HarpException` instead of unwinding into PHP.
pub fn guard<T>(f: impl FnOnce() -> crate::Result<T>) -> PhpResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.into()),
        Err(p) => Err(HarpError::Internal(panic_message(p.as_ref())).into()),
    }
}
