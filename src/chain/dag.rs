//! The DAG of entries from every device, and the folder view it implies.
//!
//! Sans-IO, as quinn-proto is: entries go in (`insert`), decisions come out
//! (what was applied, what waits, what is refused, what the folder looks
//! like). No disk, no clock, no network; the owner and the tests drive it.
//!
//! Causality uses version vectors: an entry's vector holds, per author, the
//! highest sequence number among its ancestors (itself included). Because
//! each author's entries form one chain (`prev`), entry M is an ancestor of
//! E exactly when `vv(E)[M.author] >= M.seq`.
//!
//! The view of a path is a pure function of the set of entries, so every
//! device that holds the same entries shows the same folder, whatever the
//! order they arrived in:
//! - the path's *maximal* versions are those no later entry on that path
//!   knew about (a rename counts as a write of its new path and a delete of
//!   its old one), or named as `unseen` (its author's disk never held them);
//! - if none of them writes, the path is absent; a write beats a concurrent
//!   delete;
//! - among concurrent writes the winner is the greatest
//!   (mtime, author, entry hash); every other write with different content
//!   is kept as a conflict copy `name.sync-conflict-YYYYMMDD-HHMMSS-DEVICE.ext`
//!   (see `conflict_name`), which the owner records as an entry of its own
//!   (`unrecorded_conflicts`), so it outlives the conflict. A copy counts as
//!   recorded once an entry at its path descends from the losing version.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::chain::entry::{Entry, Problem, MAX_PARENTS};
use crate::chain::{Hash, GENESIS};
use crate::identity::DeviceId;
use crate::outbox::ChangeKind;

/// A version vector: (author, highest seq known), sorted by author.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionVector(Vec<(DeviceId, u64)>);

impl VersionVector {
    /// The highest sequence number of `author` this vector knows.
    pub fn get(&self, author: &DeviceId) -> u64 {
        match self.0.binary_search_by(|(a, _)| a.cmp(author)) {
            Ok(i) => self.0[i].1,
            Err(_) => 0,
        }
    }

    fn raise(&mut self, author: DeviceId, seq: u64) {
        match self.0.binary_search_by(|(a, _)| a.cmp(&author)) {
            Ok(i) => self.0[i].1 = self.0[i].1.max(seq),
            Err(i) => self.0.insert(i, (author, seq)),
        }
    }

    fn merge(&mut self, other: &VersionVector) {
        for (a, s) in &other.0 {
            self.raise(*a, *s);
        }
    }
}

/// What one entry means for one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The entry.
    pub hash: Hash,
    /// Its author.
    pub author: DeviceId,
    /// Its author's sequence number.
    pub seq: u64,
    /// True if the path has content after this entry; false for a delete
    /// (or the old path of a rename).
    pub present: bool,
    /// Content hash (manifest), size and mtime when present.
    pub content: Hash,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
}

impl Version {
    fn rank(&self) -> (i64, DeviceId, Hash) {
        (self.mtime_ns, self.author, self.hash)
    }
}

/// A file as the view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileView {
    /// The version whose content the path holds.
    pub version: Version,
    /// For a conflict copy: the path it is a copy for.
    pub conflict_of: Option<String>,
}

/// The result of inserting one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// Applied, with every waiting entry it unblocked, in application order.
    Applied(Vec<Entry>),
    /// Its parents or its author's previous entry have not arrived; it waits.
    Pending,
    /// Already known (a replay); nothing changed.
    Duplicate,
}

/// An author's latest entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthorHead {
    /// Its sequence number.
    pub seq: u64,
    /// Its hash.
    pub hash: Hash,
}

struct Node {
    vv: VersionVector,
    author: DeviceId,
    seq: u64,
}

/// Entries waiting for a dependency are capped, so a peer cannot fill
/// memory with orphans: at most this many ...
pub const MAX_PENDING: usize = 100_000;
/// ... taking at most this much memory (see `footprint`: an entry with
/// long paths and 256 parents takes ~60 KB while it waits; 100,000 of those
/// would be 6 GB).
pub const MAX_PENDING_BYTES: usize = 32 * 1024 * 1024;

