//! The store: an embedded database (redb) in the state directory, written
//! only by the owner process.
//!
//! Tables:
//! - `meta`: small named values; `outbox` holds the outbox generation and
//!   offset taken so far, committed in the same transaction as the changes
//!   it produced, which is what makes intake exactly-once; `processed` is
//!   the last change turned into entries, committed with those entries.
//! - `changes`: the local changes taken from the outbox, by sequence number,
//!   each as its outbox payload followed by the time it was recorded.
//! - `entries`: entry hash -> entry record (chain/entry.rs).
//! - `log`: application order -> entry hash; replaying it rebuilds the DAG
//!   with every parent before its children.
//! - `author_seq`: author (32) || folder NUL || seq (u64 BE) -> entry hash.
//! - `path_history`: folder NUL path NUL log-seq (u64 BE) -> entry hash,
//!   for both the path and a rename's old path.
//! - `files`: folder NUL path -> what this device last saw on disk (size,
//!   mtime, content hash, entry hash): a scan re-hashes only what changed.
//! - `manifests`: content hash -> manifest.
//! - `chunks`: BLAKE3 chunk hash -> where a local file holds it (folder NUL
//!   path, offset, length); delta sync copies from there after re-checking
//!   the bytes.
//! - `folders`: folder id -> local path.
//! - `folder_devices`: folder id -> the devices it is shared with (device
//!   IDs in hex, comma-separated); a folder without a row is shared with
//!   every trusted device.
//! - `content_folders`, `chunk_folders`: content or chunk hash (32) ||
//!   folder -> (): which folders hold it, so a peer is served only what its
//!   folders hold.
//! - `trusted`: device ID -> its static addresses (comma-separated).
//! - `revoked`: device ID (32) [|| folder] -> the last sequence number of
//!   its still accepted in that folder (the bare key: in any other folder).
//! - `legacy_log`: the log of format-1 entries (one chain per author across
//!   folders), kept for `history` when the store moved to format 2; see
//!   docs/FORMAT.md, "Migration from format 1".
//!
//! Every commit is durable (`Durability::Immediate`): once `record_changes`
//! returns, a SIGKILL or a power cut cannot take the changes back.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{MappedRwLockReadGuard, RwLock, RwLockReadGuard};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::chain::entry::Entry;
use crate::chain::Hash;
use crate::error::{HarpError, Result};
use crate::manifest::Manifest;
use crate::outbox::{Generation, Notice};

/// File name of the database inside the state directory.
pub const STORE_FILE: &str = "store.redb";

/// redb's page cache. Its default (1 GiB) let an idle node with 100,000
/// files indexed keep 450 MB resident; the store's working set is small.
const CACHE_SIZE: usize = 32 * 1024 * 1024;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("changes");
const ENTRIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("entries");
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const AUTHOR_SEQ: TableDefinition<&[u8], &[u8]> = TableDefinition::new("author_seq");
const PATH_HISTORY: TableDefinition<&[u8], &[u8]> = TableDefinition::new("path_history");
const FILES: TableDefinition<&str, &[u8]> = TableDefinition::new("files");
const MANIFESTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("manifests");
const CHUNKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("chunks");
const FOLDERS: TableDefinition<&str, &str> = TableDefinition::new("folders");
const TRUSTED: TableDefinition<&[u8], &str> = TableDefinition::new("trusted");
/// Untrusted devices: the last sequence number of theirs still accepted.
const REVOKED: TableDefinition<&[u8], u64> = TableDefinition::new("revoked");
const FOLDER_DEVICES: TableDefinition<&str, &str> = TableDefinition::new("folder_devices");
const FOLDER_MAX_SIZE: TableDefinition<&str, u64> = TableDefinition::new("folder_max_size");
const CONTENT_FOLDERS: TableDefinition<&[u8], u8> = TableDefinition::new("content_folders");
const CHUNK_FOLDERS: TableDefinition<&[u8], u8> = TableDefinition::new("chunk_folders");
const LEGACY_LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("legacy_log");

/// What this device last saw of a file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRecord {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
    /// Content hash (manifest).
    pub content: Hash,
    /// The entry that recorded this state.
    pub entry: Hash,
}

impl FileRecord {
    fn encode(&self) -> [u8; 80] {
        let mut b = [0u8; 80];
        b[..8].copy_from_slice(&self.size.to_le_bytes());
        b[8..16].copy_from_slice(&self.mtime_ns.to_le_bytes());
        b[16..48].copy_from_slice(&self.content);
        b[48..80].copy_from_slice(&self.entry);
        b
    }

    fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != 80 {
            return None;
        }
        Some(FileRecord {
            size: u64::from_le_bytes(b[..8].try_into().ok()?),
            mtime_ns: i64::from_le_bytes(b[8..16].try_into().ok()?),
            content: b[16..48].try_into().ok()?,
            entry: b[48..80].try_into().ok()?,
        })
    }
}

/// Everything one commit writes: new entries (with the manifests of their
/// content), file records to set or drop, and how far the changes journal
/// has been processed. All of it lands, or none of it.
#[derive(Default)]
pub struct Batch {
    /// New entries in application order, each with its content's manifest.
    pub entries: Vec<(Entry, Option<Manifest>)>,
    /// (folder, path, record) to set.
    pub files_put: Vec<(String, String, FileRecord)>,
    /// (folder, path) to drop.
    pub files_del: Vec<(String, String)>,
    /// The last journal change these entries account for.
    pub processed: Option<u64>,
}

fn file_key(folder: &str, path: &str) -> String {
    format!("{folder}\0{path}")
}

