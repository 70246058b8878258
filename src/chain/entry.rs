//! A chain entry: one change to one path, signed by its author.
//!
//! Byte layout (docs/FORMAT.md, all integers little-endian):
//!
//! ```text
//! meta    : version=1 (u8) | kind (u8: 1 write, 2 delete, 3 rename)
//!           | folder (u8 len + UTF-8) | path (u16 len + UTF-8)
//!           | from (u16 len + UTF-8, empty unless rename)
//!           | size (u64) | mtime_ns (i64) | content (32: SHA3-256 of the manifest)
//!           | author (32: device ID) | seq (u64, from 1) | time_ms (u64)
//!           | parents (u16 count, then count x 32 bytes, strictly ascending)
//! record  : meta_len (u32) | meta | prev (32) | public key (32) | signature (64)
//! hash    = SHA3-256(meta || prev)           (crate::chain::link)
//! sig     = ed25519(author key, hash)
//! ```
//!
//! `prev` is the hash of the author's entry `seq - 1` (32 zero bytes for
//! `seq` 1). Decoding is strict: a record that does not re-encode to the same
//! bytes is refused, so one entry has exactly one encoding and one hash.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::chain::{link, Hash, GENESIS};
use crate::codec::Reader;
use crate::error::{HarpError, Result};
use crate::identity::{DeviceId, DeviceKey};
use crate::outbox::ChangeKind;
use crate::paths;

/// Version byte of the meta encoding: 2, per-folder chains (an author's
/// `seq` and `prev` count within one folder, and `parents` are heads of
/// that folder), so a device that is sent one folder can check every link.
pub const META_VERSION: u8 = 2;
/// Version 1: one chain per author across all folders. Only read, from the
/// archive a store keeps of what it held before it moved to version 2.
pub const LEGACY_META_VERSION: u8 = 1;
/// Most parents an entry may name.
pub const MAX_PARENTS: usize = 256;
/// Largest meta encoding (bounded by the path limits and MAX_PARENTS).
pub const MAX_META: usize = 64 * 1024;

/// What an entry says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// The folder.
    pub folder: String,
    /// The path inside the folder (for a rename, the new path).
    pub path: String,
    /// Write, delete or rename.
    pub kind: ChangeKind,
    /// For a rename, the old path; empty otherwise.
    pub from: String,
    /// File size in bytes (0 for a delete).
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// SHA3-256 of the content manifest (zeros for a delete).
    pub content: Hash,
    /// The author's device ID.
    pub author: DeviceId,
    /// The author's sequence number, from 1.
    pub seq: u64,
    /// The author's clock when it made the entry, ms since the Unix epoch.
    pub time_ms: u64,
    /// The heads the author knew, strictly ascending.
    pub parents: Vec<Hash>,
    /// Versions of this path (and of `from`, for a rename) among the
    /// ancestors that this change does not replace: the author's disk
    /// never held them (a change recorded late, after a peer's version
    /// arrived that the applier left alone). They stay in the folder beside
    /// this one, so the usual conflict rules keep them. Strictly ascending,
    /// at most MAX_PARENTS; empty for almost every entry. Format 2 only.
    pub unseen: Vec<Hash>,
}

/// A complete, signed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The decoded meta.
    pub meta: Meta,
    /// The meta's bytes, exactly as hashed.
    pub meta_bytes: Vec<u8>,
    /// The author's previous entry's hash.
    pub prev: Hash,
    /// `link(prev, meta_bytes)`.
    pub hash: Hash,
    /// The author's ed25519 public key.
    pub public: [u8; 32],
    /// ed25519 signature over `hash`.
    pub sig: [u8; 64],
}

fn put_str(out: &mut Vec<u8>, s: &str, wide: bool) {
    if wide {
        out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    } else {
        out.push(s.len() as u8);
    }
    out.extend_from_slice(s.as_bytes());
}

fn kind_code(k: ChangeKind) -> u8 {
    match k {
        ChangeKind::Write => 1,
        ChangeKind::Delete => 2,
        ChangeKind::Rename => 3,
        ChangeKind::Revoke => 4,
        ChangeKind::Readmit => 5,
    }
}

