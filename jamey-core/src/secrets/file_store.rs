//! `EncryptedFileSecretStore`: secrets in one AES-256-GCM encrypted file (`JAMEY_HOME/secrets.enc`,
//! mode 0600, replaced atomically on every write), keyed by a random key kept in the keychain or a
//! key file, or by a key derived from a passphrase.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use zeroize::Zeroizing;

use super::file_format::{
    self, Header, Key, KeyKind, OpenError, KEY_LEN, PBKDF2_ITERATIONS, SALT_LEN,
};
use super::private_file::{
    read_optional, remove_quietly, sync_parent, warn_if_shared, write_atomically,
    write_private_temporary,
};
use super::{
    random_bytes, validate_entry, validate_name, KeyringSecretStore, Secret, SecretError,
    SecretStore,
};

/// The keychain entry holding the file key. The `:` keeps it outside the secret namespace, so no
/// `set` can overwrite it.
const KEYCHAIN_KEY_ENTRY: &str = "jamey:secrets-file-key";

/// Where the key of the encrypted secrets file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKeySource {
    /// A random key held in the OS keychain.
    Keychain,
    /// A key derived from a passphrase with PBKDF2-HMAC-SHA256.
    Passphrase,
    /// A random key in a file (`JAMEY_HOME/secrets.key`, mode 0600).
    KeyFile(PathBuf),
}

impl fmt::Display for FileKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Keychain => f.write_str("the OS keychain"),
            Self::Passphrase => f.write_str("the passphrase"),
            Self::KeyFile(path) => write!(f, "the key file {}", path.display()),
        }
    }
}

/// Secrets in an encrypted file. Every read decrypts the file afresh, so writes by another
/// process are seen; writes within one process are serialized.
pub struct EncryptedFileSecretStore {
    path: PathBuf,
    key_source: FileKeySource,
    key: Mutex<KeyState>,
}

enum KeyState {
    Ready {
        key: Key,
        header: Header,
    },
    /// Neither the secrets file nor the key file exists yet: the key file is created by the
    /// first write, so a read-only start leaves nothing behind.
    KeyFileOnFirstWrite(PathBuf),
}

impl EncryptedFileSecretStore {
    /// Opens `path` with the random key in `key_file` (64 hex digits), which the first write
    /// creates with mode 0600 when neither file exists.
    pub fn with_key_file(
        path: impl Into<PathBuf>,
        key_file: impl Into<PathBuf>,
    ) -> Result<Self, SecretError> {
        let path = path.into();
        let key_file = key_file.into();
        let source = FileKeySource::KeyFile(key_file.clone());
        let header = expect_kind(&path, read_header(&path)?, KeyKind::KeyFile, &source)?;
        let state = match read_key_file(&key_file)? {
            Some(key) => KeyState::Ready {
                header: Header::new(KeyKind::KeyFile, 0, [0; SALT_LEN], &key),
                key,
            },
            None if header.is_some() => {
                return Err(SecretError::KeyMissing {
                    path,
                    key_source: source,
                })
            }
            None => KeyState::KeyFileOnFirstWrite(key_file),
        };
        Self::verified(path, source, state)
    }

    /// Opens `path` with a key derived from `passphrase`: with the file's salt and iteration
    /// count when it exists, else with a fresh salt and [`PBKDF2_ITERATIONS`].
    pub fn with_passphrase(
        path: impl Into<PathBuf>,
        passphrase: &Secret,
    ) -> Result<Self, SecretError> {
        let path = path.into();
        if passphrase.is_empty() {
            return Err(SecretError::EmptyPassphrase);
        }
        let source = FileKeySource::Passphrase;
        let (salt, iterations) =
            match expect_kind(&path, read_header(&path)?, KeyKind::Passphrase, &source)? {
                Some(header) => (header.salt, header.iterations),
                None => (random_bytes::<SALT_LEN>()?, PBKDF2_ITERATIONS),
            };
        let key = file_format::derive_key(passphrase, &salt, iterations);
        let header = Header::new(KeyKind::Passphrase, iterations, salt, &key);
        Self::verified(path, source, KeyState::Ready { key, header })
    }

