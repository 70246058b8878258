//! `scan`: reconcile a folder on disk with the store. Files whose size and
//! mtime match the store's record are skipped without reading; the rest are
//! hashed on both cores; files the store knows but the disk lacks become
//! deletes.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::Serialize;

use super::{Engine, Observed};
use crate::error::{HarpError, Result};
use crate::fsutil::beneath::{self, Expected, Root};
use crate::manifest::{self, Manifest};
use crate::outbox::ChangeKind;
use crate::paths;
use crate::store::Batch;

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
    /// Paths not synced, each with the reason: a rule of the path it
    /// broke; a symlink, FIFO, socket or device file (never followed or
    /// opened); a directory that could not be read (the rest of the folder
    /// is scanned, and what the store knows under it is left as it is).
    pub skipped: Vec<(String, String)>,
    /// Wall time in milliseconds.
    pub ms: u64,
}

struct Candidate {
    path: String,
    seen: Expected,
    known: Option<crate::store::FileRecord>,
}

/// Walks the folder beneath `root`, depth first, without recursion and
/// without following a symlink: every directory is opened beneath the root
/// (`fsutil::beneath`), its entries looked at with `fstatat` in it. A
/// directory that cannot be read is reported in `report.skipped` and in
/// `unread`, and the walk goes on. The depth is bounded by the path limit:
/// a directory whose path is already `MAX_PATH_BYTES - 1` bytes long can
/// hold no valid path and is not entered.
fn walk(
    root: &Root,
    out: &mut Vec<(String, Expected)>,
    unread: &mut Vec<String>,
    specials: &mut Vec<(String, String)>,
    report: &mut ScanReport,
) -> Result<()> {
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let listed = root
            .dir(&rel)
            .and_then(|fd| beneath::read_names(&fd).map(|names| (fd, names)));
        let (dir, names) = match listed {
            Ok(l) => l,
            Err(e) if rel.is_empty() => {
                return Err(HarpError::storage(
                    format!("reading {}", root.path().display()),
                    e,
                ))
            }
            Err(e) => {
                report
                    .skipped
                    .push((rel.clone(), format!("directory not scanned: {e}")));
                unread.push(rel);
                continue;
            }
        };
        for name in names {
            let name = match name {
                Ok(n) => n,
                Err(raw) => {
                    let lossy = String::from_utf8_lossy(&raw).into_owned();
                    let path = if rel.is_empty() {
                        lossy
                    } else {
                        format!("{rel}/{lossy}")
                    };
                    report.skipped.push((path, "name is not UTF-8".into()));
                    continue;
                }
            };
            if paths::is_reserved_name(&name) {
                continue; // Harp's own temporary file
            }
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let st = match beneath::stat_at(std::os::fd::AsFd::as_fd(&dir), &name) {
                Ok(Some(st)) => st,
                Ok(None) => continue, // gone since the listing
                Err(e) => {
                    report
                        .skipped
                        .push((path, format!("cannot be looked at: {e}")));
                    continue;
                }
            };
            if beneath::is_dir(&st) {
                if path.len() >= paths::MAX_PATH_BYTES - 1 {
                    report.skipped.push((
                        path.clone(),
                        format!(
                            "directory not scanned: its paths would be longer than {} bytes",
                            paths::MAX_PATH_BYTES
                        ),
                    ));
                    unread.push(path);
                } else {
                    stack.push(path);
                }
            } else if let Some(why) = beneath::special(&st) {
                specials.push((path.clone(), why.into()));
                report.skipped.push((path, why.into()));
            } else {
                match paths::normalize(&path, false) {
                    Ok(p) if p == path => out.push((path, Expected::of(&st))),
                    Ok(_) => report.skipped.push((path, "is not in Unicode NFC".into())),
                    Err(HarpError::InvalidPath { rule, .. }) => report.skipped.push((path, rule)),
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}

/// Hashes candidates on two threads. Each file is opened beneath the root
/// only if it is still the regular file the walk saw (device, inode, size,
/// mtime), non-blocking: a FIFO or a link swapped in since is refused, not
/// read.
fn hash_all(root: &Root, cands: &[Candidate]) -> Vec<Result<Manifest>> {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut mine = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(c) = cands.get(i) else { break };
            let shown = root.show(&c.path);
            let m = root
                .open_regular(&c.path, Some(&c.seen))
                .map_err(|e| HarpError::storage(format!("reading {shown}"), e))
                .and_then(|f| manifest::of_open(f, c.seen.size, &shown));
            mine.push((i, m));
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
        let root = self.open_root(folder)?;
        // Held from the walk to the last commit (see `Placing`): a file
        // the applier has put in place and not recorded yet is known.
        let disk = self.disk.clone();
        let placing = disk.lock();
        let mut report = ScanReport::default();
        let mut seen = Vec::new();
        let mut unread = Vec::new();
        let mut specials = Vec::new();
        walk(&root, &mut seen, &mut unread, &mut specials, &mut report)?;
        specials.sort();
        self.not_synced.insert(folder.to_string(), specials);
        report.files = seen.len() as u64;
        let mut known = self.store.files(folder)?;
        placing.overlay(folder, &mut known);
        let mut cands = Vec::new();
        let mut present = HashSet::with_capacity(seen.len());
        for (path, st) in seen {
            let rec = known.remove(&path);
            present.insert(path.clone());
            match rec {
                Some(r) if r.size == st.size && r.mtime_ns == st.mtime_ns => report.unchanged += 1,
                r => cands.push(Candidate {
                    path,
                    seen: st,
                    known: r,
                }),
            }
        }
        // What the store knew and the disk no longer has; not what is
        // under a directory that could not be read (unknown, not gone).
        let mut gone: Vec<String> = known
            .into_keys()
            .filter(|p| {
                !unread.iter().any(|d| {
                    p.strip_prefix(d.as_str())
                        .is_some_and(|r| r.starts_with('/'))
                })
            })
            .collect();
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
                    size: c.seen.size,
                    mtime_ns: c.seen.mtime_ns,
                    manifest: (!same).then_some(m),
                });
            }
            let mut batch = Batch::default();
            self.build(folder, pending, &mut batch, Some(&placing))?;
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
            self.build(folder, pending, &mut batch, Some(&placing))?;
            report.deleted += group.len() as u64;
            report.entries += batch.entries.len() as u64;
            self.commit(batch)?;
        }
        report.ms = t0.elapsed().as_millis() as u64;
        Ok(report)
    }
}
