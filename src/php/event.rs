//! `Harp\Event`: something that happened, as `Node::poll` returns it.

use ext_php_rs::prelude::*;

use crate::owner;

/// An event from the node. Read-only properties: `kind` (`local_change`;
/// with sync also `file_updated`, `file_deleted`, `conflict`, `peer_found`,
/// `peer_lost`), `folderId`, `path`, `deviceId`, `hash` (hex, or null),
/// `seq` (for `local_change`, the change's number in the store) and `time`
/// (milliseconds since the Unix epoch).
#[php_class]
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
        self.inner.as_ref().map(|e| e.kind.clone()).unwrap_or_default()
    }

    /// The folder concerned, or null.
    #[php(getter)]
    pub fn folder_id(&self) -> Option<String> {
        self.inner.as_ref().and_then(|e| e.folder.clone())
    }

    /// The path concerned, or null.
    #[php(getter)]
    pub fn path(&self) -> Option<String> {
        self.inner.as_ref().and_then(|e| e.path.clone())
    }

    /// The device concerned (text form), or null.
    #[php(getter)]
    pub fn device_id(&self) -> Option<String> {
        self.inner.as_ref().and_then(|e| e.device.clone())
    }

    /// A content or entry hash in hex, or null.
    #[php(getter)]
    pub fn hash(&self) -> Option<String> {
        self.inner.as_ref().and_then(|e| e.hash.clone())
    }

    /// The store's sequence number of a local change, or null.
    #[php(getter)]
    pub fn seq(&self) -> Option<i64> {
        self.inner
            .as_ref()
            .and_then(|e| e.seq)
            .and_then(|s| i64::try_from(s).ok())
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
