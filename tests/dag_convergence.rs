//! In-memory clusters of devices that edit, rename, delete and exchange
//! entries in random orders (sans-IO, no disk or network): every device
//! converges to the same folder, and every version that no later change
//! knowingly replaced is either current or a conflict copy.
//!
//! A device's disk follows its view, except where the user changed a file
//! that is not recorded yet (`Edit`): the applier leaves that path alone,
//! peers' versions of it arrive meanwhile, and the record comes late
//! (`Record`, or the next local change of that device). Such a record
//! replaces knowingly only what the disk held before the edit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test harness

use std::collections::{BTreeMap, HashMap, HashSet};

use harp::chain::dag::{conflict_name, Dag, Inserted};
use harp::chain::entry::{Entry, Meta};
use harp::chain::Hash;
use harp::identity::DeviceKey;
use harp::outbox::ChangeKind;
use proptest::prelude::*;

const FOLDER: &str = "f";
const PATHS: [&str; 4] = ["a.txt", "b.txt", "d/c.txt", "d/e"];

struct Device {
    key: DeviceKey,
    dag: Dag,
    /// Every entry this device holds, in the order it got them.
    log: Vec<Entry>,
    known: HashSet<Hash>,
    /// Changes on disk not recorded yet: path -> (content, mtime, the
    /// entry whose content the disk held before the change).
    dirty: BTreeMap<String, (Hash, i64, Option<Hash>)>,
}

struct Cluster {
    devices: Vec<Device>,
    /// Entries recorded late: what the author's disk held before.
    late: HashMap<Hash, Option<Hash>>,
}

impl Cluster {
    fn new(n: usize) -> Self {
        let keys: Vec<DeviceKey> = (0..n)
            .map(|i| DeviceKey::from_seed([i as u8 + 1; 32]))
            .collect();
        let devices = keys
            .into_iter()
            .map(|key| {
                let mut dag = Dag::new(key.device_id());
                for j in 0..n {
                    dag.trust(DeviceKey::from_seed([j as u8 + 1; 32]).device_id());
                }
                Device {
                    key,
                    dag,
                    log: vec![],
                    known: HashSet::new(),
                    dirty: BTreeMap::new(),
                }
            })
            .collect();
        Cluster {
            devices,
            late: HashMap::new(),
        }
    }

    #[allow(clippy::too_many_arguments)] // one argument per field of the change
    fn local(
        &mut self,
        d: usize,
        path: &str,
        kind: ChangeKind,
        from: &str,
        content: Hash,
        mtime: i64,
        unseen: Vec<Hash>,
    ) -> Hash {
        let dev = &mut self.devices[d];
        let me = dev.key.device_id();
        let (seq, prev, parents) = dev.dag.next_for(&me);
        let meta = Meta {
            folder: FOLDER.into(),
            path: path.into(),
            kind,
            from: from.into(),
            size: if kind == ChangeKind::Delete {
                0
            } else {
                u64::from(content[0])
            },
            mtime_ns: mtime,
            content: if kind == ChangeKind::Delete {
                [0; 32]
            } else {
                content
            },
            author: me,
            seq,
            time_ms: 0,
            parents,
            unseen,
        };
        let e = Entry::sign(meta, prev, &dev.key).unwrap();
        assert!(matches!(
            dev.dag.insert(e.clone(), true),
            Ok(Inserted::Applied(_))
        ));
        let h = e.hash;
        dev.known.insert(e.hash);
        dev.log.push(e);
        h
    }

    fn write(&mut self, d: usize, path: &str, content: u8, mtime: i64) {
        self.record(d);
        self.local(d, path, ChangeKind::Write, "", [content; 32], mtime, vec![]);
    }

    fn delete(&mut self, d: usize, path: &str, mtime: i64) {
        self.record(d);
        if self.devices[d].dag.file(FOLDER, path).is_some() {
            self.local(d, path, ChangeKind::Delete, "", [0; 32], mtime, vec![]);
        }
    }

    fn rename(&mut self, d: usize, from: &str, to: &str, mtime: i64) {
        self.record(d);
        if from == to {
            return;
        }
        if let Some(v) = self.devices[d].dag.file(FOLDER, from) {
            self.local(d, to, ChangeKind::Rename, from, v.content, mtime, vec![]);
        }
    }

    /// The user writes `path` on device `d`; the record comes later. The
    /// disk held the view's version (the applier had kept up), unless an
    /// earlier unrecorded change sits there already.
    fn edit(&mut self, d: usize, path: &str, content: u8, mtime: i64) {
        let dev = &mut self.devices[d];
        let had = match dev.dirty.get(path) {
            Some((_, _, had)) => *had,
            None => dev.dag.file(FOLDER, path).map(|v| v.hash),
        };
        dev.dirty
            .insert(path.to_string(), ([content; 32], mtime, had));
    }

