//! `config.toml` as written: every key optional, unknown keys rejected by name, and the
//! `JAMEY_*` environment applied on top.

use super::cache::RawCache;
use super::github::RawGithub;
use super::llm::{RawChat, RawLlm};
use super::tools::RawTools;
use super::ConfigError;
use jamey_protocol::settings::{Setting, SETTING_VARIABLES};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// `config.toml` as written, every key optional; unknown keys are errors.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub listen: Option<String>,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub database: RawDatabase,
    #[serde(default)]
    pub embedding: RawEmbedding,
    #[serde(default)]
    pub tls: RawTls,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub search: RawSearch,
    #[serde(default)]
    pub cache: RawCache,
    #[serde(default)]
    pub llm: RawLlm,
    #[serde(default)]
    pub chat: RawChat,
    #[serde(default)]
    pub tools: RawTools,
    #[serde(default)]
    pub github: RawGithub,
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub level: Option<String>,
    pub format: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub url: Option<String>,
    pub pool_size: Option<i64>,
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawEmbedding {
    pub model_dir: Option<String>,
    pub base_url: Option<String>,
    pub model: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub plain_http: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_body_bytes: Option<i64>,
    pub max_batch_body_bytes: Option<i64>,
    pub max_content_bytes: Option<i64>,
    pub request_timeout_secs: Option<i64>,
    pub max_concurrent_requests: Option<i64>,
    pub token_requests_per_second: Option<i64>,
    pub owner_requests_per_second: Option<i64>,
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawSearch {
    pub keyword_weight: Option<f64>,
}

impl RawConfig {
    /// Reads `path`; a missing file is an empty configuration.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => {
                return Err(ConfigError::Read {
                    path: path.into(),
                    reason: e.to_string(),
                })
            }
        };
        Self::from_toml(&text).map_err(|reason| ConfigError::Parse {
            path: path.into(),
            reason,
        })
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))
    }

    /// Applies the setting variables of `jamey_protocol::settings` (given as a map so tests and
    /// callers control the source).
    pub fn apply_env(&mut self, env: &HashMap<String, String>) {
        for variable in SETTING_VARIABLES {
            if let (Setting::Config(key), Some(value)) = (variable.setting, env.get(variable.name))
            {
                self.set_string(key, value.clone());
            }
        }
    }

    /// Sets the text key `key` (dotted); false when no such key takes text.
    fn set_string(&mut self, key: &str, value: String) -> bool {
        let slot = match key {
            "listen" => &mut self.listen,
            "log.level" => &mut self.log.level,
            "log.format" => &mut self.log.format,
            "database.url" => &mut self.database.url,
            "embedding.model_dir" => &mut self.embedding.model_dir,
            "embedding.base_url" => &mut self.embedding.base_url,
            "embedding.model" => &mut self.embedding.model,
            "cache.redis_url" => &mut self.cache.redis_url,
            "llm.base_url" => &mut self.llm.base_url,
            "llm.model" => &mut self.llm.model,
            _ => return false,
        };
        *slot = Some(value);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_env as env;

    /// The runtime reads exactly the shared list: each config variable lands on its key in the
    /// effective settings (what `GET /v1/config` and, offline, `jamey config show` report).
    #[test]
    fn every_setting_variable_sets_its_key() {
        let values = [
            ("JAMEY_LISTEN", "127.0.0.1:4567"),
            ("JAMEY_LOG", "warn"),
            ("JAMEY_LOG_FORMAT", "json"),
            ("JAMEY_DATABASE_URL", "postgres://db.example/jamey"),
            ("JAMEY_EMBEDDING_MODEL_DIR", "/models/minilm"),
            ("JAMEY_EMBEDDING_BASE_URL", "http://127.0.0.1:9/v1"),
            ("JAMEY_EMBEDDING_MODEL", "embedder-x"),
            ("JAMEY_REDIS_URL", "redis://127.0.0.1:6390"),
            ("JAMEY_LLM_BASE_URL", "http://127.0.0.1:9/api/v1"),
            ("JAMEY_LLM_MODEL", "model-x"),
        ];
        let config_variables: Vec<_> = SETTING_VARIABLES
            .iter()
            .filter_map(|v| match v.setting {
                Setting::Config(key) => Some((v.name, key)),
                _ => None,
            })
            .collect();
        assert_eq!(
            config_variables
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>(),
            values.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
            "a value for every setting variable"
        );
        // A model folder and an embedding server exclude each other: two runs.
        let (folder, rest): (Vec<_>, Vec<_>) = config_variables
            .iter()
            .zip(values)
            .partition(|((name, _), _)| *name == "JAMEY_EMBEDDING_MODEL_DIR");
        for group in [folder, rest] {
            let mut raw = RawConfig::default();
            let pairs: Vec<(&str, &str)> = group.iter().map(|(_, pair)| *pair).collect();
            raw.apply_env(&env(&pairs));
            let shown = raw.validate(true).unwrap().masked();
            for ((name, key), (_, value)) in group {
                let at = key.split('.').fold(&shown, |node, part| &node[part]);
                assert_eq!(at, value, "{name} -> {key}");
            }
        }
        assert!(!RawConfig::default().set_string("limits.max_body_bytes", "1".into()));
    }
}
