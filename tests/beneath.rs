//! Nothing lost, nobody in (issue 11, points 2, 7, 8, 9 and 10): every
//! path under a folder stays beneath its root, whatever symlinks, FIFOs or
//! device files sit in it; conflict copies always fit; one rule for
//! Harp's reserved names; a scan survives a bad directory; a peer cannot
//! make this device write more than its entry says, or fill the disk.
//!
//! Engine-level tests drive `Engine` and `Owner` directly on temporary
//! folders. The applier tests run a real owner node on 127.0.0.1 (no mDNS)
//! with a hand-made trusted peer that authors entries and answers the
//! node's requests (the pattern of `tests/hostile.rs`). Every wait is
//! bounded; what is asserted is what a user would see on disk.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test harness

use std::collections::HashSet;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use harp::chain::dag::conflict_name;
use harp::chain::entry::Meta;
use harp::chain::{link, Hash, GENESIS};
use harp::client::Client;
use harp::control::Op;
use harp::engine::{hex, tmp_name, Engine};
use harp::fsutil::beneath;
use harp::identity::{DeviceId, DeviceKey};
use harp::manifest::{Chunk, Manifest};
use harp::net::{tls, Hello};
use harp::outbox::ChangeKind;
use harp::owner::{Config, Owner};
use harp::paths;
use harp::store::Store;
use serde_json::Value;

mod support;
use support::{one_chunk_manifest as one_chunk, wait_until, Node, WAIT};

// ---------------------------------------------------------------------
// Engine level
// ---------------------------------------------------------------------

/// An engine with folder `f` at `<t>/f`; returns it and the folder's path.
fn engine(t: &Path) -> (Engine, PathBuf) {
    let state = t.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let store = Arc::new(Store::open(&state).unwrap());
    let mut e = Engine::open(store, DeviceKey::from_seed([5; 32])).unwrap();
    let folder = t.join("f");
    std::fs::create_dir_all(&folder).unwrap();
    e.add_folder("f", &folder).unwrap();
    (e, folder.canonicalize().unwrap())
}

/// Runs a scan on another thread and waits at most 30 s for it.
fn scan_bounded(e: Engine) -> (Engine, harp::engine::ScanReport) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut e = e;
        let r = e.scan("f");
        let _ = tx.send((e, r));
    });
    let (e, r) = rx
        .recv_timeout(WAIT)
        .expect("the scan finishes within 30 s (it must not hang on a FIFO or a device)");
    (e, r.expect("the scan succeeds"))
}

fn reason<'a>(r: &'a harp::engine::ScanReport, path: &str) -> Option<&'a str> {
    r.skipped
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, why)| why.as_str())
}

/// An owner (not started) with folder `docs` at `<t>/docs`, and a client.
fn owner(t: &Path) -> (Owner, Client, PathBuf) {
    let state = t.join("state");
    let config = Config {
        name: "t".into(),
        listen: "127.0.0.1:0".into(),
        mdns: false,
    };
    let mut o = Owner::open(&state, config).unwrap();
    let folder = t.join("docs");
    o.add_folder("docs", &folder).unwrap();
    let c = Client::new(&state, false).unwrap();
    (o, c, folder.canonicalize().unwrap())
}

fn history(o: &mut Owner, path: &str) -> Vec<Value> {
    let h = o
        .call(Op::History {
            folder: "docs".into(),
            path: path.into(),
        })
        .unwrap();
    h.as_array().unwrap().clone()
}

/// Takes the notifies and scans (Op::Scan does both, notifies first).
fn scan_docs(o: &mut Owner) -> Value {
    o.call(Op::Scan {
        folder: "docs".into(),
    })
    .unwrap()
}