    /// Device `d` records its late changes, as the engine does: the write
    /// names the versions its disk never held as unseen.
    fn record(&mut self, d: usize) {
        for (path, (content, mtime, had)) in std::mem::take(&mut self.devices[d].dirty) {
            let mut unseen: Vec<Hash> = self.devices[d]
                .dag
                .unseen(FOLDER, &path, had.as_ref(), Some(&content))
                .into_iter()
                .map(|(_, v)| v.hash)
                .collect();
            unseen.sort();
            let h = self.local(d, &path, ChangeKind::Write, "", content, mtime, unseen);
            self.late.insert(h, had);
        }
    }

    /// Sends `from`'s entry number `pick` (mod its log) to `to`.
    fn deliver(&mut self, from: usize, to: usize, pick: usize) {
        if from == to || self.devices[from].log.is_empty() {
            return;
        }
        let e = self.devices[from].log[pick % self.devices[from].log.len()].clone();
        self.give(to, e);
    }

    fn give(&mut self, to: usize, e: Entry) {
        let dev = &mut self.devices[to];
        if dev.known.insert(e.hash) {
            dev.log.push(e.clone());
            dev.dag
                .insert(e, true)
                .expect("honest entries are accepted");
        }
    }

    /// Every device records its conflict copies, then everyone gets
    /// everything (in a scrambled order), until nothing new appears.
    fn settle(&mut self, seed: u64) {
        for d in 0..self.devices.len() {
            self.record(d);
        }
        for round in 0..20 {
            let mut created = 0;
            for d in 0..self.devices.len() {
                for (cpath, v) in self.devices[d].dag.unrecorded_conflicts(FOLDER) {
                    self.local(
                        d,
                        &cpath,
                        ChangeKind::Write,
                        "",
                        v.content,
                        v.mtime_ns,
                        vec![],
                    );
                    created += 1;
                }
            }
            let mut all: Vec<Entry> = self.devices.iter().flat_map(|d| d.log.clone()).collect();
            // A deterministic shuffle: newest first, then a seeded rotation.
            all.reverse();
            let n = all.len().max(1);
            all.rotate_left((seed as usize + round) % n);
            for to in 0..self.devices.len() {
                for e in &all {
                    self.give(to, e.clone());
                }
            }
            if created == 0 && round > 0 {
                return;
            }
        }
        panic!("did not settle");
    }

    fn view(&self, d: usize) -> BTreeMap<String, Hash> {
        self.devices[d]
            .dag
            .view(FOLDER)
            .into_iter()
            .map(|(p, f)| (p, f.version.content))
            .collect()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Write {
        dev: usize,
        path: usize,
        content: u8,
        mtime: u8,
    },
    Delete {
        dev: usize,
        path: usize,
        mtime: u8,
    },
    Rename {
        dev: usize,
        from: usize,
        to: usize,
        mtime: u8,
    },
    Deliver {
        from: usize,
        to: usize,
        pick: usize,
    },
    Edit {
        dev: usize,
        path: usize,
        content: u8,
        mtime: u8,
    },
    Record {
        dev: usize,
    },
}

fn op(n: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..n, 0..PATHS.len(), 1u8..20, 0u8..8).prop_map(|(dev, path, content, mtime)| Op::Write { dev, path, content, mtime }),
        1 => (0..n, 0..PATHS.len(), 0u8..8).prop_map(|(dev, path, mtime)| Op::Delete { dev, path, mtime }),
        1 => (0..n, 0..PATHS.len(), 0..PATHS.len(), 0u8..8).prop_map(|(dev, from, to, mtime)| Op::Rename { dev, from, to, mtime }),
        4 => (0..n, 0..n, 0usize..64).prop_map(|(from, to, pick)| Op::Deliver { from, to, pick }),
        2 => (0..n, 0..PATHS.len(), 1u8..20, 0u8..8).prop_map(|(dev, path, content, mtime)| Op::Edit { dev, path, content, mtime }),
        1 => (0..n).prop_map(|dev| Op::Record { dev }),
    ]
}

