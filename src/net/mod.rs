//! The network: a QUIC endpoint (quinn) with mutual TLS bound to device
//! keys (`tls`), the trust list, and the peers this node knows.
//!
//! The owner's runtime runs the endpoint: it accepts connections from
//! trusted devices and dials trusted devices at their static addresses,
//! with exponential backoff (1 s doubling to 60 s). A device that is not
//! trusted fails in the TLS handshake, in both directions; untrusting a
//! device closes its live connection.
//!
//! On a new connection each side opens a unidirectional stream with its
//! `hello` (name and version vector). Each side then sends the entries the
//! other lacks, and from then on every entry the moment it is committed
//! (no polling). Streams start with a type byte: 1 hello, 2 entries
//! (docs/PROTOCOL.md).

pub mod schedule;
pub mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{HarpError, Result};
use crate::identity::DeviceId;

/// Largest frame on a harp/1 stream.
pub const MAX_FRAME: usize = 1024 * 1024;

/// How a peer became known.
#[derive(Debug, Clone, Default)]
pub struct Peer {
    /// Pinned by the user.
    pub trusted: bool,
    /// Static addresses given with `trust()`.
    pub addresses: Vec<SocketAddr>,
    /// Addresses found on the LAN by mDNS.
    pub discovered: Vec<SocketAddr>,
    /// Its name, from its hello.
    pub name: Option<String>,
    /// The live connection, if any.
    pub conn: Option<quinn::Connection>,
    /// Which side dialled it.
    pub dialler: Option<DeviceId>,
    /// Last connection error, for `peers()`.
    pub last_error: Option<String>,
    /// When to try dialling again, and the current backoff.
    pub retry_at: Option<Instant>,
    /// Current backoff.
    pub backoff: Duration,
    /// How many things this peer sent that were refused (malformed frames,
    /// bad entries, content that does not match its hash, ...).
    pub refused: u64,
    /// The latest of them (each reason once, newest last), for `peers()`.
    pub recent_refused: std::collections::VecDeque<String>,
    /// Entries it sent that were here already (harmless, and ignored).
    pub replayed: u64,
}

/// The network state shared by the runtime and the PHP thread.
#[derive(Default)]
pub struct Net {
    /// Trusted device IDs, read by the TLS verifiers.
    pub trusted: tls::Trusted,
    /// Every device we know of.
    pub peers: Mutex<HashMap<DeviceId, Peer>>,
    /// Wakes the dialler when trust changes.
    pub wake: tokio::sync::Notify,
}

/// The `hello` each side sends first.
#[derive(Debug, Serialize, Deserialize)]
pub struct Hello {
    /// Protocol version (2).
    pub v: u32,
    /// The sender's device name.
    pub name: String,
    /// Version 1's single version vector; unused since version 2.
    #[serde(default)]
    pub vv: Vec<(String, u64)>,
    /// Per folder shared with the receiver: (device ID text, highest seq
    /// held in that folder).
    #[serde(default)]
    pub folders: std::collections::BTreeMap<String, Vec<(String, u64)>>,
}

/// Stream type: a hello frame.
const STREAM_HELLO: u8 = 1;
/// Stream type: entry records (u32 length + record, until the end).
const STREAM_ENTRIES: u8 = 2;
/// Largest entry record accepted on the wire.
const MAX_RECORD: usize = crate::chain::entry::MAX_META + 4 + 128;
/// Stream type: a request (bidirectional): a JSON frame in, a status byte
/// (0 found, 1 not here, 2 error) and a length-prefixed body out.
const STREAM_REQUEST: u8 = 3;
/// Largest response body (a manifest of a 64 GiB file is ~36 MB).
const MAX_RESPONSE: usize = 64 * 1024 * 1024;
/// Entries handed to the engine per call when receiving.
const RECEIVE_BATCH: usize = 1000;
/// ... or fewer, once they hold this many bytes.
const RECEIVE_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Largest request frame (a request is a small JSON object).
const MAX_REQUEST: usize = 4096;
/// Largest error body in an answer.
const MAX_ERROR: usize = 4096;
/// How long a stream may keep us waiting for the next frame (or the rest of
/// one) before it is stopped: a peer that starts a frame and never finishes
/// it holds nothing for longer.
pub const STREAM_IDLE: Duration = Duration::from_secs(10);
/// Stream error codes (STOP_SENDING): unknown stream type, over a limit,
/// idle too long.
const STOP_UNKNOWN: u32 = 4;
const STOP_TOO_LARGE: u32 = 5;
const STOP_IDLE: u32 = 6;
/// Connection close code: the peer is not (or no longer) trusted.
const CLOSE_UNTRUSTED: quinn::VarInt = quinn::VarInt::from_u32(1);
/// Refusals logged per peer before the log thins out to every power of two,
/// so a flood of bad streams cannot flood the log.
const LOGGED_REFUSALS: u64 = 10;
/// Devices whose refused handshakes are counted for thinning the log;
/// past this many the counts start over.
const RECENT_HANDSHAKE_REFUSERS: usize = 1024;
/// Distinct refusal reasons kept per peer for `peers()`.
const RECENT_REFUSALS: usize = 16;
/// Entries per outgoing stream.
const SEND_BATCH: usize = 10_000;

