//! `SecretManager`: the one door to secrets. Reads try the OS keychain (when its probe passes),
//! then the environment, then the encrypted file; writes go to the keychain when it works, else to
//! the encrypted file. Nothing here prompts.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use super::file_format::KeyKind;
use super::file_store::stored_key_kind;
use super::{
    EncryptedFileSecretStore, EnvSecretStore, FileKeySource, KeyringSecretStore, Secret,
    SecretError, SecretStore,
};
use crate::home::JameyHome;

/// A secret as [`SecretManager::list`] reports it: never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretListing {
    pub name: String,
    /// The backends holding it, in the order reads try them: the first one's value is used.
    pub backends: Vec<&'static str>,
}

/// What [`SecretManager::open`] needs from its caller, which reads the environment itself.
pub struct SecretManagerOptions {
    /// `JAMEY_SECRETS_PASSPHRASE`: keys a new encrypted file when no keychain works, and is
    /// required to open a file that was written with one.
    pub passphrase: Option<Secret>,
    /// A snapshot of the environment, e.g. `std::env::vars().collect()`.
    pub env: HashMap<String, String>,
    /// Whether to try the OS keychain at all (tests and containers turn it off).
    pub use_keychain: bool,
}

impl Default for SecretManagerOptions {
    /// No passphrase, an empty environment, and the keychain tried.
    fn default() -> Self {
        Self {
            passphrase: None,
            env: HashMap::new(),
            use_keychain: true,
        }
    }
}

impl fmt::Debug for SecretManagerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretManagerOptions")
            .field("passphrase", &self.passphrase)
            .field("env_vars", &self.env.len())
            .field("use_keychain", &self.use_keychain)
            .finish()
    }
}

/// Where stored secrets live; the variants keep "something takes the writes" true by
/// construction.
#[derive(Debug)]
enum Stored {
    /// The keychain works and takes the writes; an encrypted file left from before is still read.
    Keychain {
        keychain: KeyringSecretStore,
        file: Option<EncryptedFileSecretStore>,
    },
    /// No keychain; the encrypted file takes the writes. `keychain` says why.
    File {
        file: EncryptedFileSecretStore,
        keychain: String,
    },
}

/// Secrets from the keychain, the environment and the encrypted file, composed in that order.
#[derive(Debug)]
pub struct SecretManager {
    stored: Stored,
    env: EnvSecretStore,
}

impl SecretManager {
    /// Probes the keychain (when `use_keychain`) and opens the encrypted file in `home` when it
    /// exists or will take the writes. An existing file is opened with the kind of key its header
    /// names (key file, keychain or passphrase), whatever else is available; a new one is keyed by
    /// the passphrase when given, else by a random key in `secrets.key`, created on first write.
    pub fn open(home: &JameyHome, options: SecretManagerOptions) -> Result<Self, SecretError> {
        let SecretManagerOptions {
            passphrase,
            env,
            use_keychain,
        } = options;
        let keychain = if use_keychain {
            KeyringSecretStore::probe().map_err(|err| {
                tracing::info!(reason = %err, "no OS keychain; secrets are written to the encrypted file");
                err.to_string()
            })
        } else {
            Err("OS keychain disabled".to_owned())
        };

        let stored = match (stored_key_kind(&home.secrets_file())?, keychain) {
            // The keychain takes the writes: no file is needed.
            (None, Ok(keychain)) => Stored::Keychain {
                keychain,
                file: None,
            },
            (None, Err(keychain)) => {
                let path = home.secrets_file();
                let file = match &passphrase {
                    Some(passphrase) => {
                        EncryptedFileSecretStore::with_passphrase(path, passphrase)?
                    }
                    None => EncryptedFileSecretStore::with_key_file(path, home.secrets_key_file())?,
                };
                Stored::File { file, keychain }
            }
            (Some(kind), Ok(keychain)) => {
                let file = open_existing(home, kind, passphrase.as_ref(), Some(&keychain))?;
                Stored::Keychain {
                    keychain,
                    file: Some(file),
                }
            }
            (Some(kind), Err(keychain)) => Stored::File {
                file: open_existing(home, kind, passphrase.as_ref(), None)?,
                keychain,
            },
        };
        let manager = Self {
            stored,
            env: EnvSecretStore::from_snapshot(env),
        };
        tracing::debug!(writes = manager.backend(), "secret manager ready");
        Ok(manager)
    }