fn run(n: usize, ops: &[Op], seed: u64) {
    let mut c = Cluster::new(n);
    let t = |m: u8| 1_700_000_000_000_000_000 + i64::from(m) * 1_000_000_000;
    for o in ops {
        match *o {
            Op::Write {
                dev,
                path,
                content,
                mtime,
            } => c.write(dev, PATHS[path], content, t(mtime)),
            Op::Delete { dev, path, mtime } => c.delete(dev, PATHS[path], t(mtime)),
            Op::Rename {
                dev,
                from,
                to,
                mtime,
            } => c.rename(dev, PATHS[from], PATHS[to], t(mtime)),
            Op::Deliver { from, to, pick } => c.deliver(from, to, pick),
            Op::Edit {
                dev,
                path,
                content,
                mtime,
            } => c.edit(dev, PATHS[path], content, t(mtime)),
            Op::Record { dev } => c.record(dev),
        }
    }
    c.settle(seed);

    let first = c.view(0);
    for d in 1..n {
        assert_eq!(c.view(d), first, "device {d} differs from device 0");
        assert_eq!(c.devices[d].dag.pending_len(), 0);
    }
    // Every version not knowingly replaced is current or a conflict copy.
    // A late record replaced knowingly only what its disk held before.
    let dag = &c.devices[0].dag;
    let contents: HashSet<Hash> = first.values().copied().collect();
    let log = &c.devices[0].log;
    for w in log.iter().filter(|e| e.meta.kind != ChangeKind::Delete) {
        let replaced = log.iter().any(|e| {
            e.hash != w.hash
                && (e.meta.path == w.meta.path || e.meta.from == w.meta.path)
                && dag.is_ancestor(&w.hash, &e.hash)
                && c.late
                    .get(&e.hash)
                    .is_none_or(|had| had.is_some_and(|h| dag.is_ancestor(&w.hash, &h)))
        });
        if !replaced {
            assert!(
                contents.contains(&w.meta.content),
                "version {:?} of {} was lost",
                w.meta.content[0],
                w.meta.path
            );
        }
    }
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=5000 for a longer search.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn clusters_of_three_to_five_converge_without_losing_versions(
        n in 3usize..=5,
        ops in proptest::collection::vec(op(5), 1..80),
        seed in any::<u64>(),
    ) {
        let ops: Vec<Op> = ops.into_iter().map(|o| match o {
            Op::Write { dev, path, content, mtime } => Op::Write { dev: dev % n, path, content, mtime },
            Op::Delete { dev, path, mtime } => Op::Delete { dev: dev % n, path, mtime },
            Op::Rename { dev, from, to, mtime } => Op::Rename { dev: dev % n, from, to, mtime },
            Op::Deliver { from, to, pick } => Op::Deliver { from: from % n, to: to % n, pick },
            Op::Edit { dev, path, content, mtime } => Op::Edit { dev: dev % n, path, content, mtime },
            Op::Record { dev } => Op::Record { dev: dev % n },
        }).collect();
        run(n, &ops, seed);
    }
}

#[test]
fn concurrent_writes_pick_one_winner_everywhere_and_keep_the_loser_as_a_copy() {
    let mut c = Cluster::new(2);
    let t0 = 1_700_000_000_000_000_000;
    c.write(0, "report.txt", 1, t0);
    c.write(1, "report.txt", 2, t0 + 5_000_000_000); // later mtime wins
    c.settle(0);
    let v = c.view(0);
    assert_eq!(v, c.view(1));
    assert_eq!(v["report.txt"], [2; 32]);
    let loser = c.devices[0].key.device_id();
    let copy = conflict_name("report.txt", t0, &loser);
    assert!(copy.starts_with("report.sync-conflict-20231114-"), "{copy}");
    assert!(copy.ends_with(&format!("-{}.txt", loser.short())), "{copy}");
    assert_eq!(v[&copy], [1; 32]);
    // The copy is a recorded entry now, so it outlives the conflict.
    c.write(1, "report.txt", 3, t0 + 9_000_000_000);
    c.settle(0);
    assert_eq!(c.view(0)[&copy], [1; 32]);
    assert_eq!(c.view(0)["report.txt"], [3; 32]);
}

#[test]
fn a_write_survives_a_concurrent_delete() {
    let mut c = Cluster::new(2);
    let t0 = 1_700_000_000_000_000_000;
    c.write(0, "a.txt", 1, t0);
    c.settle(0);
    c.delete(0, "a.txt", t0 + 1);
    c.write(1, "a.txt", 2, t0 + 1);
    c.settle(0);
    assert_eq!(c.view(0), c.view(1));
    assert_eq!(c.view(0).get("a.txt"), Some(&[2; 32]));
    assert_eq!(c.view(0).len(), 1, "no conflict copy for a delete");
}