fn history_prefix(folder: &str, path: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(folder.len() + path.len() + 10);
    k.extend_from_slice(folder.as_bytes());
    k.push(0);
    k.extend_from_slice(path.as_bytes());
    k.push(0);
    k
}

fn author_seq_key(author: &[u8; 32], folder: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(41 + folder.len());
    k.extend_from_slice(author);
    k.extend_from_slice(folder.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// hash (32) || folder: a row of `content_folders` or `chunk_folders`.
fn hash_folder_key(hash: &[u8; 32], folder: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(32 + folder.len());
    k.extend_from_slice(hash);
    k.extend_from_slice(folder.as_bytes());
    k
}

/// Writes a batch inside `txn` (see `Store::commit`).
fn write_batch(
    txn: &redb::WriteTransaction,
    batch: &Batch,
    e: &impl Fn(redb::Error) -> HarpError,
) -> Result<()> {
    let mut entries = txn.open_table(ENTRIES).map_err(|x| e(x.into()))?;
    let mut log = txn.open_table(LOG).map_err(|x| e(x.into()))?;
    let mut by_author = txn.open_table(AUTHOR_SEQ).map_err(|x| e(x.into()))?;
    let mut history = txn.open_table(PATH_HISTORY).map_err(|x| e(x.into()))?;
    let mut manifests = txn.open_table(MANIFESTS).map_err(|x| e(x.into()))?;
    let mut chunks = txn.open_table(CHUNKS).map_err(|x| e(x.into()))?;
    let mut files = txn.open_table(FILES).map_err(|x| e(x.into()))?;
    let mut content_folders = txn.open_table(CONTENT_FOLDERS).map_err(|x| e(x.into()))?;
    let mut chunk_folders = txn.open_table(CHUNK_FOLDERS).map_err(|x| e(x.into()))?;
    // Positions go on after the format-1 archive's: `path_history` is
    // keyed by position, and keeps both formats' entries in order.
    let legacy = txn.open_table(LEGACY_LOG).map_err(|x| e(x.into()))?;
    let after = [log.last(), legacy.last()]
        .into_iter()
        .filter_map(|r| r.ok().flatten().map(|(k, _)| k.value()))
        .max()
        .unwrap_or(0);
    let first = after + 1;
    for (next, (entry, manifest)) in (first..).zip(&batch.entries) {
        let m = &entry.meta;
        entries
            .insert(entry.hash.as_slice(), entry.encode().as_slice())
            .map_err(|x| e(x.into()))?;
        log.insert(next, entry.hash.as_slice())
            .map_err(|x| e(x.into()))?;
        by_author
            .insert(
                author_seq_key(&m.author.0, &m.folder, m.seq).as_slice(),
                entry.hash.as_slice(),
            )
            .map_err(|x| e(x.into()))?;
        let mut paths = vec![m.path.as_str()];
        if !m.from.is_empty() {
            paths.push(m.from.as_str());
        }
        for p in paths {
            let mut k = history_prefix(&m.folder, p);
            k.extend_from_slice(&next.to_be_bytes());
            history
                .insert(k.as_slice(), entry.hash.as_slice())
                .map_err(|x| e(x.into()))?;
        }
        if m.content != [0u8; 32] {
            content_folders
                .insert(hash_folder_key(&m.content, &m.folder).as_slice(), 0)
                .map_err(|x| e(x.into()))?;
        }
        if let Some(man) = manifest {
            manifests
                .insert(m.content.as_slice(), man.encode().as_slice())
                .map_err(|x| e(x.into()))?;
            let mut loc = Vec::with_capacity(m.folder.len() + m.path.len() + 13);
            loc.extend_from_slice(file_key(&m.folder, &m.path).as_bytes());
            for c in &man.chunks {
                loc.truncate(m.folder.len() + m.path.len() + 1);
                loc.extend_from_slice(&c.offset.to_le_bytes());
                loc.extend_from_slice(&c.len.to_le_bytes());
                chunks
                    .insert(c.hash.as_slice(), loc.as_slice())
                    .map_err(|x| e(x.into()))?;
                chunk_folders
                    .insert(hash_folder_key(&c.hash, &m.folder).as_slice(), 0)
                    .map_err(|x| e(x.into()))?;
            }
        }
    }
    for (folder, path) in &batch.files_del {
        files
            .remove(file_key(folder, path).as_str())
            .map_err(|x| e(x.into()))?;
    }
    for (folder, path, rec) in &batch.files_put {
        files
            .insert(file_key(folder, path).as_str(), rec.encode().as_slice())
            .map_err(|x| e(x.into()))?;
    }
    if let Some(p) = batch.processed {
        let mut meta = txn.open_table(META).map_err(|x| e(x.into()))?;
        meta.insert("processed", p.to_le_bytes().as_slice())
            .map_err(|x| e(x.into()))?;
    }
    Ok(())
}

/// A change recorded in the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// Sequence number, from 1, in the order changes were taken.
    pub seq: u64,
    /// The notice as the hook gave it.
    #[serde(flatten)]
    pub notice: Notice,
    /// When the owner recorded it, milliseconds since the Unix epoch.
    pub recorded_ms: u64,
}

/// Runs a store operation, turning a panic inside redb (which it raises on
/// some kinds of on-disk damage) into a `Storage` error.
fn shield<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
        Err(HarpError::Storage(format!(
            "the store is damaged ({}); run verify, or restore it from a backup",
            crate::error::panic_message(p.as_ref())
        )))
    })
}

/// The owner's database.
///
/// redb fails every operation with `PreviousIo` after one I/O error (a
/// full disk, say) until the database is closed and opened again. So an
/// I/O error marks the store as failed, and the next operation reopens it:
/// the node carries on by itself once the disk has room again. Every
/// operation holds a read lock on the database for its whole length, so a
/// reopen (which takes the write lock) never pulls it from under one.
pub struct Store {
    path: PathBuf,
    db: RwLock<Option<Database>>,
    failed: AtomicBool,
}