/// What the network needs from the node's chain. Every call names the
/// peer: a folder's entries, manifests and chunks go to (and are taken
/// from) the devices it is shared with, and no other.
pub trait Ledger: Send + Sync + 'static {
    /// Per folder shared with `peer`: (author, highest seq) held.
    fn version_vectors(&self, peer: DeviceId) -> crate::engine::FolderVersions;
    /// Records of every entry `peer` lacks in the folders shared with it,
    /// parents first.
    fn entries_since(
        &self,
        peer: DeviceId,
        have: &crate::engine::PeerVersions,
    ) -> Result<Vec<Vec<u8>>>;
    /// Whether `folder` is shared with `peer` (checked for every push).
    fn shares(&self, folder: &str, peer: DeviceId) -> bool;
    /// Entries received from `from`.
    fn receive(&self, from: DeviceId, records: Vec<Vec<u8>>) -> Result<()>;
    /// Answers `from`'s request: Some(bytes), or None when not held here
    /// for it.
    fn serve(&self, from: DeviceId, req: &Request) -> Result<Option<Vec<u8>>>;
}

/// What a peer may ask for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "get", rename_all = "snake_case")]
pub enum Request {
    /// The manifest whose SHA3-256 is `hash` (hex).
    Manifest {
        /// Content hash, hex.
        hash: String,
    },
    /// The chunk whose BLAKE3 is `hash` (hex).
    Chunk {
        /// Chunk hash, hex.
        hash: String,
    },
}

/// A peer's answer to a request.
#[derive(Debug)]
pub enum Reply {
    /// The bytes (not yet checked against the hash asked for).
    Found(Vec<u8>),
    /// The peer does not hold it.
    NotHeld,
    /// The peer announced an answer of this many bytes, more than the
    /// request can need; it was not read.
    TooLarge(usize),
}

impl Request {
    /// What is asked for, for logs: `chunk <hash>` or `manifest <hash>`.
    pub fn describe(&self) -> String {
        match self {
            Request::Manifest { hash } => format!("manifest {hash}"),
            Request::Chunk { hash } => format!("chunk {hash}"),
        }
    }
}

/// Asks `conn` for something; an answer longer than `max` bytes is not
/// read (a chunk is never longer than its manifest says, a manifest never
/// longer than its file's size implies).
pub async fn ask(conn: &quinn::Connection, req: &Request, max: usize) -> Result<Reply> {
    let io = |e: String| HarpError::Protocol(format!("request: {e}"));
    let (mut s, mut r) = conn.open_bi().await.map_err(|e| io(e.to_string()))?;
    let body = serde_json::to_vec(req).map_err(|e| HarpError::Internal(e.to_string()))?;
    let mut buf = Vec::with_capacity(5 + body.len());
    buf.push(STREAM_REQUEST);
    buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
    buf.extend_from_slice(&body);
    s.write_all(&buf).await.map_err(|e| io(e.to_string()))?;
    s.finish().map_err(|e| io(e.to_string()))?;
    let mut head = [0u8; 5];
    r.read_exact(&mut head)
        .await
        .map_err(|e| io(e.to_string()))?;
    let n = match answer_len(head, max) {
        Ok(n) => n,
        Err(n) => {
            let _ = r.stop(quinn::VarInt::from_u32(STOP_TOO_LARGE));
            return Ok(Reply::TooLarge(n));
        }
    };
    let mut out = vec![0u8; n];
    r.read_exact(&mut out)
        .await
        .map_err(|e| io(e.to_string()))?;
    decode_answer(head[0], out)
}

/// The body length an answer's head (status byte + u32 BE length)
/// announces, if it may be read: at most `max` (and MAX_RESPONSE) for a
/// found answer, MAX_ERROR for anything else. Err(length) when longer.
pub fn answer_len(head: [u8; 5], max: usize) -> std::result::Result<usize, usize> {
    let n = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let limit = if head[0] == 0 {
        max.min(MAX_RESPONSE)
    } else {
        MAX_ERROR
    };
    if n > limit {
        Err(n)
    } else {
        Ok(n)
    }
}

/// What an answer's status byte and body mean: found, not held, or the
/// peer's message as an error.
pub fn decode_answer(status: u8, body: Vec<u8>) -> Result<Reply> {
    match status {
        0 => Ok(Reply::Found(body)),
        1 => Ok(Reply::NotHeld),
        _ => Err(HarpError::Protocol(format!(
            "request: {}",
            String::from_utf8_lossy(&body)
        ))),
    }
}

/// The body length a request's head (type byte 3 + u32 BE length)
/// announces; None for another type byte or a body over MAX_REQUEST.
pub fn request_len(head: [u8; 5]) -> Option<usize> {
    let n = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    (head[0] == STREAM_REQUEST && n <= MAX_REQUEST).then_some(n)
}

/// Decodes a request's JSON body.
pub fn decode_request(body: &[u8]) -> Result<Request> {
    serde_json::from_slice(body).map_err(|e| HarpError::Protocol(format!("malformed request: {e}")))
}

/// The length of the next record on an entries stream, from its u32 BE
/// prefix, refusing anything over MAX_RECORD.
pub fn record_len(prefix: [u8; 4]) -> Result<usize> {
    let n = u32::from_be_bytes(prefix) as usize;
    if n > MAX_RECORD {
        return Err(HarpError::Protocol(format!(
            "record of {n} bytes exceeds {MAX_RECORD}"
        )));
    }
    Ok(n)
}

/// Waits at most STREAM_IDLE for a read; what failed is named by `what`.
async fn idle<T, E: std::fmt::Display>(
    what: &str,
    read: impl std::future::Future<Output = std::result::Result<T, E>>,
) -> Result<T> {
    match tokio::time::timeout(STREAM_IDLE, read).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(HarpError::Protocol(format!("{what}: {e}"))),
        Err(_) => Err(HarpError::Protocol(format!(
            "{what}: nothing received for {} s; stream stopped",
            STREAM_IDLE.as_secs()
        ))),
    }
}

/// A connected peer to fetch from.
#[derive(Clone)]
pub struct Source {
    /// Its device ID.
    pub device: DeviceId,
    /// Whether it is on this site's LAN.
    pub lan: bool,
    /// The connection.
    pub conn: quinn::Connection,
}