#[test]
fn renames_and_chains_of_renames_carry_the_content() {
    let mut c = Cluster::new(2);
    let t0 = 1_700_000_000_000_000_000;
    c.write(0, "a.txt", 7, t0);
    c.rename(0, "a.txt", "b.txt", t0 + 1);
    c.rename(0, "b.txt", "d/c.txt", t0 + 2);
    c.settle(0);
    let v = c.view(1);
    assert_eq!(v.len(), 1);
    assert_eq!(v["d/c.txt"], [7; 32]);
}

#[test]
fn entries_arriving_before_their_parents_wait_and_then_apply() {
    let mut c = Cluster::new(2);
    let t0 = 1_700_000_000_000_000_000;
    for i in 0..5 {
        c.write(0, "a.txt", i + 1, t0 + i64::from(i));
    }
    let log = c.devices[0].log.clone();
    for e in log.iter().rev().take(4) {
        assert_eq!(
            c.devices[1].dag.insert(e.clone(), true),
            Ok(Inserted::Pending)
        );
    }
    match c.devices[1].dag.insert(log[0].clone(), true) {
        Ok(Inserted::Applied(h)) => assert_eq!(h.len(), 5),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.devices[1].dag.file(FOLDER, "a.txt").unwrap().content,
        [5; 32]
    );
    assert_eq!(
        c.devices[1].dag.insert(log[2].clone(), true),
        Ok(Inserted::Duplicate),
        "replay"
    );
}

#[test]
fn untrusted_tampered_and_forked_entries_are_refused() {
    use harp::chain::entry::Problem;
    let mut c = Cluster::new(2);
    c.write(0, "a.txt", 1, 1);
    let good = c.devices[0].log[0].clone();

    let stranger = DeviceKey::from_seed([99; 32]);
    let mut dag = Dag::new(DeviceKey::from_seed([1; 32]).device_id());
    let (seq, prev, parents) = dag.next_for(&stranger.device_id());
    let mut m = good.meta.clone();
    m.author = stranger.device_id();
    m.seq = seq;
    m.parents = parents;
    let e = Entry::sign(m, prev, &stranger).unwrap();
    assert_eq!(dag.insert(e, true), Err(Problem::UnknownAuthor));

    let mut tampered = good.clone();
    tampered.sig[0] ^= 1;
    assert_eq!(
        c.devices[1].dag.insert(tampered, true),
        Err(Problem::BadSignature)
    );

    // The same author and number, different content: a fork.
    let k = DeviceKey::from_seed([1; 32]);
    let mut m = good.meta.clone();
    m.content = [42; 32];
    let fork = Entry::sign(m, good.prev, &k).unwrap();
    c.devices[1].dag.insert(good, true).unwrap();
    assert_eq!(c.devices[1].dag.insert(fork, true), Err(Problem::Fork));
}

#[test]
fn a_wrong_prev_is_refused_at_once_and_of_two_waiting_forks_one_applies() {
    use harp::chain::entry::Problem;
    let mut c = Cluster::new(2);
    let t0 = 1_700_000_000_000_000_000;
    for i in 0..3 {
        c.write(0, "a.txt", i + 1, t0 + i64::from(i));
    }
    let log = c.devices[0].log.clone();
    let k = DeviceKey::from_seed([1; 32]);
    c.devices[1].dag.insert(log[0].clone(), true).unwrap();

    // Entry 2 whose prev is not entry 1 (which is here): refused now, not
    // left waiting for a prev that never comes.
    let e = Entry::sign(log[1].meta.clone(), [7; 32], &k).unwrap();
    assert_eq!(c.devices[1].dag.insert(e, true), Err(Problem::BrokenLink));
    // Entry 3 whose prev is entry 1: refused now too.
    let e = Entry::sign(log[2].meta.clone(), log[0].hash, &k).unwrap();
    assert_eq!(c.devices[1].dag.insert(e, true), Err(Problem::BrokenLink));
    assert_eq!(c.devices[1].dag.pending_len(), 0);

    // Two different entries 3 that both wait for entry 2: when it comes,
    // the first applies and the other is dropped as a fork.
    let mut m = log[2].meta.clone();
    m.content = [42; 32];
    let fork = Entry::sign(m, log[2].prev, &k).unwrap();
    let d = &mut c.devices[1].dag;
    assert_eq!(d.insert(log[2].clone(), true), Ok(Inserted::Pending));
    assert_eq!(d.insert(fork, true), Ok(Inserted::Pending));
    match d.insert(log[1].clone(), true) {
        Ok(Inserted::Applied(h)) => assert_eq!(h.len(), 2, "entry 2 and one entry 3"),
        other => panic!("{other:?}"),
    }
    assert_eq!(d.last_seq(&k.device_id()), 3);
}

