//! The owner: the one process per state directory that runs the node.
//!
//! `Owner::open` takes the owner lock, loads (or creates) the device key and
//! opens the store: no thread yet. `start` spawns one background thread that
//! runs a tokio runtime; everything networked lives there. The PHP thread
//! and the runtime share only plain Rust data (`Shared`), never a Zend
//! value, and events reach PHP through a queue that `poll` drains.
//!
//! A panic in the runtime is caught where the runtime thread starts; the
//! next call on the owner reports it as an error, and `start` can run the
//! runtime again.

mod apply;
pub mod forksafe;
pub mod gate;
pub mod lock;
mod runtime;
pub mod watch;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Condvar, Mutex};
use serde::Serialize;
use serde_json::{json, Value};

use crate::engine::Engine;
use crate::error::{HarpError, Result};
use crate::identity::{DeviceId, DeviceKey};
use crate::net::{tls, Net};
use crate::outbox;
use crate::store::{Change, Store};
use lock::OwnerLock;

/// Events kept for `poll` before the oldest are dropped.
pub const EVENT_QUEUE_LIMIT: usize = 10_000;

/// Settings of a node, from the constructor's options and php.ini.
#[derive(Debug, Clone)]
pub struct Config {
    /// A human name for this device, shown to peers.
    pub name: String,
    /// The QUIC listen address (used once the network layer runs).
    pub listen: String,
    /// Whether to announce and browse on mDNS.
    pub mdns: bool,
}

/// Something that happened, for `Node::poll`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// What happened: `local_change` for now; the sync layer adds
    /// `file_updated`, `file_deleted`, `conflict`, `peer_found`, `peer_lost`.
    pub kind: String,
    /// The folder concerned, if any.
    pub folder: Option<String>,
    /// The path concerned, if any.
    pub path: Option<String>,
    /// The device concerned, in text form.
    pub device: Option<String>,
    /// A content or entry hash, hex, if any.
    pub hash: Option<String>,
    /// For `local_change`: the change's sequence number in the store.
    pub seq: Option<u64>,
    /// When it happened, milliseconds since the Unix epoch.
    pub time_ms: u64,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Writes a warning to the owner's stderr, where `harp serve`, systemd or
/// `occ harp:daemon` show it.
/// Never panics, even when stderr is a closed pipe.
pub fn warn(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "harp: warning: {msg}");
}

/// Where a chunk of a download in progress is: its temporary file (held
/// open), offset and length.
type PartialChunk = (Arc<std::fs::File>, u64, u32, String);

/// State shared by the PHP thread and the runtime thread.
pub struct Shared {
    dir: PathBuf,
    device_id: DeviceId,
    config: Config,
    store: Arc<Store>,
    engine: Mutex<Engine>,
    /// The engine's disk lock (see `engine::Placing`), taken by the
    /// applier without the engine lock.
    disk: crate::engine::DiskLock,
    net: Arc<Net>,
    pushes: crate::net::Pushes,
    /// Wakes the applier when entries from peers arrive.
    apply_wake: tokio::sync::Notify,
    /// Chunks written into downloads in progress: chunk hash -> (temp
    /// file, offset, length, folder). Served to peers the folder is shared
    /// with before the file completes. The temporary file is held open:
    /// serving reads it by its handle, never by a path.
    partial: Mutex<std::collections::HashMap<crate::chain::Hash, PartialChunk>>,
    /// Files being fetched: (folder, path) -> progress.
    transfers: Mutex<std::collections::HashMap<(String, String), apply::Transfer>>,
    /// Manifests of downloads in progress, by content hash: (folder,
    /// encoded manifest).
    partial_manifests: Mutex<std::collections::HashMap<crate::chain::Hash, (String, Vec<u8>)>>,
    identity: Arc<tls::Identity>,
    /// The QUIC endpoint's address while the runtime runs.
    bound: Mutex<Option<std::net::SocketAddr>>,
    pid: u32,
    started: Mutex<Option<Instant>>,
    events: Mutex<VecDeque<Event>>,
    events_cv: Condvar,
    events_dropped: AtomicU64,
    crashed: Mutex<Option<String>>,
    last_error: Mutex<Option<String>>,
    /// Files the applier could not write, and why (a symlink in the way, a
    /// refused manifest, no room): (folder, path) -> reason, for status().
    not_applied: Mutex<std::collections::BTreeMap<(String, String), String>>,
    /// Held for a whole intake, so two never read the same position: the
    /// final intake of `stop` can overlap one still running on a blocking
    /// thread, which aborting its task does not stop.
    intake_lock: Mutex<()>,
    /// The place gate (see `gate`): off unless the application turns it on.
    gate: gate::Gate,
}