/// About what a waiting entry takes in memory: its meta twice (the bytes
/// and the decoded fields), and an index slot for each dependency.
fn footprint(e: &Entry) -> usize {
    2 * e.meta_bytes.len() + 128 * (e.meta.parents.len() + 1) + 256
}

/// The DAG and the view. One per node, covering all folders.
#[derive(Default)]
pub struct Dag {
    trusted: HashSet<DeviceId>,
    /// Devices untrusted since: the last sequence number still accepted.
    revoked: HashMap<DeviceId, u64>,
    nodes: HashMap<Hash, Node>,
    by_author_seq: HashMap<(DeviceId, u64), Hash>,
    author_heads: HashMap<DeviceId, AuthorHead>,
    heads: BTreeSet<Hash>,
    /// folder -> path -> maximal versions.
    paths: HashMap<String, BTreeMap<String, Vec<Version>>>,
    pending: HashMap<Hash, Entry>,
    /// Revocations in the chain: device -> (the revoke entry, the first
    /// sequence number it revokes). Known ahead of the entry itself when
    /// the DAG is rebuilt (`expect_revocation`).
    revokes: HashMap<DeviceId, Vec<(Hash, u64)>>,
    /// Readmissions in the chain: device -> readmit entries applied.
    readmits: HashMap<DeviceId, Vec<Hash>>,
    /// Applied entries that have no effect (their author was revoked).
    void: HashSet<Hash>,
    /// Set when a revocation applied after entries it voids: the view no
    /// longer follows from the entries applied, and the owner of this DAG
    /// rebuilds it (`take_rebuild`).
    rebuild: bool,
    /// The `footprint` of what `pending` holds.
    pending_bytes: usize,
    waiting_on: HashMap<Hash, Vec<Hash>>,
}

impl Dag {
    /// An empty DAG trusting only `me`.
    pub fn new(me: DeviceId) -> Self {
        let mut d = Dag::default();
        d.trusted.insert(me);
        d
    }

    /// Accepts entries by `device` from now on (and lifts a revocation).
    pub fn trust(&mut self, device: DeviceId) {
        self.trusted.insert(device);
        self.revoked.remove(&device);
    }

    /// Accepts no entry by `device` beyond sequence number `last`: what it
    /// wrote while trusted stays valid, nothing newer gets in, even relayed
    /// by a device that still trusts it.
    pub fn revoke(&mut self, device: DeviceId, last: u64) {
        self.revoked.insert(device, last);
    }

    /// The highest sequence number of `device` applied here (0: none).
    pub fn last_seq(&self, device: &DeviceId) -> u64 {
        self.author_heads.get(device).map_or(0, |h| h.seq)
    }

    /// Makes a revocation known before its entry applies, so that a DAG
    /// rebuilt from a log gives every entry it voids no effect, whatever
    /// order the log holds them in.
    pub fn expect_revocation(&mut self, revoke: Hash, target: DeviceId, from: u64) {
        let list = self.revokes.entry(target).or_default();
        if !list.iter().any(|(h, _)| *h == revoke) {
            list.push((revoke, from));
        }
    }

    /// True once after a revocation arrived that voids entries already
    /// applied: the DAG must be rebuilt from its entries.
    pub fn take_rebuild(&mut self) -> bool {
        std::mem::take(&mut self.rebuild)
    }

    /// Whether an applied entry has no effect (its author was revoked in
    /// the chain before it).
    pub fn is_void(&self, h: &Hash) -> bool {
        self.void.contains(h)
    }

    /// Number of applied entries without effect.
    pub fn void_len(&self) -> usize {
        self.void.len()
    }