impl Meta {
    /// Checks the fields a decoder would refuse, so nothing unencodable is
    /// ever signed.
    pub fn check(&self) -> Result<()> {
        paths::check_folder_id(&self.folder)?;
        if paths::normalize(&self.path, false)? != self.path {
            return Err(HarpError::InvalidPath {
                path: self.path.clone(),
                rule: "is not in normal form".into(),
            });
        }
        let from_ok = match self.kind {
            ChangeKind::Rename => paths::normalize(&self.from, false)? == self.from,
            _ => self.from.is_empty(),
        };
        if !from_ok {
            return Err(HarpError::InvalidPath {
                path: self.from.clone(),
                rule: "is not a valid 'from' path for this kind of entry".into(),
            });
        }
        if matches!(self.kind, ChangeKind::Revoke | ChangeKind::Readmit) {
            let ok = self.target().is_some()
                && self.content == [0u8; 32]
                && (self.kind == ChangeKind::Readmit || self.size >= 1);
            if !ok {
                return Err(HarpError::Protocol(
                    "a revoke or readmit entry names a device ID as its path, no content, and (revoke) the first sequence number revoked as its size".into(),
                ));
            }
        }
        if self.seq == 0 {
            return Err(HarpError::Protocol("sequence numbers start at 1".into()));
        }
        if self.parents.len() > MAX_PARENTS {
            return Err(HarpError::Protocol(format!(
                "{} parents; at most {MAX_PARENTS}",
                self.parents.len()
            )));
        }
        if self.unseen.len() > MAX_PARENTS || self.unseen.windows(2).any(|w| w[0] >= w[1]) {
            return Err(HarpError::Protocol(format!(
                "unseen versions must be strictly ascending, at most {MAX_PARENTS}"
            )));
        }
        if self.parents.windows(2).any(|w| w[0] >= w[1]) {
            return Err(HarpError::Protocol(
                "parents must be strictly ascending".into(),
            ));
        }
        Ok(())
    }

    /// For a revoke or readmit entry: the device it is about.
    pub fn target(&self) -> Option<DeviceId> {
        match self.kind {
            ChangeKind::Revoke | ChangeKind::Readmit => DeviceId::parse(&self.path).ok(),
            _ => None,
        }
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_version(META_VERSION)
    }

    pub(crate) fn encode_version(&self, version: u8) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(140 + self.path.len() + self.from.len() + 32 * self.parents.len());
        out.push(version);
        out.push(kind_code(self.kind));
        put_str(&mut out, &self.folder, false);
        put_str(&mut out, &self.path, true);
        put_str(&mut out, &self.from, true);
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&self.mtime_ns.to_le_bytes());
        out.extend_from_slice(&self.content);
        out.extend_from_slice(&self.author.0);
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.time_ms.to_le_bytes());
        out.extend_from_slice(&(self.parents.len() as u16).to_le_bytes());
        for p in &self.parents {
            out.extend_from_slice(p);
        }
        if version >= 2 {
            out.extend_from_slice(&(self.unseen.len() as u16).to_le_bytes());
            for u in &self.unseen {
                out.extend_from_slice(u);
            }
        }
        out
    }

    /// Strict decoding: any malformation, or bytes that are not the
    /// canonical encoding of what they decode to, is an error.
    pub fn decode(buf: &[u8]) -> Result<Self> {
        Self::decode_version(buf, META_VERSION)
    }

    fn decode_version(buf: &[u8], want: u8) -> Result<Self> {
        let bad = |why: &str| HarpError::Protocol(format!("entry meta: {why}"));
        if buf.len() > MAX_META {
            return Err(bad("too long"));
        }
        let mut r = Reader::new(buf);
        let version = r.u8().ok_or_else(|| bad("empty"))?;
        if version == LEGACY_META_VERSION && want != LEGACY_META_VERSION {
            return Err(bad(
                "format version 1 (one chain across folders) is no longer accepted; upgrade the device that sent it",
            ));
        }
        if version != want {
            return Err(bad(&format!("unknown version {version}")));
        }
        let kind = match r.u8() {
            Some(1) => ChangeKind::Write,
            Some(2) => ChangeKind::Delete,
            Some(3) => ChangeKind::Rename,
            Some(4) => ChangeKind::Revoke,
            Some(5) => ChangeKind::Readmit,
            _ => return Err(bad("unknown kind")),
        };
        let flen = usize::from(r.u8().ok_or_else(|| bad("truncated"))?);
        let folder = r.string(flen).ok_or_else(|| bad("bad folder"))?;
        let plen = usize::from(r.u16().ok_or_else(|| bad("truncated"))?);
        let path = r.string(plen).ok_or_else(|| bad("bad path"))?;
        let rlen = usize::from(r.u16().ok_or_else(|| bad("truncated"))?);
        let from = r.string(rlen).ok_or_else(|| bad("bad from"))?;
        let size = r.u64().ok_or_else(|| bad("truncated"))?;
        let mtime_ns = r.u64().ok_or_else(|| bad("truncated"))? as i64;
        let content = r.hash().ok_or_else(|| bad("truncated"))?;
        let author = DeviceId(r.hash().ok_or_else(|| bad("truncated"))?);
        let seq = r.u64().ok_or_else(|| bad("truncated"))?;
        let time_ms = r.u64().ok_or_else(|| bad("truncated"))?;
        let n = usize::from(r.u16().ok_or_else(|| bad("truncated"))?);
        if n > MAX_PARENTS {
            return Err(bad("too many parents"));
        }
        let mut parents = Vec::with_capacity(n);
        for _ in 0..n {
            parents.push(r.hash().ok_or_else(|| bad("truncated parents"))?);
        }
        let mut unseen = Vec::new();
        if version >= 2 {
            let n = usize::from(r.u16().ok_or_else(|| bad("truncated"))?);
            if n > MAX_PARENTS {
                return Err(bad("too many unseen versions"));
            }
            for _ in 0..n {
                unseen.push(r.hash().ok_or_else(|| bad("truncated unseen"))?);
            }
        }
        if !r.done() {
            return Err(bad("trailing bytes"));
        }
        let meta = Meta {
            folder,
            path,
            kind,
            from,
            size,
            mtime_ns,
            content,
            author,
            seq,
            time_ms,
            parents,
            unseen,
        };
        meta.check()?;
        Ok(meta)
    }
}

