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
// Format 2: the same fields, the version byte 2, and an empty `unseen` list
// (u16 count 0) at the end.
const META: &str = "020104646f63730e007265706f7274732f71312e7478740000050000000000000015cd853dfe9c9717c0f5bf4802c642564888a3bcba11032098537ac1662030616a96b53bb7199203791026e25cc1ba461167ffb5c6dc095c284bd92cdc5ca34ac589a95d24f538300100000000000000f469e5cf8b01000000000000";
const HASH: &str = "a1f20b88001ab6d1691bb932d6e439db32b9b4450c98ad8577d7a2c98fa9162c";
const SIG: &str = "e2297b8a619d4eb821c212271ceb1c66c4daa92f9f347c06c73d2439aaab90a5368d7da79cd6e14c75ff52f10da954d14293e3844ff4d48c08b5a93632a79406";

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
        unseen: vec![],
    };
    let e = Entry::sign(meta, [0u8; 32], &key).unwrap();
    assert_eq!(hx(&e.meta_bytes), META);
    assert_eq!(hx(&e.hash), HASH);
    assert_eq!(hx(&e.sig), SIG);
    let record = e.encode();
    assert_eq!(Entry::decode(&record).unwrap(), e);
    assert!(e.verify().is_ok());

    // The format-1 record of the same change (version byte 1, no `unseen`
    // list): still readable from a store's archive, refused on the wire.
    let mut meta_v1 = e.meta_bytes[..e.meta_bytes.len() - 2].to_vec();
    meta_v1[0] = 1;
    assert_eq!(hx(&meta_v1), META_V1);
    let hash = harp::chain::link(&[0u8; 32], &meta_v1);
    assert_eq!(hx(&hash), HASH_V1);
    let sig = key.sign(&hash).to_bytes();
    assert_eq!(hx(&sig), SIG_V1);
    let mut v1 = (meta_v1.len() as u32).to_le_bytes().to_vec();
    v1.extend_from_slice(&meta_v1);
    v1.extend_from_slice(&[0u8; 32]);
    v1.extend_from_slice(&e.public);
    v1.extend_from_slice(&sig);
    let old = Entry::decode_legacy(&v1).unwrap();
    assert_eq!(old.meta, e.meta);
    assert!(old.verify().is_ok());
    let refused = Entry::decode(&v1).unwrap_err().to_string();
    assert!(refused.contains("format version 1"), "{refused}");
}