    /// Opens `path` with a random key held in `keychain`, creating that key when the file does
    /// not exist yet.
    pub fn with_keychain_key(
        path: impl Into<PathBuf>,
        keychain: &KeyringSecretStore,
    ) -> Result<Self, SecretError> {
        let path = path.into();
        let source = FileKeySource::Keychain;
        let header = expect_kind(&path, read_header(&path)?, KeyKind::Keychain, &source)?;
        let key = match keychain.read_entry(KEYCHAIN_KEY_ENTRY)? {
            Some(stored) => parse_key(stored.expose(), &source)?,
            None if header.is_some() => {
                return Err(SecretError::KeyMissing {
                    path,
                    key_source: source,
                })
            }
            None => {
                let key = file_format::random_key()?;
                let encoded = Secret::from(hex::encode(key.as_slice()));
                keychain.write_entry(KEYCHAIN_KEY_ENTRY, &encoded)?;
                key
            }
        };
        let header = Header::new(KeyKind::Keychain, 0, [0; SALT_LEN], &key);
        Self::verified(path, source, KeyState::Ready { key, header })
    }

    /// The encrypted file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the file's key comes from.
    pub fn key_source(&self) -> &FileKeySource {
        &self.key_source
    }

    /// The names of the secrets in the file, sorted.
    pub fn names(&self) -> Result<Vec<String>, SecretError> {
        let mut state = self.key.lock();
        Ok(self.load(&mut state)?.into_keys().collect())
    }

    /// Builds the store and decrypts the existing file once, so a wrong key or a damaged file
    /// fails at start rather than at first use.
    fn verified(
        path: PathBuf,
        key_source: FileKeySource,
        state: KeyState,
    ) -> Result<Self, SecretError> {
        let store = Self {
            path,
            key_source,
            key: Mutex::new(state),
        };
        {
            let mut state = store.key.lock();
            store.load(&mut state)?;
        }
        Ok(store)
    }

    /// The key, loading the key file if another process created it since.
    fn ready_key<'s>(
        &self,
        state: &'s mut KeyState,
        create: bool,
    ) -> Result<Option<(&'s Key, &'s Header)>, SecretError> {
        if let KeyState::KeyFileOnFirstWrite(key_file) = state {
            let key = match read_key_file(key_file)? {
                Some(key) => key,
                None if create => create_key_file(key_file)?,
                None => return Ok(None),
            };
            let header = Header::new(KeyKind::KeyFile, 0, [0; SALT_LEN], &key);
            *state = KeyState::Ready { key, header };
        }
        match state {
            KeyState::Ready { key, header } => Ok(Some((key, header))),
            KeyState::KeyFileOnFirstWrite(_) => Ok(None),
        }
    }

    fn load(&self, state: &mut KeyState) -> Result<BTreeMap<String, Secret>, SecretError> {
        let Some(file) = read_optional(&self.path)? else {
            return Ok(BTreeMap::new());
        };
        let Some((key, _)) = self.ready_key(state, false)? else {
            return Err(SecretError::KeyMissing {
                path: self.path.clone(),
                key_source: self.key_source.clone(),
            });
        };
        let plaintext = file_format::open(&file, key).map_err(|e| self.open_error(e))?;
        let values: BTreeMap<String, String> =
            serde_json::from_slice(&plaintext).map_err(|_| SecretError::Malformed {
                path: self.path.clone(),
                reason: "the decrypted content is not a JSON object of strings",
            })?;
        Ok(values
            .into_iter()
            .map(|(name, value)| (name, Secret::from(value)))
            .collect())
    }

    fn save(
        &self,
        state: &mut KeyState,
        values: &BTreeMap<String, Secret>,
    ) -> Result<(), SecretError> {
        let Some((key, header)) = self.ready_key(state, true)? else {
            return Err(SecretError::KeyMissing {
                path: self.path.clone(),
                key_source: self.key_source.clone(),
            });
        };
        let plain: BTreeMap<&str, &str> = values
            .iter()
            .map(|(name, value)| (name.as_str(), value.expose()))
            .collect();
        let capacity = plain
            .iter()
            .map(|(n, v)| n.len() + v.len() + 8)
            .sum::<usize>()
            + 2;
        // Sized up front so the buffer is not reallocated, leaving no stray copies to zero.
        let mut json = Zeroizing::new(Vec::with_capacity(capacity * 2));
        serde_json::to_writer(&mut *json, &plain).map_err(|_| SecretError::Encrypt)?;
        let sealed = file_format::seal(header, key, &json)?;
        write_atomically(&self.path, &sealed)
    }

    fn open_error(&self, err: OpenError) -> SecretError {
        let path = self.path.clone();
        match err {
            OpenError::Malformed(reason) => SecretError::Malformed { path, reason },
            OpenError::Tampered => SecretError::Tampered { path },
            OpenError::WrongKey if self.key_source == FileKeySource::Passphrase => {
                SecretError::WrongPassphrase { path }
            }
            OpenError::WrongKey => SecretError::WrongKey {
                path,
                key_source: self.key_source.clone(),
            },
        }
    }
}