impl Entry {
    /// Builds and signs an entry. `meta.author` must be `key`'s device.
    pub fn sign(meta: Meta, prev: Hash, key: &DeviceKey) -> Result<Self> {
        let mut e = Self::unsigned(meta, prev, key.public().to_bytes())?;
        e.sig = key.sign(&e.hash).to_bytes();
        Ok(e)
    }

    /// Everything but the signature (which is zero), for signing in bulk.
    pub fn unsigned(meta: Meta, prev: Hash, public: [u8; 32]) -> Result<Self> {
        meta.check()?;
        let meta_bytes = meta.encode();
        let hash = link(&prev, &meta_bytes);
        Ok(Entry {
            meta,
            meta_bytes,
            prev,
            hash,
            public,
            sig: [0u8; 64],
        })
    }

    /// The record encoding (stored and sent).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.meta_bytes.len() + 128);
        out.extend_from_slice(&(self.meta_bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.meta_bytes);
        out.extend_from_slice(&self.prev);
        out.extend_from_slice(&self.public);
        out.extend_from_slice(&self.sig);
        out
    }

    /// Decodes a record and recomputes its hash. Does not check the
    /// signature or the link to the author's previous entry: see `verify`.
    pub fn decode(buf: &[u8]) -> Result<Self> {
        Self::decode_version(buf, META_VERSION)
    }

    /// Decodes a version 1 record (a store's archive of what it held
    /// before version 2), as strictly as `decode`.
    pub fn decode_legacy(buf: &[u8]) -> Result<Self> {
        Self::decode_version(buf, LEGACY_META_VERSION)
    }

    /// The meta's format version: the first byte of a record's meta.
    pub fn record_version(buf: &[u8]) -> Option<u8> {
        buf.get(4).copied()
    }

    fn decode_version(buf: &[u8], version: u8) -> Result<Self> {
        let bad = |why: &str| HarpError::Protocol(format!("entry: {why}"));
        let mut r = Reader::new(buf);
        let mlen = r.u32().ok_or_else(|| bad("truncated"))? as usize;
        if mlen > MAX_META {
            return Err(bad("meta too long"));
        }
        let meta_bytes = r.take(mlen).ok_or_else(|| bad("truncated meta"))?.to_vec();
        let prev = r.hash().ok_or_else(|| bad("truncated prev"))?;
        let public = r.hash().ok_or_else(|| bad("truncated key"))?;
        let sig: [u8; 64] = r
            .take(64)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("truncated signature"))?;
        if !r.done() {
            return Err(bad("trailing bytes"));
        }
        let meta = Meta::decode_version(&meta_bytes, version)?;
        if meta.encode_version(version) != meta_bytes {
            return Err(bad("meta is not in canonical form"));
        }
        let hash = link(&prev, &meta_bytes);
        Ok(Entry {
            meta,
            meta_bytes,
            prev,
            hash,
            public,
            sig,
        })
    }

    /// Checks what an entry proves on its own: its key is its author's and
    /// its signature is valid over its hash, and the first entry links to
    /// GENESIS. The link to `seq - 1` is checked where that entry is known.
    pub fn verify(&self) -> std::result::Result<(), Problem> {
        let key = VerifyingKey::from_bytes(&self.public).map_err(|_| Problem::UnknownAuthor)?;
        if DeviceId::of(&key) != self.meta.author {
            return Err(Problem::UnknownAuthor);
        }
        if self.meta.seq == 1 && self.prev != GENESIS {
            return Err(Problem::BrokenLink);
        }
        let sig = Signature::from_bytes(&self.sig);
        key.verify_strict(&self.hash, &sig)
            .map_err(|_| Problem::BadSignature)
    }
}

