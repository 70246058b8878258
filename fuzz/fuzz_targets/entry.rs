//! Chain entries from a peer or the store (src/chain/entry.rs): the input
//! is tried as a whole record (`Entry::decode`) and as a bare meta
//! (`Meta::decode`).
//!
//! Properties: nothing panics; decode -> encode gives back the same bytes
//! (one entry, one encoding) and decodes to the same value; a decoded
//! meta passes `check`; `verify` never panics.
#![no_main]

use harp::chain::entry::{Entry, Meta};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Entry::decode(data) {
        let bytes = e.encode();
        assert_eq!(bytes, data, "an accepted record is canonical");
        assert_eq!(Entry::decode(&bytes).expect("re-decodes"), e);
        assert_eq!(e.meta.encode(), e.meta_bytes);
        let _ = e.verify();
    }
    if let Ok(m) = Meta::decode(data) {
        assert!(m.check().is_ok(), "a decoded meta passes check");
        let bytes = m.encode();
        assert_eq!(bytes, data, "an accepted meta is canonical");
        assert_eq!(Meta::decode(&bytes).expect("re-decodes"), m);
    }
});