    /// Devices revoked in this folder's chain: (device, first sequence
    /// number revoked), the lowest of each device's revocations.
    pub fn revocations(&self) -> Vec<(DeviceId, u64)> {
        let mut v: Vec<(DeviceId, u64)> = self
            .revokes
            .iter()
            .filter_map(|(d, l)| {
                l.iter()
                    .filter(|(h, _)| self.nodes.contains_key(h))
                    .map(|(_, f)| *f)
                    .min()
                    .map(|f| (*d, f))
            })
            .collect();
        v.sort();
        v
    }

    /// Whether the chain may hold `device`'s entry `seq` without effect: a
    /// revocation covers it. Such an entry is taken in even from a device
    /// no longer trusted here, so that the entries of devices that applied
    /// it, which name it as a parent, still apply.
    fn maybe_void(&self, device: &DeviceId, seq: u64) -> bool {
        self.revokes
            .get(device)
            .is_some_and(|l| l.iter().any(|(_, from)| seq >= *from))
    }

    /// Whether an entry by `author` numbered `seq`, with version vector
    /// `vv`, is void: some revocation of its author covers `seq`, and no
    /// readmission that knew of that revocation is among its ancestors.
    fn voided(&self, author: &DeviceId, seq: u64, vv: &VersionVector) -> bool {
        let Some(list) = self.revokes.get(author) else {
            return false;
        };
        let readmits = self.readmits.get(author);
        list.iter().filter(|(_, from)| seq >= *from).any(|(v, _)| {
            !readmits.is_some_and(|rs| {
                rs.iter().any(|r| {
                    self.is_ancestor(v, r)
                        && self
                            .nodes
                            .get(r)
                            .is_some_and(|n| vv.get(&n.author) >= n.seq)
                })
            })
        })
    }

    /// Whether `device` may author entry number `seq`.
    pub fn accepts(&self, device: &DeviceId, seq: u64) -> bool {
        self.trusted.contains(device) && self.revoked.get(device).is_none_or(|last| seq <= *last)
    }

    /// Number of applied entries.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when no entry has been applied.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Number of entries waiting for a dependency.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Whether an entry has been applied.
    pub fn contains(&self, h: &Hash) -> bool {
        self.nodes.contains_key(h)
    }

    /// The DAG's heads: applied entries no other entry names as parent.
    pub fn heads(&self) -> Vec<Hash> {
        self.heads.iter().copied().collect()
    }

    /// Every author's latest applied entry: (author, seq). Since an author's
    /// entries apply in order, this says exactly which entries are here.
    pub fn version_vector(&self) -> Vec<(DeviceId, u64)> {
        let mut v: Vec<_> = self.author_heads.iter().map(|(a, h)| (*a, h.seq)).collect();
        v.sort();
        v
    }

    /// An author's latest applied entry.
    pub fn author_head(&self, author: &DeviceId) -> Option<AuthorHead> {
        self.author_heads.get(author).copied()
    }

    /// The version vector of an applied entry.
    pub fn vv(&self, h: &Hash) -> Option<&VersionVector> {
        self.nodes.get(h).map(|n| &n.vv)
    }

    /// Whether applied entry `a` is an ancestor of (or equal to) applied `b`.
    pub fn is_ancestor(&self, a: &Hash, b: &Hash) -> bool {
        match (self.nodes.get(a), self.nodes.get(b)) {
            (Some(na), Some(nb)) => nb.vv.get(&na.author) >= na.seq,
            _ => false,
        }
    }

    /// (seq, prev, parents) for the next entry `author` makes here.
    pub fn next_for(&self, author: &DeviceId) -> (u64, Hash, Vec<Hash>) {
        let (seq, prev) = match self.author_heads.get(author) {
            Some(h) => (h.seq + 1, h.hash),
            None => (1, GENESIS),
        };
        let mut parents = self.heads();
        // The newest heads matter most; a cap keeps the entry bounded.
        if parents.len() > MAX_PARENTS {
            parents.truncate(MAX_PARENTS);
        }
        (seq, prev, parents)
    }