/// How long a new connection waits for the peer's hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// Batches of new entry records, each with its folder, to push to the
/// connected peers the folder is shared with.
pub type Pushes = tokio::sync::broadcast::Sender<PushBatch>;
/// One commit's entries: (folder, record) each.
pub type PushBatch = Arc<Vec<(String, Vec<u8>)>>;

impl Net {
    /// Pins `device` with optional static addresses.
    pub fn trust(&self, device: DeviceId, addresses: Vec<SocketAddr>) {
        self.trusted.write().insert(device);
        let mut peers = self.peers.lock();
        let p = peers.entry(device).or_default();
        p.trusted = true;
        p.addresses = addresses;
        p.retry_at = None;
        p.backoff = Duration::ZERO;
        drop(peers);
        self.wake.notify_one();
    }

    /// Records a device found on the LAN; wakes the dialler if trusted.
    pub fn discovered(&self, device: DeviceId, name: Option<String>, addrs: Vec<SocketAddr>) {
        let mut peers = self.peers.lock();
        let p = peers.entry(device).or_default();
        if p.name.is_none() {
            p.name = name;
        }
        let changed = p.discovered != addrs;
        p.discovered = addrs;
        let trusted = p.trusted;
        drop(peers);
        if changed && trusted {
            self.wake.notify_one();
        }
    }

    /// Removes `device` from the trust list and drops its connection.
    ///
    /// The connection is closed but left in the map: `Runner::adopt` sees
    /// its own connection end, forgets it and reports `peer_lost`.
    pub fn untrust(&self, device: &DeviceId) {
        self.trusted.write().remove(device);
        if let Some(p) = self.peers.lock().get_mut(device) {
            p.trusted = false;
            if let Some(c) = &p.conn {
                c.close(CLOSE_UNTRUSTED, b"untrusted");
            }
        }
    }

    /// Closes the live connections to `devices`, to be dialled again: the
    /// new hellos say which folders each side now shares, and each sends
    /// what the other lacks.
    pub fn resync(&self, devices: &[DeviceId]) {
        let mut peers = self.peers.lock();
        for d in devices {
            if let Some(p) = peers.get_mut(d) {
                if let Some(c) = p.conn.as_ref() {
                    c.close(quinn::VarInt::from_u32(7), b"resync");
                }
                p.retry_at = None;
                p.backoff = Duration::ZERO;
            }
        }
        drop(peers);
        self.wake.notify_one();
    }

    /// Whether `device` is on the trust list right now.
    pub fn is_trusted(&self, device: &DeviceId) -> bool {
        self.trusted.read().contains(device)
    }

    /// Whether `device` is still trusted; if not, closes `conn`. Checked
    /// on every stream a connection carries (entries read, requests
    /// served, entries written), not only in the handshake: untrusting
    /// closes the connection, and this makes sure nothing slips through
    /// in between.
    pub fn still_trusted(&self, conn: &quinn::Connection, device: &DeviceId) -> bool {
        if self.is_trusted(device) {
            return true;
        }
        conn.close(CLOSE_UNTRUSTED, b"untrusted");
        false
    }

    /// Records that `device` sent something this node refused, and logs it
    /// (every one of the first few per peer, then every power of two).
    pub fn refuse(&self, device: &DeviceId, what: &str) {
        let (n, at) = {
            let mut peers = self.peers.lock();
            let Some(p) = peers.get_mut(device) else {
                crate::owner::warn(&format!("refused from {device}: {what}"));
                return;
            };
            let at = p
                .conn
                .as_ref()
                .map(|c| format!(" at {}", c.remote_address()))
                .unwrap_or_default();
            p.refused += 1;
            p.recent_refused.retain(|r| r != what);
            if p.recent_refused.len() >= RECENT_REFUSALS {
                p.recent_refused.pop_front();
            }
            p.recent_refused.push_back(what.to_string());
            (p.refused, at)
        };
        if n <= LOGGED_REFUSALS || n.is_power_of_two() {
            crate::owner::warn(&format!(
                "refused from {device}{at}: {what} ({n} refused from it so far)"
            ));
        }
    }

    /// Counts entries `device` sent that were here already.
    pub fn replayed(&self, device: &DeviceId, n: u64) {
        if let Some(p) = self.peers.lock().get_mut(device) {
            p.replayed += n;
        }
    }

    /// The peers as PHP sees them.
    pub fn peers_json(&self) -> Value {
        let peers = self.peers.lock();
        let mut list: Vec<(&DeviceId, &Peer)> = peers.iter().collect();
        list.sort_by_key(|(id, _)| **id);
        Value::Array(
            list.into_iter()
                .map(|(id, p)| {
                    let conn = p.conn.as_ref().filter(|c| c.close_reason().is_none());
                    let remote = conn.map(|c| c.remote_address());
                    let lan = remote.map(|a| p.is_lan(&a));
                    let stats = conn.map(|c| c.stats());
                    json!({
                        "device_id": id.to_string(),
                        "name": p.name,
                        "addresses": p.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                        "discovered": p.discovered.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                        "trusted": p.trusted,
                        "connected": conn.is_some(),
                        "remote": remote.map(|a| a.to_string()),
                        "lan": lan,
                        "rtt_ms": conn.map(|c| c.rtt().as_secs_f64() * 1000.0),
                        "bytes_in": stats.as_ref().map(|s| s.udp_rx.bytes).unwrap_or(0),
                        "bytes_out": stats.as_ref().map(|s| s.udp_tx.bytes).unwrap_or(0),
                        "last_error": p.last_error,
                        "refused": p.refused,
                        "last_refused": p.recent_refused.back(),
                        "recent_refused": p.recent_refused,
                        "replayed": p.replayed,
                    })
                })
                .collect(),
        )
    }
}

