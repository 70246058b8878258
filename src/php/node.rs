//! `Harp\Node`: the owner of a state directory, in the one PHP process that
//! runs the node (`harp serve`, `occ harp:daemon`).

// Parameter names are PHP's, for named arguments: hence camelCase.
#![allow(non_snake_case)]

use std::path::PathBuf;
use std::time::Duration;

use ext_php_rs::boxed::ZBox;
use ext_php_rs::prelude::*;
use ext_php_rs::types::ZendHashTable;

use super::client::state_dir_or_ini;
use super::convert::to_array;
use super::event::Event;
use super::exceptions::guard;
use super::{ini, registry};
use crate::control::Op;
use crate::error::{debug_panic_point, HarpError, Result};
use crate::owner::{Config, Owner};

/// The node: owns its state directory (one process at a time), its device
/// key and its store, and runs the networking runtime on a background
/// thread between `start()` and `stop()`.
#[php_class]
#[php(flags = ext_php_rs::flags::ClassFlags::Final)]
#[php(name = "Harp\\Node")]
pub struct Node {
    /// `None` only in a forked child, which must never touch the parent's
    /// runtime or store.
    owner: Option<Owner>,
    /// The process that created this object.
    pid: u32,
    dir: PathBuf,
    device_id: String,
}

/// The constructor's options: the node's settings, and whether the place
/// gate is on (`place_gate`, see `owner::gate`).
fn options(opts: Option<&ZendHashTable>) -> Result<(Config, bool)> {
    let mut config = Config {
        name: ini::get(ini::NAME),
        listen: ini::get(ini::LISTEN),
        mdns: ini::get_bool(ini::MDNS),
    };
    let mut gate = false;
    if let Some(opts) = opts {
        for (key, val) in opts.iter() {
            let key = key.to_string();
            match key.as_str() {
                "listen" => {
                    config.listen = val.str().map(str::to_string).ok_or_else(|| {
                        HarpError::Config(
                            "option 'listen' must be a string like '0.0.0.0:4433'".into(),
                        )
                    })?
                }
                "mdns" => {
                    config.mdns = val.bool().ok_or_else(|| {
                        HarpError::Config("option 'mdns' must be true or false".into())
                    })?
                }
                "name" => {
                    config.name = val
                        .str()
                        .map(str::to_string)
                        .ok_or_else(|| HarpError::Config("option 'name' must be a string".into()))?
                }
                "place_gate" => {
                    gate = val.bool().ok_or_else(|| {
                        HarpError::Config("option 'place_gate' must be true or false".into())
                    })?
                }
                other => {
                    return Err(HarpError::Config(format!(
                        "unknown option {other:?}; known options: listen, mdns, name, place_gate"
                    )))
                }
            }
        }
    }
    config.listen.parse::<std::net::SocketAddr>().map_err(|_| {
        HarpError::Config(format!(
            "listen address {:?} is not an IP:port like 0.0.0.0:4433",
            config.listen
        ))
    })?;
    if config.name.is_empty() {
        config.name = hostname();
    }
    Ok((config, gate))
}

/// `addFolder`'s options.
#[derive(Default)]
pub(super) struct FolderOptions {
    pub devices: Option<Vec<String>>,
    pub all_devices: bool,
    pub max_file_size: Option<u64>,
}

impl FolderOptions {
    pub fn op(self, folder: String, path: String) -> Op {
        Op::AddFolder {
            folder,
            path,
            devices: self.devices,
            all_devices: self.all_devices,
            max_file_size: self.max_file_size,
        }
    }
}

