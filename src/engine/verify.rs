//! `verify`: checks every stored entry of a folder, in the order they were
//! applied: that its bytes still hash to the id it is filed under and link
//! to its author's previous entry, that its author is trusted and its key
//! is the author's, and that its signature holds. Signatures are checked in
//! batches on both cores; a failed batch is re-checked one by one to name
//! the culprit.

use std::collections::HashMap;

use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;

use super::hex;
use crate::chain::dag::Dag;
use crate::chain::entry::{Entry, Problem};
use crate::chain::{Hash, GENESIS};
use crate::error::Result;
use crate::identity::DeviceId;
use crate::store::Store;

/// Signatures checked per batch.
const SIG_BATCH: usize = 4096;

/// One damaged entry.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The entry's id as filed in the store (hex).
    pub entry: String,
    /// Its position in the store's log.
    pub position: u64,
    /// Author (text form), when the entry decodes.
    pub author: Option<String>,
    /// Author's sequence number, when the entry decodes.
    pub seq: Option<u64>,
    /// Path, when the entry decodes.
    pub path: Option<String>,
    /// `broken link`, `bad signature`, `unknown author` or `malformed entry`.
    pub reason: String,
    /// What exactly was wrong.
    pub detail: String,
}

/// The outcome of `verify`.
#[derive(Debug, Default, Serialize)]
pub struct VerifyReport {
    /// True when every entry checked out.
    pub ok: bool,
    /// Entries of the folder checked.
    pub checked: u64,
    /// What failed.
    pub problems: Vec<Finding>,
}

struct SigJob {
    position: u64,
    hash: Hash,
    public: [u8; 32],
    sig: [u8; 64],
    author: DeviceId,
    seq: u64,
    path: String,
}

fn check_sigs(jobs: &[SigJob]) -> Vec<usize> {
    let check = |part: &[SigJob], base: usize| -> Vec<usize> {
        let mut bad = Vec::new();
        for (i, group) in part.chunks(64).enumerate() {
            let keys: Vec<Option<VerifyingKey>> = group
                .iter()
                .map(|j| VerifyingKey::from_bytes(&j.public).ok())
                .collect();
            let all_keys: Option<Vec<VerifyingKey>> = keys.iter().copied().collect();
            let msgs: Vec<&[u8]> = group.iter().map(|j| j.hash.as_slice()).collect();
            let sigs: Vec<Signature> = group
                .iter()
                .map(|j| Signature::from_bytes(&j.sig))
                .collect();
            let batch_ok = all_keys
                .map(|k| ed25519_dalek::verify_batch(&msgs, &sigs, &k).is_ok())
                .unwrap_or(false);
            if !batch_ok {
                for (k, j) in group.iter().enumerate() {
                    let ok = keys[k]
                        .map(|key| key.verify_strict(&j.hash, &sigs[k]).is_ok())
                        .unwrap_or(false);
                    if !ok {
                        bad.push(base + i * 64 + k);
                    }
                }
            }
        }
        bad
    };
    let mid = jobs.len() / 2;
    let (a, b) = jobs.split_at(mid);
    std::thread::scope(|s| {
        let t = s.spawn(|| check(b, mid));
        let mut bad = check(a, 0);
        bad.extend(
            t.join()
                .unwrap_or_else(|_| (0..b.len()).map(|i| mid + i).collect()),
        );
        bad
    })
}

/// Runs the checks over the store (see the module docs).
pub fn run(store: &Store, dag: &Dag, folder: &str) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    // author -> (seq, hash) of the last entry seen, in log order.
    let mut last: HashMap<DeviceId, (u64, Hash)> = HashMap::new();
    // Entries already reported as malformed: the next entry's link to one
    // is not reported again.
    let mut malformed: std::collections::HashSet<Hash> = std::collections::HashSet::new();
    let mut jobs: Vec<SigJob> = Vec::new();
    // public key -> the device it belongs to (None: not a valid key).
    let mut key_owner: HashMap<[u8; 32], Option<DeviceId>> = HashMap::new();
    let flush = |jobs: &mut Vec<SigJob>, report: &mut VerifyReport| {
        for i in check_sigs(jobs) {
            let j = &jobs[i];
            report.problems.push(Finding {
                entry: hex(&j.hash),
                position: j.position,
                author: Some(j.author.to_string()),
                seq: Some(j.seq),
                path: Some(j.path.clone()),
                reason: Problem::BadSignature.as_str().into(),
                detail: "the signature does not match the entry and its author's key".into(),
            });
        }
        jobs.clear();
    };
    store.for_each_entry(|position, key, rec| {
        let filed: Hash = key.try_into().unwrap_or([0u8; 32]);
        let e = match Entry::decode(rec) {
            Ok(e) => e,
            Err(err) => {
                // Cannot tell which folder it belongs to: report it anyway.
                report.checked += 1;
                malformed.insert(filed);
                report.problems.push(Finding {
                    entry: hex(&filed),
                    position,
                    author: None,
                    seq: None,
                    path: None,
                    reason: Problem::Malformed.as_str().into(),
                    detail: err.to_string(),
                });
                return Ok(());
            }
        };
        let m = &e.meta;
        // Bytes that no longer hash to the id they are filed under are
        // damage whatever folder they now claim: a flipped bit in the folder
        // name must not move an entry out of the folder being verified.
        let damaged = e.hash != filed;
        if m.folder != folder && !damaged {
            return Ok(());
        }
        // The next entry of this author in this folder (format 2: one
        // chain per author per folder) links to the id this one is filed
        // under.
        let prev_seen = last.insert(m.author, (m.seq, filed));
        report.checked += 1;
        let finding = |reason: Problem, detail: String| Finding {
            entry: hex(&filed),
            position,
            author: Some(m.author.to_string()),
            seq: Some(m.seq),
            path: Some(m.path.clone()),
            reason: reason.as_str().into(),
            detail,
        };
        if damaged {
            report.problems.push(finding(
                Problem::BrokenLink,
                "the entry's bytes no longer hash to the id it is filed under".into(),
            ));
            return Ok(());
        }
        let expected_prev = if m.seq == 1 {
            Some(GENESIS)
        } else {
            prev_seen.filter(|(s, _)| s + 1 == m.seq).map(|(_, h)| h)
        };
        if expected_prev != Some(e.prev) && !malformed.contains(&e.prev) {
            report.problems.push(finding(
                Problem::BrokenLink,
                format!(
                    "it does not link to {}'s entry {}",
                    m.author.short(),
                    m.seq - 1
                ),
            ));
            return Ok(());
        }
        let key_ok = *key_owner.entry(e.public).or_insert_with(|| {
            VerifyingKey::from_bytes(&e.public)
                .map(|k| DeviceId::of(&k))
                .ok()
        }) == Some(m.author);
        if !key_ok || !(dag.accepts(&m.author, m.seq) || dag.is_void(&e.hash)) {
            report.problems.push(finding(
                Problem::UnknownAuthor,
                if key_ok {
                    format!("author {} is not trusted", m.author)
                } else {
                    "the key it carries is not its author's".into()
                },
            ));
            return Ok(());
        }
        jobs.push(SigJob {
            position,
            hash: e.hash,
            public: e.public,
            sig: e.sig,
            author: m.author,
            seq: m.seq,
            path: m.path.clone(),
        });
        if jobs.len() >= SIG_BATCH {
            flush(&mut jobs, &mut report);
        }
        Ok(())
    })?;
    flush(&mut jobs, &mut report);
    report.problems.sort_by_key(|f| f.position);
    report.ok = report.problems.is_empty();
    Ok(report)
}
