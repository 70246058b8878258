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
mod scan;
mod verify;

use std::collections::HashMap;
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

pub use apply::{tmp_name, Want};
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

/// The engine of one node.
pub struct Engine {
    key: DeviceKey,
    me: DeviceId,
    dag: Dag,
    store: Arc<Store>,
    folders: HashMap<String, PathBuf>,
    on_commit: Option<OnCommit>,
    /// Paths that entries from peers touched since the applier last looked.
    dirty: std::collections::BTreeSet<(String, String)>,
    /// Per folder, what its last scan found that Harp never follows or
    /// opens (symlinks, FIFOs, sockets, device files): path -> reason.
    not_synced: HashMap<String, Vec<(String, String)>>,
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
        let mut dag = replay(&store, me)?;
        for (device, last) in store.revoked()? {
            dag.revoke(DeviceId(device), last);
        }
        let folders = store
            .folders()?
            .into_iter()
            .map(|(id, p)| (id, PathBuf::from(p)))
            .collect();
        Ok(Engine {
            key,
            me,
            dag,
            store,
            folders,
            on_commit: None,
            dirty: Default::default(),
            not_synced: HashMap::new(),
        })
    }

    /// This device's ID.
    pub fn device_id(&self) -> DeviceId {
        self.me
    }

    /// Sets the function told about every commit's entries.
    pub fn set_on_commit(&mut self, f: Option<OnCommit>) {
        self.on_commit = f;
    }

    /// (author, highest seq) of every entry here.
    pub fn version_vector(&self) -> Vec<(DeviceId, u64)> {
        self.dag.version_vector()
    }

    /// The records of every entry a peer with version vector `have` lacks,
    /// in application order (so parents come first).
    pub fn entries_since(&self, have: &HashMap<DeviceId, u64>) -> Result<Vec<Vec<u8>>> {
        let mine = self.dag.version_vector();
        let behind: HashMap<DeviceId, u64> = mine
            .into_iter()
            .filter(|(a, s)| have.get(a).copied().unwrap_or(0) < *s)
            .map(|(a, _)| (a, have.get(&a).copied().unwrap_or(0)))
            .collect();
        let mut out = Vec::new();
        if behind.is_empty() {
            return Ok(out);
        }
        self.store.for_each_entry(|_, _, rec| {
            if let Ok(e) = Entry::decode(rec) {
                if behind.get(&e.meta.author).is_some_and(|s| e.meta.seq > *s) {
                    out.push(rec.to_vec());
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Takes entries from a peer: checks each (decoding, signature, link,
    /// trusted author), applies what it can, keeps the rest waiting for
    /// their parents, and stores what applied in one commit.
    pub fn receive(&mut self, records: &[Vec<u8>]) -> Result<Received> {
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
            match self.dag.insert(e, true) {
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
        self.dag.trust(device);
    }

    /// Accepts no new entry authored by `device`: what it wrote up to now
    /// stays valid. Returns the last sequence number still accepted, for the
    /// store to keep.
    pub fn untrust(&mut self, device: DeviceId) -> u64 {
        let last = self.dag.last_seq(&device);
        self.dag.revoke(device, last);
        last
    }

    /// The DAG, read-only.
    pub fn dag(&self) -> &Dag {
        &self.dag
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

    /// Maps `id` to the directory `path` (created if missing).
    pub fn add_folder(&mut self, id: &str, path: &Path) -> Result<()> {
        paths::check_folder_id(id)?;
        std::fs::create_dir_all(path).map_err(|e| {
            HarpError::Config(format!("cannot create folder {}: {e}", path.display()))
        })?;
        let canon = path
            .canonicalize()
            .map_err(|e| HarpError::Config(format!("folder {}: {e}", path.display())))?;
        let text = canon.to_str().ok_or_else(|| {
            HarpError::Config(format!("folder path {} is not UTF-8", canon.display()))
        })?;
        self.store.add_folder(id, text)?;
        self.folders.insert(id.to_string(), canon);
        Ok(())
    }

    /// The folders as PHP sees them.
    pub fn folders(&self) -> Result<Value> {
        let mut list = Vec::new();
        let mut ids: Vec<&String> = self.folders.keys().collect();
        ids.sort();
        for id in ids {
            let view = self.dag.view(id);
            list.push(json!({
                "id": id,
                "path": self.folders[id].display().to_string(),
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
        Ok(Value::Array(list))
    }

    /// Turns unprocessed journal changes into entries. Returns how many
    /// entries it wrote.
    pub fn process_journal(&mut self) -> Result<u64> {
        let mut written = 0;
        loop {
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
                        None => self.store.file(&n.folder, p),
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
                                    None => self.store.file(&n.folder, &p.path)?,
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
                self.build(&folder, pending, &mut batch)?;
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
                    && self.dag.file(folder, from).is_some()
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
                if self.dag.file(folder, gone).is_some() || self.store.file(folder, gone)?.is_some()
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
    fn build(&mut self, folder: &str, pending: Vec<Observed>, batch: &mut Batch) -> Result<()> {
        let public = self.key.public().to_bytes();
        let first = batch.entries.len();
        for p in pending {
            let Some(manifest) = p.manifest.as_ref() else {
                if p.kind == ChangeKind::Write {
                    // Same bytes, new mtime: update the record, no entry.
                    if let Some(mut rec) = self.store.file(folder, &p.path)? {
                        rec.mtime_ns = p.mtime_ns;
                        batch.files_put.push((folder.into(), p.path, rec));
                    }
                    continue;
                }
                // A delete.
                let e = self.local(folder, &p, [0u8; 32], public)?;
                batch.files_del.push((folder.into(), p.path));
                batch.entries.push((e, None));
                continue;
            };
            let content = manifest.content_hash();
            let e = self.local(folder, &p, content, public)?;
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
            }
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
    ) -> Result<Entry> {
        let (seq, prev, parents) = self.dag.next_for(&self.me);
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
        };
        let e = Entry::unsigned(meta, prev, public)?;
        match self.dag.insert(e.clone(), false) {
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
                match replay(&self.store, self.me) {
                    Ok(dag) => self.dag = dag,
                    Err(e2) => warn(&format!("rebuilding the DAG failed: {e2}")),
                }
            }
            return Err(e);
        }
        if let Some(f) = &self.on_commit {
            if !batch.entries.is_empty() {
                let entries: Vec<Entry> = batch.entries.into_iter().map(|(e, _)| e).collect();
                f(&entries);
            }
        }
        Ok(())
    }

    /// Records changes already observed (by a scan, a hook, or a benchmark)
    /// as entries in one commit. Returns the number of entries written.
    pub fn record(&mut self, folder: &str, changes: Vec<Observed>) -> Result<u64> {
        self.root(folder)?;
        let mut batch = Batch::default();
        self.build(folder, changes, &mut batch)?;
        let n = batch.entries.len() as u64;
        self.commit(batch)?;
        Ok(n)
    }

    /// Every version of `path`, newest first.
    pub fn history(&self, folder: &str, path: &str) -> Result<Value> {
        let path = paths::normalize(path, true)?;
        let mut out = Vec::new();
        for rec in self.store.history(folder, &path)?.into_iter().rev() {
            let e = Entry::decode(&rec)?;
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
            }));
        }
        Ok(Value::Array(out))
    }

    /// Checks every entry of `folder`: link, signature, author.
    pub fn verify(&self, folder: &str) -> Result<VerifyReport> {
        self.root(folder)?;
        verify::run(&self.store, &self.dag, folder)
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }
}

/// Rebuilds the DAG from the store's log. An entry the store cannot give
/// back intact is skipped with a warning; `verify` names it.
fn replay(store: &Store, me: DeviceId) -> Result<Dag> {
    let mut dag = Dag::new(me);
    let mut damaged = 0u64;
    store.for_each_entry(|_, _, rec| {
        match Entry::decode(rec) {
            Ok(e) => {
                // Entries in the store were checked when they arrived.
                dag.trust(e.meta.author);
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
    Ok(dag)
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
        let first = x.entries_since(&HashMap::new()).unwrap();
        assert_eq!(me.receive(&first).unwrap().applied, 1);

        let last = me.untrust(xid);
        assert_eq!(last, 1);
        me.store().untrust(&xid.0, last).unwrap();
        std::fs::write(xf.join("b.txt"), "written after").unwrap();
        x.scan("f").unwrap();
        // Whoever relays them, X's new entries are refused; its old one stays.
        let all = x.entries_since(&HashMap::new()).unwrap();
        let r = me.receive(&all).unwrap();
        assert_eq!(
            (r.applied, r.duplicates, r.refused.len()),
            (0, 1, 1),
            "{r:?}"
        );
        assert_eq!(r.refused[0].1, Problem::UnknownAuthor.as_str());
        assert!(me.verify("f").unwrap().ok);
        drop(me);

        let mut me = engine(&t.path().join("s"));
        let r = me.receive(&all).unwrap();
        assert_eq!(
            (r.applied, r.refused.len()),
            (0, 1),
            "after a restart: {r:?}"
        );
        assert!(
            me.verify("f").unwrap().ok,
            "what X wrote while trusted still verifies"
        );
        // Trusting it again lifts the cut-off.
        me.trust(xid);
        me.store().trust(&xid.0, &[]).unwrap();
        assert_eq!(me.receive(&all).unwrap().applied, 1);
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
        assert_eq!(e.dag().view("f").len(), 1);
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
