//! The engine: turns what happens on disk into signed entries, and answers
//! questions about them. It holds the DAG (in memory, rebuilt from the store
//! at start) and the device key, and writes through the store.
//!
//! Two ways changes come in, one way out:
//! - `process_journal`: changes notified by hooks, already durable in the
//!   store's journal, become entries; how far it got is committed with them.
//! - `scan`: a walk of a folder finds new, changed and deleted files.
//!
//! Both look at the disk first (Syncthing's rule: check that the disk holds
//! what you are about to record) and re-hash a file only when its size or
//! mtime moved.

mod apply;
pub mod location;
mod migrate;
mod scan;
mod verify;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::chain::dag::{Dag, Inserted};
use crate::chain::entry::{Entry, Meta};
use crate::chain::Hash;
use crate::error::{HarpError, Result};
use crate::fsutil::beneath::{self, Root};
use crate::identity::{DeviceId, DeviceKey};
use crate::manifest::{self, Manifest};
use crate::outbox::ChangeKind;
use crate::owner::{now_ms, warn};
use crate::paths;
use crate::store::{Batch, FileRecord, Store};

pub use apply::{tmp_name, DiskLock, Placing, Want};
pub use scan::ScanReport;

/// Called after every commit with the entries it made durable (local or
/// received): the network pushes them to connected peers.
pub type OnCommit = Box<dyn Fn(&[Entry]) + Send>;

/// What `receive` did with a peer's entries.
#[derive(Debug, Default)]
pub struct Received {
    /// Entries applied and stored (including earlier ones they unblocked).
    pub applied: u64,
    /// Entries waiting for their parents.
    pub pending: u64,
    /// Replays of entries already here.
    pub duplicates: u64,
    /// Refused entries: (entry id or "?", reason).
    pub refused: Vec<(String, String)>,
}
pub use verify::VerifyReport;

/// Symlinks and special files `folders()` lists by path, per folder.
const NOT_SYNCED_SHOWN: usize = 100;

/// Journal changes turned into entries per commit.
const JOURNAL_BATCH: usize = 2_000;

/// What the disk holds at a path right now.
#[derive(Debug, Clone)]
pub(crate) enum Seen {
    /// A regular file.
    File { size: u64, mtime_ns: i64 },
    /// Nothing, or a directory, or nothing Harp can reach (a parent that
    /// is a symlink, say).
    Nothing,
    /// Something Harp never follows or opens: a symlink, a FIFO, a socket,
    /// a device file (the reason says which).
    Special(&'static str),
}

/// What is at `path` beneath `root`, resolved without following a
/// symlink anywhere.
pub(crate) fn look(root: &Root, path: &str) -> Seen {
    match root.lstat(path) {
        Ok(Some(st)) if beneath::is_regular(&st) => Seen::File {
            size: beneath::size_of(&st),
            mtime_ns: beneath::mtime_ns(&st),
        },
        Ok(Some(st)) => match beneath::special(&st) {
            Some(why) => Seen::Special(why),
            None => Seen::Nothing,
        },
        _ => Seen::Nothing,
    }
}

/// A file's mtime in ns since the epoch.
fn mtime_ns_of(m: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    m.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(m.mtime_nsec())
}

/// Version vectors per folder: folder -> (author, highest seq held).
pub type FolderVersions = BTreeMap<String, Vec<(DeviceId, u64)>>;
/// What a peer says it holds: folder -> author -> highest seq.
pub type PeerVersions = HashMap<String, HashMap<DeviceId, u64>>;

/// The engine of one node.
pub struct Engine {
    key: DeviceKey,
    me: DeviceId,
    /// One DAG per folder: an author's entries form one chain per folder
    /// (format version 2), and parents name entries of the same folder.
    dags: BTreeMap<String, Dag>,
    /// Devices whose entries are accepted (the trust list, and this one).
    trusted: HashSet<DeviceId>,
    /// Untrusted devices: folder -> the last sequence number still accepted.
    revoked: HashMap<DeviceId, HashMap<String, u64>>,
    store: Arc<Store>,
    folders: HashMap<String, PathBuf>,
    /// Whom each folder is shared with; a folder missing here goes to every
    /// trusted device.
    shared: HashMap<String, BTreeSet<DeviceId>>,
    /// The largest file a peer may make this node write, per folder.
    max_size: HashMap<String, u64>,
    /// Folders mapped where no folder may be (checked at start): id ->
    /// (path, why). Not synced until mapped again.
    refused: BTreeMap<String, (PathBuf, String)>,
    on_commit: Option<OnCommit>,
    /// Paths that entries from peers touched since the applier last looked.
    dirty: std::collections::BTreeSet<(String, String)>,
    /// How many new entries each other author may still bring in.
    quota: HashMap<DeviceId, Bucket>,
    /// The rate those refill at.
    limits: EntryQuota,
    /// Per folder, what its last scan found that Harp never follows or
    /// opens (symlinks, FIFOs, sockets, device files): path -> reason.
    not_synced: HashMap<String, Vec<(String, String)>>,
    /// Held from reading the disk to recording it (see `Placing`).
    disk: DiskLock,
    /// The conflict copies each path's losing versions had in the view
    /// when the applier last looked at it: (folder, path) -> copy paths.
    copies_shown: HashMap<(String, String), BTreeSet<String>>,
}

/// How many entries one author may add to this node: a burst, then a
/// steady rate. Every entry stays in memory (the DAG) and is replayed at
/// each start, so without a bound one device could make every office load
/// gigabytes of entries. An honest device's scan of a million files fits
/// in the burst; past it, its entries wait (they are resent on the next
/// connection) instead of being lost.
#[derive(Debug, Clone, Copy)]
pub struct EntryQuota {
    /// Entries an author may add at once.
    pub burst: u64,
    /// Entries per hour after that.
    pub per_hour: u64,
}

impl Default for EntryQuota {
    fn default() -> Self {
        EntryQuota {
            burst: 1_000_000,
            per_hour: 200_000,
        }
    }
}

/// A token bucket: `tokens` entries may come in now.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: std::time::Instant,
}

impl Bucket {
    /// Takes one token, refilled at `q`'s rate since the last call.
    fn take(&mut self, q: &EntryQuota) -> bool {
        let now = std::time::Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * q.per_hour as f64 / 3600.0;
        self.tokens = (self.tokens + refill).min(q.burst as f64);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A change seen on disk, on its way to becoming an entry.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The path (the new path for a rename).
    pub path: String,
    /// Write, delete or rename.
    pub kind: ChangeKind,
    /// A rename's old path; empty otherwise.
    pub from: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
    /// The content's manifest; None for a delete, or for a write whose
    /// bytes are unchanged (only the file record's mtime is updated).
    pub manifest: Option<Manifest>,
}

impl Engine {
    /// Rebuilds the DAG from the store and loads the folder list.
    pub fn open(store: Arc<Store>, key: DeviceKey) -> Result<Self> {
        let me = key.device_id();
        if store.needs_migration()? {
            migrate::run(&store, &key)?;
        }
        let mut revoked: HashMap<DeviceId, HashMap<String, u64>> = HashMap::new();
        for (device, folder, last) in store.revoked()? {
            revoked
                .entry(DeviceId(device))
                .or_default()
                .insert(folder, last);
        }
        let dags = replay(&store, me, &revoked)?;
        // A mapping made before the location rules existed is checked
        // again: one that holds the state directory, or is a system
        // directory, is not synced (nothing of it is read or published)
        // until it is mapped again somewhere allowed.
        let mut folders = HashMap::new();
        let mut refused = BTreeMap::new();
        for (id, p) in store.folders()? {
            let path = PathBuf::from(p);
            match location::check(&path, store.dir()) {
                Ok(()) => {
                    folders.insert(id, path);
                }
                Err(e) => {
                    warn(&format!("folder {id} is not synced: {e}"));
                    refused.insert(id, (path, e.to_string()));
                }
            }
        }
        let shared = store
            .folder_devices()?
            .into_iter()
            .map(|(id, devices)| (id, devices.into_iter().map(DeviceId).collect()))
            .collect();
        let max_size = store.folder_max_sizes()?.into_iter().collect();
        let mut trusted = HashSet::from([me]);
        for d in dags.values() {
            trusted.extend(d.version_vector().into_iter().map(|(a, _)| a));
        }
        for r in revoked.keys() {
            trusted.remove(r);
        }
        Ok(Engine {
            key,
            me,
            dags,
            trusted,
            revoked,
            store,
            folders,
            shared,
            max_size,
            refused,
            on_commit: None,
            dirty: Default::default(),
            quota: HashMap::new(),
            limits: EntryQuota::default(),
            not_synced: HashMap::new(),
            disk: DiskLock::default(),
            copies_shown: HashMap::new(),
        })
    }

    /// Sets how many entries each other author may bring in.
    pub fn set_entry_quota(&mut self, limits: EntryQuota) {
        self.limits = limits;
        self.quota.clear();
    }

    /// This device's ID.
    pub fn device_id(&self) -> DeviceId {
        self.me
    }

    /// Sets the function told about every commit's entries.
    pub fn set_on_commit(&mut self, f: Option<OnCommit>) {
        self.on_commit = f;
    }

    /// (author, highest seq) of every entry here, per folder, for the
    /// folders `peer` may have (every folder when None).
    ///
    /// Every folder configured here and shared with `peer` is listed, an
    /// empty one too: the hello says which folders this node takes, and a
    /// peer sends only those.
    pub fn version_vectors(&self, peer: Option<DeviceId>) -> FolderVersions {
        let mut out: FolderVersions = self
            .dags
            .iter()
            .filter(|(f, _)| peer.is_none_or(|p| self.shares(f, p)))
            .map(|(f, d)| (f.clone(), d.version_vector()))
            .collect();
        if let Some(p) = peer {
            for f in self.folders.keys() {
                if self.shares(f, p) {
                    out.entry(f.clone()).or_default();
                }
            }
        }
        out
    }