impl Shared {
    fn push_event(&self, ev: Event) {
        let mut q = self.events.lock();
        if q.len() >= EVENT_QUEUE_LIMIT {
            q.pop_front();
            self.events_dropped.fetch_add(1, Ordering::Relaxed);
        }
        q.push_back(ev);
        self.events_cv.notify_one();
    }

    fn set_error(&self, e: &HarpError) {
        warn(&e.to_string());
        *self.last_error.lock() = Some(e.to_string());
    }

    /// Clears `last_error` if it still is `msg` (the trouble is over).
    fn clear_error(&self, msg: &str) {
        let mut last = self.last_error.lock();
        if last.as_deref() == Some(msg) {
            *last = None;
        }
    }

    /// The status as `Node::status` and the control socket report it.
    pub fn status(&self, role: &str) -> Result<Value> {
        let changes = self.store.change_count()?;
        let entries = self.store.entry_count()?;
        let folders = self.engine.lock().folders()?;
        let outbox = match self.store.outbox_position()? {
            Some((g, off)) => outbox::count_after(&self.dir, g, off)?,
            None => outbox::count_after(&self.dir, [0; 16], 0)?,
        };
        let started = *self.started.lock();
        Ok(json!({
            "version": crate::VERSION,
            "device_id": self.device_id.to_string(),
            "name": self.config.name,
            "state_dir": self.dir.display().to_string(),
            "role": role,
            "running": started.is_some(),
            "pid": self.pid,
            "listen": self.bound.lock().map(|a| a.to_string()).unwrap_or_else(|| self.config.listen.clone()),
            "mdns": self.config.mdns,
            "folders": folders,
            "peers": self.net.peers_json(),
            "transfers": self.transfers.lock().iter().map(|((f, p), t)| {
                let secs = t.started.elapsed().as_secs_f64().max(0.001);
                json!({
                    "folder": f,
                    "path": p,
                    "bytes_done": t.done,
                    "bytes_total": t.total,
                    "rate_bps": (t.done as f64 / secs) as u64,
                    "sources": t.sources.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
                })
            }).collect::<Vec<_>>(),
            "outbox": outbox,
            "changes": changes,
            "entries": entries,
            "uptime_s": started.map(|s| s.elapsed().as_secs()),
            "events_dropped": self.events_dropped.load(Ordering::Relaxed),
            "last_error": *self.last_error.lock(),
            "not_applied": self.not_applied.lock().iter().map(|((f, p), why)| json!({
                "folder": f,
                "path": p,
                "reason": why,
            })).collect::<Vec<_>>(),
        }))
    }