impl fmt::Debug for EncryptedFileSecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedFileSecretStore")
            .field("path", &self.path)
            .field("key_source", &self.key_source)
            .finish_non_exhaustive()
    }
}

impl SecretStore for EncryptedFileSecretStore {
    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        validate_name(name)?;
        let mut state = self.key.lock();
        Ok(self.load(&mut state)?.remove(name))
    }

    fn set(&self, name: &str, value: &Secret) -> Result<(), SecretError> {
        validate_entry(name, value)?;
        let mut state = self.key.lock();
        let mut values = self.load(&mut state)?;
        values.insert(name.to_owned(), value.clone());
        self.save(&mut state, &values)
    }

    fn delete(&self, name: &str) -> Result<bool, SecretError> {
        validate_name(name)?;
        let mut state = self.key.lock();
        let mut values = self.load(&mut state)?;
        if values.remove(name).is_none() {
            return Ok(false);
        }
        self.save(&mut state, &values)?;
        Ok(true)
    }

    fn backend(&self) -> &'static str {
        "encrypted-file"
    }
}

/// The key kind the secrets file at `path` was written with, or `None` when there is no file.
pub(crate) fn stored_key_kind(path: &Path) -> Result<Option<KeyKind>, SecretError> {
    Ok(read_header(path)?.map(|header| header.kind))
}

fn read_header(path: &Path) -> Result<Option<Header>, SecretError> {
    let Some(file) = read_optional(path)? else {
        return Ok(None);
    };
    Header::parse(&file)
        .map(Some)
        .map_err(|reason| SecretError::Malformed {
            path: path.to_owned(),
            reason,
        })
}

/// Refuses a file written with another kind of key than the one offered.
fn expect_kind(
    path: &Path,
    header: Option<Header>,
    offered: KeyKind,
    offered_source: &FileKeySource,
) -> Result<Option<Header>, SecretError> {
    match header {
        Some(header) if header.kind != offered => {
            if header.kind == KeyKind::Passphrase {
                return Err(SecretError::PassphraseRequired {
                    path: path.to_owned(),
                });
            }
            let file_key = match header.kind {
                KeyKind::Keychain => "the OS keychain",
                KeyKind::Passphrase => "a passphrase",
                KeyKind::KeyFile => "a key file",
            };
            Err(SecretError::KeySourceMismatch {
                path: path.to_owned(),
                file_key,
                offered: offered_source.clone(),
            })
        }
        header => Ok(header),
    }
}

fn parse_key(text: &str, source: &FileKeySource) -> Result<Key, SecretError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    hex::decode_to_slice(text.trim(), &mut key[..]).map_err(|_| SecretError::BadKey {
        key_source: source.clone(),
        reason: "it is not 64 hexadecimal digits",
    })?;
    Ok(key)
}

fn read_key_file(key_file: &Path) -> Result<Option<Key>, SecretError> {
    let text = match fs::read_to_string(key_file) {
        Ok(text) => Zeroizing::new(text),
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(SecretError::io("read", key_file, err)),
    };
    warn_if_shared(key_file);
    parse_key(&text, &FileKeySource::KeyFile(key_file.to_owned())).map(Some)
}

