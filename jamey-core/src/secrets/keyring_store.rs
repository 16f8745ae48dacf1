//! `KeyringSecretStore`: secrets in the OS keychain through the `keyring` crate (on Linux the
//! kernel's keyutils keyrings). It is only built by [`KeyringSecretStore::probe`], which proves that
//! the keychain keeps what is written to it.

use std::collections::BTreeSet;

use keyring::Entry;

use super::{random_bytes, validate_entry, validate_name, Secret, SecretError, SecretStore};

/// The keychain service every Jamey entry is filed under.
pub const KEYRING_SERVICE: &str = "jamey";

/// The entry listing the names stored through [`SecretStore::set`], since a keychain cannot be
/// enumerated. The `:` keeps it outside the secret namespace, so no `set` can overwrite it.
const NAMES_ENTRY: &str = "jamey:secret-names";

/// Secrets in the OS keychain, one entry per name under one service.
///
/// On headless Linux the keyutils backend needs a session keyring (a login session, or a process
/// started under `keyctl session -`); its entries live until logout or reboot.
#[derive(Debug, Clone)]
pub struct KeyringSecretStore {
    service: String,
}

impl KeyringSecretStore {
    /// Checks that the keychain works under service [`KEYRING_SERVICE`] by writing, reading back
    /// (through a fresh handle) and deleting a probe entry, and returns the store if it does.
    pub fn probe() -> Result<Self, SecretError> {
        Self::probe_service(KEYRING_SERVICE)
    }

    /// Like [`probe`](Self::probe), for another service name (tests use their own).
    pub fn probe_service(service: impl Into<String>) -> Result<Self, SecretError> {
        let store = Self {
            service: service.into(),
        };
        let tag = random_hex::<8>()?;
        let probe_user = format!("jamey-probe:{tag}");
        let token = random_hex::<16>()?;
        let unavailable = |what: &str, err: &keyring::Error| SecretError::KeychainUnavailable {
            reason: format!("{what}: {}", describe(err)),
        };

        let writer = store
            .entry(&probe_user)
            .map_err(|e| unavailable("open", &e))?;
        writer.set_password(&token).map_err(|e| match e {
            // keyutils answers ENOKEY when the process has no session keyring to add to.
            keyring::Error::NoEntry if cfg!(target_os = "linux") => {
                SecretError::KeychainUnavailable {
                    reason: "no session keyring to write to (on headless Linux, start Jamey in a \
                             login session or under `keyctl session -`)"
                        .to_owned(),
                }
            }
            e => unavailable("write", &e),
        })?;
        // A fresh handle: a store that only remembers values per handle (keyring's mock, used
        // where no native backend is compiled in) must not pass.
        let read = store
            .entry(&probe_user)
            .and_then(|reader| reader.get_password());
        let deleted = writer.delete_credential();
        match read {
            Ok(value) if value == token => {}
            Ok(_) => {
                return Err(SecretError::KeychainUnavailable {
                    reason: "the keychain returned a different value than was written".to_owned(),
                })
            }
            Err(err) => return Err(unavailable("read back", &err)),
        }
        deleted.map_err(|e| unavailable("delete", &e))?;
        tracing::debug!(service = %store.service, platform = store.platform(), "keychain probe passed");
        Ok(store)
    }

