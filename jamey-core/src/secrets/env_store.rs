//! `EnvSecretStore`: read-only secrets from environment variables, looked up through a snapshot or
//! a closure the caller provides (this crate never reads the process environment itself).

use std::collections::HashMap;
use std::fmt;

use super::{validate_name, Secret, SecretError, SecretStore};

type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Secrets from environment variables: `openrouter_api_key` is read from
/// `JAMEY_OPENROUTER_API_KEY`, else from `OPENROUTER_API_KEY`. An empty variable counts as unset.
/// `set` and `delete` fail with [`SecretError::ReadOnly`].
pub struct EnvSecretStore {
    lookup: Box<Lookup>,
}

impl EnvSecretStore {
    /// Reads from a snapshot, e.g. `std::env::vars().collect()` taken by the binary.
    pub fn from_snapshot(vars: HashMap<String, String>) -> Self {
        Self::from_lookup(move |var| vars.get(var).cloned())
    }

    /// Reads through `lookup`, called with a variable name.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            lookup: Box::new(lookup),
        }
    }

    /// The variables consulted for `name`, in order: `JAMEY_<NAME>` then `<NAME>`, where `<NAME>` is
    /// the name in upper case with `-` and `.` turned into `_`. A name that already starts with
    /// `jamey_` maps to one variable.
    pub fn variable_names(name: &str) -> Vec<String> {
        let upper: String = name
            .chars()
            .map(|c| match c {
                '-' | '.' => '_',
                c => c.to_ascii_uppercase(),
            })
            .collect();
        if upper.starts_with("JAMEY_") {
            vec![upper]
        } else {
            vec![format!("JAMEY_{upper}"), upper]
        }
    }
}

impl fmt::Debug for EnvSecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvSecretStore").finish_non_exhaustive()
    }
}

impl SecretStore for EnvSecretStore {
    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        validate_name(name)?;
        Ok(Self::variable_names(name)
            .iter()
            .filter_map(|var| (self.lookup)(var))
            .map(Secret::from)
            .find(|value| !value.is_empty()))
    }

    fn set(&self, name: &str, _value: &Secret) -> Result<(), SecretError> {
        validate_name(name)?;
        Err(SecretError::ReadOnly {
            backend: self.backend(),
        })
    }

    fn delete(&self, name: &str) -> Result<bool, SecretError> {
        validate_name(name)?;
        Err(SecretError::ReadOnly {
            backend: self.backend(),
        })
    }

    fn backend(&self) -> &'static str {
        "environment"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(vars: &[(&str, &str)]) -> EnvSecretStore {
        EnvSecretStore::from_snapshot(
            vars.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn maps_names_to_variables() {
        assert_eq!(
            EnvSecretStore::variable_names("openrouter_api_key"),
            ["JAMEY_OPENROUTER_API_KEY", "OPENROUTER_API_KEY"]
        );
        assert_eq!(
            EnvSecretStore::variable_names("token.ci-bot"),
            ["JAMEY_TOKEN_CI_BOT", "TOKEN_CI_BOT"]
        );
        assert_eq!(
            EnvSecretStore::variable_names("jamey_database_password"),
            ["JAMEY_DATABASE_PASSWORD"]
        );
    }

    #[test]
    fn reads_the_plain_variable() -> anyhow::Result<()> {
        let env = store(&[("OPENROUTER_API_KEY", "sk-plain")]);
        let value = env.get("openrouter_api_key")?;
        assert_eq!(value.as_ref().map(Secret::expose), Some("sk-plain"));
        assert!(env.get("database_password")?.is_none());
        Ok(())
    }

    #[test]
    fn jamey_prefix_wins_and_empty_is_unset() -> anyhow::Result<()> {
        let env = store(&[
            ("OPENROUTER_API_KEY", "sk-plain"),
            ("JAMEY_OPENROUTER_API_KEY", "sk-jamey"),
            ("JAMEY_DATABASE_PASSWORD", ""),
            ("DATABASE_PASSWORD", "pw"),
        ]);
        let key = env.get("openrouter_api_key")?;
        assert_eq!(key.as_ref().map(Secret::expose), Some("sk-jamey"));
        let password = env.get("database_password")?;
        assert_eq!(password.as_ref().map(Secret::expose), Some("pw"));
        Ok(())
    }

    #[test]
    fn lookup_closure_is_consulted() -> anyhow::Result<()> {
        let env = EnvSecretStore::from_lookup(|var| (var == "GITHUB_TOKEN").then(|| "ghp".into()));
        assert_eq!(
            env.get("github_token")?.as_ref().map(Secret::expose),
            Some("ghp")
        );
        Ok(())
    }

    #[test]
    fn is_read_only() {
        let env = store(&[("OPENROUTER_API_KEY", "sk")]);
        let err = env.set("openrouter_api_key", &Secret::from("x"));
        assert!(matches!(
            err,
            Err(SecretError::ReadOnly {
                backend: "environment"
            })
        ));
        let message = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("read-only"), "{message}");
        assert!(matches!(
            env.delete("openrouter_api_key"),
            Err(SecretError::ReadOnly { .. })
        ));
        assert!(matches!(
            env.get("Bad Name"),
            Err(SecretError::InvalidName { .. })
        ));
    }

    #[test]
    fn debug_shows_no_values() {
        let env = store(&[("OPENROUTER_API_KEY", "sk-should-not-show")]);
        assert!(!format!("{env:?}").contains("sk-should-not-show"));
    }
}