impl Peer {
    /// Whether this peer is on this site's LAN at `remote`: it was found
    /// there by mDNS (which only reaches the local link), or it is this
    /// machine. A peer reached at a static address is over the WAN, even at
    /// a private address (offices joined by a VPN are still far apart).
    pub fn is_lan(&self, remote: &SocketAddr) -> bool {
        remote.ip().is_loopback() || self.discovered.iter().any(|d| d.ip() == remote.ip())
    }
}

/// Writes a stream-type byte, one frame (u32 big-endian length + JSON),
/// and finishes the stream.
pub async fn send_frame<T: Serialize>(mut s: quinn::SendStream, v: &T) -> Result<()> {
    let body = serde_json::to_vec(v).map_err(|e| HarpError::Internal(e.to_string()))?;
    if body.len() > MAX_FRAME {
        return Err(HarpError::Protocol("frame too large".into()));
    }
    let io = |e: quinn::WriteError| HarpError::Protocol(format!("sending: {e}"));
    let mut buf = Vec::with_capacity(5 + body.len());
    buf.push(STREAM_HELLO);
    buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
    buf.extend_from_slice(&body);
    s.write_all(&buf).await.map_err(io)?;
    s.finish()
        .map_err(|e| HarpError::Protocol(format!("sending: {e}")))?;
    Ok(())
}

/// Reads one frame from a stream (after its type byte), refusing anything
/// over MAX_FRAME.
pub async fn recv_frame<T: DeserializeOwned>(mut r: quinn::RecvStream) -> Result<T> {
    let body = r
        .read_to_end(MAX_FRAME + 4)
        .await
        .map_err(|e| HarpError::Protocol(format!("receiving: {e}")))?;
    decode_frame(&body)
}

/// Decodes one frame (u32 big-endian length + JSON, after the stream-type
/// byte): the length must match the bytes and be at most MAX_FRAME.
pub fn decode_frame<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    if body.len() < 4 {
        return Err(HarpError::Protocol("truncated frame".into()));
    }
    let n = u32::from_be_bytes([body[0], body[1], body[2], body[3]]) as usize;
    if n > MAX_FRAME || body.len() != 4 + n {
        return Err(HarpError::Protocol(format!(
            "frame length {n} does not match the {} bytes received",
            body.len() - 4
        )));
    }
    serde_json::from_slice(&body[4..])
        .map_err(|e| HarpError::Protocol(format!("malformed frame: {e}")))
}

/// Reads a request frame: type byte, length, JSON body, each part within
/// STREAM_IDLE, the body at most MAX_REQUEST bytes.
async fn read_request(r: &mut quinn::RecvStream) -> Result<Vec<u8>> {
    let mut kind = [0u8; 1];
    idle("request", r.read_exact(&mut kind)).await?;
    if kind[0] != STREAM_REQUEST {
        let _ = r.stop(quinn::VarInt::from_u32(STOP_UNKNOWN));
        return Err(HarpError::Protocol(format!(
            "a bidirectional stream of unknown type {}; stopped",
            kind[0]
        )));
    }
    let mut len = [0u8; 4];
    if let Err(e) = idle("request: truncated length", r.read_exact(&mut len)).await {
        let _ = r.stop(quinn::VarInt::from_u32(STOP_IDLE));
        return Err(e);
    }
    let Some(n) = request_len([STREAM_REQUEST, len[0], len[1], len[2], len[3]]) else {
        let n = u32::from_be_bytes(len);
        let _ = r.stop(quinn::VarInt::from_u32(STOP_TOO_LARGE));
        return Err(HarpError::Protocol(format!(
            "request of {n} bytes exceeds {MAX_REQUEST}; stream stopped"
        )));
    };
    let mut body = vec![0u8; n];
    if let Err(e) = idle("request: truncated body", r.read_exact(&mut body)).await {
        let _ = r.stop(quinn::VarInt::from_u32(STOP_IDLE));
        return Err(e);
    }
    Ok(body)
}

/// What the runtime needs to run the network.
pub struct Runner {
    /// The shared state.
    pub net: Arc<Net>,
    /// Our identity for TLS.
    pub identity: Arc<tls::Identity>,
    /// Our device name, for hellos.
    pub name: String,
    /// Our device ID.
    pub me: DeviceId,
    /// The chain, to exchange entries with.
    pub ledger: Arc<dyn Ledger>,
    /// New entries to push.
    pub pushes: Pushes,
    /// Chooses which peer to ask for content, and measures them.
    pub scheduler: Arc<schedule::Scheduler>,
    /// Refused incoming handshakes, per device ID claimed, for thinning
    /// the log.
    pub handshake_refusals: Mutex<HashMap<Option<DeviceId>, u64>>,
}

/// Sends entry records on one new stream.
async fn send_entries(conn: &quinn::Connection, records: &[Vec<u8>]) -> Result<()> {
    let io = |e: String| HarpError::Protocol(format!("sending entries: {e}"));
    let mut s = conn.open_uni().await.map_err(|e| io(e.to_string()))?;
    let mut buf = Vec::with_capacity(1 + records.iter().map(|r| r.len() + 4).sum::<usize>());
    buf.push(STREAM_ENTRIES);
    for r in records {
        buf.extend_from_slice(&(r.len() as u32).to_be_bytes());
        buf.extend_from_slice(r);
    }
    s.write_all(&buf).await.map_err(|e| io(e.to_string()))?;
    s.finish().map_err(|e| io(e.to_string()))?;
    Ok(())
}

