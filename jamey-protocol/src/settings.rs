//! The environment variables the runtime reads, each with what it sets and whether it is a secret:
//! the runtime applies them, `jamey config show` shows them when the runtime is stopped, and the
//! clients find the runtime through the same names. A list of names only: nothing here reads the
//! environment.

/// The home directory (`JAMEY_HOME`); unset: the platform data directory.
pub const HOME_VARIABLE: &str = "JAMEY_HOME";
/// The listen address (`JAMEY_LISTEN`), over `config.toml`'s `listen`.
pub const LISTEN_VARIABLE: &str = "JAMEY_LISTEN";
/// The passphrase of the encrypted secrets file.
pub const PASSPHRASE_VARIABLE: &str = "JAMEY_SECRETS_PASSPHRASE";
/// A bearer token the CLI and the TUI send to a plain-HTTP runtime; the runtime does not read it.
pub const TOKEN_VARIABLE: &str = "JAMEY_TOKEN";

/// The secret holding the LLM API key; preferred over [`OPENROUTER_API_KEY_SECRET`].
pub const LLM_API_KEY_SECRET: &str = "llm_api_key";
/// The secret the LLM and a remote embedder fall back to (`OPENROUTER_API_KEY`).
pub const OPENROUTER_API_KEY_SECRET: &str = "openrouter_api_key";
/// The key of a remote embedding server, preferred over [`OPENROUTER_API_KEY_SECRET`].
pub const EMBEDDING_API_KEY_SECRET: &str = "embedding_api_key";

/// What a variable sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// A `config.toml` key, dotted (`log.level`); the variable wins over the file.
    Config(&'static str),
    /// A secret by name; the Secret Manager's environment backend reads it from this variable.
    Secret(&'static str),
    /// The passphrase of the encrypted secrets file.
    SecretsPassphrase,
    /// The home directory itself.
    Home,
}

/// One environment variable the runtime reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingVariable {
    pub name: &'static str,
    pub setting: Setting,
}

impl SettingVariable {
    /// Whether its value must never be shown.
    pub fn is_secret(&self) -> bool {
        matches!(
            self.setting,
            Setting::Secret(_) | Setting::SecretsPassphrase
        )
    }

    /// The key it is shown under: its config key, `secrets.NAME`, `secrets.passphrase`, `home`.
    pub fn shown_as(&self) -> String {
        match self.setting {
            Setting::Config(key) => key.to_owned(),
            Setting::Secret(name) => format!("secrets.{name}"),
            Setting::SecretsPassphrase => "secrets.passphrase".to_owned(),
            Setting::Home => "home".to_owned(),
        }
    }
}

const fn config(name: &'static str, key: &'static str) -> SettingVariable {
    SettingVariable {
        name,
        setting: Setting::Config(key),
    }
}

const fn secret(name: &'static str, secret: &'static str) -> SettingVariable {
    SettingVariable {
        name,
        setting: Setting::Secret(secret),
    }
}

/// Every environment variable the runtime reads. The secret variables are those the Secret
/// Manager's environment backend consults for the secrets the runtime asks for (`JAMEY_<NAME>`,
/// and `OPENROUTER_API_KEY`, the one unprefixed variable the runtime takes in).
pub const SETTING_VARIABLES: &[SettingVariable] = &[
    SettingVariable {
        name: HOME_VARIABLE,
        setting: Setting::Home,
    },
    config(LISTEN_VARIABLE, "listen"),
    config("JAMEY_LOG", "log.level"),
    config("JAMEY_LOG_FORMAT", "log.format"),
    config("JAMEY_DATABASE_URL", "database.url"),
    config("JAMEY_EMBEDDING_MODEL_DIR", "embedding.model_dir"),
    config("JAMEY_EMBEDDING_BASE_URL", "embedding.base_url"),
    config("JAMEY_EMBEDDING_MODEL", "embedding.model"),
    config("JAMEY_REDIS_URL", "cache.redis_url"),
    config("JAMEY_LLM_BASE_URL", "llm.base_url"),
    config("JAMEY_LLM_MODEL", "llm.model"),
    secret("JAMEY_LLM_API_KEY", LLM_API_KEY_SECRET),
    secret("JAMEY_OPENROUTER_API_KEY", OPENROUTER_API_KEY_SECRET),
    secret("OPENROUTER_API_KEY", OPENROUTER_API_KEY_SECRET),
    secret("JAMEY_EMBEDDING_API_KEY", EMBEDDING_API_KEY_SECRET),
    SettingVariable {
        name: PASSPHRASE_VARIABLE,
        setting: Setting::SecretsPassphrase,
    },
];

/// Whether the runtime takes `name` into its environment snapshot: every `JAMEY_*` variable (a
/// secret `NAME` may come from `JAMEY_<NAME>`) and the listed ones.
pub fn is_runtime_variable(name: &str) -> bool {
    name.starts_with("JAMEY_") || SETTING_VARIABLES.iter().any(|v| v.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_secrets_are_marked() {
        let mut names: Vec<_> = SETTING_VARIABLES.iter().map(|v| v.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SETTING_VARIABLES.len());
        let secrets: Vec<_> = SETTING_VARIABLES
            .iter()
            .filter(|v| v.is_secret())
            .map(|v| v.name)
            .collect();
        assert!(secrets.contains(&"OPENROUTER_API_KEY"), "{secrets:?}");
        assert!(secrets.contains(&PASSPHRASE_VARIABLE), "{secrets:?}");
        assert!(!secrets.contains(&"JAMEY_DATABASE_URL"), "{secrets:?}");
        assert!(is_runtime_variable("OPENROUTER_API_KEY") && is_runtime_variable("JAMEY_X"));
        assert!(!is_runtime_variable("HOME"));
    }
}