    /// Runs an operation for a client (or for the owner's own PHP thread).
    pub fn call(&self, op: crate::control::Op) -> Result<Value> {
        use crate::control::Op;
        match op {
            Op::Status => self.status("owner"),
            Op::AddFolder {
                folder,
                path,
                devices,
                all_devices,
                max_file_size,
            } => {
                let devices = match devices {
                    Some(list) => Some(
                        list.iter()
                            .map(|d| DeviceId::parse(d))
                            .collect::<Result<Vec<_>>>()?,
                    ),
                    None => None,
                };
                {
                    let mut e = self.engine.lock();
                    match (devices, all_devices) {
                        (Some(list), _) => {
                            e.add_folder_shared(&folder, Path::new(&path), Some(list))?
                        }
                        (None, true) => e.add_folder_shared(&folder, Path::new(&path), None)?,
                        (None, false) => e.add_folder(&folder, Path::new(&path))?,
                    }
                    if let Some(max) = max_file_size {
                        e.set_max_file_size(&folder, (max > 0).then_some(max))?;
                    }
                }
                self.resync(&folder);
                Ok(json!({ "folder": folder }))
            }
            Op::ShareFolder { folder, device } => {
                let id = DeviceId::parse(&device)?;
                self.engine.lock().share_folder(&folder, id)?;
                self.net.resync(&[id]);
                Ok(json!({ "folder": folder, "device_id": id.to_string() }))
            }
            Op::UnshareFolder { folder, device } => {
                let id = DeviceId::parse(&device)?;
                self.engine.lock().unshare_folder(&folder, id)?;
                self.net.resync(&[id]);
                Ok(json!({ "folder": folder, "device_id": id.to_string() }))
            }
            Op::Folders => self.engine.lock().folders(),
            Op::Scan { folder } => {
                // Take pending notifies first, so the scan does not record
                // what a hook already reported.
                self.intake()?;
                let r = self.engine.lock().scan(&folder)?;
                to_json(&r)
            }
            Op::History { folder, path } => self.engine.lock().history(&folder, &path),
            Op::Verify { folder } => {
                let r = self.engine.lock().verify(&folder)?;
                to_json(&r)
            }
            Op::Trust { device, addresses } => {
                let id = DeviceId::parse(&device)?;
                if id == self.device_id {
                    return Err(HarpError::Config("that is this device's own ID".into()));
                }
                let addrs = parse_addresses(&addresses)?;
                self.store.trust(&id.0, &addresses)?;
                {
                    let mut e = self.engine.lock();
                    if e.is_revoked(&id) {
                        e.readmit(id)?;
                    } else {
                        e.trust(id);
                    }
                }
                self.net.trust(id, addrs);
                Ok(json!({ "device_id": id.to_string() }))
            }
            Op::Untrust { device } => {
                let id = DeviceId::parse(&device)?;
                let last = self.engine.lock().untrust(id)?;
                self.store.untrust(&id.0, &last)?;
                self.net.untrust(&id);
                Ok(json!({ "device_id": id.to_string() }))
            }
            Op::Peers => Ok(self.net.peers_json()),
        }
    }

    /// Reconnects the peers a folder is shared with, so that each side
    /// sends the other what it lacks (entries of a folder that was not
    /// shared before were refused).
    fn resync(&self, folder: &str) {
        let e = self.engine.lock();
        let peers: Vec<DeviceId> = self
            .net
            .peers
            .lock()
            .keys()
            .copied()
            .filter(|d| e.shares(folder, *d))
            .collect();
        drop(e);
        self.net.resync(&peers);
    }

    /// Takes everything waiting in the outbox into the store; returns how
    /// many changes it recorded. Runs on a blocking thread of the runtime.
    fn intake(&self) -> Result<u64> {
        crate::error::debug_panic_point("runtime.intake");
        let _serial = self.intake_lock.lock();
        let taken = self.take_outbox()?;
        // Then turn the journal into entries (a backlog from before a crash
        // included). Failing here loses nothing: the journal keeps it.
        // A local change that keeps a peer's version beside it wants that
        // version's conflict copy: the applier's next tick (2 s) looks, so
        // a version its author replaces within that time (a burst of edits
        // on both sides) needs no copy at all.
        self.engine.lock().process_journal()?;
        Ok(taken)
    }

