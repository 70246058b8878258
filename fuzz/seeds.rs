//! Writes the fuzz seed corpus: a handful of valid inputs per target, built
//! with Harp's own encoders (the entry and manifest include the test
//! vectors of docs/FORMAT.md). An example of the main crate, so it builds
//! without the fuzz toolchain:
//!
//!   cargo run --example fuzz-seeds -- fuzz/corpus
//!
//! Files are named `seed-*`; bench/fuzz runs it when a seed is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;

use harp::chain::entry::{Entry, Meta};
use harp::chain::GENESIS;
use harp::control::{encode_request, encode_response, Op};
use harp::identity::DeviceKey;
use harp::manifest::{self, Manifest};
use harp::outbox::{ChangeKind, Notice};
use harp::HarpError;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus".into());
    let dir = Path::new(&root).join(target);
    fs::create_dir_all(&dir).expect("corpus dir");
    fs::write(dir.join(format!("seed-{name}")), bytes).expect("seed");
}

fn framed(kind: Option<u8>, body: &[u8]) -> Vec<u8> {
    let mut b: Vec<u8> = kind.into_iter().collect();
    b.extend_from_slice(&(body.len() as u32).to_be_bytes());
    b.extend_from_slice(body);
    b
}

fn meta(key: &DeviceKey, kind: ChangeKind, path: &str, from: &str, parents: Vec<[u8; 32]>) -> Meta {
    Meta {
        folder: "docs".into(),
        path: path.into(),
        kind,
        from: from.into(),
        size: if kind == ChangeKind::Delete { 0 } else { 5 },
        mtime_ns: 1_700_000_000_123_456_789,
        content: if kind == ChangeKind::Delete {
            [0; 32]
        } else {
            manifest::of_bytes(b"hello").content_hash()
        },
        author: key.device_id(),
        seq: 1,
        time_ms: 1_700_000_000_500,
        parents,
        unseen: vec![],
    }
}

fn main() {
    let key = DeviceKey::from_seed([7; 32]);
    // FORMAT.md's entry test vector, then a delete and a rename with parents.
    let vector = Entry::sign(
        meta(&key, ChangeKind::Write, "reports/q1.txt", "", vec![]),
        GENESIS,
        &key,
    )
    .expect("vector");
    let mut delete = meta(&key, ChangeKind::Delete, "a/b.txt", "", vec![vector.hash]);
    delete.seq = 2;
    let delete = Entry::sign(delete, vector.hash, &key).expect("delete");
    let mut rename = meta(
        &key,
        ChangeKind::Rename,
        "caf\u{e9}/new name.txt",
        "reports/q1.txt",
        vec![[1; 32], delete.hash],
    );
    rename.seq = 3;
    let rename = Entry::sign(rename, delete.hash, &key).expect("rename");
    let entries = [("write", &vector), ("delete", &delete), ("rename", &rename)];
    for (name, e) in entries {
        write("entry", name, &e.encode());
        write("entry", &format!("meta-{name}"), &e.meta_bytes);
    }

    // Network frames: a hello, an entries stream, requests, answers.
    let hello = format!(
        r#"{{"v":1,"name":"office-a","vv":[["{}",3]]}}"#,
        key.device_id()
    );
    write("frame", "hello", &framed(Some(1), hello.as_bytes()));
    write(
        "frame",
        "hello-empty",
        &framed(Some(1), br#"{"v":1,"name":""}"#),
    );
    let mut stream = vec![2u8];
    for (_, e) in entries {
        stream.extend_from_slice(&framed(None, &e.encode())[..]);
    }
    write("frame", "entries", &stream);
    let h = "c0f5bf4802c642564888a3bcba11032098537ac1662030616a96b53bb7199203";
    let req = format!(r#"{{"get":"manifest","hash":"{h}"}}"#);
    write(
        "frame",
        "request-manifest",
        &framed(Some(3), req.as_bytes()),
    );
    let req = format!(r#"{{"get":"chunk","hash":"{h}"}}"#);
    write("frame", "request-chunk", &framed(Some(3), req.as_bytes()));
    let hello_manifest = manifest::of_bytes(b"hello").encode();
    let mut found = vec![0u8];
    found.extend_from_slice(&framed(Some(0), &hello_manifest));
    write("frame", "answer-found", &found);
    write("frame", "answer-not-held", &[0, 1, 0, 0, 0, 0]);
    let mut err = vec![0u8];
    err.extend_from_slice(&framed(Some(2), b"protocol error: malformed request"));
    write("frame", "answer-error", &err);

    // Manifests: FORMAT.md's "hello", the empty file, and three chunks.
    write("manifest", "hello", &hello_manifest);
    write("manifest", "empty", &manifest::of_bytes(b"").encode());
    let three = Manifest {
        size: 16 * 1024 + 262_144 + 1,
        chunks: vec![
            manifest::Chunk {
                offset: 0,
                len: 16 * 1024,
                hash: [1; 32],
            },
            manifest::Chunk {
                offset: 16 * 1024,
                len: 262_144,
                hash: [2; 32],
            },
            manifest::Chunk {
                offset: 16 * 1024 + 262_144,
                len: 1,
                hash: [3; 32],
            },
        ],
    };
    write("manifest", "three", &three.encode());

    // Paths: accepted ones and refused ones near the rules.
    for (name, p) in [
        ("plain", "reports/q1.txt"),
        ("hook", "/files/docs/./a.txt"),
        ("nfd", "cafe\u{301}/r\u{e9}sum\u{e9}.pdf"),
        ("dots", "a..b/.hidden/x...y.tar.gz"),
        ("dotdot", "a/../../etc/passwd"),
        ("windows", "aux.txt/COM1/what?.txt"),
        ("slashes", "//a///b//"),
    ] {
        write("paths", name, p.as_bytes());
    }

    // Control socket: a client's requests, then the owner's responses.
    let mut reqs = Vec::new();
    for op in [
        Op::Status,
        Op::AddFolder {
            folder: "docs".into(),
            path: "/srv/docs".into(),
            devices: Some(vec![key.device_id().to_string()]),
            all_devices: false,
            max_file_size: None,
        },
        Op::ShareFolder {
            folder: "docs".into(),
            device: key.device_id().to_string(),
        },
        Op::History {
            folder: "docs".into(),
            path: "a.txt".into(),
        },
        Op::Trust {
            device: key.device_id().to_string(),
            addresses: vec!["10.0.0.2:4433".into()],
        },
    ] {
        reqs.extend_from_slice(&encode_request(&op).expect("request"));
    }
    write("control", "requests", &reqs);
    let mut resps = encode_response(&Ok(
        serde_json::json!({"version": "0.1.0", "peers": [], "uptime_s": 1.5}),
    ));
    resps.extend_from_slice(&encode_response(&Err(HarpError::Config(
        "invalid folder id".into(),
    ))));
    write("control", "responses", &resps);
    write(
        "control",
        "bad-version",
        &framed(None, br#"{"v":9,"op":"status"}"#),
    );

    // Outbox payloads.
    for (name, kind, from) in [
        ("write", ChangeKind::Write, None),
        ("rename", ChangeKind::Rename, Some("old/a.txt".to_string())),
    ] {
        let n = Notice {
            folder: "docs".into(),
            path: "new/a.txt".into(),
            kind,
            from,
            time_ms: 1_700_000_000_500,
            pid: 4242,
        };
        write("outbox", name, &n.encode());
    }
}
