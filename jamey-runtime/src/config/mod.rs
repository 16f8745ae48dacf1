//! The runtime's configuration: built-in defaults < `config.toml` < `JAMEY_*` environment <
//! runtime overrides, parsed raw and then validated into one typed `Config`. Invalid settings stop
//! the start with a message naming the key, the value and what is allowed.
//!
//! One file per concern: `raw` (the TOML as written, unknown keys rejected), `validate` (the
//! typed `Config` and the checks that build it), `llm` (`[llm]` and `[chat]`), `tools`
//! (`[tools]`), `github` (`[github]`), `cache` (`[cache]`), `overrides` (`PATCH /v1/config`)
//! and `settings` (the configuration in effect, shared by the running parts). A new section
//! gets its own file here.

mod cache;
mod github;
mod llm;
mod llm_key;
mod network;
mod overrides;
mod raw;
mod settings;
mod tools;
mod validate;

pub use cache::{CacheConfig, RawCache};
pub use github::{GithubConfig, RawGithub};
pub use llm::{
    ChatConfig, LlmConfig, Price, RawChat, RawLlm, DEFAULT_LLM_BASE_URL, DEFAULT_LLM_MODEL,
    DEFAULT_PERSONA,
};
pub use llm_key::{key_required, LlmState, UNCONFIGURED_MESSAGE};
pub use network::{NetworkConfig, RawNetwork};
pub use overrides::ConfigOverrides;
pub use raw::{RawConfig, RawDatabase, RawEmbedding, RawLimits, RawLog, RawSearch, RawTls};
pub use settings::Settings;
pub use tools::{RawTools, ToolsConfig};
pub use validate::{
    Config, DatabaseConfig, EmbeddingConfig, LimitsConfig, LogConfig, LogFormat, SearchConfig,
    TlsConfig,
};

use std::path::PathBuf;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    /// The file is not valid TOML or holds unknown keys.
    #[error("{path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    /// A setting has a value that is not allowed.
    #[error("invalid setting {key} = {value:?}: {allowed}")]
    Invalid {
        key: String,
        value: String,
        allowed: String,
    },
}

impl ConfigError {
    fn invalid(key: &str, value: impl ToString, allowed: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

/// An integer setting within `min..=max`, or `default` when unset.
fn range(
    key: &str,
    value: Option<i64>,
    min: i64,
    max: i64,
    default: i64,
) -> Result<i64, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(v) => Err(ConfigError::invalid(
            key,
            v,
            format!("an integer from {min} to {max}"),
        )),
    }
}

/// A variable map for tests of the environment layer.
#[cfg(test)]
pub(crate) fn test_env(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
