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
    // The first pass, and every tick, compares everything; a wake-up after
    // new entries looks only at the paths they touched.
    let mut full = true;
    loop {
        let s = shared.clone();
        let wants = tokio::task::spawn_blocking(move || {
            let mut e = s.engine.lock();
            if full {
                e.wanted()
            } else {
                e.wanted_recent()
            }
        })
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
        full = tokio::select! {
            _ = shared.apply_wake.notified() => false,
            _ = tokio::time::sleep(TICK) => true,
        };
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
    let mut route = Route {
        wan_ok: false,
        last_lan: std::time::Instant::now(),
    };
    let manifest = match known {
        Some(m) => m,
        None => {
            // Its own route: waiting for a LAN peer's manifest must not
            // send the chunks over the WAN.
            let mut mroute = Route {
                wan_ok: false,
                last_lan: std::time::Instant::now(),
            };
            match fetch_manifest(runner, &v.content, &mut mroute).await? {
                Some(m) => m,
                None => return Ok(false),
            }
        }
    };
    shared
        .partial_manifests
        .lock()
        .insert(v.content, manifest.encode());
    let parent = target
        .parent()
        .ok_or_else(|| HarpError::Internal(format!("{} has no parent", target.display())))?;
    std::fs::create_dir_all(parent)
        .map_err(|e| HarpError::storage(format!("creating {}", parent.display()), e))?;
    let tmp = parent.join(tmp_name(&v.content));
    let io = |e: std::io::Error| HarpError::storage(format!("writing {}", tmp.display()), e);
    // The temporary file is named by the content, so a download that was
    // interrupted (even by SIGKILL) is found again and resumed: chunks it
    // already holds, verified against their hashes, are not fetched again.
    let file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(false)
        .open(&tmp)
        .map_err(io)?;
    let resumed = file.metadata().map_err(io)?.len() == manifest.size;
    if !resumed {
        file.set_len(0).map_err(io)?;
        file.set_len(manifest.size).map_err(io)?;
    }
    shared.transfers.lock().insert(
        (folder.to_string(), path.to_string()),
        Transfer {
            total: manifest.size,
            done: 0,
            started: std::time::Instant::now(),
        },
    );
    let forget = |shared: &Shared| {
        shared
            .transfers
            .lock()
            .remove(&(folder.to_string(), path.to_string()));
        shared.partial_manifests.lock().remove(&v.content);
        let mut partial = shared.partial.lock();
        for c in &manifest.chunks {
            partial.remove(&c.hash);
        }
    };
    for c in &manifest.chunks {
        if resumed {
            let mut have = vec![0u8; c.len as usize];
            if file.read_exact_at(&mut have, c.offset).is_ok()
                && blake3::hash(&have).as_bytes() == &c.hash
            {
                shared
                    .partial
                    .lock()
                    .insert(c.hash, (tmp.clone(), c.offset, c.len));
                progress(shared, folder, path, u64::from(c.len));
                continue;
            }
        }
        let local = shared.engine.lock().local_chunk(&c.hash)?;
        let data = match local {
            Some(d) => d,
            None => match fetch_chunk(runner, &c.hash, &mut route).await? {
                Some(d) => d,
                None => {
                    forget(shared);
                    let _ = std::fs::remove_file(&tmp);
                    return Ok(false);
                }
            },
        };
        file.write_all_at(&data, c.offset).map_err(io)?;
        progress(shared, folder, path, u64::from(c.len));
        // LAN peers may take this chunk from us before the file is done.
        shared
            .partial
            .lock()
            .insert(c.hash, (tmp.clone(), c.offset, c.len));
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
    forget(shared);
    Ok(true)
}

/// A file being fetched, for `status()`.
#[derive(Debug, Clone)]
pub(super) struct Transfer {
    /// Bytes in the file.
    pub total: u64,
    /// Bytes verified and written so far.
    pub done: u64,
    /// When the download started.
    pub started: std::time::Instant,
}

fn progress(shared: &Shared, folder: &str, path: &str, add: u64) {
    if let Some(t) = shared
        .transfers
        .lock()
        .get_mut(&(folder.to_string(), path.to_string()))
    {
        t.done += add;
    }
}

/// Per-file state of the "WAN once per site" rule.
struct Route {
    /// True once this file may come over the WAN from here.
    wan_ok: bool,
    /// The last time a LAN peer gave us something for this file.
    last_lan: std::time::Instant,
}

/// How long one request may take before the next source is tried (a peer
/// that vanished without closing its connection never answers).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

async fn ask_within(conn: &quinn::Connection, req: &Request) -> Result<Option<Vec<u8>>> {
    match tokio::time::timeout(REQUEST_TIMEOUT, ask(conn, req)).await {
        Ok(r) => r,
        Err(_) => Err(HarpError::Protocol("no answer within 10 s".into())),
    }
}

/// How long a device that is not the site's WAN fetcher waits for its LAN
/// peers to have a chunk before it fetches over the WAN itself.
const LAN_PATIENCE: Duration = Duration::from_secs(10);

/// Asks LAN peers first; asks WAN peers only if this device is the site's
/// WAN fetcher (the smallest device ID among this site's connected
/// devices), or its LAN peers have not delivered for LAN_PATIENCE. So when
/// several devices of one office lack a file, one fetches it over the WAN
/// and the others take it from that one over the LAN, chunk by chunk as it
/// arrives.
async fn ask_nearest(runner: &Runner, req: &Request, route: &mut Route) -> Result<Option<Vec<u8>>> {
    loop {
        let sources = runner.sources();
        for s in sources.iter().filter(|s| s.lan) {
            match ask_within(&s.conn, req).await {
                Ok(Some(b)) => {
                    route.last_lan = std::time::Instant::now();
                    return Ok(Some(b));
                }
                Ok(None) => {}
                Err(e) => warn(&format!("from {}: {e}", s.device.short())),
            }
        }
        let lan: Vec<_> = sources.iter().filter(|s| s.lan).collect();
        let fetcher = lan.iter().all(|s| runner.me < s.device);
        if fetcher || route.wan_ok || route.last_lan.elapsed() > LAN_PATIENCE {
            route.wan_ok = true;
            for s in sources.iter().filter(|s| !s.lan) {
                match ask_within(&s.conn, req).await {
                    Ok(Some(b)) => return Ok(Some(b)),
                    Ok(None) => {}
                    Err(e) => warn(&format!("from {}: {e}", s.device.short())),
                }
            }
            if lan.is_empty() {
                return Ok(None); // nobody has it
            }
        }
        if sources.is_empty() {
            return Ok(None);
        }
        // A LAN peer is fetching it: wait for its copy.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn fetch_manifest(
    runner: &Runner,
    content: &[u8; 32],
    route: &mut Route,
) -> Result<Option<Manifest>> {
    let req = Request::Manifest { hash: hex(content) };
    for _ in 0..3 {
        let Some(bytes) = ask_nearest(runner, &req, route).await? else {
            return Ok(None);
        };
        let got: [u8; 32] = Sha3_256::digest(&bytes).into();
        if &got == content {
            return Ok(Some(Manifest::decode(&bytes)?));
        }
        warn("a peer sent a manifest that does not match its hash");
    }
    Ok(None)
}

async fn fetch_chunk(
    runner: &Runner,
    hash: &[u8; 32],
    route: &mut Route,
) -> Result<Option<Vec<u8>>> {
    let req = Request::Chunk { hash: hex(hash) };
    for _ in 0..3 {
        let Some(bytes) = ask_nearest(runner, &req, route).await? else {
            return Ok(None);
        };
        // Verified before use: a peer cannot slip in other bytes.
        if blake3::hash(&bytes).as_bytes() == hash {
            return Ok(Some(bytes));
        }
        warn("a peer sent a chunk that does not match its hash");
    }
    Ok(None)
}