    /// Whether `folder` is configured here and shared with `device` (a
    /// trusted device, and on the folder's list if it has one).
    pub fn shares(&self, folder: &str, device: DeviceId) -> bool {
        self.folders.contains_key(folder)
            && self.trusted.contains(&device)
            && self.shared.get(folder).is_none_or(|l| l.contains(&device))
    }

    /// The records of every entry a peer that holds `have` lacks, in
    /// application order (so parents come first), of the folders shared
    /// with `peer` (every folder when None).
    pub fn entries_since(
        &self,
        peer: Option<DeviceId>,
        have: &PeerVersions,
    ) -> Result<Vec<Vec<u8>>> {
        let none = HashMap::new();
        let mut behind: HashMap<(&str, DeviceId), u64> = HashMap::new();
        for (folder, dag) in &self.dags {
            // A peer gets the folders shared with it that its hello lists
            // (the ones it syncs); it would refuse the others.
            if peer.is_some_and(|p| !self.shares(folder, p) || !have.contains_key(folder)) {
                continue;
            }
            let theirs = have.get(folder).unwrap_or(&none);
            for (a, s) in dag.version_vector() {
                let t = theirs.get(&a).copied().unwrap_or(0);
                if t < s {
                    behind.insert((folder.as_str(), a), t);
                }
            }
        }
        let mut out = Vec::new();
        if behind.is_empty() {
            return Ok(out);
        }
        self.store.for_each_entry(|_, _, rec| {
            if let Ok(e) = Entry::decode(rec) {
                let k = (e.meta.folder.as_str(), e.meta.author);
                if behind.get(&k).is_some_and(|s| e.meta.seq > *s) {
                    out.push(rec.to_vec());
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The DAG of `folder`, created (trusting what this engine trusts) on
    /// first use.
    fn dag_mut(&mut self, folder: &str) -> &mut Dag {
        let (me, trusted, revoked) = (self.me, &self.trusted, &self.revoked);
        self.dags.entry(folder.to_string()).or_insert_with(|| {
            let mut d = Dag::new(me);
            for t in trusted {
                d.trust(*t);
            }
            for (device, per) in revoked {
                d.revoke(*device, per.get(folder).copied().unwrap_or(0));
            }
            d
        })
    }

    /// `Dag::unseen` for a folder.
    fn unseen(
        &self,
        folder: &str,
        path: &str,
        had: Option<&Hash>,
        keep: Option<&Hash>,
    ) -> Vec<(String, crate::chain::dag::Version)> {
        self.dags
            .get(folder)
            .map(|d| d.unseen(folder, path, had, keep))
            .unwrap_or_default()
    }

    /// The view of one path, if the folder has it.
    fn view_file(&self, folder: &str, path: &str) -> Option<crate::chain::dag::Version> {
        self.dags.get(folder).and_then(|d| d.file(folder, path))
    }

    /// Takes entries from a peer: checks each (decoding, signature, link,
    /// trusted author), applies what it can, keeps the rest waiting for
    /// their parents, and stores what applied in one commit.
    ///
    /// `from` is the device that sent them: an entry of a folder that is
    /// not shared with it is refused. None: a trusted local source (tests,
    /// a benchmark).
    pub fn receive(&mut self, from: Option<DeviceId>, records: &[Vec<u8>]) -> Result<Received> {
        let mut r = Received::default();
        let mut batch = Batch::default();
        for rec in records {
            let e = match Entry::decode(rec) {
                Ok(e) => e,
                Err(err) => {
                    r.refused.push(("?".into(), err.to_string()));
                    continue;
                }
            };
            let id = hex(&e.hash);
            if let Some(f) = from {
                if !self.shares(&e.meta.folder, f) {
                    let why = if self.folders.contains_key(&e.meta.folder) {
                        format!(
                            "folder {:?} is not shared with device {}",
                            e.meta.folder,
                            f.short()
                        )
                    } else {
                        format!(
                            "folder {:?} is not synced here (add it with addFolder)",
                            e.meta.folder
                        )
                    };
                    r.refused.push((id, why));
                    continue;
                }
            }
            let known = self
                .dags
                .get(&e.meta.folder)
                .is_some_and(|d| d.contains(&e.hash));
            if e.meta.author != self.me && !known {
                let limits = self.limits;
                let bucket = self.quota.entry(e.meta.author).or_insert(Bucket {
                    tokens: limits.burst as f64,
                    at: std::time::Instant::now(),
                });
                if !bucket.take(&limits) {
                    r.refused.push((
                        id,
                        format!(
                            "over the entry quota of device {} ({} at once, then {} an hour); resent on the next connection",
                            e.meta.author.short(),
                            limits.burst,
                            limits.per_hour
                        ),
                    ));
                    continue;
                }
            }
            let folder = e.meta.folder.clone();
            match self.dag_mut(&folder).insert(e, true) {
                Ok(Inserted::Applied(list)) => {
                    r.applied += list.len() as u64;
                    for e in &list {
                        let m = &e.meta;
                        self.dirty.insert((m.folder.clone(), m.path.clone()));
                        if !m.from.is_empty() {
                            self.dirty.insert((m.folder.clone(), m.from.clone()));
                        }
                    }
                    batch.entries.extend(list.into_iter().map(|e| (e, None)));
                }
                Ok(Inserted::Pending) => r.pending += 1,
                Ok(Inserted::Duplicate) => r.duplicates += 1,
                Err(p) => r.refused.push((id, p.as_str().into())),
            }
        }
        if !batch.entries.is_empty() {
            self.commit(batch)?;
        }
        Ok(r)
    }

    /// Accepts entries authored by `device` from now on.
    pub fn trust(&mut self, device: DeviceId) {
        self.trusted.insert(device);
        self.revoked.remove(&device);
        for d in self.dags.values_mut() {
            d.trust(device);
        }
    }

    /// Accepts no new entry authored by `device`: what it wrote up to now
    /// stays valid. Returns, per folder, the last sequence number still
    /// accepted, for the store to keep.
    ///
    /// The revocation also goes into each folder's chain, as a signed
    /// revoke entry of this device: every device that applies it gives the
    /// untrusted device's later entries no effect, from the same sequence
    /// number on, and still takes them in, so that the entries of devices
    /// that applied them before (and name them as parents) apply
    /// everywhere. So one untrust cuts nobody else off.
    pub fn untrust(&mut self, device: DeviceId) -> Result<Vec<(String, u64)>> {
        self.trusted.remove(&device);
        let mut folders: Vec<String> = self.folders.keys().cloned().collect();
        folders.extend(self.dags.keys().cloned());
        folders.sort();
        folders.dedup();
        let mut out = Vec::new();
        for folder in &folders {
            let d = self.dag_mut(folder);
            let last = d.last_seq(&device);
            d.revoke(device, last);
            out.push((folder.clone(), last));
        }
        self.revoked.insert(device, out.iter().cloned().collect());
        let revokes: Vec<(String, u64)> = out
            .iter()
            .filter(|(f, _)| self.folders.contains_key(f))
            .map(|(f, last)| (f.clone(), last + 1))
            .collect();
        self.record_trust(device, ChangeKind::Revoke, &revokes)?;
        Ok(out)
    }

    /// Records, as this device's entries, a revoke or readmit entry about
    /// `device` in each of `folders` (with its `size`: the first sequence
    /// number revoked, 0 for a readmit), in one commit.
    fn record_trust(
        &mut self,
        device: DeviceId,
        kind: ChangeKind,
        folders: &[(String, u64)],
    ) -> Result<()> {
        let public = self.key.public().to_bytes();
        let mut batch = Batch::default();
        for (folder, size) in folders {
            let change = Observed {
                path: device.to_string(),
                kind,
                from: String::new(),
                size: *size,
                mtime_ns: now_ms() as i64 * 1_000_000,
                manifest: None,
            };
            let e = self.local(folder, &change, [0u8; 32], public, Vec::new())?;
            batch.entries.push((e, None));
        }
        if batch.entries.is_empty() {
            return Ok(());
        }
        sign_all(&self.key, &mut batch.entries);
        self.commit(batch)
    }

    /// Trusts `device` again after it was untrusted: a readmit entry in
    /// each folder whose chain revokes it. Its entries that know of the
    /// readmission count again; those it made while revoked stay void.
    pub fn readmit(&mut self, device: DeviceId) -> Result<()> {
        self.trust(device);
        let folders: Vec<(String, u64)> = self
            .dags
            .iter()
            .filter(|(f, d)| {
                self.folders.contains_key(*f) && d.revocations().iter().any(|(r, _)| *r == device)
            })
            .map(|(f, _)| (f.clone(), 0))
            .collect();
        self.record_trust(device, ChangeKind::Readmit, &folders)
    }

    /// Whether `device` is untrusted here.
    pub fn is_revoked(&self, device: &DeviceId) -> bool {
        self.revoked.contains_key(device)
    }

    /// The DAG of `folder`, read-only (None before its first entry).
    pub fn dag(&self, folder: &str) -> Option<&Dag> {
        self.dags.get(folder)
    }

    /// The folder as every device holding the same entries shows it.
    pub fn view(&self, folder: &str) -> BTreeMap<String, crate::chain::dag::FileView> {
        self.dags
            .get(folder)
            .map(|d| d.view(folder))
            .unwrap_or_default()
    }

    fn root(&self, folder: &str) -> Result<&Path> {
        self.folders
            .get(folder)
            .map(PathBuf::as_path)
            .ok_or_else(|| {
                HarpError::Config(format!(
                    "unknown folder {folder:?}: add it first (Node::addFolder / harp folder add)"
                ))
            })
    }

    /// Opens a folder's root directory: every path under it is resolved
    /// from this handle, never by name (`fsutil::beneath`).
    pub(crate) fn open_root(&self, folder: &str) -> Result<Root> {
        let path = self.root(folder)?;
        Root::open(path).map_err(|e| {
            HarpError::storage(format!("opening folder {folder} at {}", path.display()), e)
        })
    }

    /// Maps `id` to the directory `path` (created if missing). A new
    /// folder is shared with every trusted device; one mapped again keeps
    /// whom it is shared with.
    pub fn add_folder(&mut self, id: &str, path: &Path) -> Result<()> {
        self.map_folder(id, path)
    }

    /// Maps `id` to the directory `path`, shared with exactly `devices`
    /// (None: every trusted device, now and later).
    pub fn add_folder_shared(
        &mut self,
        id: &str,
        path: &Path,
        devices: Option<Vec<DeviceId>>,
    ) -> Result<()> {
        self.map_folder(id, path)?;
        self.set_devices(id, devices.map(|l| l.into_iter().collect()))
    }

    fn set_devices(&mut self, id: &str, devices: Option<BTreeSet<DeviceId>>) -> Result<()> {
        let raw: Option<Vec<[u8; 32]>> = devices.as_ref().map(|l| l.iter().map(|d| d.0).collect());
        self.store.set_folder_devices(id, raw.as_deref())?;
        match devices {
            Some(l) => self.shared.insert(id.to_string(), l),
            None => self.shared.remove(id),
        };
        Ok(())
    }

    /// Shares `folder` with `device` too. A folder shared with every
    /// trusted device already includes it once it is trusted.
    pub fn share_folder(&mut self, folder: &str, device: DeviceId) -> Result<()> {
        self.root(folder)?;
        if device == self.me {
            return Err(HarpError::Config("that is this device's own ID".into()));
        }
        if let Some(mut l) = self.shared.get(folder).cloned() {
            l.insert(device);
            self.set_devices(folder, Some(l))?;
        }
        Ok(())
    }

    /// Stops sharing `folder` with `device`: it gets no more of the
    /// folder's entries, manifests or chunks, and its entries of the folder
    /// are refused. A folder shared with every trusted device is from then
    /// on shared with the ones trusted now, less this one.
    pub fn unshare_folder(&mut self, folder: &str, device: DeviceId) -> Result<()> {
        self.root(folder)?;
        let mut l = match self.shared.get(folder) {
            Some(l) => l.clone(),
            None => self
                .trusted
                .iter()
                .copied()
                .filter(|d| *d != self.me)
                .collect(),
        };
        l.remove(&device);
        self.set_devices(folder, Some(l))
    }

    /// Sets (None: lifts) the largest file a peer may make this node write
    /// in `folder`; a larger one is not fetched, and `status()` says why.
    pub fn set_max_file_size(&mut self, folder: &str, max: Option<u64>) -> Result<()> {
        self.root(folder)?;
        self.store.set_folder_max_size(folder, max)?;
        match max {
            Some(m) => self.max_size.insert(folder.to_string(), m),
            None => self.max_size.remove(folder),
        };
        Ok(())
    }

    /// The largest file a peer may make this node write in `folder`.
    pub fn max_file_size(&self, folder: &str) -> Option<u64> {
        self.max_size.get(folder).copied()
    }

    fn map_folder(&mut self, id: &str, path: &Path) -> Result<()> {
        paths::check_folder_id(id)?;
        // Not the state directory, nor around or in it, nor a system
        // directory: checked before anything is created there, and again
        // once it exists.
        location::check(&location::resolve(path)?, self.store.dir())?;
        std::fs::create_dir_all(path).map_err(|e| {
            HarpError::Config(format!("cannot create folder {}: {e}", path.display()))
        })?;
        let canon = path
            .canonicalize()
            .map_err(|e| HarpError::Config(format!("folder {}: {e}", path.display())))?;
        location::check(&canon, self.store.dir())?;
        let text = canon.to_str().ok_or_else(|| {
            HarpError::Config(format!("folder path {} is not UTF-8", canon.display()))
        })?;
        self.store.add_folder(id, text)?;
        self.folders.insert(id.to_string(), canon);
        self.refused.remove(id);
        Ok(())
    }

    /// The folders as PHP sees them.
    pub fn folders(&self) -> Result<Value> {
        let mut list = Vec::new();
        let mut ids: Vec<&String> = self.folders.keys().collect();
        ids.sort();
        for id in ids {
            let view = self.view(id);
            let devices: Vec<String> = match self.shared.get(id.as_str()) {
                Some(l) => l.iter().map(|d| d.to_string()).collect(),
                None => {
                    let mut all: Vec<&DeviceId> =
                        self.trusted.iter().filter(|d| **d != self.me).collect();
                    all.sort();
                    all.into_iter().map(|d| d.to_string()).collect()
                }
            };
            list.push(json!({
                "id": id,
                "path": self.folders[id].display().to_string(),
                "devices": devices,
                "all_devices": !self.shared.contains_key(id.as_str()),
                "revoked": self.dags.get(id.as_str()).map(|d| d.revocations()).unwrap_or_default()
                    .into_iter()
                    .map(|(d, from)| json!({"device_id": d.to_string(), "from_seq": from}))
                    .collect::<Vec<_>>(),
                "void_entries": self.dags.get(id.as_str()).map_or(0, |d| d.void_len()),
                "max_file_size": self.max_size.get(id.as_str()),
                "files": view.len(),
                "conflicts": view.values().filter(|f| f.conflict_of.is_some()).count(),
                // As of the last scan; the first NOT_SYNCED_SHOWN of them.
                "not_synced": self.not_synced.get(id).map_or(0, Vec::len),
                "not_synced_paths": self.not_synced.get(id).map(|v| {
                    v.iter()
                        .take(NOT_SYNCED_SHOWN)
                        .map(|(p, why)| json!({"path": p, "reason": why}))
                        .collect::<Vec<_>>()
                }).unwrap_or_default(),
            }));
        }
        for (id, (path, why)) in &self.refused {
            list.push(json!({
                "id": id,
                "path": path.display().to_string(),
                "state": "refused",
                "error": why,
            }));
        }
        Ok(Value::Array(list))
    }

    /// The disk lock the applier shares with this engine (see `Placing`).
    pub fn disk_lock(&self) -> DiskLock {
        self.disk.clone()
    }

    /// Turns unprocessed journal changes into entries. Returns how many
    /// entries it wrote.
    pub fn process_journal(&mut self) -> Result<u64> {
        let mut written = 0;
        let disk = self.disk.clone();
        loop {
            // Held from the look at the disk to the commit (see `Placing`).
            let placing = disk.lock();
            let done = self.store.processed()?;
            let changes = self.store.changes(done, JOURNAL_BATCH)?;
            let Some(last) = changes.last().map(|c| c.seq) else {
                return Ok(written);
            };
            let mut by_folder: Vec<(String, Vec<Observed>)> = Vec::new();
            // What this batch already decided, ahead of the store: a second
            // notify of an unchanged file must see the first one's record.
            let mut overlay: HashMap<(String, String), Option<FileRecord>> = HashMap::new();
            // Changes to folders this node does not sync, counted per folder
            // and reported once per batch.
            let mut unknown: std::collections::BTreeMap<String, u64> = Default::default();
            // Each folder's root, opened once per batch.
            let mut roots: HashMap<String, Root> = HashMap::new();
            for c in changes {
                let n = c.notice;
                if self.root(&n.folder).is_err() {
                    *unknown.entry(n.folder).or_default() += 1;
                    continue;
                }
                if paths::is_reserved(&n.path) {
                    continue; // Harp's own temporary file (an old notify)
                }
                if !roots.contains_key(&n.folder) {
                    match self.open_root(&n.folder) {
                        Ok(r) => {
                            roots.insert(n.folder.clone(), r);
                        }
                        Err(e) => {
                            warn(&format!("change to {}/{} skipped: {e}", n.folder, n.path));
                            continue;
                        }
                    }
                }
                let Some(root) = roots.get(&n.folder) else {
                    continue;
                };
                let from = n.from.unwrap_or_default();
                let lookup = |p: &str| -> Result<Option<FileRecord>> {
                    match overlay.get(&(n.folder.clone(), p.to_string())) {
                        Some(r) => Ok(*r),
                        None => placing.file(&self.store, &n.folder, p),
                    }
                };
                match self.observe(&n.folder, root, &n.path, n.kind, &from, lookup) {
                    Ok(Some(p)) => {
                        let key = |path: &str| (n.folder.clone(), path.to_string());
                        if p.kind == ChangeKind::Delete && overlay.get(&key(&p.path)) == Some(&None)
                        {
                            continue; // already deleted in this batch
                        }
                        match (&p.manifest, p.kind) {
                            (_, ChangeKind::Delete) => {
                                overlay.insert(key(&p.path), None);
                            }
                            (Some(m), kind) => {
                                let rec = FileRecord {
                                    size: p.size,
                                    mtime_ns: p.mtime_ns,
                                    content: m.content_hash(),
                                    entry: [0; 32],
                                };
                                overlay.insert(key(&p.path), Some(rec));
                                if kind == ChangeKind::Rename {
                                    overlay.insert(key(&p.from), None);
                                }
                            }
                            (None, _) => {
                                let current = match overlay.get(&key(&p.path)) {
                                    Some(r) => *r,
                                    None => placing.file(&self.store, &n.folder, &p.path)?,
                                };
                                if let Some(mut r) = current {
                                    r.mtime_ns = p.mtime_ns;
                                    overlay.insert(key(&p.path), Some(r));
                                }
                            }
                        }
                        match by_folder.last_mut() {
                            Some((f, v)) if *f == n.folder => v.push(p),
                            _ => by_folder.push((n.folder.clone(), vec![p])),
                        }
                    }
                    Ok(None) => {}
                    Err(e) => warn(&format!("change to {}/{} skipped: {e}", n.folder, n.path)),
                }
            }
            for (folder, n) in unknown {
                warn(&format!(
                    "{n} notified change(s) ignored: folder {folder:?} is not configured (add it with addFolder)"
                ));
            }
            let mut batch = Batch {
                processed: Some(last),
                ..Batch::default()
            };
            for (folder, pending) in by_folder {
                self.build(&folder, pending, &mut batch, Some(&placing))?;
            }
            written += batch.entries.len() as u64;
            self.commit(batch)?;
        }
    }

    /// Looks at the disk for one notified change; None when there is
    /// nothing to record (unchanged, or never known and gone).
    fn observe(
        &self,
        folder: &str,
        root: &Root,
        path: &str,
        kind: ChangeKind,
        from: &str,
        known_file: impl Fn(&str) -> Result<Option<FileRecord>>,
    ) -> Result<Option<Observed>> {
        let known = known_file(path)?;
        // A rename from one of Harp's temporary names is a write.
        let from = if paths::is_reserved(from) { "" } else { from };
        match look(root, path) {
            Seen::File {
                mut size,
                mut mtime_ns,
                ..
            } => {
                if let Some(k) = known {
                    if k.size == size && k.mtime_ns == mtime_ns && kind != ChangeKind::Rename {
                        return Ok(None);
                    }
                }
                // A rename of a file we know keeps its content: no hashing.
                let from_rec = if kind == ChangeKind::Rename {
                    known_file(from)?
                } else {
                    None
                };
                let manifest = match from_rec {
                    Some(r) if r.size == size && r.mtime_ns == mtime_ns => {
                        self.store.manifest(&r.content)?
                    }
                    _ => None,
                };
                let manifest = match manifest {
                    Some(m) => m,
                    None => {
                        // What is hashed, and recorded, is the file opened
                        // here (a regular file, not through a symlink): its
                        // own size and mtime, whatever the path held a
                        // moment ago.
                        let shown = root.show(path);
                        let io = |e| HarpError::storage(format!("reading {shown}"), e);
                        let f = root.open_regular(path, None).map_err(io)?;
                        let m = f.metadata().map_err(io)?;
                        size = m.len();
                        mtime_ns = mtime_ns_of(&m);
                        manifest::of_open(f, size, &shown)?
                    }
                };
                if let Some(k) = known {
                    if k.content == manifest.content_hash() && kind != ChangeKind::Rename {
                        // Touched, same bytes: remember the new mtime only.
                        return Ok(Some(Observed {
                            path: path.into(),
                            kind: ChangeKind::Write,
                            from: String::new(),
                            size,
                            mtime_ns,
                            manifest: None,
                        }));
                    }
                }
                let renames = kind == ChangeKind::Rename
                    && !from.is_empty()
                    && from != path
                    && self.view_file(folder, from).is_some()
                    && look(root, from).is_nothing();
                Ok(Some(Observed {
                    path: path.into(),
                    kind: if renames {
                        ChangeKind::Rename
                    } else {
                        ChangeKind::Write
                    },
                    from: if renames { from.into() } else { String::new() },
                    size,
                    mtime_ns,
                    manifest: Some(manifest),
                }))
            }
            seen @ (Seen::Nothing | Seen::Special(_)) => {
                if let Seen::Special(why) = seen {
                    warn(&format!(
                        "{folder}/{path} {why}: not synced (Harp never follows or opens one)"
                    ));
                }
                // Gone (whatever the hook said): a delete, if we knew it.
                let gone = if kind == ChangeKind::Rename && !from.is_empty() {
                    from
                } else {
                    path
                };
                if self.view_file(folder, gone).is_some()
                    || self.store.file(folder, gone)?.is_some()
                {
                    Ok(Some(Observed {
                        path: gone.into(),
                        kind: ChangeKind::Delete,
                        from: String::new(),
                        size: 0,
                        mtime_ns: 0,
                        manifest: None,
                    }))
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// Makes the entries for `pending` (unsigned, applied to the DAG), signs
    /// them on both cores, and adds them and the file records to `batch`.
    ///
    /// A local entry descends from every head, so it would silently replace
    /// a peer's version that the applier never wrote here (the disk held a
    /// change not recorded yet). Such versions are named in the entry's
    /// `unseen`: it does not replace them, they stay in the folder beside it,
    /// and the usual conflict rules keep them (one wins, the other becomes a
    /// conflict copy; a write beats a concurrent delete). A version its own
    /// author replaces later is then replaced as usual, so no copy is ever
    /// made of content that no device holds any more.
    /// Turns observed changes into signed entries and file records, in
    /// `batch`. `placing`: the disk lock's list, held by a caller that read
    /// the disk (a file the applier put in place is what the disk held).
    fn build(
        &mut self,
        folder: &str,
        pending: Vec<Observed>,
        batch: &mut Batch,
        placing: Option<&Placing>,
    ) -> Result<()> {
        let public = self.key.public().to_bytes();
        let first = batch.entries.len();
        let store = self.store.clone();
        let record = |path: &str| match placing {
            Some(p) => p.file(&store, folder, path),
            None => store.file(folder, path),
        };
        // The entry each path got in this batch: what its disk holds now.
        let mut just: HashMap<String, Hash> = HashMap::new();
        for p in pending {
            let had = match just.get(&p.path) {
                Some(h) => Some(*h),
                None => record(&p.path)?.map(|r| r.entry),
            };
            let content = p.manifest.as_ref().map(Manifest::content_hash);
            if p.manifest.is_none() && p.kind == ChangeKind::Write {
                // Same bytes, new mtime: update the record, no entry.
                if let Some(mut rec) = record(&p.path)? {
                    rec.mtime_ns = p.mtime_ns;
                    batch.files_put.push((folder.into(), p.path, rec));
                }
                continue;
            }
            let mut unseen: Vec<Hash> = self
                .unseen(folder, &p.path, had.as_ref(), content.as_ref())
                .into_iter()
                .map(|(_, v)| v.hash)
                .collect();
            if p.kind == ChangeKind::Rename {
                let had_from = match just.get(&p.from) {
                    Some(h) => Some(*h),
                    None => record(&p.from)?.map(|r| r.entry),
                };
                unseen.extend(
                    self.unseen(folder, &p.from, had_from.as_ref(), None)
                        .into_iter()
                        .map(|(_, v)| v.hash),
                );
            }
            unseen.sort();
            unseen.dedup();
            unseen.truncate(crate::chain::entry::MAX_PARENTS);
            if !unseen.is_empty() {
                warn(&format!(
                    "{folder}/{}: changed here while {} version(s) from peers had not arrived; they are kept beside it",
                    p.path,
                    unseen.len()
                ));
            }
            let Some(content) = content else {
                // A delete.
                batch.files_del.push((folder.into(), p.path.clone()));
                let e = self.local(folder, &p, [0u8; 32], public, unseen)?;
                just.insert(p.path.clone(), e.hash);
                batch.entries.push((e, None));
                continue;
            };
            let e = self.local(folder, &p, content, public, unseen)?;
            batch.files_put.push((
                folder.into(),
                p.path.clone(),
                FileRecord {
                    size: p.size,
                    mtime_ns: p.mtime_ns,
                    content,
                    entry: e.hash,
                },
            ));
            if p.kind == ChangeKind::Rename {
                batch.files_del.push((folder.into(), p.from.clone()));
                just.insert(p.from.clone(), e.hash);
            }
            just.insert(p.path.clone(), e.hash);
            batch.entries.push((e, p.manifest));
        }
        sign_all(&self.key, &mut batch.entries[first..]);
        Ok(())
    }

    fn local(
        &mut self,
        folder: &str,
        p: &Observed,
        content: Hash,
        public: [u8; 32],
        unseen: Vec<Hash>,
    ) -> Result<Entry> {
        let me = self.me;
        let (seq, prev, parents) = self.dag_mut(folder).next_for(&me);
        let meta = Meta {
            folder: folder.into(),
            path: p.path.clone(),
            kind: p.kind,
            from: p.from.clone(),
            size: p.size,
            mtime_ns: p.mtime_ns,
            content,
            author: self.me,
            seq,
            time_ms: now_ms(),
            parents,
            unseen,
        };
        let e = Entry::unsigned(meta, prev, public)?;
        match self.dag_mut(folder).insert(e.clone(), false) {
            Ok(Inserted::Applied(_)) => Ok(e),
            other => Err(HarpError::Internal(format!(
                "a new local entry did not apply: {other:?}"
            ))),
        }
    }

    /// Writes a batch; if the store refuses it, the DAG is rebuilt from the
    /// store so memory never runs ahead of the disk.
    fn commit(&mut self, batch: Batch) -> Result<()> {
        if let Err(e) = self.store.commit(&batch) {
            if !batch.entries.is_empty() {
                match replay(&self.store, self.me, &self.revoked) {
                    Ok(dags) => self.dags = dags,
                    Err(e2) => warn(&format!("rebuilding the DAG failed: {e2}")),
                }
            }
            return Err(e);
        }
        // A local change that keeps peers' versions beside it needs their
        // conflict copies, and one to a path whose copies the applier
        // showed may replace their versions: the applier looks again.
        for (e, _) in &batch.entries {
            let key = (e.meta.folder.clone(), e.meta.path.clone());
            if !e.meta.unseen.is_empty() || self.copies_shown.contains_key(&key) {
                self.dirty.insert(key);
            }
        }
        if let Some(f) = &self.on_commit {
            if !batch.entries.is_empty() {
                let entries: Vec<Entry> = batch.entries.into_iter().map(|(e, _)| e).collect();
                f(&entries);
            }
        }
        self.rebuild_if_revoked()
    }

    /// A revocation that arrived after entries it voids: the view must no
    /// longer show them. The DAGs are rebuilt from the store, where every
    /// revocation is known before any entry is applied, so the view is the
    /// one every device derives from the same entries, whatever the order
    /// they came in; every path of the folders concerned is looked at again.
    fn rebuild_if_revoked(&mut self) -> Result<()> {
        let stale: Vec<String> = self
            .dags
            .iter_mut()
            .filter_map(|(f, d)| d.take_rebuild().then(|| f.clone()))
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        for f in &stale {
            for p in self.view(f).into_keys() {
                self.dirty.insert((f.clone(), p));
            }
        }
        self.dags = replay(&self.store, self.me, &self.revoked)?;
        for f in &stale {
            for p in self.view(f).into_keys() {
                self.dirty.insert((f.clone(), p));
            }
            for p in self.store.files(f)?.into_keys() {
                self.dirty.insert((f.clone(), p));
            }
        }
        Ok(())
    }

    /// Records changes already observed (by a scan, a hook, or a benchmark)
    /// as entries in one commit. Returns the number of entries written.
    pub fn record(&mut self, folder: &str, changes: Vec<Observed>) -> Result<u64> {
        self.root(folder)?;
        let mut batch = Batch::default();
        self.build(folder, changes, &mut batch, None)?;
        let n = batch.entries.len() as u64;
        self.commit(batch)?;
        Ok(n)
    }

    /// Every version of `path`, newest first.
    pub fn history(&self, folder: &str, path: &str) -> Result<Value> {
        let path = paths::normalize(path, true)?;
        let mut out = Vec::new();
        for rec in self.store.history(folder, &path)?.into_iter().rev() {
            // Entries from before the move to format 2 stay readable.
            let (e, format) = match Entry::decode(&rec) {
                Ok(e) => (e, 2),
                Err(err) => match Entry::decode_legacy(&rec) {
                    Ok(e) => (e, 1),
                    Err(_) => return Err(err),
                },
            };
            let m = &e.meta;
            let (kind, size, content) = if m.kind == ChangeKind::Rename && m.from == path {
                ("renamed_away", 0, None)
            } else {
                (
                    m.kind.as_str(),
                    m.size,
                    (m.kind != ChangeKind::Delete).then_some(m.content),
                )
            };
            out.push(json!({
                "entry": hex(&e.hash),
                "author": m.author.to_string(),
                "seq": m.seq,
                "kind": kind,
                "path": m.path,
                "from": if m.from.is_empty() { Value::Null } else { json!(m.from) },
                "size": size,
                "mtime_ns": m.mtime_ns,
                "time_ms": m.time_ms,
                "content": content.map(|c| hex(&c)),
                "format": format,
            }));
        }
        Ok(Value::Array(out))
    }

    /// Checks every entry of `folder`: link, signature, author.
    pub fn verify(&self, folder: &str) -> Result<VerifyReport> {
        self.root(folder)?;
        let empty = Dag::new(self.me);
        verify::run(&self.store, self.dags.get(folder).unwrap_or(&empty), folder)
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }
}

/// Rebuilds the DAGs from the store's log. An entry the store cannot give
/// back intact is skipped with a warning; `verify` names it.
///
/// One pass over the log, unless a revocation turns out to come after
/// entries it voids: then a second pass, with every revocation known
/// before any entry is applied.
fn replay(
    store: &Store,
    me: DeviceId,
    revoked: &HashMap<DeviceId, HashMap<String, u64>>,
) -> Result<BTreeMap<String, Dag>> {
    let mut dags = replay_pass(store, me, revoked, false)?;
    let stale = dags
        .values_mut()
        .map(|d| d.take_rebuild())
        .filter(|s| *s)
        .count();
    if stale == 0 {
        return Ok(dags);
    }
    replay_pass(store, me, revoked, true)
}

fn replay_pass(
    store: &Store,
    me: DeviceId,
    revoked: &HashMap<DeviceId, HashMap<String, u64>>,
    revocations_first: bool,
) -> Result<BTreeMap<String, Dag>> {
    let mut dags: BTreeMap<String, Dag> = BTreeMap::new();
    let new_dag = |folder: &str| {
        let mut d = Dag::new(me);
        for (device, per) in revoked {
            d.revoke(*device, per.get(folder).copied().unwrap_or(0));
        }
        d
    };
    // Revocations first (the kind is the meta's second byte): an entry a
    // revocation voids has no effect even when the log holds it first.
    if revocations_first {
        store.for_each_entry(|_, _, rec| {
            if rec.get(5) == Some(&4) {
                if let Ok(e) = Entry::decode(rec) {
                    if let Some(target) = e.meta.target() {
                        dags.entry(e.meta.folder.clone())
                            .or_insert_with(|| new_dag(&e.meta.folder))
                            .expect_revocation(e.hash, target, e.meta.size);
                    }
                }
            }
            Ok(())
        })?;
    }
    let mut damaged = 0u64;
    store.for_each_entry(|_, _, rec| {
        match Entry::decode(rec) {
            Ok(e) => {
                let dag = dags
                    .entry(e.meta.folder.clone())
                    .or_insert_with(|| new_dag(&e.meta.folder));
                // Entries in the store were checked when they arrived.
                dag.trust(e.meta.author);
                if let Some(last) = revoked.get(&e.meta.author) {
                    dag.revoke(
                        e.meta.author,
                        last.get(&e.meta.folder).copied().unwrap_or(0),
                    );
                }
                if dag.insert(e, false).is_err() {
                    damaged += 1;
                }
            }
            Err(_) => damaged += 1,
        }
        Ok(())
    })?;
    if damaged > 0 {
        warn(&format!(
            "{damaged} stored entries could not be replayed; run verify to see which"
        ));
    }
    Ok(dags)
}

/// Signs entries on both cores.
fn sign_all(key: &DeviceKey, entries: &mut [(Entry, Option<Manifest>)]) {
    let sign = |chunk: &mut [(Entry, Option<Manifest>)]| {
        for (e, _) in chunk {
            e.sig = key.sign(&e.hash).to_bytes();
        }
    };
    if entries.len() < 64 {
        sign(entries);
        return;
    }
    let mid = entries.len() / 2;
    let (a, b) = entries.split_at_mut(mid);
    std::thread::scope(|s| {
        s.spawn(|| sign(b));
        sign(a);
    });
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(b)
}

impl Seen {
    /// No regular file there.
    fn is_nothing(&self) -> bool {
        !matches!(self, Seen::File { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::entry::Problem;
    use crate::chain::GENESIS;

    fn engine(dir: &Path) -> Engine {
        std::fs::create_dir_all(dir).unwrap();
        let store = Arc::new(Store::open(dir).unwrap());
        Engine::open(store, DeviceKey::from_seed([5; 32])).unwrap()
    }

    /// Finds every copy of `needle` in the file (redb may keep stale pages).
    fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
        hay.windows(needle.len())
            .enumerate()
            .filter(|(_, w)| *w == needle)
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn an_untrusted_device_gets_no_new_entry_in_even_relayed_or_after_a_restart() {
        let t = tempfile::tempdir().unwrap();
        let (xf, mf) = (t.path().join("xf"), t.path().join("mf"));
        std::fs::create_dir_all(&xf).unwrap();
        let xkey = DeviceKey::from_seed([6; 32]);
        let xid = xkey.device_id();
        let xdir = t.path().join("x");
        std::fs::create_dir_all(&xdir).unwrap();
        let mut x = Engine::open(Arc::new(Store::open(&xdir).unwrap()), xkey).unwrap();
        x.add_folder("f", &xf).unwrap();
        std::fs::write(xf.join("a.txt"), "written while trusted").unwrap();
        x.scan("f").unwrap();
        let mut me = engine(&t.path().join("s"));
        me.add_folder("f", &mf).unwrap();
        me.trust(xid);
        let first = x.entries_since(None, &HashMap::new()).unwrap();
        assert_eq!(me.receive(None, &first).unwrap().applied, 1);

        let last = me.untrust(xid).unwrap();
        assert_eq!(last, vec![("f".to_string(), 1)]);
        me.store().untrust(&xid.0, &last).unwrap();
        std::fs::write(xf.join("b.txt"), "written after").unwrap();
        x.scan("f").unwrap();
        // Whoever relays them, X's new entries have no effect (they are
        // taken in, void, so that entries built on them still apply); its
        // old one stays.
        let all = x.entries_since(None, &HashMap::new()).unwrap();
        let r = me.receive(None, &all).unwrap();
        assert_eq!((r.duplicates, r.refused.len()), (1, 0), "{r:?}");
        let files = |e: &Engine| e.view("f").into_keys().collect::<Vec<_>>();
        assert_eq!(files(&me), ["a.txt"]);
        assert_eq!(me.dag("f").unwrap().void_len(), 1);
        assert!(me.verify("f").unwrap().ok);
        // A device X never authored entries for stays out altogether.
        let stranger = DeviceKey::from_seed([9; 32]);
        let mut m = Entry::decode(&all[1]).unwrap().meta;
        m.author = stranger.device_id();
        m.seq = 1;
        m.parents = vec![];
        let forged = Entry::sign(m, GENESIS, &stranger).unwrap().encode();
        let r = me.receive(None, &[forged]).unwrap();
        assert_eq!(r.refused[0].1, Problem::UnknownAuthor.as_str());
        drop(me);

        let mut me = engine(&t.path().join("s"));
        me.receive(None, &all).unwrap();
        assert_eq!(files(&me), ["a.txt"], "after a restart");
        assert!(
            me.verify("f").unwrap().ok,
            "what X wrote while trusted still verifies"
        );
        // Trusting it again readmits it: what it writes from then on (its
        // entries that know of the readmission) counts; what it wrote while
        // untrusted does not.
        me.store().trust(&xid.0, &[]).unwrap();
        me.readmit(xid).unwrap();
        x.trust(me.device_id());
        let mine = me.entries_since(None, &have(&x)).unwrap();
        x.receive(None, &mine).unwrap();
        std::fs::write(xf.join("c.txt"), "written once trusted again").unwrap();
        x.scan("f").unwrap();
        let theirs = x.entries_since(None, &have(&me)).unwrap();
        me.receive(None, &theirs).unwrap();
        assert_eq!(files(&me), ["a.txt", "c.txt"]);
    }

    /// What `e` holds, as a peer's hello says it.
    fn have(e: &Engine) -> PeerVersions {
        e.version_vectors(None)
            .into_iter()
            .map(|(f, vv)| (f, vv.into_iter().collect()))
            .collect()
    }

    /// Two engines sharing folder "f": `me` (seed 5) and a peer (seed 6),
    /// each trusting the other, with `a.txt` = "v1" recorded by `me` and
    /// known to both.
    fn pair(t: &Path) -> (Engine, Engine, PathBuf, PathBuf) {
        let (mf, pf) = (t.join("mf"), t.join("pf"));
        let mut me = engine(&t.join("ms"));
        let pkey = DeviceKey::from_seed([6; 32]);
        std::fs::create_dir_all(t.join("ps")).unwrap();
        let mut peer = Engine::open(Arc::new(Store::open(&t.join("ps")).unwrap()), pkey).unwrap();
        me.add_folder("f", &mf).unwrap();
        peer.add_folder("f", &pf).unwrap();
        me.trust(peer.device_id());
        peer.trust(me.device_id());
        std::fs::write(mf.join("a.txt"), "v1").unwrap();
        me.scan("f").unwrap();
        std::fs::write(pf.join("a.txt"), "v1").unwrap();
        let all = me.entries_since(None, &HashMap::new()).unwrap();
        peer.receive(None, &all).unwrap();
        let v = peer.dag("f").unwrap().file("f", "a.txt").unwrap();
        let m = me.manifest(&v.content).unwrap().unwrap();
        peer.applied("f", "a.txt", &v, &m).unwrap();
        (me, peer, mf, pf)
    }

    fn content_of(bytes: &str) -> Hash {
        manifest::of_bytes(bytes.as_bytes()).content_hash()
    }

    /// A conflict copy's own path, looked at again (a revocation's rebuild
    /// marks every path of the view): nothing is recorded there yet, which
    /// must not read as "settled", or the copy's fetch queued from its
    /// origin path would be cancelled and the origin overwritten first.
    #[test]
    fn a_conflict_copys_path_is_never_settled_before_the_copy_exists() {
        let t = tempfile::tempdir().unwrap();
        let (mut me, mut peer, mf, pf) = pair(t.path());
        std::fs::write(pf.join("a.txt"), "the peer's edit").unwrap();
        peer.scan("f").unwrap();
        std::fs::write(mf.join("a.txt"), "my edit, concurrent").unwrap();
        me.scan("f").unwrap();
        let vv = have(&me);
        me.receive(None, &peer.entries_since(None, &vv).unwrap())
            .unwrap();
        let copy = me
            .view("f")
            .into_iter()
            .find(|(_, f)| f.conflict_of.is_some())
            .map(|(p, _)| p)
            .expect("a conflict copy in the view");
        me.dirty.insert(("f".into(), "a.txt".into()));
        me.dirty.insert(("f".into(), copy.clone()));
        let wants = me.wanted_recent().unwrap();
        assert!(
            wants
                .iter()
                .any(|w| matches!(w, Want::Fetch { path, copy_of: Some(_), .. } if *path == copy)),
            "{wants:?}"
        );
        assert!(
            !wants
                .iter()
                .any(|w| matches!(w, Want::Settled { path, .. } if *path == copy)),
            "{wants:?}"
        );
    }

    /// The applier swaps a peer's version in; before its record is written
    /// (the rename is made durable first) the user saves twice. The first
    /// save replaces the placed version knowingly; the second replaces the
    /// first, not the placed version again (a stale placed entry made it
    /// name the user's own first save as unseen: a conflict copy of it).
    #[test]
    fn saves_while_a_placed_file_waits_for_its_record_make_no_conflict_copy() {
        let t = tempfile::tempdir().unwrap();
        let (mut me, mut peer, mf, pf) = pair(t.path());
        std::fs::write(pf.join("a.txt"), "from the peer").unwrap();
        peer.scan("f").unwrap();
        let vv = have(&me);
        me.receive(None, &peer.entries_since(None, &vv).unwrap())
            .unwrap();
        // The swap: the peer's bytes at a.txt, listed as placed.
        let theirs = me.dag("f").unwrap().file("f", "a.txt").unwrap();
        std::fs::write(mf.join("a.txt"), "from the peer").unwrap();
        let st = std::fs::metadata(mf.join("a.txt")).unwrap();
        let placed = FileRecord {
            size: st.len(),
            mtime_ns: mtime_ns_of(&st),
            content: theirs.content,
            entry: theirs.hash,
        };
        let was = me.store.file("f", "a.txt").unwrap();
        me.disk_lock().lock().insert("f", "a.txt", placed, was);
        for text in ["my first save", "my second, longer save"] {
            std::fs::write(mf.join("a.txt"), text).unwrap();
            assert_eq!(me.scan("f").unwrap().changed, 1);
        }
        let view = me.view("f");
        assert_eq!(view.len(), 1, "no conflict copy: {view:?}");
        assert_eq!(
            view["a.txt"].version.content,
            content_of("my second, longer save")
        );
    }

    #[test]
    fn a_late_local_record_keeps_the_peers_unseen_version_as_a_conflict_copy() {
        let t = tempfile::tempdir().unwrap();
        let (mut me, mut peer, mf, pf) = pair(t.path());
        // The peer edits a.txt; its entry reaches me, but my applier leaves
        // the file alone: the user is editing it here, not recorded yet.
        std::fs::write(pf.join("a.txt"), "v2 from the peer").unwrap();
        peer.scan("f").unwrap();
        let vv = have(&me);
        me.receive(None, &peer.entries_since(None, &vv).unwrap())
            .unwrap();
        std::fs::write(mf.join("a.txt"), "v3 edited here").unwrap();
        let r = me.scan("f").unwrap();
        assert_eq!(r.changed, 1);
        // Both versions are in the view: my entry names the peer's as
        // unseen, so it does not replace it; the usual conflict rules keep
        // both (the later mtime wins a.txt, the other is a conflict copy).
        let view = me.view("f");
        let mut contents: Vec<Hash> = view.values().map(|f| f.version.content).collect();
        contents.sort();
        let mut want = vec![content_of("v3 edited here"), content_of("v2 from the peer")];
        want.sort();
        assert_eq!(contents, want, "{view:?}");
        let copies: Vec<_> = view
            .iter()
            .filter(|(p, _)| p.starts_with("a.sync-conflict-"))
            .collect();
        assert_eq!(copies.len(), 1, "{view:?}");
        assert_eq!(copies[0].1.conflict_of.as_deref(), Some("a.txt"));
        // The peer sees the same folder once it has my entries.
        let theirs = have(&peer);
        peer.receive(None, &me.entries_since(None, &theirs).unwrap())
            .unwrap();
        let pv: Vec<_> = peer
            .view("f")
            .into_iter()
            .map(|(p, f)| (p, f.version.content))
            .collect();
        let mv: Vec<_> = view
            .into_iter()
            .map(|(p, f)| (p, f.version.content))
            .collect();
        assert_eq!(pv, mv);
    }

    #[test]
    fn a_version_that_was_on_disk_is_replaced_without_a_copy() {
        let t = tempfile::tempdir().unwrap();
        let (mut me, mut peer, mf, pf) = pair(t.path());
        std::fs::write(pf.join("a.txt"), "v2 from the peer").unwrap();
        peer.scan("f").unwrap();
        let vv = have(&me);
        me.receive(None, &peer.entries_since(None, &vv).unwrap())
            .unwrap();
        // This time the applier wrote it before the user edited.
        let v = me.dag("f").unwrap().file("f", "a.txt").unwrap();
        std::fs::write(mf.join("a.txt"), "v2 from the peer").unwrap();
        let m = manifest::of_bytes(b"v2 from the peer");
        me.applied("f", "a.txt", &v, &m).unwrap();
        std::fs::write(mf.join("a.txt"), "v3 edited here").unwrap();
        me.scan("f").unwrap();
        let view = me.view("f");
        assert_eq!(view.len(), 1, "no copy of a version the user saw: {view:?}");
        assert_eq!(view["a.txt"].version.content, content_of("v3 edited here"));
    }

    #[test]
    fn a_late_delete_does_not_remove_a_peers_unseen_version() {
        let t = tempfile::tempdir().unwrap();
        let (mut me, mut peer, mf, pf) = pair(t.path());
        std::fs::write(pf.join("a.txt"), "v2 from the peer").unwrap();
        peer.scan("f").unwrap();
        let vv = have(&me);
        me.receive(None, &peer.entries_since(None, &vv).unwrap())
            .unwrap();
        std::fs::remove_file(mf.join("a.txt")).unwrap();
        let r = me.scan("f").unwrap();
        // The delete is recorded, but names the peer's version as unseen:
        // a write beats a concurrent delete.
        assert_eq!((r.deleted, r.entries), (1, 1), "{r:?}");
        let view = me.view("f");
        assert_eq!(
            view["a.txt"].version.content,
            content_of("v2 from the peer")
        );
        // The applier now fetches it: this device has no record in the way.
        assert!(me
            .wanted()
            .unwrap()
            .iter()
            .any(|w| matches!(w, Want::Fetch { path, .. } if path == "a.txt")));
    }

    #[test]
    fn a_device_over_its_entry_quota_is_refused_until_it_refills() {
        let t = tempfile::tempdir().unwrap();
        let (mut me, mut peer, _mf, pf) = pair(t.path());
        for i in 0..5 {
            std::fs::write(pf.join(format!("{i}.txt")), format!("{i}")).unwrap();
        }
        peer.scan("f").unwrap();
        me.set_entry_quota(EntryQuota {
            burst: 3,
            per_hour: 3600 * 20, // 20 a second
        });
        let vv = have(&me);
        let sent = peer.entries_since(None, &vv).unwrap();
        assert_eq!(sent.len(), 5);
        let r = me.receive(None, &sent).unwrap();
        assert_eq!((r.applied, r.refused.len()), (3, 2), "{r:?}");
        assert!(r.refused[0].1.contains("entry quota"), "{:?}", r.refused);
        // Replays cost nothing, and the bucket refills with time.
        std::thread::sleep(std::time::Duration::from_millis(150));
        let r = me.receive(None, &sent).unwrap();
        assert_eq!((r.applied, r.duplicates), (2, 3), "{r:?}");
        assert_eq!(me.view("f").len(), 6);
    }

    #[test]
    fn a_folder_goes_only_to_the_devices_it_is_shared_with_and_its_chain_stands_alone() {
        let t = tempfile::tempdir().unwrap();
        let mut me = engine(&t.path().join("ms"));
        let (sales_peer, other) = (
            DeviceKey::from_seed([6; 32]).device_id(),
            DeviceKey::from_seed([8; 32]).device_id(),
        );
        me.trust(sales_peer);
        me.trust(other);
        me.add_folder_shared("hr", &t.path().join("hr"), Some(vec![other]))
            .unwrap();
        me.add_folder_shared("sales", &t.path().join("sales"), Some(vec![sales_peer]))
            .unwrap();
        // Interleaved changes: in format 1 every sales entry after the
        // first hr one linked to it, and could not be checked without it.
        for i in 0..3 {
            std::fs::write(t.path().join(format!("hr/pay-{i}.txt")), format!("{i}")).unwrap();
            me.scan("hr").unwrap();
            std::fs::write(t.path().join(format!("sales/q{i}.txt")), format!("{i}")).unwrap();
            me.scan("sales").unwrap();
        }
        assert!(me.shares("sales", sales_peer) && !me.shares("hr", sales_peer));
        let vv = me.version_vectors(Some(sales_peer));
        assert_eq!(vv.keys().collect::<Vec<_>>(), ["sales"]);
        // What the sales peer's hello says it syncs: both folders, though
        // only sales is shared with it.
        let hello: PeerVersions = ["sales", "hr"]
            .iter()
            .map(|f| (f.to_string(), HashMap::new()))
            .collect();
        let sent = me.entries_since(Some(sales_peer), &hello).unwrap();
        assert_eq!(sent.len(), 3);
        assert!(sent
            .iter()
            .all(|r| Entry::decode(r).unwrap().meta.folder == "sales"));
        // The peer, sent only sales, applies every entry: no link is missing.
        std::fs::create_dir_all(t.path().join("ps")).unwrap();
        let store = Arc::new(Store::open(&t.path().join("ps")).unwrap());
        let mut peer = Engine::open(store, DeviceKey::from_seed([6; 32])).unwrap();
        peer.add_folder("sales", &t.path().join("psales")).unwrap();
        peer.trust(me.device_id());
        let r = peer.receive(Some(me.device_id()), &sent).unwrap();
        assert_eq!((r.applied, r.pending, r.refused.len()), (3, 0, 0), "{r:?}");
        assert!(peer.verify("sales").unwrap().ok);
        // And here, where both folders interleave their entries in one log.
        assert!(me.verify("sales").unwrap().ok && me.verify("hr").unwrap().ok);
        // What the sales peer sends for hr is refused, and so is all it
        // sends once sales is no longer shared with it.
        let all = me.entries_since(None, &HashMap::new()).unwrap();
        let mut fresh = engine(&t.path().join("fresh"));
        fresh.trust(me.device_id());
        fresh
            .add_folder_shared("sales", &t.path().join("fs"), Some(vec![sales_peer]))
            .unwrap();
        fresh
            .add_folder_shared("hr", &t.path().join("fh"), Some(vec![other]))
            .unwrap();
        fresh.trust(sales_peer);
        let r = fresh.receive(Some(sales_peer), &all).unwrap();
        assert_eq!((r.applied, r.refused.len()), (3, 3), "{r:?}");
        assert!(
            r.refused[0].1.contains("\"hr\" is not shared with device"),
            "{r:?}"
        );
        me.unshare_folder("sales", sales_peer).unwrap();
        assert!(me.version_vectors(Some(sales_peer)).is_empty());
        assert!(me
            .entries_since(Some(sales_peer), &hello)
            .unwrap()
            .is_empty());
        // Shared with every trusted device: unsharing one keeps the rest.
        me.add_folder("open", &t.path().join("open")).unwrap();
        assert!(me.shares("open", sales_peer) && me.shares("open", other));
        // A hello lists every folder a node syncs with that peer, an empty
        // one too; a peer is sent only the folders its hello lists.
        assert!(me.version_vectors(Some(other)).contains_key("open"));
        let hr_only: PeerVersions = [("hr".to_string(), HashMap::new())].into();
        let to_other = me.entries_since(Some(other), &hr_only).unwrap();
        assert_eq!(to_other.len(), 3);
        assert!(to_other
            .iter()
            .all(|r| Entry::decode(r).unwrap().meta.folder == "hr"));
        me.unshare_folder("open", other).unwrap();
        assert!(me.shares("open", sales_peer) && !me.shares("open", other));
        me.share_folder("open", other).unwrap();
        assert!(me.shares("open", other));
        // Mapping it again (as `occ harp:daemon` does at every start) keeps
        // whom it is shared with.
        me.add_folder("hr", &t.path().join("hr")).unwrap();
        assert!(!me.shares("hr", sales_peer) && me.shares("hr", other));
        // The choice survives a restart.
        let dir = t.path().join("ms");
        drop(me);
        let mut me = engine(&dir);
        me.trust(sales_peer);
        me.trust(other);
        assert!(!me.shares("hr", sales_peer) && me.shares("hr", other));
        assert!(!me.shares("sales", sales_peer));
    }

    /// A format-1 entry, as stores written before format 2 hold them.
    fn v1_entry(
        key: &DeviceKey,
        folder: &str,
        path: &str,
        seq: u64,
        prev: Hash,
        parents: Vec<Hash>,
        body: &str,
    ) -> Entry {
        let m = manifest::of_bytes(body.as_bytes());
        let meta = Meta {
            folder: folder.into(),
            path: path.into(),
            kind: ChangeKind::Write,
            from: String::new(),
            size: m.size,
            mtime_ns: 1_700_000_000_000_000_000 + seq as i64,
            content: m.content_hash(),
            author: key.device_id(),
            seq,
            time_ms: 1_700_000_000_000,
            parents,
            unseen: vec![],
        };
        let meta_bytes = meta.encode_version(crate::chain::entry::LEGACY_META_VERSION);
        let hash = crate::chain::link(&prev, &meta_bytes);
        Entry {
            meta,
            meta_bytes,
            prev,
            hash,
            public: key.public().to_bytes(),
            sig: key.sign(&hash).to_bytes(),
        }
    }

    #[test]
    fn a_format_1_store_moves_to_format_2_keeping_its_view_and_its_history() {
        let t = tempfile::tempdir().unwrap();
        let (mk, xk) = (DeviceKey::from_seed([5; 32]), DeviceKey::from_seed([6; 32]));
        // Format 1: one chain per author across folders a and b, and a
        // conflict in a (both wrote x.txt without knowing of the other).
        let e1 = v1_entry(&mk, "a", "x.txt", 1, GENESIS, vec![], "mine");
        let e2 = v1_entry(&mk, "b", "y.txt", 2, e1.hash, vec![e1.hash], "why");
        let x1 = v1_entry(&xk, "a", "x.txt", 1, GENESIS, vec![], "theirs");
        let mut legacy = crate::chain::dag::Dag::new(mk.device_id());
        legacy.trust(xk.device_id());
        for e in [&e1, &e2, &x1] {
            assert!(matches!(
                legacy.insert(e.clone(), true),
                Ok(Inserted::Applied(_))
            ));
        }
        let before_a: Vec<(String, Hash)> = legacy
            .view("a")
            .into_iter()
            .map(|(p, f)| (p, f.version.content))
            .collect();
        assert_eq!(
            before_a.len(),
            2,
            "a winner and a conflict copy: {before_a:?}"
        );
        let migrate = |dir: &Path, seed: u8| {
            std::fs::create_dir_all(dir).unwrap();
            let store = Store::open(dir).unwrap();
            store
                .add_folder("a", t.path().join("fa").to_str().unwrap())
                .unwrap();
            store
                .add_folder("b", t.path().join("fb").to_str().unwrap())
                .unwrap();
            let m = manifest::of_bytes(b"why");
            store
                .commit(&Batch {
                    entries: vec![
                        (e1.clone(), None),
                        (e2.clone(), Some(m.clone())),
                        (x1.clone(), None),
                    ],
                    files_put: vec![(
                        "b".into(),
                        "y.txt".into(),
                        FileRecord {
                            size: 3,
                            mtime_ns: 1,
                            content: m.content_hash(),
                            entry: e2.hash,
                        },
                    )],
                    ..Batch::default()
                })
                .unwrap();
            assert!(store.needs_migration().unwrap());
            drop(store);
            Engine::open(
                Arc::new(Store::open(dir).unwrap()),
                DeviceKey::from_seed([seed; 32]),
            )
            .unwrap()
        };
        let view_of = |e: &Engine, f: &str| -> Vec<(String, Hash)> {
            e.view(f)
                .into_iter()
                .map(|(p, v)| (p, v.version.content))
                .collect()
        };
        let me = migrate(&t.path().join("m"), 5);
        assert_eq!(view_of(&me, "a"), before_a);
        assert_eq!(view_of(&me, "b").len(), 1);
        assert!(me.verify("a").unwrap().ok && me.verify("b").unwrap().ok);
        assert!(!me.store().needs_migration().unwrap());
        // History keeps the format-1 versions beside the new record.
        let h = me.history("a", "x.txt").unwrap();
        let formats: Vec<u64> = h
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["format"].as_u64().unwrap())
            .collect();
        assert_eq!(formats.iter().filter(|f| **f == 1).count(), 2, "{h}");
        assert_eq!(formats[0], 2, "the new record is the newest: {h}");
        // The disk's record follows the new entry (no copy on the next edit).
        let rec = me.store().file("b", "y.txt").unwrap().unwrap();
        assert!(me.dag("b").unwrap().contains(&rec.entry));
        // The other device migrates the same entries; once they exchange
        // their format-2 records both show the same folders, and nothing
        // new (no conflict copy) appears.
        let mut x = migrate(&t.path().join("x"), 6);
        let mut me = me;
        me.trust(xk.device_id());
        x.trust(mk.device_id());
        let to_x = me.entries_since(None, &have(&x)).unwrap();
        let to_me = x.entries_since(None, &have(&me)).unwrap();
        x.receive(Some(mk.device_id()), &to_x).unwrap();
        me.receive(Some(xk.device_id()), &to_me).unwrap();
        for f in ["a", "b"] {
            assert_eq!(view_of(&me, f), view_of(&x, f), "folder {f}");
        }
        assert_eq!(view_of(&me, "a"), before_a);
        // Opening again does not migrate again.
        let n = me.store().entry_count().unwrap();
        let dir = t.path().join("m");
        drop(me);
        let again = Engine::open(
            Arc::new(Store::open(&dir).unwrap()),
            DeviceKey::from_seed([5; 32]),
        )
        .unwrap();
        assert_eq!(again.store().entry_count().unwrap(), n);
    }

    /// Sends `from` everything `to` lacks, as `from`'s device would.
    fn sync(from: &Engine, to: &mut Engine) -> Received {
        let recs = from.entries_since(None, &have(to)).unwrap();
        to.receive(Some(from.device_id()), &recs).unwrap()
    }

    fn files_of(e: &Engine) -> Vec<String> {
        e.view("f").into_keys().collect()
    }

    #[test]
    fn an_untrust_travels_in_the_chain_and_cuts_nobody_else_off() {
        let t = tempfile::tempdir().unwrap();
        let open = |name: &str, seed: u8| {
            let dir = t.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let mut e = Engine::open(
                Arc::new(Store::open(&dir).unwrap()),
                DeviceKey::from_seed([seed; 32]),
            )
            .unwrap();
            e.add_folder("f", &t.path().join(format!("{name}-f")))
                .unwrap();
            e
        };
        let (mut a, mut b, mut x) = (open("a", 1), open("b", 2), open("x", 3));
        let ids = [a.device_id(), b.device_id(), x.device_id()];
        for e in [&mut a, &mut b, &mut x] {
            for id in ids {
                if id != e.device_id() {
                    e.trust(id);
                }
            }
        }
        let xf = t.path().join("x-f");
        std::fs::write(xf.join("before.txt"), "written while trusted").unwrap();
        x.scan("f").unwrap();
        sync(&x, &mut a);
        sync(&x, &mut b);
        // A untrusts X. X writes again; B, which has not heard yet, applies
        // it and builds on it.
        a.untrust(x.device_id()).unwrap();
        std::fs::write(xf.join("after.txt"), "written after the untrust").unwrap();
        x.scan("f").unwrap();
        sync(&x, &mut b);
        assert!(files_of(&b).contains(&"after.txt".to_string()));
        let bf = t.path().join("b-f");
        std::fs::write(bf.join("honest.txt"), "B's honest file").unwrap();
        b.scan("f").unwrap();
        // B's honest file reaches A (before: it waited forever for X's
        // entry, which A refused), and X's late entry has no effect there.
        let r = sync(&b, &mut a);
        assert_eq!((r.pending, r.refused.len()), (0, 0), "{r:?}");
        assert_eq!(files_of(&a), ["before.txt", "honest.txt"]);
        // A's revocation reaches B: X's late entry loses its effect there
        // too, and both show the same folder.
        sync(&a, &mut b);
        assert_eq!(files_of(&b), files_of(&a));
        assert!(a.verify("f").unwrap().ok && b.verify("f").unwrap().ok);
        let folders = b.folders().unwrap();
        assert_eq!(
            folders[0]["revoked"][0]["device_id"],
            x.device_id().to_string()
        );
        assert_eq!(folders[0]["void_entries"], 1);
        // A third device that gets every entry in another order agrees.
        let mut c = open("c", 4);
        for id in ids {
            c.trust(id);
        }
        let mut all = a.entries_since(None, &HashMap::new()).unwrap();
        all.reverse();
        for rec in all {
            c.receive(None, &[rec]).unwrap();
        }
        assert_eq!(files_of(&c), files_of(&a));
        // After a restart too.
        drop(b);
        let b = Engine::open(
            Arc::new(Store::open(&t.path().join("b")).unwrap()),
            DeviceKey::from_seed([2; 32]),
        )
        .unwrap();
        assert_eq!(files_of(&b), files_of(&a));
        // Trusted again: X's entries that know of the readmission count;
        // what it wrote while revoked stays without effect.
        a.readmit(x.device_id()).unwrap();
        sync(&a, &mut x);
        std::fs::write(xf.join("back.txt"), "written after the readmission").unwrap();
        x.scan("f").unwrap();
        sync(&x, &mut a);
        assert_eq!(files_of(&a), ["back.txt", "before.txt", "honest.txt"]);
        assert!(a.verify("f").unwrap().ok);
    }

    #[test]
    fn a_folder_mapped_around_the_state_directory_before_the_rules_is_not_synced() {
        let t = tempfile::tempdir().unwrap();
        let state = t.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(state.join("device.key"), "secret").unwrap();
        {
            // As an older Harp mapped it: straight into the store.
            let store = Store::open(&state).unwrap();
            store.add_folder("all", t.path().to_str().unwrap()).unwrap();
        }
        let mut e = engine(&state);
        let err = e.scan("all").unwrap_err().to_string();
        assert!(err.contains("unknown folder"), "{err}");
        let f = e.folders().unwrap();
        assert_eq!(f[0]["state"], "refused", "{f}");
        assert!(
            f[0]["error"].as_str().unwrap().contains("state directory"),
            "{f}"
        );
        assert!(e.entries_since(None, &HashMap::new()).unwrap().is_empty());
    }

    #[test]
    fn scan_records_new_changed_deleted_and_skips_unchanged() {
        let t = tempfile::tempdir().unwrap();
        let folder = t.path().join("f");
        std::fs::create_dir_all(folder.join("sub")).unwrap();
        std::fs::write(folder.join("a.txt"), "a").unwrap();
        std::fs::write(folder.join("sub/b.txt"), "b").unwrap();
        std::fs::write(folder.join("bad:name.txt"), "x").unwrap();
        let mut e = engine(&t.path().join("s"));
        e.add_folder("f", &folder).unwrap();
        let r = e.scan("f").unwrap();
        assert_eq!((r.files, r.new, r.entries), (2, 2, 2));
        assert_eq!(r.skipped.len(), 1, "{:?}", r.skipped);
        let r = e.scan("f").unwrap();
        assert_eq!((r.unchanged, r.entries, r.bytes_hashed), (2, 0, 0));
        std::fs::write(folder.join("a.txt"), "changed").unwrap();
        std::fs::remove_file(folder.join("sub/b.txt")).unwrap();
        let r = e.scan("f").unwrap();
        assert_eq!((r.changed, r.deleted, r.entries), (1, 1, 2));
        assert_eq!(e.view("f").len(), 1);
        let v = e.verify("f").unwrap();
        assert!(v.ok);
        assert_eq!(v.checked, 4);
    }

    #[test]
    fn a_flipped_byte_is_reported_with_the_exact_entry_and_reason() {
        // (region, expected reason): a byte of the path inside the meta, of
        // the signature, of the public key.
        for (region, want) in [
            ("meta", Problem::BrokenLink),
            ("sig", Problem::BadSignature),
            ("key", Problem::UnknownAuthor),
        ] {
            let t = tempfile::tempdir().unwrap();
            let folder = t.path().join("f");
            std::fs::create_dir_all(&folder).unwrap();
            let state = t.path().join("s");
            let target;
            {
                let mut e = engine(&state);
                e.add_folder("f", &folder).unwrap();
                for i in 0..20 {
                    std::fs::write(folder.join(format!("file-{i:02}.txt")), format!("{i}"))
                        .unwrap();
                }
                e.scan("f").unwrap();
                target = e.store().history("f", "file-07.txt").unwrap()[0].clone();
            }
            let entry = Entry::decode(&target).unwrap();
            let db = state.join(crate::store::STORE_FILE);
            let mut bytes = std::fs::read(&db).unwrap();
            let copies = find_all(&bytes, &target);
            assert!(!copies.is_empty(), "the record is in the file");
            let rel = match region {
                "meta" => 4 + 5 + entry.meta.folder.len() + 3, // a character of the path
                "sig" => target.len() - 10,
                _ => target.len() - 64 - 5,
            };
            for c in copies {
                bytes[c + rel] ^= 0x20;
            }
            std::fs::write(&db, &bytes).unwrap();

            let e = engine(&state);
            let v = e.verify("f").unwrap();
            assert!(!v.ok, "{region}: damage went unnoticed");
            assert_eq!(v.problems.len(), 1, "{region}: {:?}", v.problems);
            let p = &v.problems[0];
            assert_eq!(p.entry, hex(&entry.hash), "{region}: the exact entry");
            assert_eq!(p.reason, want.as_str(), "{region}: {p:?}");
            assert_eq!(v.checked, 20);
        }
    }

    #[test]
    fn a_flipped_byte_anywhere_never_yields_a_wrong_ok_or_a_panic() {
        let t = tempfile::tempdir().unwrap();
        let folder = t.path().join("f");
        std::fs::create_dir_all(&folder).unwrap();
        let state = t.path().join("s");
        let original: Vec<Vec<u8>>;
        {
            let mut e = engine(&state);
            e.add_folder("f", &folder).unwrap();
            for i in 0..30 {
                std::fs::write(folder.join(format!("{i}.txt")), format!("{i}")).unwrap();
            }
            e.scan("f").unwrap();
            let mut all = Vec::new();
            e.store()
                .for_each_entry(|_, _, r| {
                    all.push(r.to_vec());
                    Ok(())
                })
                .unwrap();
            original = all;
        }
        let db = state.join(crate::store::STORE_FILE);
        let pristine = std::fs::read(&db).unwrap();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let (mut caught, mut harmless) = (0, 0);
        for _ in 0..300 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut bytes = pristine.clone();
            let at = (x % bytes.len() as u64) as usize;
            bytes[at] ^= 1 << (x % 8);
            std::fs::write(&db, &bytes).unwrap();
            let outcome = std::panic::catch_unwind(|| {
                let store = Arc::new(Store::open(&state)?);
                let e = Engine::open(store, DeviceKey::from_seed([5; 32]))?;
                let v = e.verify("f")?;
                let mut now = Vec::new();
                e.store().for_each_entry(|_, _, r| {
                    now.push(r.to_vec());
                    Ok(())
                })?;
                Ok::<_, HarpError>((v.ok, now))
            });
            match outcome {
                Err(_) => panic!("a flipped byte at {at} made harp panic"),
                Ok(Err(_)) => caught += 1,
                Ok(Ok((false, _))) => caught += 1,
                Ok(Ok((true, now))) => {
                    assert_eq!(
                        now, original,
                        "verify said ok over damaged entries (byte {at})"
                    );
                    harmless += 1;
                }
            }
        }
        assert!(caught > 0 && caught + harmless == 300);
    }
}
