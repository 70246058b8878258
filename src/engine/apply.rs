//! Bringing the disk in line with the view: which files to fetch or
//! remove, where a chunk can be copied from locally (delta sync), and
//! recording what was applied so it never echoes back as a local change.

use std::collections::{BTreeSet, HashMap};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{hex, look, Engine, Seen};
use crate::chain::dag::Version;
use crate::chain::Hash;
use crate::error::{HarpError, Result};
use crate::fsutil::beneath::{self, Root};
use crate::manifest::Manifest;
use crate::store::{FileRecord, Store};

/// The disk lock, with the files the applier has put in place and not
/// recorded yet.
///
/// Whoever reads a folder's files to record them (a notify, a scan) holds
/// this lock from the look to the commit, and the applier holds it while it
/// checks a path and swaps its new version in (`owner::apply`). So a user's
/// write recorded a moment ago is never swapped out, and one that landed in
/// the old file just before the swap is seen by the look after it (and the
/// swap undone). A file swapped in is recorded only once its rename is
/// durable; until then it is listed here, so that a notify or scan arriving
/// meanwhile takes it for what it is, not for a change of this device's.
#[derive(Debug, Default)]
pub struct Placing {
    /// (folder, path) -> (the record of the file put in place, the store's
    /// record it replaces). Once the store holds anything else (a notify
    /// recorded the user's write over it), the entry no longer counts.
    files: HashMap<(String, String), (FileRecord, Option<FileRecord>)>,
}

/// `Placing` behind its lock, shared by the engine and the applier.
pub type DiskLock = Arc<Mutex<Placing>>;

impl Placing {
    /// Notes a file put in place at `folder`/`path`, not recorded yet;
    /// `was`: the store's record it replaces.
    pub fn insert(
        &mut self,
        folder: &str,
        path: &str,
        record: FileRecord,
        was: Option<FileRecord>,
    ) {
        self.files
            .insert((folder.to_string(), path.to_string()), (record, was));
    }

    /// Forgets a file once its record is in the store (or it failed).
    pub fn remove(&mut self, folder: &str, path: &str) {
        self.files.remove(&(folder.to_string(), path.to_string()));
    }

    /// What is at `path`, as far as this device knows: a file put in place
    /// and not recorded yet, or else the store's record.
    pub fn file(&self, store: &Store, folder: &str, path: &str) -> Result<Option<FileRecord>> {
        let stored = store.file(folder, path)?;
        match self.files.get(&(folder.to_string(), path.to_string())) {
            Some((placed, was)) if *was == stored => Ok(Some(*placed)),
            _ => Ok(stored),
        }
    }

    /// The store's records of a folder (path -> record), with the files put
    /// in place and not recorded yet over them.
    pub fn overlay(&self, folder: &str, records: &mut HashMap<String, FileRecord>) {
        for ((f, p), (placed, was)) in &self.files {
            if f == folder && records.get(p) == was.as_ref() {
                records.insert(p.clone(), *placed);
            }
        }
    }
}

/// One thing the disk lacks.
#[derive(Debug, Clone)]
pub enum Want {
    /// A path whose content should become `version`.
    Fetch {
        /// Folder id.
        folder: String,
        /// Path in the folder.
        path: String,
        /// The version to write.
        version: Version,
        /// For a conflict copy, the path whose losing version it keeps: it
        /// is fetched before other files of its folder, whose old content
        /// it may be copied from, are overwritten.
        copy_of: Option<String>,
    },
    /// A path the disk holds as the view wants: whatever waits or runs
    /// for it is stale (a local change since made it so).
    Settled {
        /// Folder id.
        folder: String,
        /// Path in the folder.
        path: String,
    },
    /// A path the view no longer has.
    Remove {
        /// Folder id.
        folder: String,
        /// Path in the folder.
        path: String,
        /// What this device last recorded there.
        record: FileRecord,
    },
}