    /// One line saying where secrets are read from and written to, and where the file's key
    /// comes from; the runtime logs it at start.
    pub fn describe(&self) -> String {
        let mut reads = Vec::new();
        if let Stored::Keychain { keychain, .. } = &self.stored {
            reads.push(format!("the OS keychain ({})", keychain.platform()));
        }
        reads.push("the environment".to_owned());
        if let Some(file) = self.file() {
            reads.push(format!(
                "the encrypted file {} (key from {})",
                file.path().display(),
                file.key_source()
            ));
        }
        let reads = reads.join(", then ");
        match &self.stored {
            Stored::Keychain { .. } => {
                format!("secrets: read from {reads}; written to the OS keychain")
            }
            Stored::File { keychain, .. } => {
                format!("secrets: read from {reads}; written to the encrypted file; {keychain}")
            }
        }
    }

    /// Whether the OS keychain passed its probe and takes the writes.
    pub fn keychain_works(&self) -> bool {
        matches!(self.stored, Stored::Keychain { .. })
    }

    /// Where the encrypted file's key comes from, when the file takes part.
    pub fn file_key_source(&self) -> Option<&FileKeySource> {
        self.file().map(EncryptedFileSecretStore::key_source)
    }

    /// Every secret this manager can name, sorted: those stored in the keychain (through
    /// `set`) or the encrypted file, and those of `known` found anywhere (the environment
    /// cannot be listed, so only names asked for are looked up there). Values are read only to
    /// learn where each name is held.
    pub fn list(&self, known: &[&str]) -> Result<Vec<SecretListing>, SecretError> {
        let mut names: BTreeSet<String> = known.iter().map(|name| (*name).to_owned()).collect();
        if let Stored::Keychain { keychain, .. } = &self.stored {
            names.extend(keychain.names()?);
        }
        if let Some(file) = self.file() {
            names.extend(file.names()?);
        }
        let mut listings = Vec::new();
        for name in names {
            let mut backends = Vec::new();
            for store in self.readers() {
                if store.get(&name)?.is_some() {
                    backends.push(store.backend());
                }
            }
            if !backends.is_empty() {
                listings.push(SecretListing { name, backends });
            }
        }
        Ok(listings)
    }

    fn file(&self) -> Option<&EncryptedFileSecretStore> {
        match &self.stored {
            Stored::Keychain { file, .. } => file.as_ref(),
            Stored::File { file, .. } => Some(file),
        }
    }

    fn readers(&self) -> impl Iterator<Item = &dyn SecretStore> {
        let keychain = match &self.stored {
            Stored::Keychain { keychain, .. } => Some(keychain as &dyn SecretStore),
            Stored::File { .. } => None,
        };
        keychain
            .into_iter()
            .chain(std::iter::once(&self.env as &dyn SecretStore))
            .chain(self.file().map(|file| file as &dyn SecretStore))
    }

    fn writer(&self) -> &dyn SecretStore {
        match &self.stored {
            Stored::Keychain { keychain, .. } => keychain,
            Stored::File { file, .. } => file,
        }
    }
}

/// Opens an existing secrets file with the kind of key its header names.
fn open_existing(
    home: &JameyHome,
    kind: KeyKind,
    passphrase: Option<&Secret>,
    keychain: Option<&KeyringSecretStore>,
) -> Result<EncryptedFileSecretStore, SecretError> {
    let path = home.secrets_file();
    match (kind, passphrase, keychain) {
        (KeyKind::Passphrase, Some(passphrase), _) => {
            EncryptedFileSecretStore::with_passphrase(path, passphrase)
        }
        (KeyKind::Passphrase, None, _) => Err(SecretError::PassphraseRequired { path }),
        (KeyKind::KeyFile, _, _) => {
            EncryptedFileSecretStore::with_key_file(path, home.secrets_key_file())
        }
        (KeyKind::Keychain, _, Some(keychain)) => {
            EncryptedFileSecretStore::with_keychain_key(path, keychain)
        }
        (KeyKind::Keychain, _, None) => Err(SecretError::KeyMissing {
            path,
            key_source: FileKeySource::Keychain,
        }),
    }
}