    /// Inserts an entry. The caller has decoded it; `check_signature`
    /// decides whether its signature is checked here (the store's own
    /// entries, replayed at start, need not be).
    pub fn insert(&mut self, entry: Entry, check_signature: bool) -> Result<Inserted, Problem> {
        if self.nodes.contains_key(&entry.hash) || self.pending.contains_key(&entry.hash) {
            return Ok(Inserted::Duplicate);
        }
        if !self.accepts(&entry.meta.author, entry.meta.seq)
            && !self.maybe_void(&entry.meta.author, entry.meta.seq)
        {
            return Err(Problem::UnknownAuthor);
        }
        if check_signature {
            entry.verify()?;
        } else if entry.meta.seq == 1 && entry.prev != GENESIS {
            return Err(Problem::BrokenLink);
        }
        if let Some(existing) = self.by_author_seq.get(&(entry.meta.author, entry.meta.seq)) {
            // The author signed two different entries with one number.
            if *existing != entry.hash {
                return Err(Problem::Fork);
            }
        }
        // A link already seen to be wrong is refused now, rather than left
        // to wait for a `prev` that will never come: the author's entry
        // seq-1 is here and is not `prev`, or `prev` is here and is not the
        // author's entry seq-1.
        if entry.meta.seq > 1 {
            let m = &entry.meta;
            let before = self.by_author_seq.get(&(m.author, m.seq - 1));
            let other_before = before.is_some_and(|h| *h != entry.prev);
            let other_prev = self
                .nodes
                .get(&entry.prev)
                .is_some_and(|p| p.author != m.author || p.seq + 1 != m.seq);
            if other_before || other_prev {
                return Err(Problem::BrokenLink);
            }
        }
        let missing: Vec<Hash> = deps(&entry)
            .filter(|d| !self.nodes.contains_key(d))
            .collect();
        if !missing.is_empty() {
            if self.pending.len() >= MAX_PENDING
                || self.pending_bytes + footprint(&entry) > MAX_PENDING_BYTES
            {
                return Err(Problem::Backlog);
            }
            self.pending_bytes += footprint(&entry);
            for m in missing {
                self.waiting_on.entry(m).or_default().push(entry.hash);
            }
            self.pending.insert(entry.hash, entry);
            return Ok(Inserted::Pending);
        }
        let first = entry.hash;
        let mut applied = vec![self.apply(entry)?];
        // The entry just applied may unblock others, which may unblock more.
        let mut stack = vec![first];
        while let Some(h) = stack.pop() {
            for w in self.waiting_on.remove(&h).unwrap_or_default() {
                let ready = self
                    .pending
                    .get(&w)
                    .is_some_and(|e| deps(e).all(|d| self.nodes.contains_key(&d)));
                if !ready {
                    continue;
                }
                let Some(e) = self.pending.remove(&w) else {
                    continue;
                };
                self.pending_bytes = self.pending_bytes.saturating_sub(footprint(&e));
                // A waiting entry that turns out broken is dropped; the ones
                // that waited on it stay pending (they can never apply).
                if let Ok(e) = self.apply(e) {
                    applied.push(e);
                    stack.push(w);
                }
            }
        }
        Ok(Inserted::Applied(applied))
    }