impl Drop for Store {
    /// redb writes on close, and panics on some kinds of on-disk damage
    /// while doing so: closing never takes the process down.
    fn drop(&mut self) {
        let db = self.db.get_mut().take();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(db)));
    }
}

/// A storage error for `what`, with a hint for the I/O errors a user can fix.
fn describe(what: &str, e: &redb::Error) -> HarpError {
    match e {
        redb::Error::Io(io) => crate::error::HarpError::io(what, io),
        redb::Error::PreviousIo => HarpError::Storage(format!(
            "{what}: the store met an I/O error earlier and is reopened on the next try; \
             nothing was lost"
        )),
        _ => HarpError::Storage(format!("{what}: {e}")),
    }
}

/// Error mapping for code that runs before a `Store` exists.
fn err(what: &'static str) -> impl Fn(redb::Error) -> HarpError {
    move |e| describe(what, &e)
}

impl Store {
    /// Opens the database in `dir`, creating it on first use. redb panics
    /// on some kinds of damage; that becomes a `Storage` error here.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(STORE_FILE);
        let db = Self::open_db(&path)?;
        Ok(Store {
            path,
            db: RwLock::new(Some(db)),
            failed: AtomicBool::new(false),
        })
    }

    /// The state directory the store lives in.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(&self.path)
    }

    /// Creates the database file 0600 whatever the umask (redb would
    /// leave it 0644), and narrows an existing one: it holds every entry
    /// and file record, and the state directory may be open to a group.
    /// An empty file is what redb initialises as a new database.
    fn private_file(path: &Path) -> Result<()> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let what = || format!("cannot open the store {}", path.display());
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| HarpError::io(&what(), &e))?;
        let mode = f
            .metadata()
            .map_err(|e| HarpError::io(&what(), &e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            f.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| HarpError::io(&format!("chmod 600 {}", path.display()), &e))?;
        }
        Ok(())
    }

    fn open_db(path: &Path) -> Result<Database> {
        std::panic::catch_unwind(|| Self::open_inner(path)).unwrap_or_else(|p| {
            Err(HarpError::Storage(format!(
                "the store {} is damaged ({}); restore it from a backup",
                path.display(),
                crate::error::panic_message(p.as_ref())
            )))
        })
    }

    fn open_inner(path: &Path) -> Result<Database> {
        Self::private_file(path)?;
        let db = Database::builder()
            .set_cache_size(CACHE_SIZE)
            .create(path)
            .map_err(|e| match e {
                redb::DatabaseError::Storage(redb::StorageError::Io(io)) => {
                    HarpError::io(&format!("cannot open the store {}", path.display()), &io)
                }
                e => HarpError::Storage(format!(
                "cannot open the store {}: {e}; if the disk is damaged, restore it from a backup",
                path.display()
            )),
            })?;
        let txn = db.begin_write().map_err(|e| err("store")(e.into()))?;
        {
            // Create every table, so readers never meet a missing one.
            let e = err("store");
            txn.open_table(META).map_err(|x| e(x.into()))?;
            txn.open_table(CHANGES).map_err(|x| e(x.into()))?;
            txn.open_table(ENTRIES).map_err(|x| e(x.into()))?;
            txn.open_table(LOG).map_err(|x| e(x.into()))?;
            txn.open_table(AUTHOR_SEQ).map_err(|x| e(x.into()))?;
            txn.open_table(PATH_HISTORY).map_err(|x| e(x.into()))?;
            txn.open_table(FILES).map_err(|x| e(x.into()))?;
            txn.open_table(MANIFESTS).map_err(|x| e(x.into()))?;
            txn.open_table(CHUNKS).map_err(|x| e(x.into()))?;
            txn.open_table(FOLDERS).map_err(|x| e(x.into()))?;
            txn.open_table(TRUSTED).map_err(|x| e(x.into()))?;
            txn.open_table(REVOKED).map_err(|x| e(x.into()))?;
            txn.open_table(FOLDER_DEVICES).map_err(|x| e(x.into()))?;
            txn.open_table(FOLDER_MAX_SIZE).map_err(|x| e(x.into()))?;
            txn.open_table(CONTENT_FOLDERS).map_err(|x| e(x.into()))?;
            txn.open_table(CHUNK_FOLDERS).map_err(|x| e(x.into()))?;
            txn.open_table(LEGACY_LOG).map_err(|x| e(x.into()))?;
        }
        txn.commit().map_err(|e| err("store")(e.into()))?;
        Ok(db)
    }

    /// Maps a redb error, and marks the store for a reopen after an I/O
    /// error (redb refuses all further work until then).
    fn err(&self, what: &'static str) -> impl Fn(redb::Error) -> HarpError + '_ {
        move |e| {
            if matches!(
                e,
                redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::DatabaseClosed
            ) {
                self.failed.store(true, Ordering::Release);
            }
            describe(what, &e)
        }
    }

    /// The database, reopened first if an earlier I/O error left it failed.
    fn db(&self) -> Result<MappedRwLockReadGuard<'_, Database>> {
        if self.failed.load(Ordering::Acquire) {
            let mut w = self.db.write();
            if self.failed.load(Ordering::Acquire) {
                // Close the failed one first: redb locks its file.
                drop(w.take());
                let db = Self::open_db(&self.path)?;
                *w = Some(db);
                self.failed.store(false, Ordering::Release);
                crate::owner::warn(&format!(
                    "the store {} was reopened after an I/O error",
                    self.path.display()
                ));
            }
        }
        RwLockReadGuard::try_map(self.db.read_recursive(), Option::as_ref).map_err(|_| {
            HarpError::Storage(format!(
                "the store {} could not be reopened after an I/O error; the next try reopens it",
                self.path.display()
            ))
        })
    }

    /// How far intake has read the outbox: its generation and offset.
    pub fn outbox_position(&self) -> Result<Option<(Generation, u64)>> {
        shield(|| {
            let e = self.err("reading the outbox position");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let meta = txn.open_table(META).map_err(|x| e(x.into()))?;
            let Some(v) = meta.get("outbox").map_err(|x| e(x.into()))? else {
                return Ok(None);
            };
            let v = v.value();
            if v.len() != 24 {
                return Err(HarpError::Storage(
                    "the stored outbox position is damaged".into(),
                ));
            }
            let mut g = [0u8; 16];
            g.copy_from_slice(&v[..16]);
            let mut off = [0u8; 8];
            off.copy_from_slice(&v[16..]);
            Ok(Some((g, u64::from_le_bytes(off))))
        })
    }

    /// Records `notices` and the new outbox position in one durable
    /// transaction. Returns the sequence numbers given to the notices.
    pub fn record_changes(
        &self,
        notices: &[Notice],
        position: (Generation, u64),
        now_ms: u64,
    ) -> Result<Vec<u64>> {
        let e = self.err("recording changes");
        let db = self.db()?;
        let txn = db.begin_write().map_err(|x| e(x.into()))?;
        let mut seqs = Vec::with_capacity(notices.len());
        {
            let mut changes = txn.open_table(CHANGES).map_err(|x| e(x.into()))?;
            let first = match changes.last().map_err(|x| e(x.into()))? {
                Some((k, _)) => k.value() + 1,
                None => 1,
            };
            for (seq, n) in (first..).zip(notices) {
                let mut bytes = n.encode();
                bytes.extend_from_slice(&now_ms.to_le_bytes());
                changes
                    .insert(seq, bytes.as_slice())
                    .map_err(|x| e(x.into()))?;
                seqs.push(seq);
            }
            let mut meta = txn.open_table(META).map_err(|x| e(x.into()))?;
            let mut pos = Vec::with_capacity(24);
            pos.extend_from_slice(&position.0);
            pos.extend_from_slice(&position.1.to_le_bytes());
            meta.insert("outbox", pos.as_slice())
                .map_err(|x| e(x.into()))?;
        }
        txn.commit().map_err(|x| e(x.into()))?;
        Ok(seqs)
    }

    /// Number of changes recorded so far.
    pub fn change_count(&self) -> Result<u64> {
        shield(|| {
            let e = self.err("counting changes");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let t = txn.open_table(CHANGES).map_err(|x| e(x.into()))?;
            t.len().map_err(|x| e(x.into()))
        })
    }

    /// Up to `limit` changes with a sequence number above `after`, in order.
    pub fn changes(&self, after: u64, limit: usize) -> Result<Vec<Change>> {
        shield(|| {
            let e = self.err("reading changes");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let t = txn.open_table(CHANGES).map_err(|x| e(x.into()))?;
            let mut out = Vec::new();
            for row in t
                .range(after.saturating_add(1)..)
                .map_err(|x| e(x.into()))?
                .take(limit)
            {
                let (k, v) = row.map_err(|x| e(x.into()))?;
                let bytes = v.value();
                let seq = k.value();
                if bytes.len() < 8 {
                    return Err(HarpError::Storage(format!("change {seq} is damaged")));
                }
                let (payload, at) = bytes.split_at(bytes.len() - 8);
                let notice = Notice::decode(payload)
                    .map_err(|x| HarpError::Storage(format!("change {seq} is damaged: {x}")))?;
                let mut t8 = [0u8; 8];
                t8.copy_from_slice(at);
                out.push(Change {
                    seq,
                    notice,
                    recorded_ms: u64::from_le_bytes(t8),
                });
            }
            Ok(out)
        })
    }
}