impl SecretStore for SecretManager {
    /// The first value found in the keychain, the environment, then the encrypted file.
    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        for store in self.readers() {
            if let Some(secret) = store.get(name)? {
                return Ok(Some(secret));
            }
        }
        Ok(None)
    }

    /// Writes to the keychain when it works, else to the encrypted file.
    fn set(&self, name: &str, value: &Secret) -> Result<(), SecretError> {
        let writer = self.writer();
        writer.set(name, value)?;
        tracing::info!(secret = name, backend = writer.backend(), "secret stored");
        Ok(())
    }

    /// Removes the secret from the keychain and the encrypted file; a value in the environment
    /// stays visible to `get`.
    fn delete(&self, name: &str) -> Result<bool, SecretError> {
        let mut deleted = false;
        if let Stored::Keychain { keychain, .. } = &self.stored {
            deleted |= keychain.delete(name)?;
        }
        if let Some(file) = self.file() {
            deleted |= file.delete(name)?;
        }
        Ok(deleted)
    }

    /// The backend that takes writes.
    fn backend(&self) -> &'static str {
        self.writer().backend()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(env: &[(&str, &str)], passphrase: Option<&str>) -> SecretManagerOptions {
        SecretManagerOptions {
            passphrase: passphrase.map(Secret::from),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            use_keychain: false,
        }
    }

    fn value(store: &dyn SecretStore, name: &str) -> anyhow::Result<Option<String>> {
        Ok(store.get(name)?.map(|s| s.expose().to_owned()))
    }

    #[test]
    fn env_is_read_when_the_file_lacks_the_secret() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let home = JameyHome::new(dir.path());
        let manager =
            SecretManager::open(&home, options(&[("OPENROUTER_API_KEY", "sk-env")], None))?;
        manager.set("database_password", &Secret::from("pg"))?;

        assert_eq!(
            value(&manager, "openrouter_api_key")?.as_deref(),
            Some("sk-env")
        );
        assert_eq!(value(&manager, "database_password")?.as_deref(), Some("pg"));
        assert_eq!(value(&manager, "github_token")?, None);
        Ok(())
    }

    #[test]
    fn env_wins_over_the_file() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let home = JameyHome::new(dir.path());
        SecretManager::open(&home, options(&[], None))?
            .set("openrouter_api_key", &Secret::from("sk-file"))?;

        let manager = SecretManager::open(
            &home,
            options(&[("JAMEY_OPENROUTER_API_KEY", "sk-env")], None),
        )?;
        assert_eq!(
            value(&manager, "openrouter_api_key")?.as_deref(),
            Some("sk-env")
        );
        // Deleting removes the stored copy; the environment's stays visible.
        assert!(manager.delete("openrouter_api_key")?);
        assert_eq!(
            value(&manager, "openrouter_api_key")?.as_deref(),
            Some("sk-env")
        );
        Ok(())
    }

    #[test]
    fn writes_go_to_the_file_when_the_keychain_is_disabled() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let home = JameyHome::new(dir.path());
        let manager = SecretManager::open(&home, options(&[], None))?;
        assert!(!manager.keychain_works());
        assert_eq!(manager.backend(), "encrypted-file");
        assert_eq!(
            manager.file_key_source(),
            Some(&FileKeySource::KeyFile(home.secrets_key_file()))
        );
        assert!(
            !home.secrets_file().exists(),
            "nothing is written before the first secret"
        );

        manager.set("github_token", &Secret::from("ghp"))?;
        assert!(home.secrets_file().exists() && home.secrets_key_file().exists());

        let reopened = SecretManager::open(&home, options(&[], None))?;
        assert_eq!(value(&reopened, "github_token")?.as_deref(), Some("ghp"));

        let line = reopened.describe();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("written to the encrypted file"), "{line}");
        assert!(line.contains("key from the key file"), "{line}");
        assert!(line.contains("OS keychain disabled"), "{line}");
        Ok(())
    }

    #[test]
    fn a_passphrase_keys_a_new_file_and_is_then_required() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let home = JameyHome::new(dir.path());
        let manager = SecretManager::open(&home, options(&[], Some("s3cret phrase")))?;
        assert_eq!(manager.file_key_source(), Some(&FileKeySource::Passphrase));
        assert!(manager.describe().contains("key from the passphrase"));
        manager.set("api_key", &Secret::from("v"))?;
        assert!(!home.secrets_key_file().exists());

        assert!(matches!(
            SecretManager::open(&home, options(&[], None)),
            Err(SecretError::PassphraseRequired { .. })
        ));
        assert!(matches!(
            SecretManager::open(&home, options(&[], Some("other phrase"))),
            Err(SecretError::WrongPassphrase { .. })
        ));
        let reopened = SecretManager::open(&home, options(&[], Some("s3cret phrase")))?;
        assert_eq!(value(&reopened, "api_key")?.as_deref(), Some("v"));
        Ok(())
    }

    #[test]
    fn an_existing_key_file_file_ignores_a_new_passphrase() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let home = JameyHome::new(dir.path());
        SecretManager::open(&home, options(&[], None))?.set("api_key", &Secret::from("v"))?;
        let manager = SecretManager::open(&home, options(&[], Some("late passphrase")))?;
        assert_eq!(
            manager.file_key_source(),
            Some(&FileKeySource::KeyFile(home.secrets_key_file()))
        );
        assert_eq!(value(&manager, "api_key")?.as_deref(), Some("v"));
        Ok(())
    }

    /// With the keychain asked for, writes go to it when its probe passes and to the file when
    /// not; either way the description says which. Under `keyctl session -` the first branch runs.
    #[test]
    fn the_keychain_takes_writes_when_it_works() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let home = JameyHome::new(dir.path());
        let manager = SecretManager::open(
            &home,
            SecretManagerOptions {
                use_keychain: true,
                ..options(&[], None)
            },
        )?;
        let name = format!("test-{}", hex::encode(super::super::random_bytes::<6>()?));
        manager.set(&name, &Secret::from("kept"))?;
        let kept = value(&manager, &name);
        let deleted = manager.delete(&name);
        assert_eq!(kept?.as_deref(), Some("kept"));
        assert!(deleted?);
        let line = manager.describe();
        println!("{line}");
        if manager.keychain_works() {
            assert_eq!(manager.backend(), "keychain");
            assert!(line.contains("written to the OS keychain"), "{line}");
            assert!(!home.secrets_file().exists(), "the keychain took the write");
        } else {
            assert_eq!(manager.backend(), "encrypted-file");
            assert!(line.contains("no OS keychain works here"), "{line}");
        }
        Ok(())
    }

    #[test]
    fn list_names_each_secret_with_where_it_is_held_and_no_value() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let home = JameyHome::new(dir.path());
        let manager =
            SecretManager::open(&home, options(&[("OPENROUTER_API_KEY", "sk-env")], None))?;
        manager.set("github_token", &Secret::from("gh-file"))?;
        manager.set("openrouter_api_key", &Secret::from("sk-file"))?;
        let listed = manager.list(&["openrouter_api_key", "llm_api_key"])?;
        assert_eq!(
            listed,
            vec![
                SecretListing {
                    name: "github_token".into(),
                    backends: vec!["encrypted-file"],
                },
                SecretListing {
                    name: "openrouter_api_key".into(),
                    backends: vec!["environment", "encrypted-file"],
                },
            ]
        );
        assert!(!format!("{listed:?}").contains("sk-"), "{listed:?}");
        Ok(())
    }

    #[test]
    fn options_debug_hides_the_passphrase_and_env_values() {
        let shown = format!(
            "{:?}",
            options(&[("OPENROUTER_API_KEY", "sk-hidden")], Some("pass-hidden"))
        );
        assert!(
            !shown.contains("sk-hidden") && !shown.contains("pass-hidden"),
            "{shown}"
        );
    }
}