    /// Applies an entry whose dependencies are all here; gives it back.
    fn apply(&mut self, entry: Entry) -> Result<Entry, Problem> {
        let m = &entry.meta;
        // Two entries with one number that both waited: the first applied
        // wins, the second is a fork.
        if self
            .by_author_seq
            .get(&(m.author, m.seq))
            .is_some_and(|h| *h != entry.hash)
        {
            return Err(Problem::Fork);
        }
        if m.seq > 1 {
            match self.nodes.get(&entry.prev) {
                Some(p) if p.author == m.author && p.seq + 1 == m.seq => {}
                _ => return Err(Problem::BrokenLink),
            }
        }
        let mut vv = VersionVector::default();
        for d in deps(&entry) {
            if let Some(n) = self.nodes.get(&d) {
                vv.merge(&n.vv);
            }
        }
        vv.raise(m.author, m.seq);
        for p in &m.parents {
            self.heads.remove(p);
        }
        self.heads.remove(&entry.prev);
        self.heads.insert(entry.hash);
        self.by_author_seq.insert((m.author, m.seq), entry.hash);
        let newer = self
            .author_heads
            .get(&m.author)
            .is_none_or(|h| h.seq < m.seq);
        if newer {
            self.author_heads.insert(
                m.author,
                AuthorHead {
                    seq: m.seq,
                    hash: entry.hash,
                },
            );
        }
        let void = self.voided(&m.author, m.seq, &vv);
        if void {
            self.void.insert(entry.hash);
        }
        match (m.kind, m.target()) {
            (ChangeKind::Revoke, Some(target)) if !void => {
                let list = self.revokes.entry(target).or_default();
                // Known in advance (`expect_revocation`), the entries it
                // voids were applied as void already; otherwise those
                // applied before it had effect: rebuild.
                if !list.iter().any(|(h, _)| *h == entry.hash) {
                    list.push((entry.hash, m.size));
                    if self.last_seq(&target) >= m.size {
                        self.rebuild = true;
                    }
                }
            }
            (ChangeKind::Readmit, Some(target)) if !void => {
                self.readmits.entry(target).or_default().push(entry.hash);
            }
            _ => {}
        }
        let version = |present: bool| Version {
            hash: entry.hash,
            author: m.author,
            seq: m.seq,
            present,
            content: if present { m.content } else { [0u8; 32] },
            size: if present { m.size } else { 0 },
            mtime_ns: m.mtime_ns,
        };
        let mut effects = Vec::new();
        if !void
            && matches!(
                m.kind,
                ChangeKind::Write | ChangeKind::Delete | ChangeKind::Rename
            )
        {
            effects.push((m.path.clone(), version(m.kind != ChangeKind::Delete)));
        }
        if !void && m.kind == ChangeKind::Rename {
            effects.push((m.from.clone(), version(false)));
        }
        let folder = self.paths.entry(m.folder.clone()).or_default();
        for (path, v) in effects {
            let max = folder.entry(path).or_default();
            // An ancestor is replaced, unless the entry names it as unseen
            // (its author's disk never held it): then both stay.
            max.retain(|old| vv.get(&old.author) < old.seq || m.unseen.contains(&old.hash));
            max.push(v);
        }
        self.nodes.insert(
            entry.hash,
            Node {
                vv,
                author: m.author,
                seq: m.seq,
            },
        );
        Ok(entry)
    }

    /// The folder as every device holding these entries shows it: path ->
    /// file, conflict copies included.
    pub fn view(&self, folder: &str) -> BTreeMap<String, FileView> {
        let mut out = BTreeMap::new();
        let Some(paths) = self.paths.get(folder) else {
            return out;
        };
        let mut copies = Vec::new();
        for (path, max) in paths {
            let (winner, losers) = resolve(max);
            if let Some(w) = winner {
                out.insert(
                    path.clone(),
                    FileView {
                        version: w,
                        conflict_of: None,
                    },
                );
            }
            for l in losers {
                copies.push((path.clone(), l));
            }
        }
        for (of, l) in copies {
            if let Some(cpath) = self.copy_needed(paths, &of, &l) {
                out.entry(cpath).or_insert(FileView {
                    version: l,
                    conflict_of: Some(of),
                });
            }
        }
        out
    }