impl Store {
    /// The last journal change already turned into entries (0: none).
    pub fn processed(&self) -> Result<u64> {
        shield(|| {
            let e = self.err("reading the store");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let meta = txn.open_table(META).map_err(|x| e(x.into()))?;
            let v = meta.get("processed").map_err(|x| e(x.into()))?;
            Ok(
                v.and_then(|v| v.value().try_into().ok().map(u64::from_le_bytes))
                    .unwrap_or(0),
            )
        })
    }

    /// Writes a batch in one durable transaction.
    pub fn commit(&self, batch: &Batch) -> Result<()> {
        shield(|| {
            let e = self.err("writing entries");
            let db = self.db()?;
            let txn = db.begin_write().map_err(|x| e(x.into()))?;
            write_batch(&txn, batch, &e)?;
            txn.commit().map_err(|x| e(x.into()))
        })
    }

    /// Moves the store from format 1 to format 2 in one durable
    /// transaction: the format-1 log goes to `legacy_log` (its entries stay
    /// readable by `history`), the author index and the revocations' old
    /// sequence numbers go (a revoked device has no format-2 entry yet),
    /// and `batch` (this device's format-2 record of the folders as format
    /// 1 showed them) is written.
    pub fn migrate_to_v2(&self, batch: &Batch) -> Result<()> {
        shield(|| {
            let e = self.err("moving the store to format 2");
            let db = self.db()?;
            let txn = db.begin_write().map_err(|x| e(x.into()))?;
            {
                let mut log = txn.open_table(LOG).map_err(|x| e(x.into()))?;
                let mut legacy = txn.open_table(LEGACY_LOG).map_err(|x| e(x.into()))?;
                let mut rows = Vec::new();
                for row in log.iter().map_err(|x| e(x.into()))? {
                    let (k, v) = row.map_err(|x| e(x.into()))?;
                    rows.push((k.value(), v.value().to_vec()));
                }
                for (k, v) in &rows {
                    legacy.insert(*k, v.as_slice()).map_err(|x| e(x.into()))?;
                }
                log.retain(|_, _| false).map_err(|x| e(x.into()))?;
                let mut by_author = txn.open_table(AUTHOR_SEQ).map_err(|x| e(x.into()))?;
                by_author.retain(|_, _| false).map_err(|x| e(x.into()))?;
                let mut revoked = txn.open_table(REVOKED).map_err(|x| e(x.into()))?;
                let mut devices = Vec::new();
                for row in revoked.iter().map_err(|x| e(x.into()))? {
                    let (k, _) = row.map_err(|x| e(x.into()))?;
                    devices.push(k.value()[..32.min(k.value().len())].to_vec());
                }
                revoked.retain(|_, _| false).map_err(|x| e(x.into()))?;
                for d in devices {
                    revoked.insert(d.as_slice(), 0).map_err(|x| e(x.into()))?;
                }
                let mut meta = txn.open_table(META).map_err(|x| e(x.into()))?;
                meta.insert("format", [2u8].as_slice())
                    .map_err(|x| e(x.into()))?;
            }
            write_batch(&txn, batch, &e)?;
            txn.commit().map_err(|x| e(x.into()))
        })
    }

