//! The control socket the PHP clients speak (src/control/mod.rs): the input
//! is a byte stream of frames (u32 BE length + JSON), read as the owner
//! reads a client (`frame_len`, `decode_request`) and as a client reads
//! the owner (`decode_response`).
//!
//! Properties: nothing panics; a request that decodes re-encodes to a frame
//! that decodes to the same op; an error response keeps its kind (one of
//! the documented kinds) and message through encode -> decode; an ok
//! response re-encodes to a frame that decodes as ok.
#![no_main]

use harp::control::{self, decode_request, decode_response, encode_request, encode_response};
use libfuzzer_sys::fuzz_target;

fn body_of(frame: &[u8]) -> &[u8] {
    let n = control::frame_len([frame[0], frame[1], frame[2], frame[3]]).expect("own frame");
    assert_eq!(frame.len(), 4 + n);
    &frame[4..]
}

fn one(body: &[u8]) {
    if let Ok(op) = decode_request(body) {
        let f = encode_request(&op).expect("a decoded op re-encodes");
        assert_eq!(decode_request(body_of(&f)).expect("re-decodes"), op);
    }
    match decode_response(body) {
        Ok(v) => {
            let f = encode_response(&Ok(v));
            assert!(decode_response(body_of(&f)).is_ok());
        }
        Err(e) => {
            let (kind, message) = (e.kind().to_string(), e.to_string());
            assert!(
                harp::error::HarpError::KINDS.contains(&kind.as_str()),
                "kind {kind}"
            );
            let f = encode_response(&Err(e));
            let again = decode_response(body_of(&f)).expect_err("stays an error");
            assert_eq!(again.kind(), kind);
            assert_eq!(again.to_string(), message);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while rest.len() >= 4 {
        let Ok(n) = control::frame_len([rest[0], rest[1], rest[2], rest[3]]) else {
            return;
        };
        let Some(body) = rest.get(4..4 + n) else {
            return;
        };
        one(body);
        rest = &rest[4 + n..];
    }
});
