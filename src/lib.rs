//! Harp: keeps folders identical across trusted devices, peer to peer.
//!
//! This crate is both the PHP extension (`harp.so`, with the `php`
//! feature) and its PHP-free core, which `cargo test` builds and tests
//! without PHP. Where things live:
//!
//! | module      | owns                                                       |
//! |-------------|------------------------------------------------------------|
//! | `identity`  | the device key and the device ID's text form               |
//! | `chain`     | the hash chain link                                        |
//! | `codec`     | the bounds-checked reader the binary formats share          |
//! | `paths`     | what a synced path may look like                           |
//! | `manifest`  | content-defined chunks (FastCDC + BLAKE3) of a file         |
//! | `outbox`    | the durable file through which hooks notify the owner      |
//! | `store`     | the owner's embedded database (redb)                       |
//! | `control`   | the local control socket between clients and the owner     |
//! | `owner`     | the owner lock, the runtime thread, intake of the outbox   |
//! | `client`    | the thin client hooks use                                  |
//! | `engine`    | notifies and scans become entries; history, verify, apply  |
//! | `net`       | QUIC with mutual TLS, peers, entry exchange, requests      |
//! | `discovery` | mDNS announce and browse                                   |
//! | `php`       | the PHP bindings (only with the `php` feature)             |
//!
//! See `docs/` for the formats and the process model.

pub mod chain;
pub mod client;
pub mod codec;
pub mod control;
pub mod discovery;
pub mod engine;
pub mod error;
pub mod fsutil;
pub mod identity;
pub mod manifest;
pub mod net;
pub mod outbox;
pub mod owner;
pub mod paths;
pub mod store;

#[cfg(feature = "php")]
pub mod php;

pub use error::{HarpError, Result};

/// The extension's version, as `php --ri harp` shows it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