    /// Whether the store still holds format-1 entries to migrate: it has
    /// entries and was never marked as format 2.
    pub fn needs_migration(&self) -> Result<bool> {
        shield(|| {
            let e = self.err("reading the store format");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let meta = txn.open_table(META).map_err(|x| e(x.into()))?;
            if meta.get("format").map_err(|x| e(x.into()))?.is_some() {
                return Ok(false);
            }
            let log = txn.open_table(LOG).map_err(|x| e(x.into()))?;
            let entries = txn.open_table(ENTRIES).map_err(|x| e(x.into()))?;
            let first = log.first().map_err(|x| e(x.into()))?;
            let Some((_, h)) = first else {
                return Ok(false);
            };
            let rec = entries.get(h.value()).map_err(|x| e(x.into()))?;
            Ok(rec.is_some_and(|r| {
                Entry::record_version(r.value()) == Some(crate::chain::entry::LEGACY_META_VERSION)
            }))
        })
    }

    /// Marks a store that never held format-1 entries as format 2.
    pub fn mark_format(&self) -> Result<()> {
        shield(|| {
            let e = self.err("writing the store format");
            let db = self.db()?;
            let txn = db.begin_write().map_err(|x| e(x.into()))?;
            {
                let mut meta = txn.open_table(META).map_err(|x| e(x.into()))?;
                meta.insert("format", [2u8].as_slice())
                    .map_err(|x| e(x.into()))?;
            }
            txn.commit().map_err(|x| e(x.into()))
        })
    }

    /// Calls `f` with every format-1 entry's record, in the order it was
    /// applied: the log before migration, or the archive after it.
    pub fn for_each_legacy_entry(&self, mut f: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        shield(|| {
            let e = self.err("reading format-1 entries");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let entries = txn.open_table(ENTRIES).map_err(|x| e(x.into()))?;
            for table in [LOG, LEGACY_LOG] {
                let log = txn.open_table(table).map_err(|x| e(x.into()))?;
                for row in log.iter().map_err(|x| e(x.into()))? {
                    let (_, h) = row.map_err(|x| e(x.into()))?;
                    if let Some(rec) = entries.get(h.value()).map_err(|x| e(x.into()))? {
                        if Entry::record_version(rec.value())
                            == Some(crate::chain::entry::LEGACY_META_VERSION)
                        {
                            f(rec.value())?;
                        }
                    }
                }
            }
            Ok(())
        })
    }

    /// Number of entries stored.
    pub fn entry_count(&self) -> Result<u64> {
        shield(|| {
            let e = self.err("counting entries");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let t = txn.open_table(LOG).map_err(|x| e(x.into()))?;
            t.len().map_err(|x| e(x.into()))
        })
    }

    /// Calls `f` with every stored entry's record bytes, in application
    /// order, with the hash the store files it under.
    pub fn for_each_entry(&self, mut f: impl FnMut(u64, &[u8], &[u8]) -> Result<()>) -> Result<()> {
        shield(|| {
            let e = self.err("reading entries");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let log = txn.open_table(LOG).map_err(|x| e(x.into()))?;
            let entries = txn.open_table(ENTRIES).map_err(|x| e(x.into()))?;
            for row in log.iter().map_err(|x| e(x.into()))? {
                let (k, h) = row.map_err(|x| e(x.into()))?;
                let hash = h.value();
                match entries.get(hash).map_err(|x| e(x.into()))? {
                    Some(rec) => f(k.value(), hash, rec.value())?,
                    None => f(k.value(), hash, &[])?,
                }
            }
            Ok(())
        })
    }

    /// An entry's record by hash.
    pub fn entry(&self, hash: &Hash) -> Result<Option<Vec<u8>>> {
        shield(|| {
            let e = self.err("reading an entry");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let t = txn.open_table(ENTRIES).map_err(|x| e(x.into()))?;
            Ok(t.get(hash.as_slice())
                .map_err(|x| e(x.into()))?
                .map(|v| v.value().to_vec()))
        })
    }