/// `addFolder`'s options: `devices`, `all_devices`, `max_file_size`.
pub(super) fn folder_options(opts: Option<&ZendHashTable>) -> Result<FolderOptions> {
    let mut o = FolderOptions::default();
    let Some(opts) = opts else {
        return Ok(o);
    };
    for (key, val) in opts.iter() {
        match key.to_string().as_str() {
            "devices" => {
                let bad = || {
                    HarpError::Config(
                        "option 'devices' must be a list of device IDs (strings)".into(),
                    )
                };
                let list = val.array().ok_or_else(bad)?;
                let mut out = Vec::new();
                for (_, d) in list.iter() {
                    let id = d.str().ok_or_else(bad)?;
                    crate::identity::DeviceId::parse(id)?;
                    out.push(id.to_string());
                }
                o.devices = Some(out);
            }
            "all_devices" => {
                o.all_devices = val.bool().ok_or_else(|| {
                    HarpError::Config("option 'all_devices' must be true or false".into())
                })?;
            }
            "max_file_size" => {
                let n = val
                    .long()
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(|| {
                        HarpError::Config(
                            "option 'max_file_size' must be a number of bytes, 0 or more".into(),
                        )
                    })?;
                o.max_file_size = Some(n);
            }
            other => {
                return Err(HarpError::Config(format!(
                    "unknown folder option {other:?}; known options: devices, all_devices, max_file_size"
                )))
            }
        }
    }
    Ok(o)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "harp".into())
}

impl Node {
    /// The owner, if this process is the one that created the node.
    fn owner(&mut self) -> Result<&mut Owner> {
        if std::process::id() != self.pid {
            return Err(HarpError::Config(format!(
                "this Harp\\Node belongs to process {}; in a forked child use Harp\\Client (status() works as a client)",
                self.pid
            )));
        }
        self.owner
            .as_mut()
            .ok_or_else(|| HarpError::Internal("the node is gone".into()))
    }

    fn forked(&self) -> bool {
        std::process::id() != self.pid
    }

    /// Runs an operation as the owner, or, in a forked child, asks the
    /// owner over the socket as a client would.
    fn call(&mut self, op: Op) -> Result<serde_json::Value> {
        if self.forked() {
            return crate::client::Client::new(&self.dir, false)?.call(op);
        }
        self.owner()?.call(op)
    }
}

#[php_impl]
impl Node {
    /// Opens `$stateDir` (default: the `harp.state_dir` INI setting) as its
    /// owner: creates the directory and the device key on first use and
    /// takes the owner lock. Options: `listen` ('0.0.0.0:4433'), `mdns`
    /// (bool), `name` (this device's name), `place_gate` (bool, default
    /// false: a file from a peer is renamed into place only after
    /// `placeAnswer()` allowed it; see `placeAnswer`). Throws
    /// `AlreadyRunningException`, naming the owner's pid, when another
    /// process owns the directory. Starts no thread: see `start()`.
    pub fn __construct(
        stateDir: Option<String>,
        options: Option<&ZendHashTable>,
    ) -> PhpResult<Self> {
        guard(|| {
            let dir = state_dir_or_ini(stateDir);
            let (config, gate) = self::options(options)?;
            let mut owner = Owner::open(&dir, config)?;
            owner.set_place_gate(gate);
            registry::add(owner.dir());
            Ok(Node {
                pid: owner.pid(),
                dir: owner.dir().to_path_buf(),
                device_id: owner.device_id().to_string(),
                owner: Some(owner),
            })
        })
    }

    /// This device's ID: 56 base32 characters in 8 dash-separated groups,
    /// SHA3-256 of the public key with 4 check characters. Compare it aloud
    /// before trusting a device.
    pub fn device_id(&self) -> String {
        self.device_id.clone()
    }

    /// Starts the runtime on a background thread: the control socket for
    /// clients and the intake of notifies. Returns once it is listening.
    /// Starting a running node does nothing.
    pub fn start(&mut self) -> PhpResult<()> {
        guard(|| self.owner()?.start())
    }

    /// Stops the runtime: takes what waits in the outbox, closes the socket
    /// and joins the thread. Stopping a stopped node does nothing.
    pub fn stop(&mut self) -> PhpResult<()> {
        guard(|| self.owner()?.stop())
    }