    fn take_outbox(&self) -> Result<u64> {
        let mut total = 0u64;
        loop {
            let pos = self.store.outbox_position()?;
            let Some(batch) = outbox::read(&self.dir, pos)? else {
                return Ok(total);
            };
            for d in &batch.damage {
                warn(&format!("outbox damage at {}: {d}", self.dir.display()));
            }
            if pos == Some((batch.generation, batch.end)) {
                return Ok(total);
            }
            let notices: Vec<_> = batch.records.iter().map(|t| t.notice.clone()).collect();
            let now = now_ms();
            let seqs = self
                .store
                .record_changes(&notices, (batch.generation, batch.end), now)?;
            outbox::write_hint(&self.dir, &batch.generation, batch.end);
            total += seqs.len() as u64;
            for (n, seq) in notices.into_iter().zip(seqs) {
                self.push_event(Event {
                    kind: "local_change".into(),
                    folder: Some(n.folder),
                    path: Some(n.path),
                    device: Some(self.device_id.to_string()),
                    hash: None,
                    seq: Some(seq),
                    time_ms: now,
                });
            }
            if !batch.more {
                if batch.end >= RETIRE_AT {
                    outbox::retire_if_drained(&self.dir, &batch.generation, batch.end)?;
                }
                return Ok(total);
            }
        }
    }

    /// When idle: replace a drained outbox with a fresh one.
    fn retire_outbox(&self) -> Result<()> {
        let _serial = self.intake_lock.lock();
        if let Some((g, end)) = self.store.outbox_position()? {
            if end > outbox::HEADER_LEN {
                outbox::retire_if_drained(&self.dir, &g, end)?;
            }
        }
        Ok(())
    }
}

impl crate::net::Ledger for Shared {
    fn version_vectors(&self, peer: DeviceId) -> crate::engine::FolderVersions {
        self.engine.lock().version_vectors(Some(peer))
    }

    fn entries_since(
        &self,
        peer: DeviceId,
        have: &crate::engine::PeerVersions,
    ) -> Result<Vec<Vec<u8>>> {
        self.engine.lock().entries_since(Some(peer), have)
    }

    fn shares(&self, folder: &str, peer: DeviceId) -> bool {
        self.engine.lock().shares(folder, peer)
    }

    fn receive(&self, from: DeviceId, records: Vec<Vec<u8>>) -> Result<()> {
        let r = self.engine.lock().receive(Some(from), &records)?;
        for (id, why) in &r.refused {
            self.net.refuse(&from, &format!("entry {id}: {why}"));
        }
        if r.duplicates > 0 {
            self.net.replayed(&from, r.duplicates);
        }
        if r.applied > 0 {
            self.apply_wake.notify_one();
        }
        Ok(())
    }

    /// Answers only with what a folder shared with `from` holds: anything
    /// else is "not held", whoever asks and whatever hash they know.
    fn serve(&self, from: DeviceId, req: &crate::net::Request) -> Result<Option<Vec<u8>>> {
        use crate::net::Request;
        let hash = |h: &str| -> Result<crate::chain::Hash> {
            data_encoding::HEXLOWER
                .decode(h.as_bytes())
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| HarpError::Protocol(format!("bad hash {h:?}")))
        };
        match req {
            Request::Manifest { hash: h } => {
                let h = hash(h)?;
                let partial = self.partial_manifests.lock().get(&h).cloned();
                let e = self.engine.lock();
                if let Some((folder, m)) = partial {
                    if e.shares(&folder, from) {
                        return Ok(Some(m));
                    }
                }
                if !self.held_for(&e, &h, false, from)? {
                    return Ok(None);
                }
                e.serve_manifest(&h)
            }
            Request::Chunk { hash: h } => {
                let h = hash(h)?;
                let partial = self.partial.lock().get(&h).cloned();
                {
                    let e = self.engine.lock();
                    if self.held_for(&e, &h, true, from)? {
                        if let Some(b) = e.local_chunk(&h)? {
                            return Ok(Some(b));
                        }
                    }
                }
                // A chunk of a download still in progress here.
                let Some((tmp, offset, len, folder)) = partial else {
                    return Ok(None);
                };
                if !self.engine.lock().shares(&folder, from) {
                    return Ok(None);
                }
                use std::os::unix::fs::FileExt;
                let mut buf = vec![0u8; len as usize];
                let ok = tmp.read_exact_at(&mut buf, offset).is_ok();
                Ok((ok && blake3::hash(&buf).as_bytes() == &h).then_some(buf))
            }
        }
    }
}

