//! Path rules: what a path inside a synced folder may look like.
//!
//! Every path Harp stores or sends is relative, `/`-separated UTF-8 in
//! Unicode NFC, and safe to create on Linux, Windows and macOS peers alike.
//! Anything else is refused with `InvalidPath`, naming the rule it broke;
//! nothing is silently rewritten except the harmless normalisations listed
//! in `normalize`.

use unicode_normalization::UnicodeNormalization;

use crate::error::{HarpError, Result};

/// Longest path in bytes (Linux PATH_MAX).
pub const MAX_PATH_BYTES: usize = 4096;
/// Longest single name in bytes (NAME_MAX on Linux and most file systems).
pub const MAX_NAME_BYTES: usize = 255;
/// Longest folder id in bytes.
pub const MAX_FOLDER_ID: usize = 64;

/// What every temporary file Harp writes inside a folder is called:
/// this prefix, 32 lowercase hex digits, and `TEMP_SUFFIX` (`.part`, which
/// Nextcloud's scanner skips too).
pub const TEMP_PREFIX: &str = ".harp-tmp-";
/// The temporary file's suffix.
pub const TEMP_SUFFIX: &str = ".part";

/// Whether `name` (one path segment) is reserved for Harp's temporary
/// files: `.harp-tmp-` and 32 lowercase hex digits, with `.part` after
/// them (or without, as Harp 0.1 named them). The one rule for every
/// depth, for notifies, scans and peers' entries alike; every other name,
/// `.harpoon-notes.txt` or `.harp` included, is an ordinary file.
pub fn is_reserved_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
        return false;
    };
    let hex = rest.strip_suffix(TEMP_SUFFIX).unwrap_or(rest);
    hex.len() == 32
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether any segment of `path` is a reserved name.
pub fn is_reserved(path: &str) -> bool {
    path.split('/').any(is_reserved_name)
}

/// Names Windows reserves for devices, with or without an extension.
const WINDOWS_RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

fn invalid(path: &str, rule: impl Into<String>) -> HarpError {
    HarpError::InvalidPath {
        path: path.to_string(),
        rule: rule.into(),
    }
}

/// Normalises and checks a path inside a folder.
///
/// Accepted and normalised: a leading `/` or `./` is dropped only when the
/// caller passes `lenient = true` (hooks give Nextcloud-style paths like
/// `/docs/a.txt`); repeated slashes collapse; the result is NFC.
/// Refused: empty paths, `..`, `.` segments in the middle, NUL and control
/// characters, backslashes, characters or names Windows cannot hold
/// (`<>:"|?*`, `CON`, `aux.txt`, trailing dot or space), over-long names and
/// paths.
pub fn normalize(path: &str, lenient: bool) -> Result<String> {
    if path.contains('\0') {
        return Err(invalid(path, "contains a NUL byte"));
    }
    let mut p = path;
    if lenient {
        p = p.trim_start_matches('/');
        while let Some(rest) = p.strip_prefix("./") {
            p = rest.trim_start_matches('/');
        }
    } else if p.starts_with('/') {
        return Err(invalid(
            path,
            "is absolute; give a path relative to the folder",
        ));
    }
    if p.is_empty() {
        return Err(invalid(path, "is empty"));
    }
    let nfc: String = p.nfc().collect();
    if nfc.len() > MAX_PATH_BYTES {
        return Err(invalid(
            path,
            format!("is {} bytes long; the limit is {MAX_PATH_BYTES}", nfc.len()),
        ));
    }
    let mut out = String::with_capacity(nfc.len());
    for name in nfc.split('/').filter(|n| !n.is_empty()) {
        check_name(path, name)?;
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(name);
    }
    if out.is_empty() {
        return Err(invalid(path, "names no file"));
    }
    Ok(out)
}

