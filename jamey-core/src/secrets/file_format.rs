//! The on-disk format of `secrets.enc`: a fixed header (which key opens the file, the KDF salt and
//! a key check), then AES-256-GCM over a JSON object of name -> value, with the header as
//! associated data so it cannot be altered unnoticed.
//!
//! ```text
//! offset  len  field
//!      0    8  magic "JAMEYSEC"
//!      8    1  format version (1)
//!      9    1  key kind: 1 key file, 2 keychain, 3 passphrase (PBKDF2-HMAC-SHA256)
//!     10    4  PBKDF2 iterations, big-endian (0 unless passphrase)
//!     14   16  PBKDF2 salt (zeros unless passphrase)
//!     30   16  key check: SHA-256("jamey secrets key check v1" || key), first 16 bytes
//!     46   12  nonce, fresh for every write
//!     58    *  ciphertext followed by the 16-byte GCM tag
//! ```
//!
//! The key check tells a wrong key (or passphrase) apart from a modified file; it reveals nothing
//! useful, as the key is 256 bits of random or PBKDF2 output.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{random_bytes, Secret, SecretError};

/// The length of the AES-256 key.
pub(crate) const KEY_LEN: usize = 32;
/// The AES-256 key, zeroed on drop.
pub(crate) type Key = Zeroizing<[u8; KEY_LEN]>;

/// PBKDF2-HMAC-SHA256 rounds for new passphrase-protected files (OWASP's 2023 figure).
pub const PBKDF2_ITERATIONS: u32 = 600_000;
/// Files claiming fewer rounds are refused, so an edited header cannot weaken the KDF.
const MIN_ITERATIONS: u32 = 200_000;
/// Files claiming more rounds are refused, so an edited header cannot stall start-up for hours.
const MAX_ITERATIONS: u32 = 20_000_000;

const MAGIC: &[u8; 8] = b"JAMEYSEC";
const VERSION: u8 = 1;
pub(crate) const SALT_LEN: usize = 16;
const CHECK_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 8 + 1 + 1 + 4 + SALT_LEN + CHECK_LEN;
const KEY_CHECK_CONTEXT: &[u8] = b"jamey secrets key check v1";

/// Where the file's key comes from, as recorded in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    KeyFile,
    Keychain,
    Passphrase,
}

impl KeyKind {
    fn to_byte(self) -> u8 {
        match self {
            Self::KeyFile => 1,
            Self::Keychain => 2,
            Self::Passphrase => 3,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::KeyFile),
            2 => Some(Self::Keychain),
            3 => Some(Self::Passphrase),
            _ => None,
        }
    }
}

/// The authenticated, unencrypted part of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) kind: KeyKind,
    pub(crate) iterations: u32,
    pub(crate) salt: [u8; SALT_LEN],
    key_check: [u8; CHECK_LEN],
}

impl Header {
    /// The header for a file written with `key`.
    pub(crate) fn new(kind: KeyKind, iterations: u32, salt: [u8; SALT_LEN], key: &Key) -> Self {
        Self {
            kind,
            iterations,
            salt,
            key_check: key_check(key),
        }
    }

    /// Whether `key` is the one this file was written with.
    pub(crate) fn accepts(&self, key: &Key) -> bool {
        self.key_check == key_check(key)
    }

    fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..8].copy_from_slice(MAGIC);
        out[8] = VERSION;
        out[9] = self.kind.to_byte();
        out[10..14].copy_from_slice(&self.iterations.to_be_bytes());
        out[14..14 + SALT_LEN].copy_from_slice(&self.salt);
        out[14 + SALT_LEN..].copy_from_slice(&self.key_check);
        out
    }

    /// Parses the header at the start of `bytes`; the error is the reason for
    /// [`SecretError::Malformed`].
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, &'static str> {
        let header = bytes.get(..HEADER_LEN).ok_or("the file is too short")?;
        if &header[..8] != MAGIC {
            return Err("it does not start with JAMEYSEC");
        }
        if header[8] != VERSION {
            return Err("its format version is not 1");
        }
        let kind = KeyKind::from_byte(header[9]).ok_or("its key kind is unknown")?;
        let mut iterations = [0u8; 4];
        iterations.copy_from_slice(&header[10..14]);
        let iterations = u32::from_be_bytes(iterations);
        if kind == KeyKind::Passphrase && !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err("its PBKDF2 iteration count is out of range");
        }
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&header[14..14 + SALT_LEN]);
        let mut key_check = [0u8; CHECK_LEN];
        key_check.copy_from_slice(&header[14 + SALT_LEN..]);
        Ok(Self {
            kind,
            iterations,
            salt,
            key_check,
        })
    }
}

/// Why a file could not be opened, before the caller attaches its path and key source.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OpenError {
    Malformed(&'static str),
    WrongKey,
    Tampered,
}

/// Derives the file key from a passphrase.
pub(crate) fn derive_key(passphrase: &Secret, salt: &[u8; SALT_LEN], iterations: u32) -> Key {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    pbkdf2::pbkdf2_hmac::<Sha256>(
        passphrase.expose().as_bytes(),
        salt,
        iterations,
        &mut key[..],
    );
    key
}

