//! Outbox payloads (src/outbox/mod.rs, `Notice::decode`): what any local
//! process may have appended to the outbox file the owner reads.
//!
//! Properties: nothing panics; decode -> encode gives back the same bytes
//! and decodes to the same notice.
#![no_main]

use harp::outbox::Notice;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(n) = Notice::decode(data) else { return };
    let bytes = n.encode();
    assert_eq!(bytes, data, "an accepted payload is canonical");
    assert_eq!(Notice::decode(&bytes).expect("re-decodes"), n);
});
