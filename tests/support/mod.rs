//! What the integration tests that run a real owner node share: bounded
//! waits, and `Node`, an owner on 127.0.0.1 (no mDNS) with one folder,
//! `docs`, and the questions a test asks it. Each test file that uses it
//! says `mod support;`; not every file uses every helper.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test harness

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use harp::control::Op;
use harp::identity::DeviceId;
use harp::manifest::{Chunk, Manifest};
use harp::owner::{Config, Owner};
use serde_json::Value;

/// How long a test waits for anything.
pub const WAIT: Duration = Duration::from_secs(30);

/// Polls `done` every 20 ms; fails the test after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !done() {
        assert!(
            Instant::now() < end,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A manifest of one chunk holding all of `data`.
pub fn one_chunk_manifest(data: &[u8]) -> Manifest {
    Manifest {
        size: data.len() as u64,
        chunks: vec![Chunk {
            offset: 0,
            len: data.len() as u32,
            hash: *blake3::hash(data).as_bytes(),
        }],
    }
}

/// A real owner node with one folder, `docs`.
pub struct Node {
    pub owner: Owner,
    pub id: DeviceId,
    pub addr: SocketAddr,
    pub folder: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Node {
    /// An owner named `name`, listening on 127.0.0.1, started.
    pub fn start(name: &str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("docs");
        let config = Config {
            name: name.into(),
            listen: "127.0.0.1:0".into(),
            mdns: false,
        };
        let mut owner = Owner::open(&dir.path().join("state"), config).unwrap();
        owner.add_folder("docs", &folder).unwrap();
        owner.start().unwrap();
        let addr = owner.status().unwrap()["listen"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let id = owner.device_id();
        let folder = folder.canonicalize().unwrap();
        Node {
            owner,
            id,
            addr,
            folder,
            dir,
        }
    }

    pub fn trust(&mut self, id: DeviceId, at: Option<SocketAddr>) {
        let addresses = at.map(|a| vec![a.to_string()]).unwrap_or_default();
        let device = id.to_string();
        self.owner.call(Op::Trust { device, addresses }).unwrap();
    }

    pub fn untrust(&mut self, id: DeviceId) {
        let device = id.to_string();
        self.owner.call(Op::Untrust { device }).unwrap();
    }

    /// What `peers()` says of `id`.
    pub fn peer(&mut self, id: DeviceId) -> Option<Value> {
        let peers = self.owner.call(Op::Peers).unwrap();
        let want = id.to_string();
        peers
            .as_array()?
            .iter()
            .find(|p| p["device_id"] == want)
            .cloned()
    }

    pub fn connected(&mut self, id: DeviceId) -> bool {
        self.peer(id).is_some_and(|p| p["connected"] == true)
    }

    pub fn refused(&mut self, id: DeviceId) -> u64 {
        self.peer(id)
            .and_then(|p| p["refused"].as_u64())
            .unwrap_or(0)
    }

    /// The refusal reasons recorded for `id`, newest last.
    pub fn refusals(&mut self, id: DeviceId) -> Vec<String> {
        self.peer(id)
            .and_then(|p| {
                p["recent_refused"].as_array().map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
            })
            .unwrap_or_default()
    }

    /// Waits until `id` has a refusal containing every one of `needles`.
    pub fn expect_refusal(&mut self, id: DeviceId, needles: &[&str]) -> String {
        let mut found = None;
        let what = format!("a refusal with {needles:?}");
        wait_until(&what, WAIT, || {
            found = self
                .refusals(id)
                .into_iter()
                .rev()
                .find(|r| needles.iter().all(|n| r.contains(n)));
            found.is_some()
        });
        found.unwrap()
    }

    /// Waits until status() lists `path` as not applied, with a reason
    /// containing every one of `needles`; returns the reason.
    pub fn expect_not_applied(&mut self, path: &str, needles: &[&str]) -> String {
        let mut found = None;
        let what = format!("status() to list {path} as not applied with {needles:?}");
        wait_until(&what, WAIT, || {
            let s = self.owner.status().unwrap();
            found = s["not_applied"]
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n["folder"] == "docs" && n["path"] == path)
                .and_then(|n| n["reason"].as_str().map(String::from))
                .filter(|r| needles.iter().all(|n| r.contains(n)));
            found.is_some()
        });
        found.unwrap()
    }

    pub fn entries(&mut self) -> u64 {
        self.owner.status().unwrap()["entries"].as_u64().unwrap()
    }

    pub fn assert_verifies(&mut self) {
        let v = self
            .owner
            .call(Op::Verify {
                folder: "docs".into(),
            })
            .unwrap();
        assert_eq!(v["ok"], true, "verify after the attack: {v}");
    }

    /// The regular files in the folder, recursively.
    pub fn files(&self) -> Vec<String> {
        self.walk(false)
    }

    /// Every name in the folder, recursively (symlinks not followed).
    pub fn names(&self) -> Vec<String> {
        self.walk(true)
    }

    fn walk(&self, all: bool) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![self.folder.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let rel = p.strip_prefix(&self.folder).unwrap();
                let dir = std::fs::symlink_metadata(&p).unwrap().is_dir();
                if all || !dir {
                    out.push(rel.to_string_lossy().into_owned());
                }
                if dir {
                    stack.push(p);
                }
            }
        }
        out.sort();
        out
    }
}
