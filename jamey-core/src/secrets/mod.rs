//! Secrets (API keys, the database password, bearer tokens): the [`SecretStore`] trait, its
//! keychain, environment and encrypted-file backends, and the [`SecretManager`] that composes
//! them (keychain > environment > encrypted file). A [`Secret`] never prints, serializes or
//! appears in an error message, and nothing here prompts or reads the environment itself.

mod env_store;
mod error;
mod file_format;
mod file_store;
mod keyring_store;
mod manager;
mod private_file;
mod secret;

pub use env_store::EnvSecretStore;
pub use error::SecretError;
pub use file_format::PBKDF2_ITERATIONS;
pub use file_store::{EncryptedFileSecretStore, FileKeySource};
pub use keyring_store::{KeyringSecretStore, KEYRING_SERVICE};
pub use manager::{SecretListing, SecretManager, SecretManagerOptions};
pub use secret::{Secret, REDACTED};

/// A place secrets are kept, by name.
///
/// Names are 1 to 128 characters from `a-z 0-9 _ - .` (e.g. `openrouter_api_key`); every backend
/// rejects other names with [`SecretError::InvalidName`] and empty values with
/// [`SecretError::EmptyValue`].
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    /// The secret called `name`, or `None` when this store does not hold it.
    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError>;

    /// Stores `value` under `name`, replacing any previous value.
    fn set(&self, name: &str, value: &Secret) -> Result<(), SecretError>;

    /// Removes `name`; returns whether it was there.
    fn delete(&self, name: &str) -> Result<bool, SecretError>;

    /// A short, stable name for the backend (`keychain`, `environment`, `encrypted-file`).
    fn backend(&self) -> &'static str;
}

const MAX_NAME_LEN: usize = 128;

/// Checks a secret name against the rules every backend shares.
pub fn validate_name(name: &str) -> Result<(), SecretError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_NAME_LEN {
        "it is longer than 128 characters"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.'))
    {
        "use only lowercase letters, digits, '_', '-' and '.'"
    } else {
        return Ok(());
    };
    Err(SecretError::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

/// `N` bytes from the operating system's random number generator.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], SecretError> {
    use rand::TryRngCore;
    let mut bytes = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| SecretError::Randomness {
            reason: e.to_string(),
        })?;
    Ok(bytes)
}

/// Checks a name and a value before `set`.
pub(crate) fn validate_entry(name: &str, value: &Secret) -> Result<(), SecretError> {
    validate_name(name)?;
    if value.is_empty() {
        return Err(SecretError::EmptyValue {
            name: name.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_shared_rules() {
        for good in ["openrouter_api_key", "token.ci-bot", "a", &"x".repeat(128)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "OPENROUTER",
            "has space",
            "semi;colon",
            &"x".repeat(129),
        ] {
            assert!(
                matches!(validate_name(bad), Err(SecretError::InvalidName { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn empty_values_are_rejected() {
        assert!(matches!(
            validate_entry("name", &Secret::default()),
            Err(SecretError::EmptyValue { .. })
        ));
        assert!(validate_entry("name", &Secret::from("v")).is_ok());
    }
}