#[test]
fn a_notify_or_scan_through_a_symlinked_directory_never_reads_outside() {
    let t = tempfile::tempdir().unwrap();
    let (mut o, c, folder) = owner(t.path());
    let outside = t.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "the content of a file outside").unwrap();
    symlink(&outside, folder.join("home")).unwrap();
    symlink(outside.join("secret.txt"), folder.join("link.txt")).unwrap();
    std::fs::write(folder.join("ok.txt"), "inside").unwrap();

    c.notify("docs", "home/secret.txt", "write", None).unwrap();
    c.notify("docs", "link.txt", "write", None).unwrap();
    let r = scan_docs(&mut o);

    assert!(
        history(&mut o, "home/secret.txt").is_empty(),
        "the file outside was published"
    );
    assert!(history(&mut o, "link.txt").is_empty());
    assert_eq!(history(&mut o, "ok.txt").len(), 1, "{r}");
    // status() says so too, per folder.
    let status = o.status().unwrap();
    let docs = &status["folders"][0];
    assert_eq!(docs["not_synced"], 2, "{docs}");
    assert_eq!(
        docs["not_synced_paths"][0],
        serde_json::json!({"path": "home", "reason": "is a symbolic link"})
    );
    let skipped: Vec<(String, String)> = serde_json::from_value(r["skipped"].clone()).unwrap();
    assert!(
        skipped.contains(&("home".into(), "is a symbolic link".into())),
        "{skipped:?}"
    );
    assert!(
        skipped.contains(&("link.txt".into(), "is a symbolic link".into())),
        "{skipped:?}"
    );
}

#[test]
fn a_fifo_or_device_file_in_the_folder_is_reported_and_the_scan_finishes() {
    let t = tempfile::tempdir().unwrap();
    let (e, folder) = engine(t.path());
    std::fs::create_dir_all(folder.join("sub")).unwrap();
    std::fs::write(folder.join("sub/ok.txt"), "fine").unwrap();
    let mode = rustix::fs::Mode::from_bits_truncate(0o644);
    rustix::fs::mknodat(
        rustix::fs::CWD,
        folder.join("sub/pipe"),
        rustix::fs::FileType::Fifo,
        mode,
        0,
    )
    .unwrap();
    symlink("/dev/zero", folder.join("zero")).unwrap();
    // A device node needs CAP_MKNOD; without it that part is not checked.
    let device = rustix::fs::mknodat(
        rustix::fs::CWD,
        folder.join("null-dev"),
        rustix::fs::FileType::CharacterDevice,
        mode,
        rustix::fs::makedev(1, 3),
    )
    .is_ok();

    let (e, r) = scan_bounded(e);
    assert_eq!((r.files, r.new), (1, 1), "{r:?}");
    assert_eq!(reason(&r, "sub/pipe"), Some("is a FIFO"), "{r:?}");
    assert_eq!(reason(&r, "zero"), Some("is a symbolic link"), "{r:?}");
    if device {
        assert_eq!(reason(&r, "null-dev"), Some("is a device file"), "{r:?}");
    }
    assert_eq!(e.view("f").len(), 1);
}

#[test]
fn a_fifo_swapped_in_after_the_walk_is_refused_at_once_not_opened_in_blocking_mode() {
    let t = tempfile::tempdir().unwrap();
    let folder = t.path().join("f");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("a.txt"), "regular when the walk saw it").unwrap();
    let root = beneath::Root::open(&folder).unwrap();
    let seen = beneath::Expected::of(&root.lstat("a.txt").unwrap().unwrap());
    std::fs::remove_file(folder.join("a.txt")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        folder.join("a.txt"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_bits_truncate(0o644),
        0,
    )
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(root.open_regular("a.txt", Some(&seen)).map(|_| ()));
    });
    let r = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("opening a FIFO must not block");
    assert!(r.is_err(), "a FIFO was opened as a file");
}