/// Whether a handshake failed because one side's TLS refused the other
/// (a certificate that is not the one expected or trusted), as opposed to
/// a peer that is not there: QUIC's crypto error codes, 0x100-0x1ff.
/// Some(true) when the other side refused, Some(false) when this side did.
fn tls_refusal(e: &quinn::ConnectionError) -> Option<bool> {
    let crypto = |c: quinn::TransportErrorCode| (0x100..0x200).contains(&u64::from(c));
    match e {
        quinn::ConnectionError::TransportError(t) if crypto(t.code) => Some(false),
        quinn::ConnectionError::ConnectionClosed(f) if crypto(f.error_code) => Some(true),
        _ => None,
    }
}

fn parse_vv(vv: &[(String, u64)]) -> HashMap<DeviceId, u64> {
    vv.iter()
        .filter_map(|(d, s)| DeviceId::parse(d).ok().map(|d| (d, *s)))
        .collect()
}

/// What the runtime wants to hear about peers: ("peer_found" or
/// "peer_lost", device).
pub type OnChange = Arc<dyn Fn(&str, DeviceId) + Send + Sync>;

impl Runner {
    /// Registers a fresh connection: replaces any older one to the same
    /// device, exchanges hellos, and forgets it when it closes.
    ///
    /// When both sides dial at once there are two connections; both sides
    /// keep the one dialled by the smaller device ID and close the other,
    /// so they agree without talking about it.
    async fn adopt(self: Arc<Self>, conn: quinn::Connection, outgoing: bool, on_change: OnChange) {
        let Some(device) = tls::peer_device(&conn) else {
            conn.close(quinn::VarInt::from_u32(2), b"no identity");
            return;
        };
        // The handshake checked trust; check again, as trust may have
        // changed since (and a resumed handshake would not have checked).
        if !self.net.still_trusted(&conn, &device) {
            crate::owner::warn(&format!(
                "connection from {device} at {} closed: it is not trusted",
                conn.remote_address()
            ));
            return;
        }
        // Subscribe before saying what we have, so nothing committed from
        // now on is missed.
        let pushes = self.pushes.subscribe();
        let hello = Hello {
            v: 2,
            name: self.name.clone(),
            vv: Vec::new(),
            folders: self
                .ledger
                .version_vectors(device)
                .into_iter()
                .map(|(f, vv)| (f, vv.into_iter().map(|(d, s)| (d.to_string(), s)).collect()))
                .collect(),
        };
        if let Ok(s) = conn.open_uni().await {
            let _ = send_frame(s, &hello).await;
        }
        let (peer_vv_tx, peer_vv_rx) = tokio::sync::oneshot::channel();
        let reader = tokio::spawn(self.clone().read_streams(conn.clone(), device, peer_vv_tx));
        // The peer counts as connected once its hello arrives: a TLS 1.3
        // client completes its handshake before the server has checked the
        // client's certificate, so until then the server may still refuse us.
        let have = tokio::select! {
            got = tokio::time::timeout(HELLO_TIMEOUT, peer_vv_rx) => match got {
                Ok(Ok(have)) => Some(have),
                _ => None,
            },
            _ = conn.closed() => None,
        };
        let Some(have) = have else {
            reader.abort();
            let why = match conn.close_reason() {
                Some(reason) => reason.to_string(),
                None => {
                    conn.close(quinn::VarInt::from_u32(6), b"no hello");
                    format!("no hello within {} s", HELLO_TIMEOUT.as_secs())
                }
            };
            if let Some(p) = self.net.peers.lock().get_mut(&device) {
                p.last_error = Some(why);
            }
            return;
        };
        let dialler = if outgoing { self.me } else { device };
        let preferred = dialler == self.me.min(device);
        {
            let mut peers = self.net.peers.lock();
            // Under the peers lock, as `Net::untrust` closes what is in the
            // map under it: untrusted before this point, the connection is
            // closed here; after it, `untrust` finds and closes it.
            if !self.net.still_trusted(&conn, &device) {
                reader.abort();
                return;
            }
            let p = peers.entry(device).or_default();
            let live = p.conn.as_ref().filter(|c| c.close_reason().is_none());
            // Two connections dialled from opposite sides at once: both
            // sides keep the one the smaller device ID dialled. One dialled
            // again by the side that dialled the live one replaces it: that
            // side restarted, or lost it, and the old one would otherwise
            // hold the new one off until its idle timeout (30 s).
            if live.is_some() && !preferred && p.dialler != Some(dialler) {
                reader.abort();
                conn.close(quinn::VarInt::from_u32(3), b"duplicate");
                return;
            }
            if let Some(old) = p.conn.replace(conn.clone()) {
                old.close(quinn::VarInt::from_u32(3), b"duplicate");
            }
            p.dialler = Some(dialler);
            p.last_error = None;
            p.backoff = Duration::ZERO;
        }
        on_change("peer_found", device);
        let writer = tokio::spawn(
            self.clone()
                .write_entries(conn.clone(), device, have, pushes),
        );
        let server = tokio::spawn(self.clone().serve_requests(conn.clone(), device));
        let reason = conn.closed().await;
        reader.abort();
        writer.abort();
        server.abort();
        let mut peers = self.net.peers.lock();
        if let Some(p) = peers.get_mut(&device) {
            if p.conn
                .as_ref()
                .is_some_and(|c| c.stable_id() == conn.stable_id())
            {
                p.conn = None;
                p.last_error = Some(reason.to_string());
                drop(peers);
                on_change("peer_lost", device);
            }
        }
    }

