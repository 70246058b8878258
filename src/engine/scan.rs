//! `scan`: reconcile a folder on disk with the store. Files whose size and
//! mtime match the store's record are skipped without reading; the rest are
//! hashed on both cores; files the store knows but the disk lacks become
//! deletes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::Serialize;

use super::{look, Engine, Observed, Seen};
use crate::error::{HarpError, Result};
use crate::manifest::{self, Manifest};
use crate::outbox::ChangeKind;
use crate::paths;
use crate::store::Batch;

/// Names Harp keeps for itself inside a folder (temporary downloads).
pub const RESERVED_PREFIX: &str = ".harp";

/// Entries per store commit during a scan.
const SCAN_BATCH: usize = 20_000;

/// What a scan found and did.
#[derive(Debug, Default, Serialize)]
pub struct ScanReport {
    /// Regular files seen.
    pub files: u64,
    /// Files new to the store.
    pub new: u64,
    /// Files whose content changed.
    pub changed: u64,
    /// Files that disappeared.
    pub deleted: u64,
    /// Files skipped by size and mtime, or re-hashed to the same content.
    pub unchanged: u64,
    /// Bytes read and hashed.
    pub bytes_hashed: u64,
    /// Entries written.
    pub entries: u64,
    /// Paths not synced, each with the rule it broke.
    pub skipped: Vec<(String, String)>,
    /// Wall time in milliseconds.
    pub ms: u64,
}

struct Candidate {
    path: String,
    size: u64,
    mtime_ns: i64,
    known: Option<crate::store::FileRecord>,
}

fn walk(
    root: &Path,
    rel: &str,
    out: &mut Vec<(String, u64, i64)>,
    report: &mut ScanReport,
) -> Result<()> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let rd = std::fs::read_dir(&dir)
        .map_err(|e| HarpError::storage(format!("reading {}", dir.display()), e))?;
    for de in rd {
        let de = de.map_err(|e| HarpError::storage(format!("reading {}", dir.display()), e))?;
        let name = de.file_name();
        let Some(name) = name.to_str() else {
            report.skipped.push((
                format!("{rel}/{}", name.to_string_lossy()),
                "name is not UTF-8".into(),
            ));
            continue;
        };
        if rel.is_empty() && name.starts_with(RESERVED_PREFIX) {
            continue;
        }
        let path = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        let Ok(ft) = de.file_type() else { continue };
        if ft.is_dir() {
            walk(root, &path, out, report)?;
        } else if ft.is_file() {
            match paths::normalize(&path, false) {
                Ok(p) if p == path => {
                    if let Seen::File { size, mtime_ns } = look(&root.join(&path)) {
                        out.push((path, size, mtime_ns));
                    }
                }
                Ok(_) => report.skipped.push((path, "is not in Unicode NFC".into())),
                Err(HarpError::InvalidPath { rule, .. }) => report.skipped.push((path, rule)),
                Err(e) => return Err(e),
            }
        } else if ft.is_symlink() {
            report.skipped.push((path, "is a symbolic link".into()));
        }
    }
    Ok(())
}

/// Hashes candidates on two threads.
fn hash_all(root: &Path, cands: &[Candidate]) -> Vec<Result<Manifest>> {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut mine = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(c) = cands.get(i) else { break };
            mine.push((i, manifest::of_file(&root.join(&c.path))));
        }
        mine
    };
    let (a, b) = std::thread::scope(|s| {
        let t = s.spawn(work);
        let a = work();
        (a, t.join())
    });
    let mut all: Vec<Option<Result<Manifest>>> = (0..cands.len()).map(|_| None).collect();
    for (i, r) in a.into_iter().chain(b.unwrap_or_default()) {
        all[i] = Some(r);
    }
    all.into_iter()
        .map(|r| r.unwrap_or_else(|| Err(HarpError::Internal("a hashing thread died".into()))))
        .collect()
}

impl Engine {
    /// Walks `folder` and records new, changed and deleted files.
    pub fn scan(&mut self, folder: &str) -> Result<ScanReport> {
        let t0 = Instant::now();
        let root: PathBuf = self.root(folder)?.to_path_buf();
        let mut report = ScanReport::default();
        let mut seen = Vec::new();
        walk(&root, "", &mut seen, &mut report)?;
        report.files = seen.len() as u64;
        let mut known = self.store.files(folder)?;
        let mut cands = Vec::new();
        let mut present = HashSet::with_capacity(seen.len());
        for (path, size, mtime_ns) in seen {
            let rec = known.remove(&path);
            present.insert(path.clone());
            match rec {
                Some(r) if r.size == size && r.mtime_ns == mtime_ns => report.unchanged += 1,
                r => cands.push(Candidate {
                    path,
                    size,
                    mtime_ns,
                    known: r,
                }),
            }
        }
        // What the store knew and the disk no longer has.
        let mut gone: Vec<String> = known.into_keys().collect();
        gone.sort();

        for group in cands.chunks(SCAN_BATCH) {
            let manifests = hash_all(&root, group);
            let mut pending = Vec::with_capacity(group.len());
            for (c, m) in group.iter().zip(manifests) {
                let m = match m {
                    Ok(m) => m,
                    Err(e) => {
                        // Vanished or unreadable since the walk: next scan.
                        report.skipped.push((c.path.clone(), e.to_string()));
                        continue;
                    }
                };
                report.bytes_hashed += m.size;
                let same = c.known.is_some_and(|k| k.content == m.content_hash());
                if same {
                    report.unchanged += 1;
                } else if c.known.is_some() {
                    report.changed += 1;
                } else {
                    report.new += 1;
                }
                pending.push(Observed {
                    path: c.path.clone(),
                    kind: ChangeKind::Write,
                    from: String::new(),
                    size: c.size,
                    mtime_ns: c.mtime_ns,
                    manifest: (!same).then_some(m),
                });
            }
            let mut batch = Batch::default();
            self.build(folder, pending, &mut batch)?;
            report.entries += batch.entries.len() as u64;
            self.commit(batch)?;
        }
        for group in gone.chunks(SCAN_BATCH) {
            let pending = group
                .iter()
                .map(|p| Observed {
                    path: p.clone(),
                    kind: ChangeKind::Delete,
                    from: String::new(),
                    size: 0,
                    mtime_ns: 0,
                    manifest: None,
                })
                .collect();
            let mut batch = Batch::default();
            self.build(folder, pending, &mut batch)?;
            report.deleted += group.len() as u64;
            report.entries += batch.entries.len() as u64;
            self.commit(batch)?;
        }
        report.ms = t0.elapsed().as_millis() as u64;
        Ok(report)
    }
}
