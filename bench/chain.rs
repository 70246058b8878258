//! Chain benchmark: appends N entries through the engine (in batches, as
//! scans and the journal do), verifies them all, reopens the store, and
//! reports entries/s, the store's bytes per entry, and the replay time.
//!
//!   cargo run --release --example chain-bench -- [ENTRIES] [BATCH]
//!
//! Prints one JSON object; bench/chain wraps it. See docs/BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use harp::engine::{Engine, Observed};
use harp::identity::DeviceKey;
use harp::manifest::{Chunk, Manifest};
use harp::outbox::ChangeKind;
use harp::store::Store;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let batch: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let folder = dir.path().join("folder");
    std::fs::create_dir_all(&state).unwrap();

    let store = Arc::new(Store::open(&state).unwrap());
    let mut engine = Engine::open(store, DeviceKey::from_seed([1; 32])).unwrap();
    engine.add_folder("bench", &folder).unwrap();

    // Synthetic observations: one small chunk each, distinct paths.
    let t = Instant::now();
    let mut done = 0u64;
    while done < n {
        let k = batch.min(n - done);
        let changes = (done..done + k)
            .map(|i| {
                let mut h = [0u8; 32];
                h[..8].copy_from_slice(&i.to_le_bytes());
                Observed {
                    path: format!("d{}/file-{i}.txt", i % 1000),
                    kind: ChangeKind::Write,
                    from: String::new(),
                    size: 4096,
                    mtime_ns: 1_700_000_000_000_000_000 + i as i64,
                    manifest: Some(Manifest {
                        size: 4096,
                        chunks: vec![Chunk {
                            offset: 0,
                            len: 4096,
                            hash: h,
                        }],
                    }),
                }
            })
            .collect();
        done += engine.record("bench", changes).unwrap();
    }
    let append_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let report = engine.verify("bench").unwrap();
    let verify_s = t.elapsed().as_secs_f64();
    assert!(report.ok && report.checked == n, "verify: {report:?}");
    drop(engine);

    let bytes = std::fs::metadata(state.join(harp::store::STORE_FILE))
        .unwrap()
        .len();
    let t = Instant::now();
    let store = Arc::new(Store::open(&state).unwrap());
    let engine = Engine::open(store, DeviceKey::from_seed([1; 32])).unwrap();
    let replay_s = t.elapsed().as_secs_f64();
    assert_eq!(engine.dag("bench").map_or(0, |d| d.len()) as u64, n);

    println!(
        "{}",
        serde_json::json!({
            "entries": n,
            "batch": batch,
            "append_s": append_s,
            "append_per_s": n as f64 / append_s,
            "verify_s": verify_s,
            "verify_per_s": n as f64 / verify_s,
            "store_bytes": bytes,
            "bytes_per_entry": bytes as f64 / n as f64,
            "replay_s": replay_s,
        })
    );
}