/// Why an entry fails verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// `prev` is not the hash of the author's previous entry.
    BrokenLink,
    /// The signature does not match the hash and the author's key.
    BadSignature,
    /// The key is not the author's, or the author is not trusted.
    UnknownAuthor,
    /// The record cannot be decoded.
    Malformed,
    /// Its parents have not arrived and too many entries already wait for
    /// theirs (`dag::MAX_PENDING`, `dag::MAX_PENDING_BYTES`).
    Backlog,
    /// The author signed another entry with the same sequence number.
    Fork,
}

impl Problem {
    /// The reason as `verify()` reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::BrokenLink => "broken link",
            Problem::BadSignature => "bad signature",
            Problem::UnknownAuthor => "unknown author",
            Problem::Malformed => "malformed entry",
            Problem::Backlog => "too many entries wait for their parents",
            Problem::Fork => "fork",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn key(n: u8) -> DeviceKey {
        DeviceKey::from_seed([n; 32])
    }

    pub(crate) fn meta(key: &DeviceKey, seq: u64, path: &str) -> Meta {
        Meta {
            folder: "docs".into(),
            path: path.into(),
            kind: ChangeKind::Write,
            from: String::new(),
            size: 5,
            mtime_ns: 1_700_000_000_000_000_000,
            content: [9u8; 32],
            author: key.device_id(),
            seq,
            time_ms: 1_700_000_000_000,
            parents: vec![],
            unseen: vec![],
        }
    }

    #[test]
    fn entries_round_trip_and_verify() {
        let k = key(1);
        let e = Entry::sign(meta(&k, 1, "a.txt"), GENESIS, &k).unwrap();
        let d = Entry::decode(&e.encode()).unwrap();
        assert_eq!(d, e);
        assert_eq!(d.verify(), Ok(()));
    }

    #[test]
    fn every_flipped_bit_is_caught_by_decode_or_verify() {
        let k = key(2);
        let e = Entry::sign(meta(&k, 1, "a.txt"), GENESIS, &k).unwrap();
        let bytes = e.encode();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            let caught = match Entry::decode(&b) {
                Err(_) => true,
                Ok(d) => d.verify().is_err(),
            };
            assert!(caught, "flip at byte {i} went unnoticed");
        }
    }

    #[test]
    fn non_canonical_and_malformed_meta_are_refused() {
        let k = key(3);
        let mut m = meta(&k, 1, "a.txt");
        m.parents = vec![[2u8; 32], [1u8; 32]];
        assert!(m.check().is_err(), "unsorted parents");
        let mut m = meta(&k, 1, "../a");
        assert!(m.check().is_err());
        m.path = "a".into();
        m.seq = 0;
        assert!(m.check().is_err());
        let good = meta(&k, 1, "a.txt").encode();
        for cut in 0..good.len() {
            assert!(Meta::decode(&good[..cut]).is_err(), "cut {cut}");
        }
        let mut long = good.clone();
        long.push(0);
        assert!(Meta::decode(&long).is_err());
    }

    #[test]
    fn a_key_that_is_not_the_authors_is_an_unknown_author() {
        let k = key(4);
        let other = key(5);
        // Signed by `other` but claiming `k` as author.
        let e = Entry::sign(meta(&k, 1, "a.txt"), GENESIS, &other).unwrap();
        assert_eq!(e.verify(), Err(Problem::UnknownAuthor));
    }

    #[test]
    fn first_entry_must_link_to_genesis() {
        let k = key(6);
        let e = Entry::sign(meta(&k, 1, "a.txt"), [1u8; 32], &k).unwrap();
        assert_eq!(e.verify(), Err(Problem::BrokenLink));
    }
}