    /// The node's state: `device_id`, `name`, `state_dir`, `role`
    /// ('owner'|'client'), `running`, `pid`, `listen`, `mdns`, `folders`,
    /// `peers`, `transfers`, `outbox` (notifies not yet taken), `changes`
    /// (changes recorded), `entries` (chain entries stored), `uptime_s`,
    /// `last_error`. In a forked child it
    /// asks the owner over the socket, as a `Client` would.
    pub fn status(&mut self) -> PhpResult<ZBox<ZendHashTable>> {
        let v = guard(|| {
            debug_panic_point("node.status");
            if self.forked() {
                return crate::client::Client::new(&self.dir, false)?.status();
            }
            self.owner()?.status()
        })?;
        to_array(&v)
    }

    /// With the `place_gate` option: the answer to a `place` event (its
    /// token is the event's `seq`). `true`: rename the file into place now
    /// (the application holds its own lock on the path until the `placed`
    /// event with the same token); `false`: not now, the node asks again in
    /// 2 s. A request not answered within 30 s asks again with a new token;
    /// answering an old token throws.
    pub fn place_answer(&mut self, token: i64, go: bool) -> PhpResult<()> {
        guard(|| {
            let token = u64::try_from(token)
                .map_err(|_| HarpError::Config(format!("{token} is not a place token")))?;
            self.owner()?.place_answer(token, go)
        })
    }

    /// The next event, waiting up to `$timeoutMs` milliseconds; null when
    /// none came.
    pub fn poll(&mut self, timeoutMs: i64) -> PhpResult<Option<Event>> {
        guard(|| {
            let t = Duration::from_millis(u64::try_from(timeoutMs).unwrap_or(0));
            Ok(self.owner()?.poll(t)?.map(Event::from))
        })
    }

    /// Syncs the directory `$path` (created if missing) as folder
    /// `$folderId` (1-64 characters of A-Z a-z 0-9 . _ -). Mapping an id
    /// again moves it. Options: `devices`, the device IDs the folder is
    /// shared with: its entries, manifests and chunks go to those devices
    /// only and are taken from them only (without it, a new folder goes to
    /// every trusted device and one mapped again keeps its list);
    /// `all_devices` => true, share it with every trusted device again;
    /// `max_file_size`, the largest file in bytes a peer may make this node
    /// write there (0: no limit; a larger one is not fetched, and
    /// `status()['not_applied']` says why).
    pub fn addFolder(
        &mut self,
        folderId: String,
        path: String,
        options: Option<&ZendHashTable>,
    ) -> PhpResult<()> {
        guard(|| {
            self.call(folder_options(options)?.op(folderId, path))?;
            Ok(())
        })
    }

    /// Shares folder `$folderId` with device `$deviceId` too (a folder
    /// shared with every trusted device already includes it).
    pub fn shareFolder(&mut self, folderId: String, deviceId: String) -> PhpResult<()> {
        guard(|| {
            self.call(Op::ShareFolder {
                folder: folderId,
                device: deviceId,
            })?;
            Ok(())
        })
    }

    /// Stops sharing folder `$folderId` with device `$deviceId`: it gets
    /// nothing more of the folder, and what it sends for it is refused.
    pub fn unshareFolder(&mut self, folderId: String, deviceId: String) -> PhpResult<()> {
        guard(|| {
            self.call(Op::UnshareFolder {
                folder: folderId,
                device: deviceId,
            })?;
            Ok(())
        })
    }

    /// The folders: arrays with `id`, `path`, `devices` (the device IDs it
    /// is shared with), `all_devices` (true: shared with every trusted
    /// device), `files` (in the synced view), `conflicts` (conflict copies
    /// among them), `not_synced` (symlinks, FIFOs, sockets and device files
    /// the last scan found: never followed or opened) and
    /// `not_synced_paths` (the first 100: `path`, `reason`).
    pub fn folders(&mut self) -> PhpResult<ZBox<ZendHashTable>> {
        to_array(&guard(|| self.call(Op::Folders))?)
    }