/// Creates the key file without ever exposing a partial one: the key is written to a private
/// temporary file, then hard-linked into place, which fails if another process won the race (its
/// key is used instead).
fn create_key_file(key_file: &Path) -> Result<Key, SecretError> {
    let key = file_format::random_key()?;
    let encoded = Zeroizing::new(hex::encode(key.as_slice()));
    let temporary = write_private_temporary(key_file, encoded.as_bytes())?;
    let linked = fs::hard_link(&temporary, key_file);
    remove_quietly(&temporary);
    match linked {
        Ok(()) => {
            sync_parent(key_file);
            tracing::info!(path = %key_file.display(), "created the secrets key file");
            Ok(key)
        }
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => read_key_file(key_file)?
            .ok_or_else(|| SecretError::io("read", key_file, io::ErrorKind::NotFound.into())),
        Err(err) => Err(SecretError::io("create", key_file, err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Paths {
        _dir: tempfile::TempDir,
        secrets: PathBuf,
        key: PathBuf,
    }

    fn paths() -> anyhow::Result<Paths> {
        let dir = tempfile::tempdir()?;
        Ok(Paths {
            secrets: dir.path().join("secrets.enc"),
            key: dir.path().join("secrets.key"),
            _dir: dir,
        })
    }

    fn value(store: &dyn SecretStore, name: &str) -> anyhow::Result<Option<String>> {
        Ok(store.get(name)?.map(|s| s.expose().to_owned()))
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> anyhow::Result<u32> {
        use std::os::unix::fs::PermissionsExt;
        Ok(fs::metadata(path)?.permissions().mode() & 0o777)
    }

    #[test]
    fn round_trip_with_a_key_file() -> anyhow::Result<()> {
        let p = paths()?;
        let store = EncryptedFileSecretStore::with_key_file(&p.secrets, &p.key)?;
        assert_eq!(store.backend(), "encrypted-file");
        assert_eq!(store.key_source(), &FileKeySource::KeyFile(p.key.clone()));
        assert_eq!(value(&store, "openrouter_api_key")?, None);
        assert!(
            !p.key.exists(),
            "opening and reading must not create the key file"
        );

        store.set("openrouter_api_key", &Secret::from("sk-or-1"))?;
        store.set("database_password", &Secret::from("pg-pass"))?;
        store.set("openrouter_api_key", &Secret::from("sk-or-2"))?;
        assert!(p.key.exists());
        assert_eq!(
            value(&store, "openrouter_api_key")?.as_deref(),
            Some("sk-or-2")
        );

        let raw = fs::read(&p.secrets)?;
        assert!(
            !raw.windows(7).any(|w| w == b"sk-or-2"),
            "plaintext in the file"
        );

        let reopened = EncryptedFileSecretStore::with_key_file(&p.secrets, &p.key)?;
        assert_eq!(
            reopened.names()?,
            ["database_password", "openrouter_api_key"]
        );
        assert_eq!(
            value(&reopened, "database_password")?.as_deref(),
            Some("pg-pass")
        );
        assert!(reopened.delete("database_password")?);
        assert!(!reopened.delete("database_password")?);
        assert_eq!(
            value(&store, "database_password")?,
            None,
            "the other handle sees the delete"
        );
        Ok(())
    }

    #[test]
    fn round_trip_with_a_passphrase() -> anyhow::Result<()> {
        let p = paths()?;
        let passphrase = Secret::from("correct horse battery staple");
        let store = EncryptedFileSecretStore::with_passphrase(&p.secrets, &passphrase)?;
        assert_eq!(store.key_source(), &FileKeySource::Passphrase);
        store.set("github_token", &Secret::from("ghp_abc"))?;
        assert!(!p.key.exists(), "a passphrase needs no key file");

        let reopened = EncryptedFileSecretStore::with_passphrase(&p.secrets, &passphrase)?;
        assert_eq!(
            value(&reopened, "github_token")?.as_deref(),
            Some("ghp_abc")
        );
        Ok(())
    }

    #[test]
    fn wrong_passphrase_is_named_and_leaks_nothing() -> anyhow::Result<()> {
        let p = paths()?;
        let store = EncryptedFileSecretStore::with_passphrase(&p.secrets, &Secret::from("right"))?;
        store.set("api_key", &Secret::from("the-value"))?;

        let err = EncryptedFileSecretStore::with_passphrase(&p.secrets, &Secret::from("wrong"))
            .err()
            .ok_or_else(|| anyhow::anyhow!("a wrong passphrase opened the file"))?;
        assert!(
            matches!(err, SecretError::WrongPassphrase { .. }),
            "{err:?}"
        );
        let message = format!("{err} {err:?}");
        assert!(message.contains("wrong passphrase"), "{message}");
        assert!(
            !message.contains("the-value") && !message.contains("right"),
            "{message}"
        );

        assert!(matches!(
            EncryptedFileSecretStore::with_passphrase(&p.secrets, &Secret::default()),
            Err(SecretError::EmptyPassphrase)
        ));
        Ok(())
    }

    #[test]
    fn tampered_ciphertext_is_detected() -> anyhow::Result<()> {
        let p = paths()?;
        let store = EncryptedFileSecretStore::with_key_file(&p.secrets, &p.key)?;
        store.set("api_key", &Secret::from("the-value"))?;

        let mut raw = fs::read(&p.secrets)?;
        let middle = raw.len() - 20;
        raw[middle] ^= 0x40;
        fs::write(&p.secrets, &raw)?;

        let err = store
            .get("api_key")
            .err()
            .ok_or_else(|| anyhow::anyhow!("a tampered file was read"))?;
        assert!(matches!(err, SecretError::Tampered { .. }), "{err:?}");
        assert!(err.to_string().contains("modified or is corrupt"));
        assert!(matches!(
            EncryptedFileSecretStore::with_key_file(&p.secrets, &p.key),
            Err(SecretError::Tampered { .. })
        ));
        Ok(())
    }

    #[test]
    fn another_key_file_is_a_wrong_key() -> anyhow::Result<()> {
        let p = paths()?;
        EncryptedFileSecretStore::with_key_file(&p.secrets, &p.key)?
            .set("api_key", &Secret::from("v"))?;
        let other = p.key.with_file_name("other.key");
        fs::write(&other, format!("{}\n", "ab".repeat(32)))?;
        assert!(matches!(
            EncryptedFileSecretStore::with_key_file(&p.secrets, &other),
            Err(SecretError::WrongKey { .. })
        ));

        fs::write(&other, "not hex")?;
        assert!(matches!(
            EncryptedFileSecretStore::with_key_file(&p.secrets, &other),
            Err(SecretError::BadKey { .. })
        ));

        fs::remove_file(&p.key)?;
        assert!(matches!(
            EncryptedFileSecretStore::with_key_file(&p.secrets, &p.key),
            Err(SecretError::KeyMissing { .. })
        ));
        Ok(())
    }

    #[test]
    fn the_header_decides_which_key_opens_the_file() -> anyhow::Result<()> {
        let p = paths()?;
        EncryptedFileSecretStore::with_passphrase(&p.secrets, &Secret::from("pass"))?
            .set("api_key", &Secret::from("v"))?;
        assert!(matches!(
            EncryptedFileSecretStore::with_key_file(&p.secrets, &p.key),
            Err(SecretError::PassphraseRequired { .. })
        ));

        let q = paths()?;
        EncryptedFileSecretStore::with_key_file(&q.secrets, &q.key)?
            .set("api_key", &Secret::from("v"))?;
        let err = EncryptedFileSecretStore::with_passphrase(&q.secrets, &Secret::from("pass"))
            .err()
            .ok_or_else(|| anyhow::anyhow!("a key-file file opened with a passphrase"))?;
        assert!(
            matches!(err, SecretError::KeySourceMismatch { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("a key file"), "{err}");
        Ok(())
    }

    #[test]
    fn garbage_is_malformed() -> anyhow::Result<()> {
        let p = paths()?;
        fs::write(&p.secrets, "OPENROUTER_API_KEY=sk-plain\n")?;
        assert!(matches!(
            EncryptedFileSecretStore::with_key_file(&p.secrets, &p.key),
            Err(SecretError::Malformed { .. })
        ));
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private_and_no_temporaries_remain() -> anyhow::Result<()> {
        let p = paths()?;
        let store = EncryptedFileSecretStore::with_key_file(&p.secrets, &p.key)?;
        store.set("a", &Secret::from("1"))?;
        store.set("b", &Secret::from("2"))?;
        assert_eq!(mode(&p.secrets)?, 0o600);
        assert_eq!(mode(&p.key)?, 0o600);

        let passphrase_file = p.secrets.with_file_name("other.enc");
        EncryptedFileSecretStore::with_passphrase(&passphrase_file, &Secret::from("pw"))?
            .set("a", &Secret::from("1"))?;
        assert_eq!(mode(&passphrase_file)?, 0o600);

        let mut names: Vec<String> = fs::read_dir(p._dir.path())?
            .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        names.sort();
        assert_eq!(names, ["other.enc", "secrets.enc", "secrets.key"]);
        Ok(())
    }

    #[test]
    fn names_and_values_are_checked() -> anyhow::Result<()> {
        let p = paths()?;
        let store = EncryptedFileSecretStore::with_key_file(&p.secrets, &p.key)?;
        assert!(matches!(
            store.set("Bad Name", &Secret::from("v")),
            Err(SecretError::InvalidName { .. })
        ));
        assert!(matches!(
            store.set("ok", &Secret::default()),
            Err(SecretError::EmptyValue { .. })
        ));
        assert!(!p.key.exists() && !p.secrets.exists());
        Ok(())
    }

    #[test]
    fn concurrent_writers_in_one_process_lose_nothing() -> anyhow::Result<()> {
        let p = paths()?;
        let store =
            std::sync::Arc::new(EncryptedFileSecretStore::with_key_file(&p.secrets, &p.key)?);
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    store.set(&format!("k{i}"), &Secret::from(format!("v{i}")))
                })
            })
            .collect();
        for handle in handles {
            handle
                .join()
                .map_err(|_| anyhow::anyhow!("writer panicked"))??;
        }
        assert_eq!(store.names()?.len(), 8);
        Ok(())
    }
}