    /// Handles the peer's streams: its hello, then entry streams.
    async fn read_streams(
        self: Arc<Self>,
        conn: quinn::Connection,
        device: DeviceId,
        peer_vv: tokio::sync::oneshot::Sender<crate::engine::PeerVersions>,
    ) {
        let mut peer_vv = Some(peer_vv);
        while let Ok(mut r) = conn.accept_uni().await {
            if !self.net.still_trusted(&conn, &device) {
                return;
            }
            let mut kind = [0u8; 1];
            let outcome = match idle("stream type", r.read_exact(&mut kind)).await {
                Err(e) => Err(e),
                Ok(()) => match kind[0] {
                    STREAM_HELLO => {
                        match idle("hello", async { recv_frame::<Hello>(r).await }).await {
                            Ok(h) => {
                                if let Some(p) = self.net.peers.lock().get_mut(&device) {
                                    p.name = Some(h.name.clone());
                                }
                                if let Some(tx) = peer_vv.take() {
                                    let _ = tx.send(
                                        h.folders
                                            .iter()
                                            .map(|(f, vv)| (f.clone(), parse_vv(vv)))
                                            .collect(),
                                    );
                                }
                                Ok(())
                            }
                            Err(e) => Err(e),
                        }
                    }
                    STREAM_ENTRIES => self.read_entries(&conn, r, device).await,
                    other => {
                        let _ = r.stop(quinn::VarInt::from_u32(STOP_UNKNOWN));
                        Err(HarpError::Protocol(format!(
                            "a stream of unknown type {other}; stopped"
                        )))
                    }
                },
            };
            match outcome {
                Ok(()) => {}
                // What the peer sent: refused, counted and logged.
                Err(HarpError::Protocol(m)) => self.net.refuse(&device, &m),
                // Our own trouble (a full disk, say): logged.
                Err(e) => crate::owner::warn(&format!("entries from {}: {e}", device.short())),
            }
        }
    }

    /// Reads an entries stream, handing its records to the engine in
    /// batches of bounded size. Errors in what the peer sent are
    /// `HarpError::Protocol`.
    async fn read_entries(
        &self,
        conn: &quinn::Connection,
        mut r: quinn::RecvStream,
        device: DeviceId,
    ) -> Result<()> {
        let io = |e: String| HarpError::Protocol(e);
        let mut batch = Vec::new();
        let mut bytes = 0;
        loop {
            let mut len = [0u8; 4];
            match tokio::time::timeout(STREAM_IDLE, r.read_exact(&mut len)).await {
                Ok(Ok(())) => {}
                Ok(Err(quinn::ReadExactError::FinishedEarly(0))) => break,
                Ok(Err(e)) => return Err(io(format!("entries: reading a record length: {e}"))),
                Err(_) => {
                    let _ = r.stop(quinn::VarInt::from_u32(STOP_IDLE));
                    return Err(io(format!(
                        "entries: nothing received for {} s; stream stopped",
                        STREAM_IDLE.as_secs()
                    )));
                }
            }
            let n = match record_len(len) {
                Ok(n) => n,
                Err(e) => {
                    let _ = r.stop(quinn::VarInt::from_u32(STOP_TOO_LARGE));
                    return Err(io(format!("entries: {e}; stream stopped")));
                }
            };
            let mut rec = vec![0u8; n];
            if let Err(e) = idle("entries: truncated record", r.read_exact(&mut rec)).await {
                let _ = r.stop(quinn::VarInt::from_u32(STOP_IDLE));
                return Err(e);
            }
            bytes += n;
            batch.push(rec);
            if batch.len() >= RECEIVE_BATCH || bytes >= RECEIVE_BATCH_BYTES {
                self.hand_over(conn, device, std::mem::take(&mut batch))
                    .await?;
                bytes = 0;
            }
        }
        if !batch.is_empty() {
            self.hand_over(conn, device, batch).await?;
        }
        Ok(())
    }

    async fn hand_over(
        &self,
        conn: &quinn::Connection,
        device: DeviceId,
        batch: Vec<Vec<u8>>,
    ) -> Result<()> {
        if !self.net.still_trusted(conn, &device) {
            return Err(HarpError::UntrustedPeer {
                device: device.to_string(),
                detail: format!("{} entries it sent were dropped", batch.len()),
            });
        }
        let ledger = self.ledger.clone();
        tokio::task::spawn_blocking(move || ledger.receive(device, batch))
            .await
            .map_err(|e| HarpError::Internal(format!("receiving entries: {e}")))?
    }