    /// Where the losing version `l` of `path` still needs a conflict copy,
    /// or None when an entry already records it. A copy is recorded at a
    /// path when one of that path's maximal entries descends from `l` (the
    /// device that recorded it knew `l`). If the usual name holds a copy of
    /// something else (two losing versions by one device within one
    /// second), the name gains the first 6 hex digits of `l`'s entry hash.
    fn copy_needed(
        &self,
        paths: &BTreeMap<String, Vec<Version>>,
        path: &str,
        l: &Version,
    ) -> Option<String> {
        let recorded_at = |p: &str, same_content: bool| {
            paths.get(p).is_some_and(|max| {
                max.iter().any(|m| {
                    self.is_ancestor(&l.hash, &m.hash) && (!same_content || m.content == l.content)
                })
            })
        };
        let plain = conflict_name(path, l.mtime_ns, &l.author);
        let tagged = conflict_name_tagged(path, l.mtime_ns, &l.author, Some(&l.hash));
        // Two present versions with one plain name (one author's, in one
        // second: a version and a later one that did not replace it, see
        // `unseen`): each loser is told apart by its tag, and a copy at the
        // plain name counts only for the version whose content it holds.
        // The other may be the winner today and lose tomorrow, so it counts
        // too: a copy made now at the plain name would otherwise stand for
        // it later, though it holds this one's content.
        let shared_name = paths.get(path).is_some_and(|max| {
            max.iter().any(|o| {
                o.present
                    && o.hash != l.hash
                    && o.content != l.content
                    && conflict_name(path, o.mtime_ns, &o.author) == plain
            })
        });
        if shared_name {
            if recorded_at(&tagged, false) || recorded_at(&plain, true) {
                return None;
            }
            return Some(tagged);
        }
        if recorded_at(&plain, false) {
            return None;
        }
        if !paths.contains_key(&plain) {
            return Some(plain);
        }
        (!recorded_at(&tagged, false)).then_some(tagged)
    }

    /// The conflict copies one path's losing versions still need:
    /// (copy path, version), as `view` would show them.
    pub fn copies_for(&self, folder: &str, path: &str) -> Vec<(String, Version)> {
        let Some(paths) = self.paths.get(folder) else {
            return Vec::new();
        };
        let Some(max) = paths.get(path) else {
            return Vec::new();
        };
        resolve(max)
            .1
            .into_iter()
            .filter_map(|l| self.copy_needed(paths, path, &l).map(|c| (c, l)))
            .collect()
    }

    /// The versions of `path` that a new local change there would replace
    /// without this device ever having had them on its disk, each with the
    /// conflict-copy path that would keep it: the change names them in its
    /// `unseen`, so it does not replace them.
    ///
    /// A local entry takes every head as a parent, so it counts as newer
    /// than everything here, including a peer's version the applier never
    /// wrote because the disk held a change not recorded yet. Such a
    /// version is one of the path's present maximal versions that `had` (the entry whose content the disk held before the
    /// change, None for a file new on disk) does not descend from. Those
    /// whose content is `keep` (the change's own content) lose nothing;
    /// those whose copy is already recorded are safe too.
    pub fn unseen(
        &self,
        folder: &str,
        path: &str,
        had: Option<&Hash>,
        keep: Option<&Hash>,
    ) -> Vec<(String, Version)> {
        let Some(paths) = self.paths.get(folder) else {
            return Vec::new();
        };
        let Some(max) = paths.get(path) else {
            return Vec::new();
        };
        let mut out: Vec<(String, Version)> = Vec::new();
        for v in max {
            let seen = had.is_some_and(|h| self.is_ancestor(&v.hash, h));
            if !v.present
                || seen
                || keep == Some(&v.content)
                || out.iter().any(|(_, o)| o.content == v.content)
            {
                continue;
            }
            if let Some(cpath) = self.copy_needed(paths, path, v) {
                out.push((cpath, v.clone()));
            }
        }
        out
    }

    /// The view of one path (None when absent).
    pub fn file(&self, folder: &str, path: &str) -> Option<Version> {
        let max = self.paths.get(folder)?.get(path)?;
        resolve(max).0
    }

    /// Conflict copies the view shows that no entry records yet: the owner
    /// writes each as an entry (path, and the losing version to copy).
    pub fn unrecorded_conflicts(&self, folder: &str) -> Vec<(String, Version)> {
        self.view(folder)
            .into_iter()
            .filter(|(_, f)| f.conflict_of.is_some())
            .map(|(p, f)| (p, f.version))
            .collect()
    }

