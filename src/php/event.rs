//! `Harp\Event`: something that happened, as `Node::poll` returns it.

use ext_php_rs::prelude::*;

use crate::owner;

/// An event from the node. Read-only properties: `kind` (`local_change`;
/// with sync also `file_updated`, `file_deleted`, `conflict`, `peer_found`,
/// `peer_lost`; with the `place_gate` option `place` and `placed`),
/// `folderId`, `path`, `deviceId`, `hash` (hex), `seq` (for
/// `local_change`, the change's number in the store; for `place` and
/// `placed`, the request's token for `Node::placeAnswer`) and `time`
/// (milliseconds since the Unix epoch). A property the event does not carry
/// is `''` (strings) or `0` (integers).
#[php_class]
#[php(flags = ext_php_rs::flags::ClassFlags::Final)]
#[php(name = "Harp\\Event")]
#[derive(Default)]
pub struct Event {
    inner: Option<owner::Event>,
}

impl From<owner::Event> for Event {
    fn from(e: owner::Event) -> Self {
        Event { inner: Some(e) }
    }
}

#[php_impl]
impl Event {
    /// What happened.
    #[php(getter)]
    pub fn kind(&self) -> String {
        self.inner
            .as_ref()
            .map(|e| e.kind.clone())
            .unwrap_or_default()
    }

    /// The folder concerned.
    #[php(getter)]
    pub fn folder_id(&self) -> String {
        self.inner
            .as_ref()
            .and_then(|e| e.folder.clone())
            .unwrap_or_default()
    }

    /// The path concerned.
    #[php(getter)]
    pub fn path(&self) -> String {
        self.inner
            .as_ref()
            .and_then(|e| e.path.clone())
            .unwrap_or_default()
    }

    /// The device concerned (text form).
    #[php(getter)]
    pub fn device_id(&self) -> String {
        self.inner
            .as_ref()
            .and_then(|e| e.device.clone())
            .unwrap_or_default()
    }

    /// A content or entry hash in hex.
    #[php(getter)]
    pub fn hash(&self) -> String {
        self.inner
            .as_ref()
            .and_then(|e| e.hash.clone())
            .unwrap_or_default()
    }

    /// The store's sequence number of a local change.
    #[php(getter)]
    pub fn seq(&self) -> i64 {
        self.inner
            .as_ref()
            .and_then(|e| e.seq)
            .and_then(|s| i64::try_from(s).ok())
            .unwrap_or(0)
    }

    /// When it happened, in milliseconds since the Unix epoch.
    #[php(getter)]
    pub fn time(&self) -> i64 {
        self.inner
            .as_ref()
            .and_then(|e| i64::try_from(e.time_ms).ok())
            .unwrap_or(0)
    }
}
