//! The network: a QUIC endpoint (quinn) with mutual TLS bound to device
//! keys (`tls`), the trust list, and the peers this node knows.
//!
//! The owner's runtime runs the endpoint: it accepts connections from
//! trusted devices and dials trusted devices at their static addresses,
//! with exponential backoff (1 s doubling to 60 s). A device that is not
//! trusted fails in the TLS handshake, in both directions; untrusting a
//! device closes its live connection.
//!
//! On a new connection each side sends one `hello` frame on a
//! unidirectional stream (docs/PROTOCOL.md). Entry exchange and chunk
//! transfer build on these connections.

pub mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
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
    /// Last connection error, for `peers()`.
    pub last_error: Option<String>,
    /// When to try dialling again, and the current backoff.
    pub retry_at: Option<Instant>,
    /// Current backoff.
    pub backoff: Duration,
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
    /// Protocol version (1).
    pub v: u32,
    /// The sender's device name.
    pub name: String,
}

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
    pub fn untrust(&self, device: &DeviceId) {
        self.trusted.write().remove(device);
        if let Some(p) = self.peers.lock().get_mut(device) {
            p.trusted = false;
            if let Some(c) = p.conn.take() {
                c.close(quinn::VarInt::from_u32(1), b"untrusted");
            }
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
                    let stats = conn.map(|c| c.stats());
                    json!({
                        "device_id": id.to_string(),
                        "name": p.name,
                        "addresses": p.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                        "discovered": p.discovered.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                        "trusted": p.trusted,
                        "connected": conn.is_some(),
                        "remote": remote.map(|a| a.to_string()),
                        "lan": remote.map(|a| is_lan(&a)),
                        "rtt_ms": conn.map(|c| c.rtt().as_secs_f64() * 1000.0),
                        "bytes_in": stats.as_ref().map(|s| s.udp_rx.bytes).unwrap_or(0),
                        "bytes_out": stats.as_ref().map(|s| s.udp_tx.bytes).unwrap_or(0),
                        "last_error": p.last_error,
                    })
                })
                .collect(),
        )
    }
}

/// Whether an address is on this site: loopback, private or link-local.
pub fn is_lan(a: &SocketAddr) -> bool {
    match a.ip() {
        std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Writes one frame (u32 big-endian length + JSON) and finishes the stream.
pub async fn send_frame<T: Serialize>(mut s: quinn::SendStream, v: &T) -> Result<()> {
    let body = serde_json::to_vec(v).map_err(|e| HarpError::Internal(e.to_string()))?;
    if body.len() > MAX_FRAME {
        return Err(HarpError::Protocol("frame too large".into()));
    }
    let io = |e: quinn::WriteError| HarpError::Protocol(format!("sending: {e}"));
    let mut buf = Vec::with_capacity(4 + body.len());
    buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
    buf.extend_from_slice(&body);
    s.write_all(&buf).await.map_err(io)?;
    s.finish()
        .map_err(|e| HarpError::Protocol(format!("sending: {e}")))?;
    Ok(())
}

/// Reads one frame from a stream, refusing anything over MAX_FRAME.
pub async fn recv_frame<T: for<'de> Deserialize<'de>>(mut r: quinn::RecvStream) -> Result<T> {
    let body = r
        .read_to_end(MAX_FRAME + 4)
        .await
        .map_err(|e| HarpError::Protocol(format!("receiving: {e}")))?;
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
        let dialler = if outgoing { self.me } else { device };
        let preferred = dialler == self.me.min(device);
        {
            let mut peers = self.net.peers.lock();
            let p = peers.entry(device).or_default();
            let live = p.conn.as_ref().filter(|c| c.close_reason().is_none());
            if live.is_some() && !preferred {
                conn.close(quinn::VarInt::from_u32(3), b"duplicate");
                return;
            }
            if let Some(old) = p.conn.replace(conn.clone()) {
                old.close(quinn::VarInt::from_u32(3), b"duplicate");
            }
            p.last_error = None;
            p.backoff = Duration::ZERO;
        }
        on_change("peer_found", device);
        let hello = Hello {
            v: 1,
            name: self.name.clone(),
        };
        if let Ok(s) = conn.open_uni().await {
            let _ = send_frame(s, &hello).await;
        }
        // Their hello, with a deadline: a silent peer is still connected.
        if let Ok(Ok(r)) = tokio::time::timeout(Duration::from_secs(10), conn.accept_uni()).await {
            match recv_frame::<Hello>(r).await {
                Ok(h) => {
                    if let Some(p) = self.net.peers.lock().get_mut(&device) {
                        p.name = Some(h.name);
                    }
                }
                Err(e) => crate::owner::warn(&format!("hello from {}: {e}", device.short())),
            }
        }
        let reason = conn.closed().await;
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

    /// Accepts incoming connections until the endpoint closes.
    pub async fn accept(self: Arc<Self>, ep: quinn::Endpoint, on_change: OnChange) -> Result<()> {
        while let Some(incoming) = ep.accept().await {
            let me = self.clone();
            let cb = on_change.clone();
            tokio::spawn(async move {
                match incoming.await {
                    Ok(conn) => me.adopt(conn, false, cb).await,
                    // An untrusted device ends here, refused in the handshake.
                    Err(e) => crate::owner::warn(&format!("incoming connection refused: {e}")),
                }
            });
        }
        Ok(())
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
                                Err(e) => last = format!("{addr}: {e}"),
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
