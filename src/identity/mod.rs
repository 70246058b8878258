//! Device identity: the signing key each device keeps in its state
//! directory, and the device ID derived from it.
//!
//! The device ID is SHA3-256 of the ed25519 public key. Its text form is
//! meant to be read aloud and compared by people: 52 base32 characters of
//! the hash followed by 4 base32 check characters, in 8 groups of 7 joined
//! by dashes, e.g. `MFRGGZD-...`. The check characters are the first 20 bits
//! of SHA3-256("harp-device-id-check" || id), so a typo in any character is
//! caught with probability 1 - 2^-20.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use data_encoding::BASE32_NOPAD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha3::{Digest, Sha3_256};

use crate::error::{HarpError, Result};

/// File name of the device key inside the state directory.
pub const KEY_FILE: &str = "device.key";

/// Magic prefix of the key file, so a wrong file is recognised as such.
const KEY_MAGIC: &[u8; 8] = b"HARPKEY1";

/// A device's ID: SHA3-256 of its public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(pub [u8; 32]);

impl DeviceId {
    /// The ID of a public key.
    pub fn of(public: &VerifyingKey) -> Self {
        DeviceId(Sha3_256::digest(public.as_bytes()).into())
    }

    /// Parses the text form. Case, spaces and dashes are ignored; a wrong
    /// length or a wrong check character is an error naming the problem.
    pub fn parse(text: &str) -> Result<Self> {
        let clean: String = text
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if clean.len() != 56 {
            return Err(HarpError::Config(format!(
                "device ID {text:?} should have 56 characters (8 groups of 7), it has {}",
                clean.len()
            )));
        }
        let (body, check) = clean.split_at(52);
        let bytes = BASE32_NOPAD.decode(body.as_bytes()).map_err(|_| {
            HarpError::Config(format!(
                "device ID {text:?} holds characters outside A-Z and 2-7"
            ))
        })?;
        let id: [u8; 32] = bytes
            .try_into()
            .map_err(|_| HarpError::Config(format!("device ID {text:?} is malformed")))?;
        if check_chars(&id) != check {
            return Err(HarpError::Config(format!(
                "device ID {text:?} fails its check: a character is mistyped"
            )));
        }
        Ok(DeviceId(id))
    }

    /// A short form for logs and conflict-copy names: the first 7 characters.
    pub fn short(&self) -> String {
        self.to_string().chars().take(7).collect()
    }
}

fn check_chars(id: &[u8; 32]) -> String {
    let mut h = Sha3_256::new();
    h.update(b"harp-device-id-check");
    h.update(id);
    let digest = h.finalize();
    // 4 base32 characters = 20 bits; encode 5 bytes (8 chars) and keep 4.
    let mut chars = BASE32_NOPAD.encode(&digest[..5]);
    chars.truncate(4);
    chars
}

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut all = BASE32_NOPAD.encode(&self.0);
        all.push_str(&check_chars(&self.0));
        let groups: Vec<&str> = (0..8).map(|i| &all[i * 7..i * 7 + 7]).collect();
        f.write_str(&groups.join("-"))
    }
}

impl std::fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceId({})", self.short())
    }
}

/// The device's signing key, kept in `device.key` in the state directory.
pub struct DeviceKey {
    signing: SigningKey,
}

impl DeviceKey {
    /// Loads the key from `dir`, or creates it on first use. A new key is
    /// written to a temporary file with mode 0600, synced, then renamed, so
    /// a crash never leaves a half-written key behind.
    pub fn load_or_create(dir: &Path) -> Result<Self> {
        let path = dir.join(KEY_FILE);
        match fs::read(&path) {
            Ok(bytes) => Self::decode(&bytes).map_err(|e| match e {
                HarpError::Storage(m) => HarpError::Storage(format!("{}: {m}", path.display())),
                other => other,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut seed = [0u8; 32];
                getrandom::getrandom(&mut seed)
                    .map_err(|e| HarpError::storage("no randomness for a new device key", e))?;
                let key = DeviceKey {
                    signing: SigningKey::from_bytes(&seed),
                };
                key.write(&path)?;
                Ok(key)
            }
            Err(e) => Err(HarpError::storage(format!("reading {}", path.display()), e)),
        }
    }

    /// Loads the key from `dir` if there is one; never creates it.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(KEY_FILE);
        match fs::read(&path) {
            Ok(bytes) => Self::decode(&bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HarpError::storage(format!("reading {}", path.display()), e)),
        }
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != 40 || &bytes[..8] != KEY_MAGIC {
            return Err(HarpError::Storage(
                "the device key file is damaged (expected 40 bytes starting with HARPKEY1); \
                 restore it from a backup, or delete it to become a new device"
                    .into(),
            ));
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&bytes[8..]);
        Ok(DeviceKey {
            signing: SigningKey::from_bytes(&seed),
        })
    }