    /// The hash of `author`'s entry number `seq` in `folder`.
    pub fn by_author_seq(&self, author: &[u8; 32], folder: &str, seq: u64) -> Result<Option<Hash>> {
        shield(|| {
            let e = self.err("reading an entry");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let t = txn.open_table(AUTHOR_SEQ).map_err(|x| e(x.into()))?;
            Ok(t.get(author_seq_key(author, folder, seq).as_slice())
                .map_err(|x| e(x.into()))?
                .and_then(|v| v.value().try_into().ok()))
        })
    }

    /// The records of every entry about `path` (as path or old path), in
    /// application order.
    pub fn history(&self, folder: &str, path: &str) -> Result<Vec<Vec<u8>>> {
        shield(|| {
            let e = self.err("reading history");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let hist = txn.open_table(PATH_HISTORY).map_err(|x| e(x.into()))?;
            let entries = txn.open_table(ENTRIES).map_err(|x| e(x.into()))?;
            let start = history_prefix(folder, path);
            let mut end = start.clone();
            end.extend_from_slice(&[0xff; 8]);
            let mut out = Vec::new();
            for row in hist
                .range(start.as_slice()..=end.as_slice())
                .map_err(|x| e(x.into()))?
            {
                let (_, h) = row.map_err(|x| e(x.into()))?;
                if let Some(rec) = entries.get(h.value()).map_err(|x| e(x.into()))? {
                    out.push(rec.value().to_vec());
                }
            }
            Ok(out)
        })
    }

    /// What this device last saw of `path` on disk.
    pub fn file(&self, folder: &str, path: &str) -> Result<Option<FileRecord>> {
        shield(|| {
            let e = self.err("reading a file record");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let t = txn.open_table(FILES).map_err(|x| e(x.into()))?;
            Ok(t.get(file_key(folder, path).as_str())
                .map_err(|x| e(x.into()))?
                .and_then(|v| FileRecord::decode(v.value())))
        })
    }

    /// Every file record of a folder: path -> record.
    pub fn files(&self, folder: &str) -> Result<std::collections::HashMap<String, FileRecord>> {
        shield(|| {
            let e = self.err("reading file records");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let t = txn.open_table(FILES).map_err(|x| e(x.into()))?;
            let start = format!("{folder}\0");
            let end = format!("{folder}\u{1}");
            let mut out = std::collections::HashMap::new();
            for row in t
                .range(start.as_str()..end.as_str())
                .map_err(|x| e(x.into()))?
            {
                let (k, v) = row.map_err(|x| e(x.into()))?;
                if let Some(rec) = FileRecord::decode(v.value()) {
                    out.insert(k.value()[start.len()..].to_string(), rec);
                }
            }
            Ok(out)
        })
    }

    /// A stored manifest by content hash.
    pub fn manifest(&self, content: &Hash) -> Result<Option<Manifest>> {
        shield(|| {
            let e = self.err("reading a manifest");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let t = txn.open_table(MANIFESTS).map_err(|x| e(x.into()))?;
            match t.get(content.as_slice()).map_err(|x| e(x.into()))? {
                Some(v) => Ok(Some(Manifest::decode(v.value())?)),
                None => Ok(None),
            }
        })
    }

    /// Where a local file holds a chunk: (folder, path, offset, length).
    pub fn chunk_location(&self, chunk: &Hash) -> Result<Option<(String, String, u64, u32)>> {
        shield(|| {
            let e = self.err("reading the chunk index");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let t = txn.open_table(CHUNKS).map_err(|x| e(x.into()))?;
            let Some(v) = t.get(chunk.as_slice()).map_err(|x| e(x.into()))? else {
                return Ok(None);
            };
            let v = v.value();
            if v.len() < 13 {
                return Ok(None);
            }
            let (key, tail) = v.split_at(v.len() - 12);
            let key = String::from_utf8_lossy(key);
            let Some((folder, path)) = key.split_once('\0') else {
                return Ok(None);
            };
            let offset = u64::from_le_bytes(tail[..8].try_into().unwrap_or_default());
            let len = u32::from_le_bytes(tail[8..].try_into().unwrap_or_default());
            Ok(Some((folder.to_string(), path.to_string(), offset, len)))
        })
    }

    /// Maps a folder id to a local directory (replacing an earlier mapping).
    pub fn add_folder(&self, id: &str, path: &str) -> Result<()> {
        shield(|| {
            let e = self.err("adding a folder");
            let db = self.db()?;
            let txn = db.begin_write().map_err(|x| e(x.into()))?;
            {
                let mut t = txn.open_table(FOLDERS).map_err(|x| e(x.into()))?;
                t.insert(id, path).map_err(|x| e(x.into()))?;
            }
            txn.commit().map_err(|x| e(x.into()))
        })
    }

    /// The folders: (id, local path), sorted by id.
    pub fn folders(&self) -> Result<Vec<(String, String)>> {
        shield(|| {
            let e = self.err("reading folders");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let t = txn.open_table(FOLDERS).map_err(|x| e(x.into()))?;
            let mut out = Vec::new();
            for row in t.iter().map_err(|x| e(x.into()))? {
                let (k, v) = row.map_err(|x| e(x.into()))?;
                out.push((k.value().to_string(), v.value().to_string()));
            }
            Ok(out)
        })
    }
}

impl Store {
    /// Pins a device, with its static addresses.
    pub fn trust(&self, device: &[u8; 32], addresses: &[String]) -> Result<()> {
        shield(|| {
            let e = self.err("saving the trust list");
            let db = self.db()?;
            let txn = db.begin_write().map_err(|x| e(x.into()))?;
            {
                let mut t = txn.open_table(TRUSTED).map_err(|x| e(x.into()))?;
                t.insert(device.as_slice(), addresses.join(",").as_str())
                    .map_err(|x| e(x.into()))?;
                let mut r = txn.open_table(REVOKED).map_err(|x| e(x.into()))?;
                r.retain(|k, _| !k.starts_with(device))
                    .map_err(|x| e(x.into()))?;
            }
            txn.commit().map_err(|x| e(x.into()))
        })
    }

