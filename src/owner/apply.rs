//! The applier: brings the disk in line with the view. Files the view has
//! and the disk lacks are fetched: the manifest from the store or a peer,
//! each chunk copied from a local file that holds it (delta sync) or
//! fetched from the nearest connected peer, checked against its BLAKE3
//! hash before it is written, into a temporary file that is fsynced and
//! renamed into place (a file never appears half-written). Files the view
//! dropped are removed if the disk still holds what this device recorded.

use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha3::{Digest, Sha3_256};

use super::{now_ms, warn, Event, Shared};
use crate::chain::dag::Version;
use crate::engine::{hex, tmp_name, Want};
use crate::error::{HarpError, Result};
use crate::manifest::Manifest;
use crate::net::{ask, Request, Runner};

/// How often the applier looks without being woken (peers that connect
/// later, transfers that failed).
const TICK: Duration = Duration::from_secs(2);

pub(super) async fn apply_loop(shared: Arc<Shared>, runner: Arc<Runner>) -> Result<()> {
    loop {
        let s = shared.clone();
        let wants = tokio::task::spawn_blocking(move || s.engine.lock().wanted())
            .await
            .map_err(|e| HarpError::Internal(e.to_string()))??;
        for w in wants {
            match w {
                Want::Fetch {
                    folder,
                    path,
                    version,
                } => {
                    if runner.sources().is_empty() && !has_locally(&shared, &version) {
                        continue; // nobody to fetch from yet
                    }
                    match fetch(&shared, &runner, &folder, &path, &version).await {
                        Ok(true) => {
                            shared.push_event(event("file_updated", &folder, &path, &version))
                        }
                        Ok(false) => {}
                        Err(e) => warn(&format!("fetching {folder}/{path}: {e}")),
                    }
                }
                Want::Remove {
                    folder,
                    path,
                    record,
                } => {
                    let s = shared.clone();
                    let (f, p) = (folder.clone(), path.clone());
                    let done = tokio::task::spawn_blocking(move || {
                        s.engine.lock().remove(&f, &p, &record)
                    })
                    .await
                    .map_err(|e| HarpError::Internal(e.to_string()))?;
                    match done {
                        Ok(true) => shared.push_event(Event {
                            kind: "file_deleted".into(),
                            folder: Some(folder),
                            path: Some(path),
                            device: None,
                            hash: None,
                            seq: None,
                            time_ms: now_ms(),
                        }),
                        Ok(false) => {}
                        Err(e) => warn(&format!("removing {folder}/{path}: {e}")),
                    }
                }
            }
        }
        let s = shared.clone();
        match tokio::task::spawn_blocking(move || s.engine.lock().record_conflicts()).await {
            Ok(Ok(n)) if n > 0 => shared.push_event(Event {
                kind: "conflict".into(),
                folder: None,
                path: None,
                device: None,
                hash: None,
                seq: Some(n),
                time_ms: now_ms(),
            }),
            Ok(Err(e)) => warn(&format!("recording conflict copies: {e}")),
            _ => {}
        }
        tokio::select! {
            _ = shared.apply_wake.notified() => {}
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

fn event(kind: &str, folder: &str, path: &str, v: &Version) -> Event {
    Event {
        kind: kind.into(),
        folder: Some(folder.into()),
        path: Some(path.into()),
        device: Some(v.author.to_string()),
        hash: Some(hex(&v.content)),
        seq: None,
        time_ms: now_ms(),
    }
}

fn has_locally(shared: &Shared, v: &Version) -> bool {
    shared
        .engine
        .lock()
        .manifest(&v.content)
        .ok()
        .flatten()
        .is_some()
}

/// Fetches one file; Ok(false) when it was left alone (a local change not
/// yet recorded sits there, or nobody has the content).
async fn fetch(
    shared: &Arc<Shared>,
    runner: &Runner,
    folder: &str,
    path: &str,
    v: &Version,
) -> Result<bool> {
    let (target, known) = {
        let e = shared.engine.lock();
        (e.local_path(folder, path)?, e.manifest(&v.content)?)
    };
    // Never overwrite what the user changed and Harp has not recorded yet.
    let recorded = shared.store.file(folder, path)?;
    if let Ok(m) = std::fs::symlink_metadata(&target) {
        let same = recorded
            .is_some_and(|r| r.size == m.len() && r.mtime_ns == crate::engine::mtime_ns(&m));
        if !same {
            warn(&format!(
                "{folder}/{path} changed locally and is not recorded yet; not overwritten (a scan records it)"
            ));
            return Ok(false);
        }
    }
    let manifest = match known {
        Some(m) => m,
        None => match fetch_manifest(runner, &v.content).await? {
            Some(m) => m,
            None => return Ok(false),
        },
    };
    let parent = target
        .parent()
        .ok_or_else(|| HarpError::Internal(format!("{} has no parent", target.display())))?;
    std::fs::create_dir_all(parent)
        .map_err(|e| HarpError::storage(format!("creating {}", parent.display()), e))?;
    let tmp = parent.join(tmp_name(&v.content));
    let io = |e: std::io::Error| HarpError::storage(format!("writing {}", tmp.display()), e);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io)?;
    file.set_len(manifest.size).map_err(io)?;
    for c in &manifest.chunks {
        let local = shared.engine.lock().local_chunk(&c.hash)?;
        let data = match local {
            Some(d) => d,
            None => match fetch_chunk(runner, &c.hash).await? {
                Some(d) => d,
                None => {
                    let _ = std::fs::remove_file(&tmp);
                    return Ok(false);
                }
            },
        };
        file.write_all_at(&data, c.offset).map_err(io)?;
    }
    let mtime = UNIX_EPOCH + Duration::from_nanos(u64::try_from(v.mtime_ns).unwrap_or(0));
    file.set_times(
        std::fs::FileTimes::new()
            .set_modified(mtime)
            .set_accessed(SystemTime::now()),
    )
    .map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, &target).map_err(io)?;
    crate::fsutil::sync_dir(parent)?;
    shared.engine.lock().applied(folder, path, v, &manifest)?;
    Ok(true)
}

async fn fetch_manifest(runner: &Runner, content: &[u8; 32]) -> Result<Option<Manifest>> {
    for (id, conn) in runner.sources() {
        let req = Request::Manifest { hash: hex(content) };
        match ask(&conn, &req).await {
            Ok(Some(bytes)) => {
                let got: [u8; 32] = Sha3_256::digest(&bytes).into();
                if &got != content {
                    warn(&format!(
                        "{} sent a manifest that does not match its hash",
                        id.short()
                    ));
                    continue;
                }
                return Ok(Some(Manifest::decode(&bytes)?));
            }
            Ok(None) => continue,
            Err(e) => warn(&format!("manifest from {}: {e}", id.short())),
        }
    }
    Ok(None)
}

async fn fetch_chunk(runner: &Runner, hash: &[u8; 32]) -> Result<Option<Vec<u8>>> {
    for (id, conn) in runner.sources() {
        match ask(&conn, &Request::Chunk { hash: hex(hash) }).await {
            Ok(Some(bytes)) => {
                // Verified before use: a peer cannot slip in other bytes.
                if blake3::hash(&bytes).as_bytes() == hash {
                    return Ok(Some(bytes));
                }
                warn(&format!(
                    "{} sent a chunk that does not match its hash",
                    id.short()
                ));
            }
            Ok(None) => continue,
            Err(e) => warn(&format!("chunk from {}: {e}", id.short())),
        }
    }
    Ok(None)
}