    /// Sends what the peer lacks, then every new entry as it is committed.
    async fn write_entries(
        self: Arc<Self>,
        conn: quinn::Connection,
        device: DeviceId,
        have: crate::engine::PeerVersions,
        mut pushes: tokio::sync::broadcast::Receiver<PushBatch>,
    ) {
        let ledger = self.ledger.clone();
        // The folders the peer syncs (its hello lists them): nothing else
        // is sent, now or in pushes; a folder it adds later reconnects.
        let takes: std::collections::HashSet<String> = have.keys().cloned().collect();
        let missing =
            match tokio::task::spawn_blocking(move || ledger.entries_since(device, &have)).await {
                Ok(Ok(m)) => m,
                _ => Vec::new(),
            };
        for part in missing.chunks(SEND_BATCH) {
            if !self.net.still_trusted(&conn, &device) {
                return;
            }
            if let Err(e) = send_entries(&conn, part).await {
                crate::owner::warn(&format!("to {}: {e}", device.short()));
                return;
            }
        }
        loop {
            match pushes.recv().await {
                Ok(batch) => {
                    if !self.net.still_trusted(&conn, &device) {
                        return;
                    }
                    // Only the folders shared with this peer, checked now:
                    // unsharing takes effect with the next push.
                    let mut shared: HashMap<&str, bool> = HashMap::new();
                    let records: Vec<Vec<u8>> = batch
                        .iter()
                        .filter(|(f, _)| {
                            takes.contains(f.as_str())
                                && *shared
                                    .entry(f.as_str())
                                    .or_insert_with(|| self.ledger.shares(f, device))
                        })
                        .map(|(_, r)| r.clone())
                        .collect();
                    if records.is_empty() {
                        continue;
                    }
                    if send_entries(&conn, &records).await.is_err() {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    // Fell behind: reconnecting resends what is missing.
                    conn.close(quinn::VarInt::from_u32(7), b"resync");
                    return;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// Answers the peer's requests, each on its own task. Quinn bounds how
    /// many are open at once (`tls::MAX_BIDI_STREAMS`); each is read within
    /// STREAM_IDLE and is at most MAX_REQUEST bytes.
    async fn serve_requests(self: Arc<Self>, conn: quinn::Connection, device: DeviceId) {
        while let Ok((mut s, mut r)) = conn.accept_bi().await {
            if !self.net.still_trusted(&conn, &device) {
                return;
            }
            let ledger = self.ledger.clone();
            let net = self.net.clone();
            let conn = conn.clone();
            tokio::spawn(async move {
                let body = match read_request(&mut r).await {
                    Ok(b) => b,
                    Err(e) => {
                        net.refuse(&device, &e.to_string());
                        return;
                    }
                };
                let answer = match decode_request(&body) {
                    Ok(_) if !net.still_trusted(&conn, &device) => return,
                    Ok(req) => tokio::task::spawn_blocking(move || ledger.serve(device, &req))
                        .await
                        .unwrap_or_else(|e| Err(HarpError::Internal(e.to_string()))),
                    Err(e) => {
                        net.refuse(&device, &e.to_string());
                        Err(e)
                    }
                };
                let (status, bytes) = match answer {
                    Ok(Some(b)) => (0u8, b),
                    Ok(None) => (1, Vec::new()),
                    Err(e) => {
                        let mut m = e.to_string().into_bytes();
                        m.truncate(MAX_ERROR);
                        (2, m)
                    }
                };
                // Serving took a while: not a byte to a device untrusted
                // meanwhile.
                if !net.still_trusted(&conn, &device) {
                    return;
                }
                let mut out = Vec::with_capacity(5 + bytes.len());
                out.push(status);
                out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
                out.extend_from_slice(&bytes);
                let _ = s.write_all(&out).await;
                let _ = s.finish();
            });
        }
    }

    /// Connected peers, nearest first (LAN before WAN, then by RTT).
    pub fn sources(&self) -> Vec<Source> {
        let peers = self.net.peers.lock();
        let mut v: Vec<Source> = peers
            .iter()
            .filter_map(|(id, p)| {
                p.conn
                    .as_ref()
                    .filter(|c| c.close_reason().is_none())
                    .map(|c| Source {
                        device: *id,
                        lan: p.is_lan(&c.remote_address()),
                        conn: c.clone(),
                    })
            })
            .collect();
        v.sort_by_key(|s| (!s.lan, s.conn.rtt()));
        v
    }

    /// Accepts incoming connections until the endpoint closes.
    ///
    /// Each connection gets a server configuration of its own, whose
    /// verifier records the device ID its certificate names: a refused
    /// handshake is logged with the remote address and that ID, so an
    /// admin can tell whom to trust.
    pub async fn accept(self: Arc<Self>, ep: quinn::Endpoint, on_change: OnChange) -> Result<()> {
        while let Some(incoming) = ep.accept().await {
            let me = self.clone();
            let cb = on_change.clone();
            tokio::spawn(async move {
                let remote = incoming.remote_address();
                let (cfg, claimed) =
                    match tls::server_config_claimed(&me.identity, me.net.trusted.clone()) {
                        Ok(c) => c,
                        Err(e) => {
                            incoming.refuse();
                            crate::owner::warn(&format!(
                                "incoming connection from {remote} refused: {e}"
                            ));
                            return;
                        }
                    };
                let outcome = match incoming.accept_with(Arc::new(cfg)) {
                    Ok(connecting) => connecting.await,
                    Err(e) => Err(e),
                };
                match outcome {
                    Ok(conn) => me.adopt(conn, false, cb).await,
                    // An untrusted device ends here, refused in the handshake.
                    Err(e) => {
                        let claimed = *claimed.lock();
                        me.handshake_refused(remote, claimed, &e.to_string());
                    }
                }
            });
        }
        Ok(())
    }

    /// Logs a refused incoming handshake: the remote address, the error,
    /// and the device ID the certificate named (unproven: the handshake
    /// stopped before the peer showed it holds the key). Thinned per
    /// device like `Net::refuse`, so a flood of handshakes cannot flood
    /// the log.
    fn handshake_refused(&self, remote: SocketAddr, claimed: Option<DeviceId>, e: &str) {
        let who = match claimed {
            Some(d) if self.net.is_trusted(&d) => {
                format!("; its certificate names device {d}, which is trusted")
            }
            Some(d) => format!(
                "; its certificate names device {d}, which is not trusted here \
                 (if it is yours, check that ID on that device, then trust it)"
            ),
            None => "; it presented no usable certificate".to_string(),
        };
        let n = {
            let mut counts = self.handshake_refusals.lock();
            if counts.len() >= RECENT_HANDSHAKE_REFUSERS {
                counts.clear();
            }
            let n = counts.entry(claimed).or_insert(0);
            *n += 1;
            *n
        };
        if n <= LOGGED_REFUSALS || n.is_power_of_two() {
            crate::owner::warn(&format!(
                "incoming connection from {remote} refused in the handshake: {e}{who} \
                 ({n} refused from it so far)"
            ));
        }
    }

    /// Logs a handshake refused while dialling `device` at `addr` (by
    /// either side: whoever answers there is not that device, or it does
    /// not trust this one), thinned like `handshake_refused`. A peer that
    /// is merely unreachable is not logged (see `last_error` in peers()).
    fn dial_refused(&self, device: DeviceId, addr: SocketAddr, by_them: bool, e: &str) {
        let n = {
            let mut counts = self.handshake_refusals.lock();
            if counts.len() >= RECENT_HANDSHAKE_REFUSERS {
                counts.clear();
            }
            let n = counts.entry(Some(device)).or_insert(0);
            *n += 1;
            *n
        };
        if n <= LOGGED_REFUSALS || n.is_power_of_two() {
            let hint = if by_them {
                format!(
                    "it refused this device: if it is that device, trust {} there",
                    self.me
                )
            } else {
                "whoever answers there is not that device, or did not prove it".to_string()
            };
            crate::owner::warn(&format!(
                "dialling device {device} at {addr}: refused in the handshake: {e}; \
                 {hint} ({n} refused so far)"
            ));
        }
    }

    /// Dials trusted devices that have static addresses and no connection.
    pub async fn dial(self: Arc<Self>, ep: quinn::Endpoint, on_change: OnChange) -> Result<()> {
        loop {
            let now = Instant::now();
            let due: Vec<(DeviceId, Vec<SocketAddr>)> = {
                let mut peers = self.net.peers.lock();
                peers
                    .iter_mut()
                    .filter(|(_, p)| {
                        p.trusted
                            && !(p.addresses.is_empty() && p.discovered.is_empty())
                            && p.conn.as_ref().is_none_or(|c| c.close_reason().is_some())
                            && p.retry_at.is_none_or(|t| t <= now)
                    })
                    .map(|(id, p)| {
                        p.backoff =
                            (p.backoff * 2).clamp(Duration::from_secs(1), Duration::from_secs(60));
                        p.retry_at = Some(now + p.backoff);
                        // LAN addresses first: the nearest path wins.
                        let mut addrs = p.discovered.clone();
                        addrs.extend(p.addresses.iter().copied());
                        (*id, addrs)
                    })
                    .collect()
            };
            for (device, addrs) in due {
                let me = self.clone();
                let ep = ep.clone();
                let cb = on_change.clone();
                tokio::spawn(async move {
                    let mut last = String::new();
                    for addr in addrs {
                        let cfg = match tls::client_config(
                            &me.identity,
                            me.net.trusted.clone(),
                            device,
                        ) {
                            Ok(c) => c,
                            Err(e) => {
                                last = e.to_string();
                                break;
                            }
                        };
                        match ep.connect_with(cfg, addr, "harp") {
                            Ok(connecting) => match connecting.await {
                                Ok(conn) => {
                                    me.adopt(conn, true, cb).await;
                                    return;
                                }
                                Err(e) => {
                                    if let Some(by_them) = tls_refusal(&e) {
                                        me.dial_refused(device, addr, by_them, &e.to_string());
                                    }
                                    last = format!("{addr}: {e}");
                                }
                            },
                            Err(e) => last = format!("{addr}: {e}"),
                        }
                    }
                    if let Some(p) = me.net.peers.lock().get_mut(&device) {
                        p.last_error = Some(last);
                    }
                });
            }
            tokio::select! {
                _ = self.net.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }
}

#[cfg(test)]
mod frame_tests {
    use super::*;

    fn frame(json: &[u8]) -> Vec<u8> {
        let mut b = (json.len() as u32).to_be_bytes().to_vec();
        b.extend_from_slice(json);
        b
    }

    #[test]
    fn frames_decode_strictly() {
        let h: Hello = decode_frame(&frame(br#"{"v":1,"name":"a","vv":[]}"#)).unwrap();
        assert_eq!((h.v, h.name.as_str()), (1, "a"));
        assert!(decode_frame::<Hello>(b"\0\0").is_err());
        let mut long = frame(br#"{"v":1,"name":"a"}"#);
        long.push(b' ');
        assert!(decode_frame::<Hello>(&long).is_err());
        assert!(decode_frame::<Hello>(&frame(b"{")).is_err());
    }

    #[test]
    fn request_and_answer_heads_are_bounded() {
        assert!(matches!(
            decode_request(br#"{"get":"chunk","hash":"ab"}"#),
            Ok(Request::Chunk { .. })
        ));
        assert!(decode_request(br#"{"get":"secrets"}"#).is_err());
        let n = (MAX_REQUEST as u32).to_be_bytes();
        assert_eq!(request_len([3, n[0], n[1], n[2], n[3]]), Some(MAX_REQUEST));
        let n = (MAX_REQUEST as u32 + 1).to_be_bytes();
        assert_eq!(request_len([3, n[0], n[1], n[2], n[3]]), None);
        assert_eq!(request_len([2, 0, 0, 0, 1]), None);
        assert_eq!(request_len([3, 0xff, 0xff, 0xff, 0xff]), None);
        // A found answer is bounded by what was asked, an error by MAX_ERROR.
        assert_eq!(answer_len([0, 0, 0, 0x10, 0], 4096), Ok(4096));
        assert_eq!(answer_len([0, 0, 0, 0x10, 1], 4096), Err(4097));
        assert_eq!(
            answer_len([0, 0xff, 0xff, 0xff, 0xff], usize::MAX),
            Err(u32::MAX as usize)
        );
        assert!(answer_len([2, 0, 0, 0x10, 1], usize::MAX).is_err());
        assert!(matches!(decode_answer(0, b"x".to_vec()), Ok(Reply::Found(b)) if b == b"x"));
        assert!(matches!(decode_answer(1, Vec::new()), Ok(Reply::NotHeld)));
        assert!(decode_answer(2, b"nope".to_vec()).is_err());
        assert!(decode_answer(9, Vec::new()).is_err());
        assert!(record_len((MAX_RECORD as u32).to_be_bytes()).is_ok());
        assert!(record_len((MAX_RECORD as u32 + 1).to_be_bytes()).is_err());
    }
}