/// A fresh random key.
pub(crate) fn random_key() -> Result<Key, SecretError> {
    random_bytes::<KEY_LEN>().map(Zeroizing::new)
}

/// Encrypts `plaintext` under `key` with a fresh nonce; returns the whole file.
pub(crate) fn seal(header: &Header, key: &Key, plaintext: &[u8]) -> Result<Vec<u8>, SecretError> {
    let header_bytes = header.to_bytes();
    let nonce = random_bytes::<NONCE_LEN>()?;
    let cipher = Aes256Gcm::new(key.as_slice().into());
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &header_bytes,
            },
        )
        .map_err(|_| SecretError::Encrypt)?;
    let mut file = Vec::with_capacity(HEADER_LEN + NONCE_LEN + ciphertext.len());
    file.extend_from_slice(&header_bytes);
    file.extend_from_slice(&nonce);
    file.extend_from_slice(&ciphertext);
    Ok(file)
}

/// Checks the key against the header, then decrypts and authenticates the body.
pub(crate) fn open(file: &[u8], key: &Key) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let header = Header::parse(file).map_err(OpenError::Malformed)?;
    if !header.accepts(key) {
        return Err(OpenError::WrongKey);
    }
    let body = &file[HEADER_LEN..];
    if body.len() < NONCE_LEN + TAG_LEN {
        return Err(OpenError::Malformed("the file is truncated"));
    }
    let (nonce, ciphertext) = body.split_at(NONCE_LEN);
    let cipher = Aes256Gcm::new(key.as_slice().into());
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: &file[..HEADER_LEN],
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| OpenError::Tampered)
}

fn key_check(key: &Key) -> [u8; CHECK_LEN] {
    let digest = Sha256::new()
        .chain_update(KEY_CHECK_CONTEXT)
        .chain_update(key.as_slice())
        .finalize();
    let mut check = [0u8; CHECK_LEN];
    check.copy_from_slice(&digest[..CHECK_LEN]);
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Key {
        Zeroizing::new([byte; KEY_LEN])
    }

    #[test]
    fn seal_then_open() -> anyhow::Result<()> {
        let header = Header::new(KeyKind::KeyFile, 0, [0; SALT_LEN], &key(7));
        let file = seal(&header, &key(7), b"{\"a\":\"b\"}")?;
        assert_eq!(Header::parse(&file), Ok(header));
        assert_eq!(
            open(&file, &key(7)).map(|p| p.to_vec()),
            Ok(b"{\"a\":\"b\"}".to_vec())
        );
        Ok(())
    }

    #[test]
    fn nonces_differ_between_writes() -> anyhow::Result<()> {
        let header = Header::new(KeyKind::KeyFile, 0, [0; SALT_LEN], &key(1));
        let first = seal(&header, &key(1), b"{}")?;
        let second = seal(&header, &key(1), b"{}")?;
        assert_ne!(
            first[HEADER_LEN..HEADER_LEN + NONCE_LEN],
            second[HEADER_LEN..HEADER_LEN + NONCE_LEN]
        );
        Ok(())
    }

    #[test]
    fn wrong_key_altered_header_and_altered_body_are_told_apart() -> anyhow::Result<()> {
        let header = Header::new(KeyKind::KeyFile, 0, [0; SALT_LEN], &key(1));
        let file = seal(&header, &key(1), b"{}")?;
        assert_eq!(open(&file, &key(2)), Err(OpenError::WrongKey));

        let mut body = file.clone();
        let last = body.len() - 1;
        body[last] ^= 1;
        assert_eq!(open(&body, &key(1)), Err(OpenError::Tampered));

        // The header is associated data: an edited iteration count fails authentication.
        let mut iterations = file.clone();
        iterations[13] ^= 1;
        assert_eq!(open(&iterations, &key(1)), Err(OpenError::Tampered));

        assert!(matches!(
            open(&file[..HEADER_LEN + 4], &key(1)),
            Err(OpenError::Malformed(_))
        ));
        assert!(matches!(
            open(
                b"not a secrets file at all, just text........................",
                &key(1)
            ),
            Err(OpenError::Malformed(_))
        ));
        Ok(())
    }

    #[test]
    fn passphrase_iterations_are_bounded() -> anyhow::Result<()> {
        let header = Header::new(KeyKind::Passphrase, 1_000, [3; SALT_LEN], &key(1));
        let file = seal(&header, &key(1), b"{}")?;
        assert!(Header::parse(&file).is_err());
        Ok(())
    }

    #[test]
    fn derivation_depends_on_passphrase_and_salt() {
        let pass = Secret::from("correct horse");
        let a = derive_key(&pass, &[1; SALT_LEN], MIN_ITERATIONS);
        let b = derive_key(&pass, &[2; SALT_LEN], MIN_ITERATIONS);
        let c = derive_key(
            &Secret::from("battery staple"),
            &[1; SALT_LEN],
            MIN_ITERATIONS,
        );
        assert_ne!(*a, *b);
        assert_ne!(*a, *c);
        assert_eq!(*a, *derive_key(&pass, &[1; SALT_LEN], MIN_ITERATIONS));
    }
}