    /// The keychain service this store files entries under.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The platform keychain in use, for descriptions.
    pub fn platform(&self) -> &'static str {
        if cfg!(target_os = "linux") {
            "Linux keyutils"
        } else {
            "platform keychain"
        }
    }

    fn entry(&self, user: &str) -> keyring::Result<Entry> {
        Entry::new(&self.service, user)
    }

    /// Reads an entry without the name rules, for Jamey's own entries (the file key), whose
    /// names are chosen outside the secret namespace so no `set` can overwrite them.
    pub(crate) fn read_entry(&self, user: &str) -> Result<Option<Secret>, SecretError> {
        let failed = |e: keyring::Error| keychain_error("read", user, &e);
        match self.entry(user).and_then(|entry| entry.get_password()) {
            Ok(value) => Ok(Some(Secret::from(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(failed(err)),
        }
    }

    /// The names stored through `set` that still hold a value, sorted.
    pub fn names(&self) -> Result<Vec<String>, SecretError> {
        let mut names = Vec::new();
        for name in self.listed_names()? {
            if self.read_entry(&name)?.is_some() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn listed_names(&self) -> Result<BTreeSet<String>, SecretError> {
        Ok(self
            .read_entry(NAMES_ENTRY)?
            .map(|list| {
                list.expose()
                    .lines()
                    .filter(|name| validate_name(name).is_ok())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Adds `name` to the list of names, or removes it.
    fn list_name(&self, name: &str, listed: bool) -> Result<(), SecretError> {
        let mut names = self.listed_names()?;
        let changed = if listed {
            names.insert(name.to_owned())
        } else {
            names.remove(name)
        };
        if !changed {
            return Ok(());
        }
        if names.is_empty() {
            return match self.entry(NAMES_ENTRY).and_then(|e| e.delete_credential()) {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(err) => Err(keychain_error("delete", NAMES_ENTRY, &err)),
            };
        }
        let list = Secret::from(names.into_iter().collect::<Vec<_>>().join("\n"));
        self.write_entry(NAMES_ENTRY, &list)
    }

    /// Writes an entry without the name rules; see [`read_entry`](Self::read_entry).
    pub(crate) fn write_entry(&self, user: &str, value: &Secret) -> Result<(), SecretError> {
        self.entry(user)
            .and_then(|entry| entry.set_password(value.expose()))
            .map_err(|e| keychain_error("write", user, &e))
    }
}

impl SecretStore for KeyringSecretStore {
    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        validate_name(name)?;
        self.read_entry(name)
    }

    fn set(&self, name: &str, value: &Secret) -> Result<(), SecretError> {
        validate_entry(name, value)?;
        self.write_entry(name, value)?;
        self.list_name(name, true)
    }

    fn delete(&self, name: &str) -> Result<bool, SecretError> {
        validate_name(name)?;
        let deleted = match self.entry(name).and_then(|entry| entry.delete_credential()) {
            Ok(()) => true,
            Err(keyring::Error::NoEntry) => false,
            Err(err) => return Err(keychain_error("delete", name, &err)),
        };
        self.list_name(name, false)?;
        Ok(deleted)
    }

    fn backend(&self) -> &'static str {
        "keychain"
    }
}

fn keychain_error(operation: &'static str, name: &str, err: &keyring::Error) -> SecretError {
    SecretError::Keychain {
        operation,
        name: name.to_owned(),
        reason: describe(err),
    }
}

/// Describes a keyring error without its payload: `BadEncoding` carries the stored bytes.
fn describe(err: &keyring::Error) -> String {
    use keyring::Error as K;
    match err {
        K::PlatformFailure(inner) => format!("platform failure: {inner}"),
        K::NoStorageAccess(inner) => format!("no access to the keychain: {inner}"),
        K::NoEntry => "no such entry".to_owned(),
        K::BadEncoding(_) => "the stored value is not UTF-8".to_owned(),
        K::TooLong(attribute, limit) => {
            format!("{attribute} is longer than the platform's limit of {limit}")
        }
        K::Invalid(attribute, reason) => format!("{attribute} is invalid: {reason}"),
        K::Ambiguous(matches) => format!("{} entries match", matches.len()),
        _ => "unrecognised keychain error".to_owned(),
    }
}

fn random_hex<const N: usize>() -> Result<String, SecretError> {
    random_bytes::<N>().map(hex::encode)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the real probe. Where no keychain works (a headless machine without a session
    /// keyring) it must fail with the typed error; where one works, a full round trip must hold.
    /// Run under `keyctl session - cargo test ...` on headless Linux to exercise keyutils.
    #[test]
    fn probe_works_or_says_why() -> anyhow::Result<()> {
        let service = format!("jamey-test-{}", random_hex::<6>()?);
        match KeyringSecretStore::probe_service(service.clone()) {
            Ok(store) => {
                println!("keychain probe passed ({})", store.platform());
                assert_eq!(store.backend(), "keychain");
                assert_eq!(store.service(), service);
                assert!(store.get("roundtrip")?.is_none());
                store.set("roundtrip", &Secret::from("first"))?;
                store.set("roundtrip", &Secret::from("second"))?;
                let value = store.get("roundtrip")?;
                assert_eq!(value.as_ref().map(Secret::expose), Some("second"));
                assert_eq!(store.names()?, vec!["roundtrip".to_owned()]);
                assert!(store.delete("roundtrip")?);
                assert!(store.names()?.is_empty());
                assert!(matches!(
                    store.set("roundtrip", &Secret::default()),
                    Err(SecretError::EmptyValue { .. })
                ));
            }
            Err(err) => {
                println!("keychain probe failed: {err}");
                assert!(
                    matches!(err, SecretError::KeychainUnavailable { .. }),
                    "probe failed with an untyped error: {err:?}"
                );
                assert!(err.to_string().starts_with("no OS keychain works here"));
            }
        }
        Ok(())
    }

    #[test]
    fn bad_encoding_is_described_without_its_bytes() {
        let text = describe(&keyring::Error::BadEncoding(b"secret-bytes".to_vec()));
        assert!(!text.contains("secret"), "{text}");
    }
}