impl Shared {
    /// Whether a folder shared with `peer` holds this manifest (or chunk).
    fn held_for(
        &self,
        e: &Engine,
        h: &crate::chain::Hash,
        chunk: bool,
        peer: DeviceId,
    ) -> Result<bool> {
        Ok(self
            .store
            .folders_holding(h, chunk)?
            .iter()
            .any(|f| e.shares(f, peer)))
    }
}

/// Parses static addresses (`IP:port`, or `host:port` resolved now).
fn parse_addresses(list: &[String]) -> Result<Vec<std::net::SocketAddr>> {
    use std::net::ToSocketAddrs;
    let mut out = Vec::new();
    for a in list {
        let found: Vec<_> = a
            .to_socket_addrs()
            .map_err(|e| {
                HarpError::Config(format!("address {a:?} is not IP:port or host:port ({e})"))
            })?
            .collect();
        if found.is_empty() {
            return Err(HarpError::Config(format!(
                "address {a:?} resolves to nothing"
            )));
        }
        out.extend(found);
    }
    Ok(out)
}

/// Narrows a state directory that other users could reach. It is created
/// 0700. A directory shared with a group on purpose (the Nextcloud set-up
/// where the owner runs as root and hooks as the web server's user:
/// `chgrp www-data dir && chmod 2750 dir`) is set-group-ID, and keeps group
/// read and search: the group may notify and read, not create, replace or
/// remove files in it. Anything wider (a `mkdir` with the default umask
/// gives 0755) is narrowed, to 2750 or 0700, with a warning.
fn narrow_state_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir)
        .map_err(|e| HarpError::io(&format!("state directory {}", dir.display()), &e))?
        .permissions()
        .mode();
    if mode & 0o027 == 0 {
        return Ok(());
    }
    let narrow = if mode & 0o2000 != 0 {
        mode & 0o2750
    } else {
        mode & 0o700
    };
    let narrowed = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(narrow));
    if narrowed
        .as_ref()
        .is_err_and(|e| e.raw_os_error() == Some(libc::EROFS))
    {
        // Nobody can change it, and the owner lock says what is wrong.
        return Ok(());
    }
    narrowed.map_err(|e| {
        HarpError::Config(format!(
            "state directory {} is mode {:o}, which lets other users reach the device key and \
             the control socket, and it cannot be narrowed ({e}): chmod 700 {0} (or 2750 \
             to share it with a group)",
            dir.display(),
            mode & 0o7777
        ))
    })?;
    warn(&format!(
        "state directory {} was mode {:o}; narrowed to {:o} so that other users cannot reach \
         the device key, the store or the control socket",
        dir.display(),
        mode & 0o7777,
        narrow & 0o7777
    ));
    Ok(())
}

/// A report as JSON.
fn to_json<T: Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| HarpError::Internal(e.to_string()))
}

/// A drained outbox larger than this is replaced at once; smaller ones wait
/// for an idle moment.
const RETIRE_AT: u64 = 1024 * 1024;