    /// Walks the folder and records new, changed and deleted files as
    /// entries. Unchanged files are skipped by size and mtime. Returns
    /// `files`, `new`, `changed`, `deleted`, `unchanged`, `bytes_hashed`,
    /// `entries`, `skipped` (list of [path, reason]) and `ms`.
    pub fn scan(&mut self, folderId: String) -> PhpResult<ZBox<ZendHashTable>> {
        to_array(&guard(|| self.call(Op::Scan { folder: folderId }))?)
    }

    /// The versions of `$path`, newest first: arrays with `entry` (hash,
    /// hex), `author`, `seq`, `kind` (write, delete, rename, renamed_away),
    /// `path`, `from`, `size`, `mtime_ns`, `time_ms` and `content` (hex).
    pub fn history(&mut self, folderId: String, path: String) -> PhpResult<ZBox<ZendHashTable>> {
        to_array(&guard(|| {
            self.call(Op::History {
                folder: folderId,
                path,
            })
        })?)
    }

    /// Checks every entry of the folder: each link, each signature, each
    /// author. Returns `ok`, `checked` (the number of entries) and
    /// `problems`: for each damaged entry its `entry` id, `position`,
    /// `author`, `seq`, `path`, `reason` (broken link, bad signature,
    /// unknown author, malformed entry) and `detail`.
    pub fn verify(&mut self, folderId: String) -> PhpResult<ZBox<ZendHashTable>> {
        to_array(&guard(|| self.call(Op::Verify { folder: folderId }))?)
    }

    /// Pins the device `$deviceId` (its text form, as `deviceId()` prints
    /// it on that device): entries and connections from it are accepted.
    /// `$addresses` are static `IP:port` (or `host:port`) addresses to dial,
    /// for peers beyond the LAN. Trusting again replaces the addresses.
    pub fn trust(&mut self, deviceId: String, addresses: Option<Vec<String>>) -> PhpResult<()> {
        guard(|| {
            self.call(Op::Trust {
                device: deviceId,
                addresses: addresses.unwrap_or_default(),
            })?;
            Ok(())
        })
    }

    /// Removes a device from the trust list and drops its connection.
    pub fn untrust(&mut self, deviceId: String) -> PhpResult<()> {
        guard(|| {
            self.call(Op::Untrust { device: deviceId })?;
            Ok(())
        })
    }

    /// Every device this node knows: `device_id`, `name`, `addresses`,
    /// `trusted`, `connected`, `remote`, `lan`, `rtt_ms`, `bytes_in`,
    /// `bytes_out`, `last_error`.
    pub fn peers(&mut self) -> PhpResult<ZBox<ZendHashTable>> {
        to_array(&guard(|| self.call(Op::Peers))?)
    }

    /// The local changes this node has taken from the outbox, oldest first:
    /// arrays with `seq`, `folder`, `path`, `kind`, `from`, `time_ms` (when
    /// notified), `pid` (who notified) and `recorded_ms`. `$after` is the
    /// last `seq` already seen; at most `$limit` are returned.
    #[php(defaults(after = 0, limit = 1000))]
    pub fn changes(&mut self, after: i64, limit: i64) -> PhpResult<ZBox<ZendHashTable>> {
        let v = guard(|| {
            let after = u64::try_from(after).unwrap_or(0);
            let limit = usize::try_from(limit).unwrap_or(0).min(100_000);
            let list = self.owner()?.changes(after, limit)?;
            serde_json::to_value(list).map_err(|e| HarpError::Internal(e.to_string()))
        })?;
        to_array(&v)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if self.forked() {
            // A forked child inherited a copy of the parent's runtime handle,
            // store and lock, but none of its threads. Dropping them would
            // join threads that do not exist here or close what the parent
            // still uses: leak them instead; the process is about to exit.
            if let Some(owner) = self.owner.take() {
                std::mem::forget(owner);
            }
            return;
        }
        registry::remove(&self.dir);
        // Dropping the owner stops the runtime and releases the lock.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.owner.take()));
    }
}