#[test]
fn regression_shrunk_case_1() {
    use Op::*;
    let ops = vec![
        Write {
            dev: 0,
            path: 0,
            content: 1,
            mtime: 0,
        },
        Write {
            dev: 3,
            path: 3,
            content: 2,
            mtime: 7,
        },
        Write {
            dev: 0,
            path: 3,
            content: 1,
            mtime: 6,
        },
        Deliver {
            from: 0,
            to: 2,
            pick: 13,
        },
        Write {
            dev: 2,
            path: 0,
            content: 1,
            mtime: 0,
        },
        Deliver {
            from: 2,
            to: 3,
            pick: 2,
        },
        Write {
            dev: 0,
            path: 0,
            content: 1,
            mtime: 0,
        },
        Write {
            dev: 4,
            path: 1,
            content: 1,
            mtime: 0,
        },
        Deliver {
            from: 4,
            to: 1,
            pick: 0,
        },
        Deliver {
            from: 1,
            to: 3,
            pick: 0,
        },
        Deliver {
            from: 2,
            to: 3,
            pick: 1,
        },
        Deliver {
            from: 4,
            to: 0,
            pick: 0,
        },
        Delete {
            dev: 0,
            path: 0,
            mtime: 0,
        },
        Deliver {
            from: 2,
            to: 0,
            pick: 19,
        },
        Write {
            dev: 0,
            path: 0,
            content: 1,
            mtime: 0,
        },
        Deliver {
            from: 0,
            to: 3,
            pick: 63,
        },
        Write {
            dev: 0,
            path: 0,
            content: 1,
            mtime: 0,
        },
        Write {
            dev: 0,
            path: 3,
            content: 3,
            mtime: 6,
        },
    ];
    run(5, &ops, 0);
}

/// A late record that leaves its own author's earlier version unseen gives
/// one author two losing versions in one second, with one plain copy name:
/// each keeps a copy of its own (before, the copy of one counted for both).
#[test]
fn two_losers_of_one_author_in_one_second_each_keep_a_copy() {
    use Op::*;
    let ops = vec![
        Write {
            dev: 3,
            path: 0,
            content: 1,
            mtime: 2,
        },
        Write {
            dev: 0,
            path: 0,
            content: 8,
            mtime: 1,
        },
        Deliver {
            from: 3,
            to: 0,
            pick: 0,
        },
        Edit {
            dev: 1,
            path: 0,
            content: 4,
            mtime: 2,
        },
        Edit {
            dev: 0,
            path: 0,
            content: 1,
            mtime: 1,
        },
    ];
    run(4, &ops, 0);
    let mut c = Cluster::new(4);
    let t = |m: u8| 1_700_000_000_000_000_000 + i64::from(m) * 1_000_000_000;
    for o in &ops {
        match *o {
            Write {
                dev,
                path,
                content,
                mtime,
            } => c.write(dev, PATHS[path], content, t(mtime)),
            Deliver { from, to, pick } => c.deliver(from, to, pick),
            Edit {
                dev,
                path,
                content,
                mtime,
            } => c.edit(dev, PATHS[path], content, t(mtime)),
            _ => {}
        }
    }
    c.settle(0);
    let mut contents: Vec<u8> = c.view(0).values().map(|h| h[0]).collect();
    contents.sort();
    assert_eq!(contents, [1, 4, 8], "{:?}", c.view(0).keys());
}

/// One author's two versions in one second, the later one naming the
/// earlier unseen: while the later one wins, the earlier one's copy must not
/// take the plain name, or it would count as the later one's copy once a
/// third device's version beats both (the later one's content was lost).
#[test]
fn a_copy_made_while_its_namesake_wins_does_not_stand_for_it_later() {
    let mut c = Cluster::new(3);
    let t = |s: i64| 1_700_000_000_000_000_000 + s * 1_000_000_000;
    c.write(2, "x.txt", 2, t(1)); // C's first version
    c.write(0, "x.txt", 17, t(3)); // A's, later: it wins at C
    let a = c.devices[0].log.clone();
    for e in a {
        c.give(2, e);
    }
    // C's user edits the file (the disk held A's version), in the same
    // second as C's first version: the record keeps that one as unseen.
    c.edit(2, "x.txt", 10, t(1));
    c.record(2);
    // C records the copy of its first version, then B's version beats all.
    c.write(1, "x.txt", 2, t(5));
    c.settle(0);
    let v = c.view(0);
    for d in 1..3 {
        assert_eq!(c.view(d), v);
    }
    let mut contents: Vec<u8> = v.values().map(|h| h[0]).collect();
    contents.sort();
    assert_eq!(contents, [2, 2, 10], "{:?}", v.keys());
}
