//! `Harp\Client`: the thin client hooks use, in any PHP process.

// Parameter names are PHP's, for named arguments: hence camelCase.
#![allow(non_snake_case)]

use std::path::PathBuf;

use ext_php_rs::boxed::ZBox;
use ext_php_rs::prelude::*;
use ext_php_rs::types::ZendHashTable;

use super::convert::to_array;
use super::exceptions::guard;
use super::ini;
use crate::client;
use crate::control::Op;

/// Talks to the node that owns a state directory, from any PHP process:
/// FPM workers, cron, CLI. Starts no thread and keeps no connection, so it
/// is safe in forked children and costs nothing between calls.
#[php_class]
#[php(flags = ext_php_rs::flags::ClassFlags::Final)]
#[php(name = "Harp\\Client")]
pub struct Client {
    inner: client::Client,
}

/// The state directory to use: the argument, else `harp.state_dir`.
pub fn state_dir_or_ini(arg: Option<String>) -> PathBuf {
    match arg {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(ini::get(ini::STATE_DIR)),
    }
}

#[php_impl]
impl Client {
    /// A client for `$stateDir` (default: the `harp.state_dir` INI setting).
    /// The directory is created if it does not exist yet, so notifies made
    /// before the first owner ever ran are kept.
    pub fn __construct(stateDir: Option<String>) -> PhpResult<Self> {
        guard(|| {
            let dir = state_dir_or_ini(stateDir);
            Ok(Client {
                inner: client::Client::new(&dir, ini::get_bool(ini::NOTIFY_FSYNC))?,
            })
        })
    }

    /// Tells the owner that `$path` in `$folderId` changed. `$kind` is
    /// `write`, `delete` or `rename`; a rename passes the old path as
    /// `$from`. Returns once the change is in the durable outbox: no network
    /// I/O, no hashing. Throws `InvalidPathException` for a path Harp will
    /// not sync and `ConfigException` for a bad folder id or kind.
    #[php(defaults(kind = "\"write\""))]
    pub fn notify(
        &self,
        folderId: String,
        path: String,
        kind: String,
        from: Option<String>,
    ) -> PhpResult<()> {
        guard(|| self.inner.notify(&folderId, &path, &kind, from.as_deref()))
    }

    /// Asks the owner to sync `$path` as folder `$folderId` (see
    /// `Node::addFolder`, and its `devices` and `max_file_size` options). Throws
    /// `NotRunningException` when no owner runs.
    pub fn addFolder(
        &self,
        folderId: String,
        path: String,
        options: Option<&ZendHashTable>,
    ) -> PhpResult<()> {
        guard(|| {
            self.inner
                .call(super::node::folder_options(options)?.op(folderId, path))
        })?;
        Ok(())
    }

    /// Asks the owner to share a folder with one more device (see
    /// `Node::shareFolder`).
    pub fn shareFolder(&self, folderId: String, deviceId: String) -> PhpResult<()> {
        guard(|| {
            self.inner.call(Op::ShareFolder {
                folder: folderId,
                device: deviceId,
            })
        })?;
        Ok(())
    }

    /// Asks the owner to stop sharing a folder with a device (see
    /// `Node::unshareFolder`).
    pub fn unshareFolder(&self, folderId: String, deviceId: String) -> PhpResult<()> {
        guard(|| {
            self.inner.call(Op::UnshareFolder {
                folder: folderId,
                device: deviceId,
            })
        })?;
        Ok(())
    }

    /// The owner's folders (see `Node::folders`).
    pub fn folders(&self) -> PhpResult<ZBox<ZendHashTable>> {
        to_array(&guard(|| self.inner.call(Op::Folders))?)
    }

    /// Asks the owner to scan a folder (see `Node::scan`).
    pub fn scan(&self, folderId: String) -> PhpResult<ZBox<ZendHashTable>> {
        to_array(&guard(|| self.inner.call(Op::Scan { folder: folderId }))?)
    }

    /// The versions of a path, newest first (see `Node::history`).
    pub fn history(&self, folderId: String, path: String) -> PhpResult<ZBox<ZendHashTable>> {
        to_array(&guard(|| {
            self.inner.call(Op::History {
                folder: folderId,
                path,
            })
        })?)
    }

    /// Asks the owner to check a folder's entries (see `Node::verify`).
    pub fn verify(&self, folderId: String) -> PhpResult<ZBox<ZendHashTable>> {
        to_array(&guard(|| self.inner.call(Op::Verify { folder: folderId }))?)
    }

    /// Asks the owner to pin a device (see `Node::trust`).
    pub fn trust(&self, deviceId: String, addresses: Option<Vec<String>>) -> PhpResult<()> {
        guard(|| {
            self.inner.call(Op::Trust {
                device: deviceId,
                addresses: addresses.unwrap_or_default(),
            })
        })?;
        Ok(())
    }

    /// Asks the owner to unpin a device (see `Node::untrust`).
    pub fn untrust(&self, deviceId: String) -> PhpResult<()> {
        guard(|| self.inner.call(Op::Untrust { device: deviceId }))?;
        Ok(())
    }

    /// The owner's peers (see `Node::peers`).
    pub fn peers(&self) -> PhpResult<ZBox<ZendHashTable>> {
        to_array(&guard(|| self.inner.call(Op::Peers))?)
    }

    /// The owner's status (see `Node::status`) with `role` = `client`. When
    /// no owner runs: `running` false, the owner `pid` if one holds the lock
    /// without running, and `outbox`, the notifies waiting for an owner.
    pub fn status(&self) -> PhpResult<ZBox<ZendHashTable>> {
        to_array(&guard(|| self.inner.status())?)
    }
}
