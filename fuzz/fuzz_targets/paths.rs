//! The path normaliser (src/paths/mod.rs, `normalize`), strict and lenient,
//! and the folder-id check. Input bytes that are not UTF-8 are read lossily
//! (PHP strings reach `normalize` through a UTF-8 check of their own).
//!
//! Properties of an accepted path: relative (no leading `/`), no empty,
//! `.` or `..` segment, no NUL or control character, no backslash, at most
//! MAX_PATH_BYTES and each name at most MAX_NAME_BYTES, in NFC, and a fixed
//! point: normalising it again, strictly or leniently, gives it back. A
//! path the strict mode accepts, the lenient mode accepts alike.
#![no_main]

use harp::paths::{check_folder_id, normalize, MAX_NAME_BYTES, MAX_PATH_BYTES};
use libfuzzer_sys::fuzz_target;
use unicode_normalization::is_nfc;

fn check(input: &str, lenient: bool) {
    let Ok(out) = normalize(input, lenient) else {
        return;
    };
    assert!(!out.is_empty());
    assert!(!out.starts_with('/'), "{out:?} is absolute");
    assert!(!out.contains('\0'), "{out:?} holds a NUL");
    assert!(
        !out.chars().any(char::is_control),
        "{out:?} holds a control"
    );
    assert!(!out.contains('\\'), "{out:?} holds a backslash");
    assert!(out.len() <= MAX_PATH_BYTES, "{} bytes", out.len());
    for name in out.split('/') {
        assert!(!name.is_empty(), "{out:?} has an empty segment");
        assert!(name != ".." && name != ".", "{out:?} has a dot segment");
        assert!(name.len() <= MAX_NAME_BYTES);
    }
    assert!(is_nfc(&out), "{out:?} is not NFC");
    assert_eq!(normalize(&out, false).ok().as_deref(), Some(out.as_str()));
    assert_eq!(normalize(&out, true).ok().as_deref(), Some(out.as_str()));
    if !lenient {
        assert_eq!(normalize(input, true).ok().as_deref(), Some(out.as_str()));
    }
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    check(&s, false);
    check(&s, true);
    if check_folder_id(&s).is_ok() {
        assert!(!s.is_empty() && s.len() <= 64 && !s.starts_with('.'));
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
    }
});
