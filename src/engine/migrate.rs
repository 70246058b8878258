//! Moving a store from entry format 1 to format 2 (docs/FORMAT.md,
//! "Migration from format 1").
//!
//! Format 1 chained each author's entries across all folders, so a device
//! sent one folder could not check the links of another's entries; format
//! 2 chains them per folder. Entries cannot be rewritten (they are signed by
//! their authors), so at its first start with format 2 a node:
//! 1. rebuilds the format-1 DAG and takes the view of each configured
//!    folder, exactly as format 1 showed it (conflict copies included);
//! 2. records that view as its own format-2 entries, one write per file,
//!    with the content, size and mtime each file had there;
//! 3. moves the format-1 log to an archive that `history` still reads, in
//!    the same transaction, so a crash leaves either format whole.
//!
//! Every device does the same. Where their views agreed, a path ends up
//! with one version per device and the same content, so no conflict copy
//! appears; where they disagreed, the usual rules keep every version.

use std::collections::BTreeMap;

use crate::chain::dag::Dag;
use crate::chain::entry::{Entry, Meta};
use crate::error::Result;
use crate::identity::{DeviceId, DeviceKey};
use crate::outbox::ChangeKind;
use crate::owner::{now_ms, warn};
use crate::store::{Batch, FileRecord, Store};

/// Migrates `store` (which holds format-1 entries) in one commit.
pub(super) fn run(store: &Store, key: &DeviceKey) -> Result<()> {
    let me = key.device_id();
    let mut legacy = Dag::new(me);
    for (device, folder, last) in store.revoked()? {
        if folder.is_empty() {
            legacy.revoke(DeviceId(device), last);
        }
    }
    let mut damaged = 0u64;
    let mut count = 0u64;
    store.for_each_legacy_entry(|rec| {
        match Entry::decode_legacy(rec) {
            Ok(e) => {
                // They were checked when they arrived.
                if !legacy.accepts(&e.meta.author, e.meta.seq) {
                    legacy.trust(e.meta.author);
                }
                if legacy.insert(e, false).is_err() {
                    damaged += 1;
                }
                count += 1;
            }
            Err(_) => damaged += 1,
        }
        Ok(())
    })?;
    let public = key.public().to_bytes();
    let mut batch = Batch::default();
    for (folder, _) in store.folders()? {
        let view = legacy.view(&folder);
        let mut dag = Dag::new(me);
        let files: BTreeMap<_, _> = view.into_iter().collect();
        for (path, f) in files {
            let v = f.version;
            let (seq, prev, parents) = dag.next_for(&me);
            let meta = Meta {
                folder: folder.clone(),
                path: path.clone(),
                kind: ChangeKind::Write,
                from: String::new(),
                size: v.size,
                mtime_ns: v.mtime_ns,
                content: v.content,
                author: me,
                seq,
                time_ms: now_ms(),
                parents,
                unseen: Vec::new(),
            };
            let mut e = Entry::unsigned(meta, prev, public)?;
            e.sig = key.sign(&e.hash).to_bytes();
            if dag.insert(e.clone(), false).is_err() {
                continue;
            }
            // The disk's record now points at the new entry where it holds
            // that content; elsewhere it keeps what it had (the disk holds
            // something else, which a scan records).
            if let Some(rec) = store.file(&folder, &path)? {
                if rec.content == v.content {
                    batch.files_put.push((
                        folder.clone(),
                        path.clone(),
                        FileRecord {
                            entry: e.hash,
                            ..rec
                        },
                    ));
                }
            }
            let manifest = store.manifest(&v.content)?;
            batch.entries.push((e, manifest));
        }
    }
    store.migrate_to_v2(&batch)?;
    warn(&format!(
        "moved the store to entry format 2: {count} format-1 entries archived (history keeps them){}, {} files recorded again as this device's",
        if damaged > 0 { format!(", {damaged} of them damaged") } else { String::new() },
        batch.entries.len()
    ));
    Ok(())
}