#[test]
fn conflict_copies_of_long_names_fit_and_are_valid_paths() {
    let author = DeviceKey::from_seed([9; 32]).device_id();
    let mtime = 1_700_000_000_123_456_789;
    // 73 CJK characters of 3 bytes, and ".txt": a 223-byte name.
    let cjk = format!("{}.txt", "文".repeat(73));
    assert!(cjk.len() > 220);
    for path in [
        cjk.clone(),
        format!("dir/{cjk}"),
        format!("{}x.txt", "é".repeat(125)), // 2-byte characters
        "n".repeat(255),                     // no extension at all
        format!("a.{}", "e".repeat(252)),    // an extension that alone is too long
        format!("{}/{cjk}", vec!["d"; 1930].join("/")), // a path near 4096 bytes
    ] {
        assert!(paths::normalize(&path, false).is_ok(), "a valid original");
        let copy = conflict_name(&path, mtime, &author);
        assert!(copy.len() <= paths::MAX_PATH_BYTES, "{} bytes", copy.len());
        let name = copy.rsplit('/').next().unwrap();
        assert!(name.len() <= paths::MAX_NAME_BYTES, "{name:?}");
        assert_eq!(
            paths::normalize(&copy, false).unwrap(),
            copy,
            "the copy is a valid path"
        );
        assert!(copy.contains(".sync-conflict-20231114-"), "{copy}");
        assert!(copy.contains(&author.short()), "{copy}");
        // Every device computes the same name.
        assert_eq!(copy, conflict_name(&path, mtime, &author));
    }
    let copy = conflict_name(&cjk, mtime, &author);
    assert!(copy.ends_with(".txt") && copy.starts_with("文"), "{copy}");
    assert_eq!(copy.len(), 255, "as long as a name may be");
    assert_eq!(
        copy.matches('文').count(),
        71,
        "cut on a character boundary"
    );
    // A short name is unchanged by the rule.
    assert_eq!(
        conflict_name("a/report.txt", mtime, &author),
        format!(
            "a/report.sync-conflict-20231114-221320-{}.txt",
            author.short()
        )
    );
}

#[test]
fn a_harp_prefixed_user_file_syncs_and_no_scan_deletes_it() {
    let t = tempfile::tempdir().unwrap();
    let (mut o, c, folder) = owner(t.path());
    std::fs::write(folder.join(".harpoon-notes.txt"), "mine").unwrap();
    c.notify("docs", ".harpoon-notes.txt", "write", None)
        .unwrap();
    scan_docs(&mut o);
    scan_docs(&mut o);
    let h = history(&mut o, ".harpoon-notes.txt");
    assert_eq!(h.len(), 1, "recorded once and never deleted: {h:?}");
    assert_eq!(h[0]["kind"], "write");
}

#[test]
fn harp_temp_files_are_never_recorded_at_any_depth() {
    let t = tempfile::tempdir().unwrap();
    let (mut o, c, folder) = owner(t.path());
    std::fs::create_dir_all(folder.join("sub")).unwrap();
    let tmp = tmp_name("sub/a.txt", &[7; 32]);
    assert!(tmp.ends_with(".part"), "Nextcloud's scanner skips *.part");
    let legacy = tmp.trim_end_matches(".part").to_string();
    for name in [&tmp, &legacy] {
        std::fs::write(folder.join("sub").join(name), "a stalled download").unwrap();
        std::fs::write(folder.join(name), "a stalled download").unwrap();
        let e = c.notify("docs", &format!("sub/{name}"), "write", None);
        assert!(
            matches!(e, Err(harp::HarpError::InvalidPath { .. })),
            "{e:?}"
        );
    }
    std::fs::write(folder.join("sub/real.txt"), "real").unwrap();
    let r = scan_docs(&mut o);
    assert_eq!((&r["files"], &r["entries"]), (&1.into(), &1.into()), "{r}");
    assert_eq!(o.status().unwrap()["entries"], 1, "only sub/real.txt");
    assert_eq!(history(&mut o, "sub/real.txt").len(), 1);
}

/// A signed record with no checks at all (a hostile peer's encoder).
fn record(m: &Meta, prev: Hash, k: &DeviceKey) -> (Vec<u8>, Hash) {
    let mb = m.encode();
    let hash = link(&prev, &mb);
    let sig = k.sign(&hash).to_bytes();
    let mut out = (mb.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&mb);
    out.extend_from_slice(&prev);
    out.extend_from_slice(&k.public().to_bytes());
    out.extend_from_slice(&sig);
    (out, hash)
}

fn meta(folder: &str, author: DeviceId, seq: u64, path: &str, size: u64, content: Hash) -> Meta {
    Meta {
        folder: folder.into(),
        path: path.into(),
        kind: ChangeKind::Write,
        from: String::new(),
        size,
        mtime_ns: 1_700_000_000_000_000_000,
        content,
        author,
        seq,
        time_ms: 1_700_000_000_000,
        parents: vec![],
        unseen: vec![],
    }
}

