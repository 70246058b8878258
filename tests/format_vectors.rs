//! The test vectors published in docs/FORMAT.md, checked against an
//! independent implementation (Python: hashlib, blake3, cryptography) when
//! they were written. If this test fails, the format changed: bump its
//! version and publish new vectors.
#![allow(clippy::unwrap_used)]

use harp::chain::entry::{Entry, Meta};
use harp::identity::DeviceKey;
use harp::outbox::ChangeKind;

const MANIFEST: &str = "0105000000000000000100000005000000ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f";
const CONTENT: &str = "c0f5bf4802c642564888a3bcba11032098537ac1662030616a96b53bb7199203";
const META_V1: &str = "010104646f63730e007265706f7274732f71312e7478740000050000000000000015cd853dfe9c9717c0f5bf4802c642564888a3bcba11032098537ac1662030616a96b53bb7199203791026e25cc1ba461167ffb5c6dc095c284bd92cdc5ca34ac589a95d24f538300100000000000000f469e5cf8b0100000000";
const HASH_V1: &str = "465c5939439d9f766d824a38de94964bd3cbb66e920f9527f7670a38dfaa2c7f";
const SIG_V1: &str = "2fd61faf2621157d4518f295b4bdabd0de3df2e5d64a8e35f0b464713852f28c5fc13734dc689761680403e28c38e7be18c966ad549c0dd618dfcb2cd600170c";
// Format 2: the same fields; only the version byte differs.
const META: &str = "020104646f63730e007265706f7274732f71312e7478740000050000000000000015cd853dfe9c9717c0f5bf4802c642564888a3bcba11032098537ac1662030616a96b53bb7199203791026e25cc1ba461167ffb5c6dc095c284bd92cdc5ca34ac589a95d24f538300100000000000000f469e5cf8b0100000000";
const HASH: &str = "d07983ef8612819462fb877a083b544051f6d5bd163579f6ab2f7f280ef2fb83";
const SIG: &str = "b8e52d7594079c2ed0bde7f6a1b4c1a1dabcd3bac7054d3a82072d05ff8dfc7e6c230621d12c118a08d3676b00c547ed9b61f2b6b90e9f65167cd394adbd590b";

fn hx(b: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(b)
}

#[test]
fn the_documented_entry_encodes_hashes_and_signs_as_published() {
    let key = DeviceKey::from_seed([7u8; 32]);
    let m = harp::manifest::of_bytes(b"hello");
    assert_eq!(hx(&m.encode()), MANIFEST);
    assert_eq!(hx(&m.content_hash()), CONTENT);
    let meta = Meta {
        folder: "docs".into(),
        path: "reports/q1.txt".into(),
        kind: ChangeKind::Write,
        from: String::new(),
        size: 5,
        mtime_ns: 1_700_000_000_123_456_789,
        content: m.content_hash(),
        author: key.device_id(),
        seq: 1,
        time_ms: 1_700_000_000_500,
        parents: vec![],
    };
    let e = Entry::sign(meta, [0u8; 32], &key).unwrap();
    assert_eq!(hx(&e.meta_bytes), META);
    assert_eq!(hx(&e.hash), HASH);
    assert_eq!(hx(&e.sig), SIG);
    let record = e.encode();
    assert_eq!(Entry::decode(&record).unwrap(), e);
    assert!(e.verify().is_ok());

    // The format-1 record of the same change: still readable from a
    // store's archive, refused on the wire.
    let mut v1 = record.clone();
    v1[4] = 1;
    let hash = harp::chain::link(&[0u8; 32], &v1[4..4 + e.meta_bytes.len()]);
    assert_eq!(hx(&hash), HASH_V1);
    let sig = key.sign(&hash).to_bytes();
    let n = v1.len();
    v1[n - 64..].copy_from_slice(&sig);
    assert_eq!(hx(&sig), SIG_V1);
    let old = Entry::decode_legacy(&v1).unwrap();
    assert_eq!(hx(&old.meta_bytes), META_V1);
    assert_eq!(old.meta, e.meta);
    assert!(old.verify().is_ok());
    let refused = Entry::decode(&v1).unwrap_err().to_string();
    assert!(refused.contains("format version 1"), "{refused}");
}
