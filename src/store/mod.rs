//! The store: an embedded database (redb) in the state directory, written
//! only by the owner process.
//!
//! Tables so far:
//! - `meta`: small named values; `outbox` holds the outbox generation and
//!   offset taken so far, committed in the same transaction as the changes
//!   it produced, which is what makes intake exactly-once.
//! - `changes`: the local changes taken from the outbox, by sequence number,
//!   each as its outbox payload followed by the time it was recorded.
//!
//! Every commit is durable (`Durability::Immediate`): once `record_changes`
//! returns, a SIGKILL or a power cut cannot take the changes back.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::error::{HarpError, Result};
use crate::outbox::{Generation, Notice};

/// File name of the database inside the state directory.
pub const STORE_FILE: &str = "store.redb";

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("changes");

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

/// The owner's database.
pub struct Store {
    db: Database,
}

fn err(what: &'static str) -> impl Fn(redb::Error) -> HarpError {
    move |e| match &e {
        redb::Error::Io(io) if io.raw_os_error() == Some(libc::ENOSPC) => {
            HarpError::Storage(format!(
                "{what}: the disk is full; nothing was lost, free space and the node carries on"
            ))
        }
        _ => HarpError::storage(what, e),
    }
}

impl Store {
    /// Opens the database in `dir`, creating it on first use.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(STORE_FILE);
        let db = Database::create(&path).map_err(|e| {
            HarpError::Storage(format!(
                "cannot open the store {}: {e}; if the disk is damaged, restore it from a backup",
                path.display()
            ))
        })?;
        let txn = db.begin_write().map_err(|e| err("store")(e.into()))?;
        {
            txn.open_table(META).map_err(|e| err("store")(e.into()))?;
            txn.open_table(CHANGES)
                .map_err(|e| err("store")(e.into()))?;
        }
        txn.commit().map_err(|e| err("store")(e.into()))?;
        Ok(Store { db })
    }

    /// How far intake has read the outbox: its generation and offset.
    pub fn outbox_position(&self) -> Result<Option<(Generation, u64)>> {
        let e = err("reading the outbox position");
        let txn = self.db.begin_read().map_err(|x| e(x.into()))?;
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
    }

    /// Records `notices` and the new outbox position in one durable
    /// transaction. Returns the sequence numbers given to the notices.
    pub fn record_changes(
        &self,
        notices: &[Notice],
        position: (Generation, u64),
        now_ms: u64,
    ) -> Result<Vec<u64>> {
        let e = err("recording changes");
        let txn = self.db.begin_write().map_err(|x| e(x.into()))?;
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
        let e = err("counting changes");
        let txn = self.db.begin_read().map_err(|x| e(x.into()))?;
        let t = txn.open_table(CHANGES).map_err(|x| e(x.into()))?;
        t.len().map_err(|x| e(x.into()))
    }

    /// Up to `limit` changes with a sequence number above `after`, in order.
    pub fn changes(&self, after: u64, limit: usize) -> Result<Vec<Change>> {
        let e = err("reading changes");
        let txn = self.db.begin_read().map_err(|x| e(x.into()))?;
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