fn check_name(path: &str, name: &str) -> Result<()> {
    if name == ".." {
        return Err(invalid(path, "contains '..', which would leave the folder"));
    }
    if name == "." {
        return Err(invalid(path, "contains a '.' segment"));
    }
    if is_reserved_name(name) {
        return Err(invalid(
            path,
            format!(
                "uses the name {name:?}, which Harp reserves for its temporary files ({TEMP_PREFIX}<32 hex digits>{TEMP_SUFFIX})"
            ),
        ));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(invalid(
            path,
            format!(
                "has a name of {} bytes; the limit is {MAX_NAME_BYTES}",
                name.len()
            ),
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(invalid(
            path,
            format!("contains the control character U+{:04X}", u32::from(c)),
        ));
    }
    if name.contains('\\') {
        return Err(invalid(
            path,
            "contains a backslash, which Windows reads as a separator",
        ));
    }
    if let Some(c) = name.chars().find(|c| "<>:\"|?*".contains(*c)) {
        return Err(invalid(
            path,
            format!("contains {c:?}, which Windows cannot hold in a name"),
        ));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Err(invalid(
            path,
            format!("has the name {name:?} ending in a dot or space, which Windows cannot hold"),
        ));
    }
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    if WINDOWS_RESERVED
        .iter()
        .any(|r| r.eq_ignore_ascii_case(stem))
    {
        return Err(invalid(
            path,
            format!("uses the name {name:?}, which Windows reserves for a device"),
        ));
    }
    Ok(())
}

/// Checks a folder id: 1 to 64 characters from `A-Z a-z 0-9 . _ -`, not
/// starting with a dot.
pub fn check_folder_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= MAX_FOLDER_ID
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(HarpError::Config(format!(
            "invalid folder id {id:?}: use 1 to {MAX_FOLDER_ID} characters from A-Z, a-z, 0-9, '.', '_' and '-', not starting with '.'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(p: &str) -> String {
        match normalize(p, false) {
            Err(HarpError::InvalidPath { rule, .. }) => rule,
            other => panic!("{p:?} should be refused, got {other:?}"),
        }
    }

    #[test]
    fn ordinary_paths_pass_and_normalise() {
        assert_eq!(normalize("a/b.txt", false).unwrap(), "a/b.txt");
        assert_eq!(normalize("a//b.txt", false).unwrap(), "a/b.txt");
        assert_eq!(normalize("/a/b.txt", true).unwrap(), "a/b.txt");
        assert_eq!(normalize("./a", true).unwrap(), "a");
        // NFD "é" becomes NFC.
        assert_eq!(
            normalize("cafe\u{301}.txt", false).unwrap(),
            "caf\u{e9}.txt"
        );
        assert_eq!(normalize(".hidden", false).unwrap(), ".hidden");
    }

    #[test]
    fn every_rule_names_itself() {
        assert!(rule("../etc/passwd").contains(".."));
        assert!(rule("a/../../b").contains(".."));
        assert!(rule("/etc/passwd").contains("absolute"));
        assert!(rule("a\0b").contains("NUL"));
        assert!(rule("a\\b").contains("backslash"));
        assert!(rule("a/b\u{7}").contains("control"));
        assert!(rule(&"x".repeat(256)).contains("255"));
        assert!(rule(&"abc/".repeat(1100)).contains("4096"));
        assert!(rule("a/CON").contains("reserves"));
        assert!(rule("aux.txt").contains("reserves"));
        assert!(rule("what?.txt").contains("Windows"));
        assert!(rule("name.").contains("dot or space"));
        assert!(rule("name ").contains("dot or space"));
        assert!(rule("").contains("empty"));
        assert!(rule("a/./b").contains("'.'"));
        let tmp = format!(".harp-tmp-{}.part", "0123456789abcdef".repeat(2));
        assert!(rule(&tmp).contains("reserves for its temporary files"));
        assert!(rule(&format!("sub/deeper/{tmp}")).contains("temporary"));
    }

    #[test]
    fn only_the_temp_file_pattern_is_reserved_at_every_depth() {
        let hex = "0123456789abcdef".repeat(2);
        for reserved in [
            format!(".harp-tmp-{hex}.part"),
            format!(".harp-tmp-{hex}"),
            format!("a/b/.harp-tmp-{hex}.part"),
        ] {
            assert!(is_reserved(&reserved), "{reserved}");
            assert!(normalize(&reserved, true).is_err(), "{reserved}");
        }
        for ordinary in [
            ".harpoon-notes.txt".to_string(),
            ".harp".to_string(),
            ".harp-tmp-notes.txt".to_string(),
            format!(".harp-tmp-{}.part", "0123456789ABCDEF".repeat(2)),
            format!(".harp-tmp-{hex}.part.txt"),
            format!("sub/.harp-tmp-{hex}x"),
        ] {
            assert!(!is_reserved(&ordinary), "{ordinary}");
            assert_eq!(normalize(&ordinary, false).unwrap(), ordinary);
        }
    }

    #[test]
    fn folder_ids() {
        assert!(check_folder_id("docs").is_ok());
        assert!(check_folder_id("office-a_1.x").is_ok());
        assert!(check_folder_id("").is_err());
        assert!(check_folder_id(".x").is_err());
        assert!(check_folder_id("a/b").is_err());
        assert!(check_folder_id(&"a".repeat(65)).is_err());
    }
}