    /// Removes a device from the trust list, and accepts no entry of its
    /// in each folder beyond sequence number `last` (in any other folder:
    /// none) from now on.
    pub fn untrust(&self, device: &[u8; 32], last: &[(String, u64)]) -> Result<()> {
        shield(|| {
            let e = self.err("saving the trust list");
            let db = self.db()?;
            let txn = db.begin_write().map_err(|x| e(x.into()))?;
            {
                let mut t = txn.open_table(TRUSTED).map_err(|x| e(x.into()))?;
                t.remove(device.as_slice()).map_err(|x| e(x.into()))?;
                let mut r = txn.open_table(REVOKED).map_err(|x| e(x.into()))?;
                r.retain(|k, _| !k.starts_with(device))
                    .map_err(|x| e(x.into()))?;
                r.insert(device.as_slice(), 0).map_err(|x| e(x.into()))?;
                for (folder, seq) in last {
                    r.insert(hash_folder_key(device, folder).as_slice(), *seq)
                        .map_err(|x| e(x.into()))?;
                }
            }
            txn.commit().map_err(|x| e(x.into()))
        })
    }

    /// Untrusted devices: (device, folder, the last sequence number of
    /// theirs accepted there); an empty folder stands for any other folder
    /// (and, in a format-1 store, for its one chain).
    pub fn revoked(&self) -> Result<Vec<([u8; 32], String, u64)>> {
        shield(|| {
            let e = self.err("reading the trust list");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let t = txn.open_table(REVOKED).map_err(|x| e(x.into()))?;
            let mut out = Vec::new();
            for row in t.iter().map_err(|x| e(x.into()))? {
                let (k, v) = row.map_err(|x| e(x.into()))?;
                let k = k.value();
                if k.len() < 32 {
                    continue;
                }
                let (id, folder) = k.split_at(32);
                if let Ok(id) = <[u8; 32]>::try_from(id) {
                    out.push((id, String::from_utf8_lossy(folder).into_owned(), v.value()));
                }
            }
            Ok(out)
        })
    }

    /// Shares `folder` with exactly `devices`, or (None) with every trusted
    /// device.
    pub fn set_folder_devices(&self, folder: &str, devices: Option<&[[u8; 32]]>) -> Result<()> {
        shield(|| {
            let e = self.err("saving a folder's devices");
            let db = self.db()?;
            let txn = db.begin_write().map_err(|x| e(x.into()))?;
            {
                let mut t = txn.open_table(FOLDER_DEVICES).map_err(|x| e(x.into()))?;
                match devices {
                    None => {
                        t.remove(folder).map_err(|x| e(x.into()))?;
                    }
                    Some(list) => {
                        let text: Vec<String> = list
                            .iter()
                            .map(|d| data_encoding::HEXLOWER.encode(d))
                            .collect();
                        t.insert(folder, text.join(",").as_str())
                            .map_err(|x| e(x.into()))?;
                    }
                }
            }
            txn.commit().map_err(|x| e(x.into()))
        })
    }

    /// Sets (or, with None, lifts) the largest file a peer may make this
    /// node write in `folder`.
    pub fn set_folder_max_size(&self, folder: &str, max: Option<u64>) -> Result<()> {
        shield(|| {
            let e = self.err("saving a folder's limit");
            let db = self.db()?;
            let txn = db.begin_write().map_err(|x| e(x.into()))?;
            {
                let mut t = txn.open_table(FOLDER_MAX_SIZE).map_err(|x| e(x.into()))?;
                match max {
                    Some(m) => t.insert(folder, m).map(|_| ()),
                    None => t.remove(folder).map(|_| ()),
                }
                .map_err(|x| e(x.into()))?;
            }
            txn.commit().map_err(|x| e(x.into()))
        })
    }

    /// The folders' largest file sizes: (folder, bytes).
    pub fn folder_max_sizes(&self) -> Result<Vec<(String, u64)>> {
        shield(|| {
            let e = self.err("reading the folders' limits");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let t = txn.open_table(FOLDER_MAX_SIZE).map_err(|x| e(x.into()))?;
            let mut out = Vec::new();
            for row in t.iter().map_err(|x| e(x.into()))? {
                let (k, v) = row.map_err(|x| e(x.into()))?;
                out.push((k.value().to_string(), v.value()));
            }
            Ok(out)
        })
    }

    /// The folders shared with a list of devices: (folder, devices).
    pub fn folder_devices(&self) -> Result<Vec<(String, Vec<[u8; 32]>)>> {
        shield(|| {
            let e = self.err("reading the folders' devices");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let t = txn.open_table(FOLDER_DEVICES).map_err(|x| e(x.into()))?;
            let mut out = Vec::new();
            for row in t.iter().map_err(|x| e(x.into()))? {
                let (k, v) = row.map_err(|x| e(x.into()))?;
                let devices = v
                    .value()
                    .split(',')
                    .filter_map(|h| data_encoding::HEXLOWER.decode(h.as_bytes()).ok())
                    .filter_map(|b| <[u8; 32]>::try_from(b).ok())
                    .collect();
                out.push((k.value().to_string(), devices));
            }
            Ok(out)
        })
    }

