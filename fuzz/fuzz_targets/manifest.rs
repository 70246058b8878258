//! Content manifests from a peer (src/manifest/mod.rs, `Manifest::decode`).
//!
//! Properties: nothing panics; decode -> encode gives back the same bytes
//! and decodes to the same value; chunks are 1..=MAX_CHUNK bytes, contiguous
//! from offset 0, and add up to the size.
#![no_main]

use harp::manifest::{Manifest, MAX_CHUNK};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Manifest::decode(data) else {
        return;
    };
    let bytes = m.encode();
    assert_eq!(bytes, data, "an accepted manifest is canonical");
    assert_eq!(Manifest::decode(&bytes).expect("re-decodes"), m);
    let mut offset = 0u64;
    for c in &m.chunks {
        assert_eq!(c.offset, offset);
        assert!(c.len >= 1 && c.len as usize <= MAX_CHUNK);
        offset += u64::from(c.len);
    }
    assert_eq!(offset, m.size);
    let _ = m.content_hash();
});