impl Engine {
    /// What differs between the view and the disk for the paths that
    /// peers' entries touched since the last call: cheap, so a new entry is
    /// applied within milliseconds whatever the folder's size. Conflict
    /// copies are left to `wanted`'s full pass.
    pub fn wanted_recent(&mut self) -> Result<Vec<Want>> {
        let mut out = Vec::new();
        for (folder, path) in std::mem::take(&mut self.dirty) {
            if !self.folders.contains_key(&folder) {
                continue;
            }
            // Conflict copies first: the losing content may be the very file
            // about to be overwritten, and is copied from it.
            let Some(dag) = self.dags.get(&folder) else {
                continue;
            };
            let copies = dag.copies_for(&folder, &path);
            // A copy the view showed at the last look and no longer does
            // (its version was replaced by a later one, knowingly): removed
            // now, as the full pass would, not left on disk until then.
            let names: BTreeSet<String> = copies.iter().map(|(c, _)| c.clone()).collect();
            let key = (folder.clone(), path.clone());
            let before = if names.is_empty() {
                self.copies_shown.remove(&key)
            } else {
                self.copies_shown.insert(key, names.clone())
            };
            for gone in before.unwrap_or_default().difference(&names) {
                if dag.file(&folder, gone).is_none() {
                    out.push(match self.store.file(&folder, gone)? {
                        Some(record) => Want::Remove {
                            folder: folder.clone(),
                            path: gone.clone(),
                            record,
                        },
                        // Not fetched yet: a fetch of it waiting or running
                        // (perhaps for content no device holds any more)
                        // is dropped.
                        None => Want::Settled {
                            folder: folder.clone(),
                            path: gone.clone(),
                        },
                    });
                }
            }
            for (cpath, version) in copies {
                let have = self.store.file(&folder, &cpath)?;
                if have.is_none_or(|r| r.content != version.content) {
                    out.push(Want::Fetch {
                        folder: folder.clone(),
                        path: cpath,
                        version,
                        copy_of: Some(path.clone()),
                    });
                }
            }
            let have = self.store.file(&folder, &path)?;
            match (dag.file(&folder, &path), have) {
                (Some(v), h) if h.is_none_or(|r| r.content != v.content) => out.push(Want::Fetch {
                    folder,
                    path,
                    version: v,
                    copy_of: None,
                }),
                (None, Some(record)) => out.push(Want::Remove {
                    folder,
                    path,
                    record,
                }),
                // The disk holds what the view wants: a fetch queued for an
                // older version is stale. (Nothing at all here, as at a
                // conflict copy's path, says nothing: that copy's want comes
                // from its origin path.)
                (Some(_), Some(_)) => out.push(Want::Settled { folder, path }),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Whether paths wait for `wanted_recent` (peers' entries touched them,
    /// or a local change keeps a peer's version beside it).
    pub fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// What differs between the view and what this device has on disk, for
    /// every configured folder.
    pub fn wanted(&mut self) -> Result<Vec<Want>> {
        self.dirty.clear();
        let mut out = Vec::new();
        let mut folders: Vec<&String> = self.folders.keys().collect();
        folders.sort();
        for folder in folders {
            let view = self.view(folder);
            let mut files = self.store.files(folder)?;
            let mut copies = Vec::new();
            let mut others = Vec::new();
            for (path, f) in view {
                let have = files.remove(&path);
                if have.is_none_or(|r| r.content != f.version.content) {
                    let w = Want::Fetch {
                        folder: folder.clone(),
                        path,
                        version: f.version,
                        copy_of: f.conflict_of.clone(),
                    };
                    // Conflict copies first: their content may sit in a
                    // file about to be overwritten.
                    if f.conflict_of.is_some() {
                        copies.push(w);
                    } else {
                        others.push(w);
                    }
                }
            }
            out.extend(copies);
            out.extend(others);
            for (path, record) in files {
                out.push(Want::Remove {
                    folder: folder.clone(),
                    path,
                    record,
                });
            }
        }
        Ok(out)
    }

    /// Whether the view still wants `version` at `path` (as the file, or
    /// as the conflict copy of `copy_of`'s losing version): a want computed
    /// earlier may have been overtaken by a local change, and is dropped.
    pub fn still_wanted(
        &self,
        folder: &str,
        path: &str,
        version: &Hash,
        copy_of: Option<&str>,
    ) -> bool {
        let Some(dag) = self.dags.get(folder) else {
            return false;
        };
        match copy_of {
            None => dag.file(folder, path).is_some_and(|v| v.hash == *version),
            Some(of) => dag
                .copies_for(folder, of)
                .iter()
                .any(|(c, v)| c == path && v.hash == *version),
        }
    }

    /// A folder's root, opened: the applier resolves every path of the
    /// folder beneath it (`fsutil::beneath`).
    pub fn folder_root(&self, folder: &str) -> Result<Root> {
        self.open_root(folder)
    }

    /// A stored manifest.
    pub fn manifest(&self, content: &Hash) -> Result<Option<Manifest>> {
        self.store.manifest(content)
    }

    /// A chunk's bytes from a local file, if one holds it and still does
    /// (the bytes are re-checked against the hash: files change under us).
    pub fn local_chunk(&self, hash: &Hash) -> Result<Option<Vec<u8>>> {
        let Some((folder, path, offset, len)) = self.store.chunk_location(hash)? else {
            return Ok(None);
        };
        let Ok(root) = self.open_root(&folder) else {
            return Ok(None);
        };
        // Only a regular file, opened non-blocking and not through a
        // symlink: a FIFO or /dev/zero put there is never read.
        let Ok(f) = root.open_regular(&path, None) else {
            return Ok(None);
        };
        let mut buf = vec![0u8; len as usize];
        if f.read_exact_at(&mut buf, offset).is_err() || blake3::hash(&buf).as_bytes() != hash {
            return Ok(None);
        }
        Ok(Some(buf))
    }

    /// Records a file written from a peer's content. Its record carries the
    /// mtime the file has now, so a hook's notify for this write finds the
    /// file unchanged and makes no entry (no echo).
    pub fn applied(
        &mut self,
        folder: &str,
        path: &str,
        v: &Version,
        manifest: &Manifest,
    ) -> Result<()> {
        self.applied_many(&[(folder, path, v, manifest)])
    }

    /// `applied` for many files, in one store commit.
    pub fn applied_many(&mut self, files: &[(&str, &str, &Version, &Manifest)]) -> Result<()> {
        self.applied_many_seen(files, &vec![None; files.len()])
    }

    /// `applied_many`, with the size and mtime each file had when it was
    /// renamed into place, where the caller knows them. Recording those,
    /// rather than what the path holds by now, matters: a user's write that
    /// lands between the rename and this record must not be taken for the
    /// applied file, or its notify would find it "unchanged" and the
    /// version would be lost.
    pub fn applied_many_seen(
        &mut self,
        files: &[(&str, &str, &Version, &Manifest)],
        seen: &[Option<(u64, i64)>],
    ) -> Result<()> {
        let mut records = Vec::with_capacity(files.len());
        for (i, (folder, path, v, _)) in files.iter().enumerate() {
            let (size, mtime_ns) = match seen.get(i).copied().flatten() {
                Some(s) => s,
                None => {
                    let root = self.open_root(folder)?;
                    match look(&root, path) {
                        Seen::File { size, mtime_ns, .. } => (size, mtime_ns),
                        _ => {
                            return Err(HarpError::Storage(format!(
                                "{} vanished after writing",
                                root.show(path)
                            )))
                        }
                    }
                }
            };
            records.push(FileRecord {
                size,
                mtime_ns,
                content: v.content,
                entry: v.hash,
            });
        }
        let rows: Vec<_> = files
            .iter()
            .zip(&records)
            .map(|((folder, path, _, manifest), rec)| (*folder, *path, rec, *manifest))
            .collect();
        self.store.put_files(&rows)
    }

    /// Removes a file the view no longer has, if the disk still holds what
    /// this device recorded there; a file changed since is left alone (a
    /// scan will record it as a new version).
    pub fn remove(&mut self, folder: &str, path: &str, record: &FileRecord) -> Result<bool> {
        let root = self.open_root(folder)?;
        match look(&root, path) {
            Seen::File { size, mtime_ns, .. }
                if size == record.size && mtime_ns == record.mtime_ns =>
            {
                // Unlinked in its parent's handle, resolved beneath the root.
                let (parent, name) = beneath::split(path);
                root.dir(parent)
                    .and_then(|d| beneath::remove_at(d.as_fd(), name))
                    .map_err(|e| HarpError::storage(format!("removing {}", root.show(path)), e))?;
                self.store.drop_file(folder, path)?;
                Ok(true)
            }
            // Nothing there, or a symlink or special file the user put
            // there: not Harp's to remove; the record goes.
            Seen::Nothing | Seen::Special(_) => {
                self.store.drop_file(folder, path)?;
                Ok(true)
            }
            Seen::File { .. } => Ok(false),
        }
    }

    /// Records, as entries of this device, the conflict copies the view
    /// shows that no entry records yet and whose content is on disk here
    /// (the applier fetched it). From then on they are ordinary files.
    /// Returns the (folder, path) of each copy recorded.
    pub fn record_conflicts(&mut self) -> Result<Vec<(String, String)>> {
        let mut recorded = Vec::new();
        let folders: Vec<String> = self.folders.keys().cloned().collect();
        for folder in folders {
            let mut changes = Vec::new();
            let unrecorded = match self.dags.get(&folder) {
                Some(d) => d.unrecorded_conflicts(&folder),
                None => Vec::new(),
            };
            for (cpath, v) in unrecorded {
                let Some(rec) = self.store.file(&folder, &cpath)? else {
                    continue;
                };
                if rec.content != v.content {
                    continue;
                }
                let Some(manifest) = self.store.manifest(&v.content)? else {
                    continue;
                };
                changes.push(super::Observed {
                    path: cpath,
                    kind: crate::outbox::ChangeKind::Write,
                    from: String::new(),
                    size: rec.size,
                    mtime_ns: rec.mtime_ns,
                    manifest: Some(manifest),
                });
            }
            if !changes.is_empty() {
                let paths: Vec<String> = changes.iter().map(|c| c.path.clone()).collect();
                self.record(&folder, changes)?;
                recorded.extend(paths.into_iter().map(|p| (folder.clone(), p)));
            }
        }
        Ok(recorded)
    }

    /// A manifest's bytes for a peer.
    pub fn serve_manifest(&self, content: &Hash) -> Result<Option<Vec<u8>>> {
        Ok(self.store.manifest(content)?.map(|m| m.encode()))
    }
}

/// The temporary file a download of `content` to `path` is written to,
/// next to its target: `.harp-tmp-<32 hex digits>.part`, the digits being
/// the first 16 bytes of SHA3-256 over the path, a zero byte and the
/// content hash. One per target and content: a restart finds it again, and
/// two paths fetching the same content (a file and its conflict copy) never
/// share one. (`paths::is_reserved_name` keeps every such name out of
/// sync; `.part` keeps Nextcloud's scanner away from it too.)
pub fn tmp_name(path: &str, content: &Hash) -> String {
    use sha3::{Digest, Sha3_256};
    let mut h = Sha3_256::new();
    h.update(path.as_bytes());
    h.update([0u8]);
    h.update(content);
    format!(
        "{}{}{}",
        crate::paths::TEMP_PREFIX,
        &hex(&h.finalize())[..32],
        crate::paths::TEMP_SUFFIX
    )
}
