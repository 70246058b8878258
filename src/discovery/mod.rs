//! LAN discovery: mDNS (DNS-SD) service `_harp._udp.local.`.
//!
//! Each running node announces one instance named by its device ID (without
//! dashes) on the QUIC port, with TXT properties `id` (device ID, text form),
//! `name` and `v` (protocol version), and browses for the others. What it
//! finds goes into the peer table as LAN addresses: trusted devices are
//! dialled there first; untrusted ones are only listed by `peers()`.
//! mdns-sd runs its own thread, started with the runtime, never in MINIT.

use std::net::SocketAddr;
use std::sync::Arc;

use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};

use crate::error::{HarpError, Result};
use crate::identity::DeviceId;
use crate::net::Net;

/// The DNS-SD service type.
pub const SERVICE: &str = "_harp._udp.local.";

/// A running announcement and browser.
pub struct Discovery {
    daemon: ServiceDaemon,
}

impl Discovery {
    /// Announces this device on `port` and starts browsing. Found devices
    /// are recorded in `net`.
    pub fn start(net: Arc<Net>, me: DeviceId, name: &str, port: u16) -> Result<Self> {
        let e = |x: mdns_sd::Error| {
            HarpError::Config(format!(
                "mDNS: {x}; turn it off with the 'mdns' option if this network has none"
            ))
        };
        let daemon = ServiceDaemon::new().map_err(e)?;
        let id_text = me.to_string();
        let instance: String = id_text.chars().filter(|c| *c != '-').collect();
        let host = format!(
            "{}.local.",
            &instance[..16.min(instance.len())].to_ascii_lowercase()
        );
        let props = [("id", id_text.as_str()), ("name", name), ("v", "2")];
        let info = ServiceInfo::new(SERVICE, &instance, &host, "", port, &props[..])
            .map_err(e)?
            .enable_addr_auto();
        daemon.register(info).map_err(e)?;
        let rx = daemon.browse(SERVICE).map_err(e)?;
        std::thread::Builder::new()
            .name("harp-mdns".into())
            .spawn(move || {
                // Ends when the daemon shuts down and the channel closes.
                while let Ok(ev) = rx.recv() {
                    if let ServiceEvent::ServiceResolved(r) = ev {
                        let Some(id) = r
                            .txt_properties
                            .get_property_val_str("id")
                            .and_then(|t| DeviceId::parse(t).ok())
                        else {
                            continue;
                        };
                        if id == me {
                            continue;
                        }
                        let addrs: Vec<SocketAddr> = r
                            .addresses
                            .iter()
                            .map(|a| SocketAddr::new(a.to_ip_addr(), r.port))
                            .filter(dialable)
                            .collect();
                        let name = r
                            .txt_properties
                            .get_property_val_str("name")
                            .map(str::to_string);
                        net.discovered(id, name, addrs);
                    }
                }
            })
            .map_err(|x| HarpError::Internal(format!("cannot start the mDNS thread: {x}")))?;
        Ok(Discovery { daemon })
    }
}

/// An IPv6 link-local address comes without the interface it belongs to,
/// so it cannot be dialled; every other address can.
fn dialable(a: &SocketAddr) -> bool {
    match a.ip() {
        std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
        std::net::IpAddr::V4(_) => true,
    }
}

impl Drop for Discovery {
    fn drop(&mut self) {
        let _ = self.daemon.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_ipv6_is_not_dialable() {
        let ok = |s: &str| dialable(&s.parse().unwrap());
        assert!(ok("10.0.0.2:4433"));
        assert!(ok("[2001:db8::1]:4433"));
        assert!(!ok("[fe80::ac60:ccff:fe34:78d6]:4433"));
    }
}