    fn write(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("key.tmp");
        let mut data = Vec::with_capacity(40);
        data.extend_from_slice(KEY_MAGIC);
        data.extend_from_slice(self.signing.as_bytes());
        let io = |e: std::io::Error| HarpError::storage(format!("writing {}", path.display()), e);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        f.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io)?;
        f.write_all(&data).map_err(io)?;
        f.sync_all().map_err(io)?;
        fs::rename(&tmp, path).map_err(io)?;
        if let Some(parent) = path.parent() {
            crate::fsutil::sync_dir(parent)?;
        }
        Ok(())
    }

    /// A key from a known 32-byte seed (tests, benchmarks, test vectors).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        DeviceKey {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// This device's ID.
    pub fn device_id(&self) -> DeviceId {
        DeviceId::of(&self.signing.verifying_key())
    }

    /// The public half of the key.
    pub fn public(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// The key as PKCS#8 DER, for the TLS certificate.
    pub fn pkcs8_der(&self) -> Result<Vec<u8>> {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        self.signing
            .to_pkcs8_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| HarpError::Internal(format!("encoding the device key: {e}")))
    }

    /// Signs a message (the chain signs entry hashes).
    pub fn sign(&self, msg: &[u8]) -> Signature {
        self.signing.sign(msg)
    }
}

/// Checks `sig` over `msg` against a public key.
pub fn verify(public: &VerifyingKey, msg: &[u8], sig: &Signature) -> bool {
    public.verify(msg, sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_and_reloaded_with_the_same_id() {
        let dir = tempfile::tempdir().unwrap();
        let a = DeviceKey::load_or_create(dir.path()).unwrap();
        let b = DeviceKey::load_or_create(dir.path()).unwrap();
        assert_eq!(a.device_id(), b.device_id());
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key must be private to its owner");
    }

    #[test]
    fn damaged_key_file_is_a_clear_error_not_a_new_identity() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KEY_FILE), b"garbage").unwrap();
        let err = DeviceKey::load_or_create(dir.path()).err().unwrap();
        assert!(err.to_string().contains("damaged"), "{err}");
        // The damaged file is left alone for the user to inspect.
        assert_eq!(fs::read(dir.path().join(KEY_FILE)).unwrap(), b"garbage");
    }

    #[test]
    fn device_id_text_round_trips_and_catches_typos() {
        let id = DeviceId(Sha3_256::digest(b"some public key").into());
        let text = id.to_string();
        assert_eq!(text.len(), 8 * 7 + 7);
        assert_eq!(text.split('-').count(), 8);
        assert_eq!(DeviceId::parse(&text).unwrap(), id);
        assert_eq!(DeviceId::parse(&text.to_lowercase()).unwrap(), id);
        assert_eq!(DeviceId::parse(&text.replace('-', "")).unwrap(), id);

        // Change each character in turn: every single typo is caught.
        let chars: Vec<char> = text.chars().collect();
        for i in 0..chars.len() {
            if chars[i] == '-' {
                continue;
            }
            let mut typo = chars.clone();
            typo[i] = if chars[i] == 'A' { 'B' } else { 'A' };
            let typo: String = typo.into_iter().collect();
            assert!(DeviceId::parse(&typo).is_err(), "typo at {i} not caught");
        }
        assert!(DeviceId::parse("too-short").is_err());
    }

    #[test]
    fn signatures_verify_only_for_the_signed_message() {
        let dir = tempfile::tempdir().unwrap();
        let key = DeviceKey::load_or_create(dir.path()).unwrap();
        let sig = key.sign(b"entry hash");
        assert!(verify(&key.public(), b"entry hash", &sig));
        assert!(!verify(&key.public(), b"other hash", &sig));
    }
}

#[cfg(test)]
mod vectors {
    use super::*;

    /// The test vector published in docs/FORMAT.md (checked there against
    /// an independent Python implementation).
    #[test]
    fn device_id_of_the_documented_seed() {
        let key = DeviceKey::decode(&[KEY_MAGIC.as_slice(), &[7u8; 32]].concat()).unwrap();
        let hex = |b: &[u8]| data_encoding::HEXLOWER.encode(b);
        assert_eq!(
            hex(key.public().as_bytes()),
            "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c"
        );
        assert_eq!(
            hex(&key.device_id().0),
            "791026e25cc1ba461167ffb5c6dc095c284bd92cdc5ca34ac589a95d24f53830"
        );
        assert_eq!(
            key.device_id().to_string(),
            "PEICNYS-4YG5EME-LH7624N-XAJLQUE-XWJM3RO-KGSWFRG-UV2JHVH-AYAINAN"
        );
    }
}