struct RuntimeThread {
    thread: JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// The owner of a state directory.
pub struct Owner {
    shared: Arc<Shared>,
    runtime: Option<RuntimeThread>,
    _lock: OwnerLock,
}

impl Owner {
    /// Takes ownership of `dir` (creating it on first use), loads or
    /// creates the device key and opens the store. Starts no thread.
    pub fn open(dir: &Path, config: Config) -> Result<Self> {
        let dir = crate::fsutil::prepare_state_dir(dir)?;
        narrow_state_dir(&dir)?;
        let lock = OwnerLock::acquire(&dir)?;
        // Here from the start, 0660: a group member may append to it but
        // not create it in a 2750 state directory.
        outbox::prepare(&dir)?;
        let key = DeviceKey::load_or_create(&dir)?;
        let store = Arc::new(Store::open(&dir)?);
        let device_id = key.device_id();
        let identity = Arc::new(tls::Identity::new(&key)?);
        let mut engine = Engine::open(store.clone(), key)?;
        let net = Arc::new(Net::default());
        let (pushes, _) = tokio::sync::broadcast::channel(1024);
        let tx: crate::net::Pushes = pushes.clone();
        engine.set_on_commit(Some(Box::new(move |entries| {
            // Nobody listening (no peer connected) is fine.
            let _ = tx.send(Arc::new(
                entries
                    .iter()
                    .map(|e| (e.meta.folder.clone(), e.encode()))
                    .collect(),
            ));
        })));
        for (id, addrs) in store.trusted()? {
            let id = DeviceId(id);
            engine.trust(id);
            // Addresses were checked when trusted; ones that no longer
            // resolve are skipped (and trust can be given again).
            net.trust(id, parse_addresses(&addrs).unwrap_or_default());
        }
        let disk = engine.disk_lock();
        let shared = Arc::new(Shared {
            device_id,
            disk,
            dir,
            config,
            store,
            engine: Mutex::new(engine),
            net,
            pushes,
            apply_wake: tokio::sync::Notify::new(),
            partial: Mutex::new(std::collections::HashMap::new()),
            partial_manifests: Mutex::new(std::collections::HashMap::new()),
            transfers: Mutex::new(std::collections::HashMap::new()),
            identity,
            bound: Mutex::new(None),
            pid: lock.pid(),
            started: Mutex::new(None),
            events: Mutex::new(VecDeque::new()),
            events_cv: Condvar::new(),
            events_dropped: AtomicU64::new(0),
            crashed: Mutex::new(None),
            last_error: Mutex::new(None),
            not_applied: Mutex::new(std::collections::BTreeMap::new()),
            intake_lock: Mutex::new(()),
            gate: gate::Gate::default(),
        });
        Ok(Owner {
            shared,
            runtime: None,
            _lock: lock,
        })
    }

    /// This device's ID.
    pub fn device_id(&self) -> DeviceId {
        self.shared.device_id
    }

    /// The canonical state directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The pid that owns the directory.
    pub fn pid(&self) -> u32 {
        self.shared.pid
    }

    /// If the runtime crashed since the last call, reports it once.
    fn check_crash(&mut self) -> Result<()> {
        if let Some(msg) = self.shared.crashed.lock().take() {
            if let Some(rt) = self.runtime.take() {
                let _ = rt.thread.join();
            }
            return Err(HarpError::Internal(format!(
                "the node's runtime stopped: {msg}; call start() to run it again"
            )));
        }
        Ok(())
    }