    /// The folders whose entries name `content` (a manifest hash), or whose
    /// manifests hold `content` as a chunk (`chunk` = true).
    pub fn folders_holding(&self, hash: &Hash, chunk: bool) -> Result<Vec<String>> {
        shield(|| {
            let e = self.err("reading the folder index");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let t = txn
                .open_table(if chunk {
                    CHUNK_FOLDERS
                } else {
                    CONTENT_FOLDERS
                })
                .map_err(|x| e(x.into()))?;
            let mut end = hash.to_vec();
            end.push(0xff);
            let mut out = Vec::new();
            for row in t
                .range(hash.as_slice()..end.as_slice())
                .map_err(|x| e(x.into()))?
            {
                let (k, _) = row.map_err(|x| e(x.into()))?;
                if let Some(f) = k.value().get(32..) {
                    out.push(String::from_utf8_lossy(f).into_owned());
                }
            }
            Ok(out)
        })
    }

    /// The trust list: (device, static addresses).
    pub fn trusted(&self) -> Result<Vec<([u8; 32], Vec<String>)>> {
        shield(|| {
            let e = self.err("reading the trust list");
            let db = self.db()?;
            let txn = db.begin_read().map_err(|x| e(x.into()))?;
            let t = txn.open_table(TRUSTED).map_err(|x| e(x.into()))?;
            let mut out = Vec::new();
            for row in t.iter().map_err(|x| e(x.into()))? {
                let (k, v) = row.map_err(|x| e(x.into()))?;
                if let Ok(id) = <[u8; 32]>::try_from(k.value()) {
                    let addrs = v
                        .value()
                        .split(',')
                        .filter(|a| !a.is_empty())
                        .map(str::to_string)
                        .collect();
                    out.push((id, addrs));
                }
            }
            Ok(out)
        })
    }
}

impl Store {
    /// Records a file this device just wrote from a peer's content: its
    /// record, its manifest and its chunks' locations, in one commit.
    pub fn put_file(
        &self,
        folder: &str,
        path: &str,
        rec: &FileRecord,
        manifest: &Manifest,
    ) -> Result<()> {
        self.put_files(&[(folder, path, rec, manifest)])
    }

    /// `put_file` for many files in one commit.
    pub fn put_files(&self, files: &[(&str, &str, &FileRecord, &Manifest)]) -> Result<()> {
        shield(|| {
            let e = self.err("recording received files");
            let db = self.db()?;
            let txn = db.begin_write().map_err(|x| e(x.into()))?;
            {
                let mut records = txn.open_table(FILES).map_err(|x| e(x.into()))?;
                let mut manifests = txn.open_table(MANIFESTS).map_err(|x| e(x.into()))?;
                let mut chunks = txn.open_table(CHUNKS).map_err(|x| e(x.into()))?;
                let mut content_folders =
                    txn.open_table(CONTENT_FOLDERS).map_err(|x| e(x.into()))?;
                let mut chunk_folders = txn.open_table(CHUNK_FOLDERS).map_err(|x| e(x.into()))?;
                for (folder, path, rec, manifest) in files {
                    content_folders
                        .insert(hash_folder_key(&rec.content, folder).as_slice(), 0)
                        .map_err(|x| e(x.into()))?;
                    let key = file_key(folder, path);
                    records
                        .insert(key.as_str(), rec.encode().as_slice())
                        .map_err(|x| e(x.into()))?;
                    manifests
                        .insert(rec.content.as_slice(), manifest.encode().as_slice())
                        .map_err(|x| e(x.into()))?;
                    for c in &manifest.chunks {
                        let mut loc = Vec::with_capacity(key.len() + 12);
                        loc.extend_from_slice(key.as_bytes());
                        loc.extend_from_slice(&c.offset.to_le_bytes());
                        loc.extend_from_slice(&c.len.to_le_bytes());
                        chunks
                            .insert(c.hash.as_slice(), loc.as_slice())
                            .map_err(|x| e(x.into()))?;
                        chunk_folders
                            .insert(hash_folder_key(&c.hash, folder).as_slice(), 0)
                            .map_err(|x| e(x.into()))?;
                    }
                }
            }
            txn.commit().map_err(|x| e(x.into()))
        })
    }

    /// Forgets a file this device removed because a peer deleted it.
    pub fn drop_file(&self, folder: &str, path: &str) -> Result<()> {
        shield(|| {
            let e = self.err("recording a removed file");
            let db = self.db()?;
            let txn = db.begin_write().map_err(|x| e(x.into()))?;
            {
                let mut files = txn.open_table(FILES).map_err(|x| e(x.into()))?;
                files
                    .remove(file_key(folder, path).as_str())
                    .map_err(|x| e(x.into()))?;
            }
            txn.commit().map_err(|x| e(x.into()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::ChangeKind;

    fn n(i: u32) -> Notice {
        Notice {
            folder: "f".into(),
            path: format!("p{i}"),
            kind: ChangeKind::Write,
            from: None,
            time_ms: 1,
            pid: i,
        }
    }

    #[test]
    fn changes_and_position_commit_together_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            assert_eq!(s.outbox_position().unwrap(), None);
            let seqs = s.record_changes(&[n(1), n(2)], ([1; 16], 100), 5).unwrap();
            assert_eq!(seqs, vec![1, 2]);
            let seqs = s.record_changes(&[n(3)], ([1; 16], 150), 6).unwrap();
            assert_eq!(seqs, vec![3]);
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.outbox_position().unwrap(), Some(([1; 16], 150)));
        assert_eq!(s.change_count().unwrap(), 3);
        let all = s.changes(0, 10).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].notice, n(3));
        assert_eq!(all[2].recorded_ms, 6);
        assert_eq!(s.changes(2, 10).unwrap().len(), 1);
        assert_eq!(s.changes(0, 1).unwrap().len(), 1);
    }
}
