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
        let props = [("id", id_text.as_str()), ("name", name), ("v", "1")];
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

impl Drop for Discovery {
    fn drop(&mut self) {
        let _ = self.daemon.shutdown();
    }
}