    /// Starts the runtime thread: control socket, outbox intake. Returns
    /// once the socket is listening, or with the error that prevented it.
    /// Starting a running node does nothing.
    pub fn start(&mut self) -> Result<()> {
        let _ = self.check_crash();
        if self.runtime.is_some() {
            return Ok(());
        }
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let shared = self.shared.clone();
        let thread = std::thread::Builder::new()
            .name("harp-runtime".into())
            .spawn(move || runtime::run(shared, ready_tx, stop_rx))
            .map_err(|e| HarpError::Internal(format!("cannot spawn the runtime thread: {e}")))?;
        match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(())) => {
                self.runtime = Some(RuntimeThread {
                    thread,
                    stop: stop_tx,
                });
                Ok(())
            }
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = stop_tx.send(true);
                let _ = thread.join();
                let msg = self
                    .shared
                    .crashed
                    .lock()
                    .take()
                    .unwrap_or_else(|| "it did not come up within 30 s".into());
                Err(HarpError::Internal(format!(
                    "the node's runtime failed to start: {msg}"
                )))
            }
        }
    }

    /// Stops the runtime thread: takes what waits in the outbox a last time,
    /// closes the socket, joins the thread. Stopping a stopped node does
    /// nothing.
    pub fn stop(&mut self) -> Result<()> {
        self.check_crash()?;
        if let Some(rt) = self.runtime.take() {
            let _ = rt.stop.send(true);
            if rt.thread.join().is_err() {
                return Err(HarpError::Internal("the runtime thread panicked".into()));
            }
            self.check_crash()?;
        }
        Ok(())
    }

    /// Whether the runtime is running.
    pub fn running(&self) -> bool {
        self.runtime.is_some() && self.shared.crashed.lock().is_none()
    }

    /// The owner's status.
    pub fn status(&mut self) -> Result<Value> {
        self.check_crash()?;
        self.shared.status("owner")
    }

    /// The next event, waiting up to `timeout` for one.
    pub fn poll(&mut self, timeout: Duration) -> Result<Option<Event>> {
        self.check_crash()?;
        let deadline = Instant::now() + timeout;
        let mut q = self.shared.events.lock();
        loop {
            if let Some(ev) = q.pop_front() {
                return Ok(Some(ev));
            }
            if self
                .shared
                .events_cv
                .wait_until(&mut q, deadline)
                .timed_out()
            {
                return Ok(q.pop_front());
            }
        }
    }

    /// Maps `folder` to the directory `path`.
    pub fn add_folder(&mut self, folder: &str, path: &Path) -> Result<()> {
        self.check_crash()?;
        self.shared.engine.lock().add_folder(folder, path)?;
        self.shared.resync(folder);
        Ok(())
    }

    /// Runs a control-socket operation here, as the owner.
    pub fn call(&mut self, op: crate::control::Op) -> Result<Value> {
        self.check_crash()?;
        self.shared.call(op)
    }

    /// Turns the place gate on or off (see `gate`).
    pub fn set_place_gate(&mut self, on: bool) {
        self.shared.gate.set(on);
    }

    /// The application's answer to the `place` request `token`.
    pub fn place_answer(&mut self, token: u64, go: bool) -> Result<()> {
        self.check_crash()?;
        self.shared.gate.answer(token, go)
    }

    /// Recorded local changes after sequence number `after`, at most `limit`.
    pub fn changes(&mut self, after: u64, limit: usize) -> Result<Vec<Change>> {
        self.check_crash()?;
        self.shared.store.changes(after, limit)
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            let _ = rt.stop.send(true);
            let _ = rt.thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Client;

    fn config() -> Config {
        Config {
            name: "t".into(),
            listen: "127.0.0.1:0".into(),
            mdns: false,
        }
    }

    #[test]
    fn start_then_stop_at_once_takes_every_notice_exactly_once() {
        // stop() runs a final intake that can overlap one still running on
        // a blocking thread; each notice must still be recorded once.
        let dir = tempfile::tempdir().unwrap();
        let client = Client::new(dir.path(), false).unwrap();
        let mut owner = Owner::open(dir.path(), config()).unwrap();
        let mut sent = 0;
        for round in 0..20 {
            for i in 0..500 {
                client
                    .notify("docs", &format!("r{round}/f{i}"), "write", None)
                    .unwrap();
                sent += 1;
            }
            owner.start().unwrap();
            owner.stop().unwrap();
        }
        let changes = owner.changes(0, 100_000).unwrap();
        assert_eq!(changes.len(), sent);
        let mut paths: Vec<_> = changes.iter().map(|c| c.notice.path.clone()).collect();
        paths.dedup();
        assert_eq!(paths.len(), sent, "no duplicates, and in order");
        assert_eq!(owner.status().unwrap()["outbox"], 0);
    }

    #[test]
    fn client_status_reaches_the_running_owner_and_falls_back_when_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let mut owner = Owner::open(dir.path(), config()).unwrap();
        let client = Client::new(dir.path(), false).unwrap();
        let s = client.status().unwrap();
        assert_eq!(s["running"], false);
        assert_eq!(s["pid"], std::process::id(), "lock held without a runtime");
        owner.start().unwrap();
        let s = client.status().unwrap();
        assert_eq!(s["running"], true);
        assert_eq!(s["role"], "client");
        assert_eq!(s["device_id"], owner.device_id().to_string());
        owner.stop().unwrap();
        drop(owner);
        let s = client.status().unwrap();
        assert_eq!(s["running"], false);
        assert_eq!(s["pid"], serde_json::Value::Null);
    }
}