    /// Folders with at least one entry.
    pub fn folders(&self) -> Vec<String> {
        let mut v: Vec<String> = self.paths.keys().cloned().collect();
        v.sort();
        v
    }
}

/// (winner, losers that need a conflict copy) among a path's maximal versions.
fn resolve(max: &[Version]) -> (Option<Version>, Vec<Version>) {
    let Some(winner) = max
        .iter()
        .filter(|v| v.present)
        .max_by_key(|v| v.rank())
        .cloned()
    else {
        return (None, vec![]);
    };
    let mut by_content: BTreeMap<Hash, Version> = BTreeMap::new();
    for v in max
        .iter()
        .filter(|v| v.present && v.content != winner.content)
    {
        let keep = by_content
            .get(&v.content)
            .is_none_or(|old| old.rank() < v.rank());
        if keep {
            by_content.insert(v.content, v.clone());
        }
    }
    (Some(winner), by_content.into_values().collect())
}

/// The dependencies of an entry: its parents and its author's previous one.
fn deps(e: &Entry) -> impl Iterator<Item = Hash> + '_ {
    let prev = (e.meta.seq > 1).then_some(e.prev);
    e.meta.parents.iter().copied().chain(prev)
}

/// The conflict copy's path for a losing version of `path`:
/// `dir/name.sync-conflict-YYYYMMDD-HHMMSS-DEVICE.ext`, with the loser's
/// mtime (UTC) and the first 7 characters of its author's device ID. The
/// extension is what follows the last dot of the name, if the name has one
/// that is not its first character.
pub fn conflict_name(path: &str, mtime_ns: i64, author: &DeviceId) -> String {
    conflict_name_tagged(path, mtime_ns, author, None)
}

/// `conflict_name`, with `-xxxxxx` (the entry hash's first 3 bytes in hex)
/// after the device when a tag is given.
///
/// The copy always fits: when the name would pass `MAX_NAME_BYTES`, or the
/// path `MAX_PATH_BYTES`, the stem is shortened on a UTF-8 character
/// boundary (a pure function of its inputs, so every device names the copy
/// alike). If even the extension leaves no room, the whole name is taken as
/// the stem and shortened. A shortening that would end the stem on a
/// Windows device name (`CON.sync-conflict-…`) drops one character more.
fn conflict_name_tagged(
    path: &str,
    mtime_ns: i64,
    author: &DeviceId,
    tag: Option<&Hash>,
) -> String {
    use crate::paths::{normalize, MAX_NAME_BYTES, MAX_PATH_BYTES};
    let (dir, name) = match path.rfind('/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => ("", path),
    };
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    let secs = mtime_ns.div_euclid(1_000_000_000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let tod = secs.rem_euclid(86_400);
    let tag = tag
        .map(|h| format!("-{:02x}{:02x}{:02x}", h[0], h[1], h[2]))
        .unwrap_or_default();
    let middle = format!(
        ".sync-conflict-{y:04}{mo:02}{d:02}-{:02}{:02}{:02}-{}{tag}",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60,
        author.short()
    );
    let room = MAX_NAME_BYTES.min(MAX_PATH_BYTES.saturating_sub(dir.len()));
    if stem.len() + middle.len() + ext.len() <= room {
        return format!("{dir}{stem}{middle}{ext}");
    }
    // Too long: shorten the stem (the name itself if the extension alone
    // leaves no room for a character of it).
    let (stem, ext) = if middle.len() + ext.len() < room {
        (stem, ext)
    } else {
        (name, "")
    };
    let mut keep = room
        .saturating_sub(middle.len() + ext.len())
        .min(stem.len());
    loop {
        while !stem.is_char_boundary(keep) {
            keep -= 1;
        }
        let candidate = format!("{dir}{}{middle}{ext}", &stem[..keep]);
        if keep == 0 || normalize(&candidate, false).is_ok_and(|p| p == candidate) {
            return candidate;
        }
        keep -= 1;
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (the well-known era-based conversion).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}