#[test]
fn a_peers_entry_for_a_reserved_name_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let (mut e, _) = engine(t.path());
    let k = DeviceKey::from_seed([8; 32]);
    e.trust(k.device_id());
    let path = format!("sub/{}", tmp_name("sub/a.txt", &[1; 32]));
    let m = meta("f", k.device_id(), 1, &path, 5, [3; 32]);
    assert!(m.check().is_err());
    let r = e.receive(None, &[record(&m, GENESIS, &k).0]).unwrap();
    assert_eq!((r.applied, r.refused.len()), (0, 1), "{r:?}");
    assert!(r.refused[0].1.contains("temporary files"), "{r:?}");
}

#[test]
fn a_scan_reports_a_directory_too_deep_to_sync_and_records_the_rest() {
    let t = tempfile::tempdir().unwrap();
    let (e, folder) = engine(t.path());
    std::fs::write(folder.join("top.txt"), "top").unwrap();
    std::fs::create_dir_all(folder.join("a/b")).unwrap();
    std::fs::write(folder.join("a/b/mid.txt"), "mid").unwrap();
    // 21 directories of 200-byte names: more than 4096 bytes of path,
    // made relative to each parent's handle (no absolute path that long
    // can be given to the kernel).
    let seg = "d".repeat(200);
    let mut dir = rustix::fs::open(
        &folder,
        rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::RDONLY,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    for _ in 0..21 {
        rustix::fs::mkdirat(
            &dir,
            seg.as_str(),
            rustix::fs::Mode::from_bits_truncate(0o755),
        )
        .unwrap();
        dir = rustix::fs::openat(
            &dir,
            seg.as_str(),
            rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::RDONLY,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
    }
    let f = rustix::fs::openat(
        dir.as_fd(),
        "deep.txt",
        rustix::fs::OFlags::CREATE | rustix::fs::OFlags::WRONLY,
        rustix::fs::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    drop(f);

    let (e, r) = scan_bounded(e);
    assert_eq!((r.files, r.new), (2, 2), "{r:?}");
    let deep = r
        .skipped
        .iter()
        .find(|(p, _)| p.starts_with(&seg))
        .unwrap_or_else(|| panic!("the deep directory is reported: {r:?}"));
    assert!(deep.1.contains("4096"), "{deep:?}");
    let view = e.view("f");
    assert!(view.contains_key("top.txt") && view.contains_key("a/b/mid.txt"));
}

// ---------------------------------------------------------------------
// The applier, against a hand-made trusted peer
// ---------------------------------------------------------------------

/// A real owner node with one folder, `docs`.
/// What the peer answers to a request: (status, announced length, body).
type Answerer = Arc<dyn Fn(&Value) -> (u8, u32, Vec<u8>) + Send + Sync>;

/// A trusted device, connected with the crate's own TLS configuration,
/// that authors entries by hand and answers the node's requests.
struct Peer {
    key: DeviceKey,
    id: DeviceId,
    conn: quinn::Connection,
    _ep: quinn::Endpoint,
    /// Manifest and chunk requests the node sent.
    manifests: Arc<AtomicU64>,
    chunks: Arc<AtomicU64>,
    rt: tokio::runtime::Runtime,
}

impl Peer {
    fn join(node: &mut Node, seed: u8, answer: Answerer) -> Peer {
        Peer::join_gated(node, seed, answer, None)
    }

    /// A peer whose chunk answers wait until `gate` turns true (at most
    /// WAIT): the node's fetches stay running meanwhile.
    fn join_gated(
        node: &mut Node,
        seed: u8,
        answer: Answerer,
        gate: Option<tokio::sync::watch::Receiver<bool>>,
    ) -> Peer {
        let key = DeviceKey::from_seed([seed; 32]);
        let id = key.device_id();
        node.owner
            .call(Op::Trust {
                device: id.to_string(),
                addresses: vec![],
            })
            .unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (ep, conn) = rt.block_on(dial(&key, node.id, node.addr));
        let (manifests, chunks) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let c = conn.clone();
        rt.block_on(async move {
            let hello = Hello {
                v: 2,
                name: "peer".into(),
                vv: vec![],
                folders: Default::default(),
            };
            harp::net::send_frame(c.open_uni().await.unwrap(), &hello)
                .await
                .unwrap();
        });
        rt.spawn(answer_requests(
            conn.clone(),
            answer,
            manifests.clone(),
            chunks.clone(),
            gate,
        ));
        wait_until("the node to see the peer", WAIT, || {
            node.peer(id).is_some_and(|p| p["connected"] == true)
        });
        Peer {
            key,
            id,
            conn,
            _ep: ep,
            manifests,
            chunks,
            rt,
        }
    }

    /// Sends entries `path -> (size, content)` authored by this device.
    fn author(&self, files: &[(&str, u64, Hash)]) {
        let metas: Vec<Meta> = files
            .iter()
            .enumerate()
            .map(|(i, (path, size, content))| {
                meta("docs", self.id, i as u64 + 1, path, *size, *content)
            })
            .collect();
        self.send_chain(&metas);
    }

    /// Sends these entries as one chain of this device's, from its first.
    fn send_chain(&self, metas: &[Meta]) {
        let mut prev = GENESIS;
        let mut buf = vec![2u8];
        for m in metas {
            let (rec, hash) = record(m, prev, &self.key);
            prev = hash;
            buf.extend_from_slice(&(rec.len() as u32).to_be_bytes());
            buf.extend_from_slice(&rec);
        }
        let conn = self.conn.clone();
        self.rt.block_on(async move {
            let mut s = conn.open_uni().await.unwrap();
            s.write_all(&buf).await.unwrap();
            s.finish().unwrap();
        });
    }

    fn manifests(&self) -> u64 {
        self.manifests.load(Ordering::Relaxed)
    }

    fn chunks(&self) -> u64 {
        self.chunks.load(Ordering::Relaxed)
    }
}

async fn dial(
    key: &DeviceKey,
    node: DeviceId,
    addr: SocketAddr,
) -> (quinn::Endpoint, quinn::Connection) {
    let ident = tls::Identity::new(key).unwrap();
    let trusted: tls::Trusted = Arc::new(parking_lot::RwLock::new(HashSet::from([node])));
    let cfg = tls::client_config(&ident, trusted, node).unwrap();
    let ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let conn = tokio::time::timeout(WAIT, ep.connect_with(cfg, addr, "harp").unwrap())
        .await
        .expect("the handshake finishes")
        .expect("a trusted device connects");
    (ep, conn)
}

async fn answer_requests(
    conn: quinn::Connection,
    answer: Answerer,
    manifests: Arc<AtomicU64>,
    chunks: Arc<AtomicU64>,
    gate: Option<tokio::sync::watch::Receiver<bool>>,
) {
    while let Ok((mut s, mut r)) = conn.accept_bi().await {
        let (answer, manifests, chunks) = (answer.clone(), manifests.clone(), chunks.clone());
        let mut gate = gate.clone();
        tokio::spawn(async move {
            let Ok(buf) = r.read_to_end(8192).await else {
                return;
            };
            let Some(req) = buf
                .get(5..)
                .and_then(|b| serde_json::from_slice::<Value>(b).ok())
            else {
                return;
            };
            match req["get"].as_str() {
                Some("manifest") => manifests.fetch_add(1, Ordering::Relaxed),
                _ => {
                    if let Some(g) = gate.as_mut() {
                        let _ = tokio::time::timeout(WAIT, g.wait_for(|open| *open)).await;
                    }
                    chunks.fetch_add(1, Ordering::Relaxed)
                }
            };
            let (status, n, body) = answer(&req);
            let mut out = vec![status];
            out.extend_from_slice(&n.to_be_bytes());
            out.extend_from_slice(&body);
            let _ = s.write_all(&out).await;
            let _ = s.finish();
        });
    }
}

/// Serves `manifest` for `content` and `chunk` for every chunk request
/// whose hash matches it; "not found" for anything else.
fn serving(content: Hash, manifest: &Manifest, chunk: Vec<u8>) -> Answerer {
    let (m_hex, encoded) = (hex(&content), manifest.encode());
    let c_hex = hex(blake3::hash(&chunk).as_bytes());
    Arc::new(move |req: &Value| {
        let hash = req["hash"].as_str().unwrap_or_default();
        match req["get"].as_str() {
            Some("manifest") if hash == m_hex => (0, encoded.len() as u32, encoded.clone()),
            Some("chunk") if hash == c_hex => (0, chunk.len() as u32, chunk.clone()),
            _ => (1, 0, vec![]),
        }
    })
}

fn bytes(n: usize, seed: &str) -> Vec<u8> {
    let mut out = vec![0u8; n];
    let mut x = blake3::Hasher::new();
    x.update(seed.as_bytes());
    x.finalize_xof().fill(&mut out);
    out
}

#[test]
fn a_peer_entry_under_a_symlinked_directory_writes_nothing_outside() {
    let mut node = Node::start("target");
    let outside = node.dir.path().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    symlink(&outside, node.folder.join("home")).unwrap();
    let key = b"ssh-ed25519 AAAA attacker\n".to_vec();
    let m = one_chunk(&key);
    let content = m.content_hash();
    let peer = Peer::join(&mut node, 41, serving(content, &m, key.clone()));
    peer.author(&[("home/.ssh/authorized_keys", key.len() as u64, content)]);

    // The node asks for the manifest, cannot make the directory beneath the
    // root, and says so in status().
    node.expect_not_applied("home/.ssh/authorized_keys", &["symbolic link"]);
    assert!(peer.manifests() >= 1, "the node did try");
    let escaped: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
    assert!(
        escaped.is_empty(),
        "written outside the folder: {escaped:?}"
    );
    assert_eq!(peer.chunks(), 0, "no content was even asked for");
    assert!(std::fs::symlink_metadata(node.folder.join("home"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn a_symlink_planted_at_the_temp_file_name_is_not_written_through() {
    let mut node = Node::start("target");
    let victim = node.dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let data = bytes(5000, "planted");
    let m = one_chunk(&data);
    let content = m.content_hash();
    // The temporary file's name is predictable: plant a link at it (and at
    // the name Harp 0.1 used).
    let tmp = tmp_name("notes.bin", &content);
    symlink(&victim, node.folder.join(&tmp)).unwrap();
    symlink(&victim, node.folder.join(tmp.trim_end_matches(".part"))).unwrap();
    let peer = Peer::join(&mut node, 42, serving(content, &m, data.clone()));
    peer.author(&[("notes.bin", data.len() as u64, content)]);

    let target = node.folder.join("notes.bin");
    wait_until("the file to arrive", WAIT, || {
        std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_file())
            && std::fs::read(&target).ok().as_deref() == Some(&data[..])
    });
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let tmp_mode = std::fs::symlink_metadata(&target).unwrap();
    assert!(tmp_mode.file_type().is_file());
}

#[test]
fn a_manifest_larger_than_its_entry_is_refused_and_nothing_is_written() {
    let mut node = Node::start("target");
    // 100 copies of one 256 KiB chunk (25 MiB) in a 3.6 KB manifest, for
    // an entry that says 1000 bytes.
    let chunk = bytes(256 * 1024, "repeated");
    let hash = *blake3::hash(&chunk).as_bytes();
    let m = Manifest {
        size: 100 * chunk.len() as u64,
        chunks: (0..100)
            .map(|i| Chunk {
                offset: i * chunk.len() as u64,
                len: chunk.len() as u32,
                hash,
            })
            .collect(),
    };
    let content = m.content_hash();
    let peer = Peer::join(&mut node, 43, serving(content, &m, chunk));
    peer.author(&[("big.bin", 1000, content)]);

    let why = node.expect_refusal(peer.id, &["describes 26214400 bytes", "says 1000"]);
    assert!(why.contains(&hex(&content)), "{why}");
    node.expect_not_applied("big.bin", &["describes 26214400 bytes"]);
    assert_eq!(peer.chunks(), 0, "no chunk was asked for");
    assert!(
        node.names().is_empty(),
        "nothing written: {:?}",
        node.names()
    );
}

#[test]
fn a_stored_manifest_of_another_size_than_the_entry_is_not_applied() {
    let mut node = Node::start("target");
    // The node already has this content (its manifest is in its store)...
    let data = bytes(1000, "stored");
    std::fs::write(node.folder.join("mine.bin"), &data).unwrap();
    node.owner
        .call(Op::Scan {
            folder: "docs".into(),
        })
        .unwrap();
    let m = one_chunk(&data);
    let content = m.content_hash();
    // ... and a peer's entry names that content with another size.
    let peer = Peer::join(&mut node, 45, serving(content, &m, data.clone()));
    peer.author(&[("copy.bin", 5, content)]);

    node.expect_not_applied("copy.bin", &["describes 1000 bytes", "says 5"]);
    assert!(!node.folder.join("copy.bin").exists());
    assert_eq!(std::fs::read(node.folder.join("mine.bin")).unwrap(), data);
}

#[test]
fn a_file_that_would_cross_the_free_space_reserve_is_not_written() {
    let mut node = Node::start("target");
    let root = beneath::Root::open(&node.folder).unwrap();
    let (free, _) = beneath::space(root.fd()).unwrap();
    // One GiB more than is free, in 256 KiB chunks.
    let size = free + (1 << 30);
    let len = 256 * 1024u64;
    let count = size.div_ceil(len);
    if 13 + 36 * count > 60 << 20 {
        eprintln!("skipped: {free} bytes free need a manifest over the 64 MiB limit");
        return;
    }
    let chunk = bytes(len as usize, "space");
    let hash = *blake3::hash(&chunk).as_bytes();
    let m = Manifest {
        size,
        chunks: (0..count)
            .map(|i| Chunk {
                offset: i * len,
                len: (size - i * len).min(len) as u32,
                hash,
            })
            .collect(),
    };
    let content = m.content_hash();
    let peer = Peer::join(&mut node, 44, serving(content, &m, chunk));
    peer.author(&[("huge.bin", size, content)]);

    let why = node.expect_not_applied("huge.bin", &["not written", "MiB free"]);
    assert!(why.contains("1% of the disk or 64 MiB"), "{why}");
    assert!(peer.manifests() >= 1, "the node did try");
    assert_eq!(peer.chunks(), 0, "no chunk was asked for");
    assert!(
        node.names().is_empty(),
        "no temporary file either: {:?}",
        node.names()
    );
}

/// The paths `status()` lists as being fetched.
fn transfers(node: &mut Node) -> Vec<String> {
    node.owner.status().unwrap()["transfers"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|x| x["path"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Serves several files of one chunk each: (content, manifest, bytes).
fn serving_all(files: Vec<(Hash, Manifest, Vec<u8>)>) -> Answerer {
    let by_hex: std::collections::HashMap<String, (u8, Vec<u8>)> = files
        .into_iter()
        .flat_map(|(content, m, data)| {
            [
                (hex(&content), (0, m.encode())),
                (hex(blake3::hash(&data).as_bytes()), (0, data)),
            ]
        })
        .collect();
    Arc::new(move |req: &Value| {
        let hash = req["hash"].as_str().unwrap_or_default();
        match by_hex.get(hash) {
            Some((status, body)) => (*status, body.len() as u32, body.clone()),
            None => (1, 0, vec![]),
        }
    })
}

/// A peer's version waits in the applier's queue (every fetch slot is
/// taken) while the user writes the same file here. The user's write is
/// recorded, and wins (it is newer); the waiting fetch, started afterwards,
/// must not put the peer's version over it (it did: the check at its start
/// compared the disk with the user's fresh record, found them equal, and
/// the rename replaced the user's file). The peer's version is kept as a
/// conflict copy instead.
#[test]
fn a_fetch_that_waited_while_the_user_wrote_the_file_does_not_overwrite_it() {
    let mut node = Node::start("target");
    // 16 files fill every fetch slot (FILES_IN_FLIGHT) and hang on their
    // chunks until the gate opens; the 17th, z.txt, waits behind them.
    let mut files = Vec::new();
    let mut authored: Vec<(String, u64, Hash)> = Vec::new();
    for i in 0..16 {
        let data = bytes(2000, &format!("filler {i}"));
        let m = one_chunk(&data);
        authored.push((format!("a{i:02}.bin"), data.len() as u64, m.content_hash()));
        files.push((m.content_hash(), m, data));
    }
    let theirs = b"the peer's version of z.txt".to_vec();
    let m = one_chunk(&theirs);
    authored.push(("z.txt".into(), theirs.len() as u64, m.content_hash()));
    files.push((m.content_hash(), m, theirs.clone()));
    let (open, gate) = tokio::sync::watch::channel(false);
    let peer = Peer::join_gated(&mut node, 43, serving_all(files), Some(gate));
    let list: Vec<(&str, u64, Hash)> = authored
        .iter()
        .map(|(p, n, c)| (p.as_str(), *n, *c))
        .collect();
    peer.author(&list);
    wait_until("16 fetches to hang on their chunks", WAIT, || {
        transfers(&mut node).len() == 16
    });

    // The user writes z.txt now (newer than the peer's 2023 version).
    let target = node.folder.join("z.txt");
    std::fs::write(&target, "the user's version").unwrap();
    scan_docs(&mut node.owner);
    open.send(true).unwrap();

    // Everything lands: the fillers, and the peer's z.txt as a copy.
    let copy = node
        .folder
        .join(conflict_name("z.txt", 1_700_000_000_000_000_000, &peer.id));
    wait_until("the fillers and the conflict copy", WAIT, || {
        (0..16).all(|i| node.folder.join(format!("a{i:02}.bin")).exists())
            && std::fs::read(&copy).ok().as_deref() == Some(&theirs[..])
            && transfers(&mut node).is_empty()
    });
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "the user's version",
        "the user's write was replaced by a fetch queued before it"
    );
    node.assert_verifies();
}

/// A peer's version loses to the user's and needs a conflict copy, but no
/// device serves its bytes any more (here: the chunk never comes). When its
/// author then deletes it, the copy is no longer needed, and its hanging
/// fetch is dropped at once (it waited out a 30 s give-up before, and kept
/// the folder from settling).
#[test]
fn a_conflict_copy_no_longer_needed_stops_its_hanging_fetch() {
    let mut node = Node::start("target");
    let theirs = b"the peer's version, never served".to_vec();
    let m = one_chunk(&theirs);
    let (_gate_stays_shut, gate) = tokio::sync::watch::channel(false);
    let peer = Peer::join_gated(
        &mut node,
        44,
        serving_all(vec![(m.content_hash(), m.clone(), theirs.clone())]),
        Some(gate),
    );
    let write = meta(
        "docs",
        peer.id,
        1,
        "z.txt",
        theirs.len() as u64,
        m.content_hash(),
    );
    peer.send_chain(std::slice::from_ref(&write));
    wait_until("the fetch of z.txt to hang", WAIT, || {
        transfers(&mut node) == ["z.txt"]
    });
    // The user writes z.txt (newer): the peer's version needs a copy.
    let target = node.folder.join("z.txt");
    std::fs::write(&target, "the user's version").unwrap();
    scan_docs(&mut node.owner);
    wait_until("the copy's fetch to hang", WAIT, || {
        transfers(&mut node)
            .iter()
            .any(|p| p.starts_with("z.sync-conflict-"))
    });
    // Its author deletes it: no copy is needed any more.
    let mut delete = meta("docs", peer.id, 2, "z.txt", 0, [0; 32]);
    delete.kind = ChangeKind::Delete;
    peer.send_chain(&[write, delete]);
    wait_until(
        "the hanging fetches to stop, well before the 30 s give-up",
        Duration::from_secs(10),
        || transfers(&mut node).is_empty(),
    );
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "the user's version"
    );
    assert!(
        !node
            .names()
            .iter()
            .any(|n| n.starts_with("z.sync-conflict-")),
        "{:?}",
        node.names()
    );
}
