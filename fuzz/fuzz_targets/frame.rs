//! The harp/1 stream framing a peer sends (src/net/mod.rs), as it arrives
//! after a stream is accepted: the first byte is the stream type.
//!
//! - 1 hello:   u32 BE length + JSON hello            (`decode_frame`)
//! - 2 entries: (u32 BE length + entry record)*       (`record_len`, `Entry::decode`)
//! - 3 request: u32 BE length + JSON request          (`request_len`, `decode_request`)
//! - other:     an answer to our request: status byte + u32 BE length + body
//!   (`answer_len`, `decode_answer`)
//!
//! Properties: nothing panics; what decodes re-encodes to something that
//! decodes to the same value; entry records are canonical.
#![no_main]

use harp::chain::entry::Entry;
use harp::net::{self, Hello, Request};
use libfuzzer_sys::fuzz_target;

fn framed(json: &[u8]) -> Vec<u8> {
    let mut b = (json.len() as u32).to_be_bytes().to_vec();
    b.extend_from_slice(json);
    b
}

fn hello(rest: &[u8]) {
    let Ok(h) = net::decode_frame::<Hello>(rest) else {
        return;
    };
    let json = serde_json::to_vec(&h).expect("a hello serialises");
    let again: Hello = net::decode_frame(&framed(&json)).expect("a re-encoded hello decodes");
    assert_eq!(
        serde_json::to_value(&h).ok(),
        serde_json::to_value(&again).ok()
    );
}

fn entries(mut rest: &[u8]) {
    // What read_entries does with a stream's bytes, minus the ledger.
    while rest.len() >= 4 {
        let Ok(n) = net::record_len([rest[0], rest[1], rest[2], rest[3]]) else {
            return;
        };
        let Some(rec) = rest.get(4..4 + n) else {
            return;
        };
        if let Ok(e) = Entry::decode(rec) {
            assert_eq!(e.encode(), rec, "an accepted record is canonical");
            let _ = e.verify();
        }
        rest = &rest[4 + n..];
    }
}

fn request(data: &[u8]) {
    let Some(head) = data.get(..5) else { return };
    let Some(n) = net::request_len([head[0], head[1], head[2], head[3], head[4]]) else {
        return;
    };
    let Some(body) = data.get(5..5 + n) else {
        return;
    };
    let Ok(req) = net::decode_request(body) else {
        return;
    };
    let json = serde_json::to_vec(&req).expect("a request serialises");
    let again: Request = net::decode_request(&json).expect("a re-encoded request decodes");
    assert_eq!(format!("{req:?}"), format!("{again:?}"));
}

fn answer(data: &[u8]) {
    let Some(head) = data.get(..5) else { return };
    let head = [head[0], head[1], head[2], head[3], head[4]];
    // A chunk is at most 256 KiB: the bound a requester passes for one.
    let Ok(n) = net::answer_len(head, 256 * 1024) else {
        return;
    };
    let Some(body) = data.get(5..5 + n) else {
        return;
    };
    match net::decode_answer(head[0], body.to_vec()) {
        Ok(net::Reply::Found(b)) => assert_eq!(b, body),
        Ok(net::Reply::NotHeld) => assert_eq!(head[0], 1),
        Ok(net::Reply::TooLarge(_)) => panic!("decode_answer never says too large"),
        Err(_) => assert!(head[0] >= 2),
    }
}

fuzz_target!(|data: &[u8]| {
    match data.first() {
        Some(1) => hello(&data[1..]),
        Some(2) => entries(&data[1..]),
        Some(3) => request(data),
        Some(_) => answer(&data[1..]),
        None => {}
    }
});
