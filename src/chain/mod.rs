//! The hash chain. Every change is an entry whose hash links it to the
//! previous one: `hash = SHA3-256(serialize(meta) || prev_hash)`, meta
//! first, then the 32-byte previous hash. `docs/FORMAT.md` documents the
//! encoding of `meta`; `entry` builds and checks signed entries, `dag`
//! merges entries from every device into one view.

pub mod dag;
pub mod entry;

use sha3::{Digest, Sha3_256};

use crate::error::{HarpError, Result};

/// A SHA3-256 hash: entry hashes, content hashes.
pub type Hash = [u8; HASH_LEN];

/// Length of a link hash in bytes.
pub const HASH_LEN: usize = 32;

/// The `prev_hash` of an author's first entry: 32 zero bytes.
pub const GENESIS: [u8; HASH_LEN] = [0u8; HASH_LEN];

/// SHA3-256 over `meta` followed by `prev`.
pub fn link(prev: &[u8; HASH_LEN], meta: &[u8]) -> [u8; HASH_LEN] {
    let mut h = Sha3_256::new();
    h.update(meta);
    h.update(prev);
    h.finalize().into()
}

/// `link` for a previous hash of unchecked length, as it comes from PHP.
pub fn link_checked(prev: &[u8], meta: &[u8]) -> Result<[u8; HASH_LEN]> {
    let prev: &[u8; HASH_LEN] = prev.try_into().map_err(|_| {
        HarpError::Config(format!(
            "the previous hash must be {HASH_LEN} raw bytes, got {} bytes \
             (pass the binary hash, not its hex form)",
            prev.len()
        ))
    })?;
    Ok(link(prev, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_is_sha3_of_meta_then_prev() {
        // Independent construction: hash the concatenation in one go.
        let meta = b"meta bytes";
        let prev = [7u8; 32];
        let mut cat = meta.to_vec();
        cat.extend_from_slice(&prev);
        let want: [u8; 32] = Sha3_256::digest(&cat).into();
        assert_eq!(link(&prev, meta), want);
        // Order matters: prev first gives a different hash.
        let mut rev = prev.to_vec();
        rev.extend_from_slice(meta);
        let other: [u8; 32] = Sha3_256::digest(&rev).into();
        assert_ne!(link(&prev, meta), other);
    }

    #[test]
    fn known_vector_for_empty_meta_and_genesis() {
        // SHA3-256 of 32 zero bytes, a published constant.
        let h = link(&GENESIS, b"");
        assert_eq!(
            data_encoding::HEXLOWER.encode(&h),
            "9e6291970cb44dd94008c79bcaf9d86f18b4b49ba5b2a04781db7199ed3b9e4e"
        );
    }

    #[test]
    fn wrong_length_prev_is_an_error() {
        let err = link_checked(&[0u8; 31], b"x").unwrap_err();
        assert!(err.to_string().contains("32 raw bytes"), "{err}");
        assert!(link_checked(&[0u8; 64], b"x").is_err());
        assert!(link_checked(&[0u8; 32], b"x").is_ok());
    }
}
