//! `config.toml` as written: every key optional, unknown keys rejected by name, and the
//! `JAMEY_*` environment applied on top.

use super::cache::RawCache;
use super::llm::{RawChat, RawLlm};
use super::tools::RawTools;
use super::ConfigError;
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

    /// Applies `JAMEY_*` variables (given as a map so tests and callers control the source).
    pub fn apply_env(&mut self, env: &HashMap<String, String>) {
        let get = |key: &str| env.get(key).cloned();
        if let Some(v) = get("JAMEY_LISTEN") {
            self.listen = Some(v);
        }
        if let Some(v) = get("JAMEY_LOG") {
            self.log.level = Some(v);
        }
        if let Some(v) = get("JAMEY_LOG_FORMAT") {
            self.log.format = Some(v);
        }
        if let Some(v) = get("JAMEY_DATABASE_URL") {
            self.database.url = Some(v);
        }
        if let Some(v) = get("JAMEY_EMBEDDING_MODEL_DIR") {
            self.embedding.model_dir = Some(v);
        }
        if let Some(v) = get("JAMEY_EMBEDDING_BASE_URL") {
            self.embedding.base_url = Some(v);
        }
        if let Some(v) = get("JAMEY_EMBEDDING_MODEL") {
            self.embedding.model = Some(v);
        }
        if let Some(v) = get("JAMEY_REDIS_URL") {
            self.cache.redis_url = Some(v);
        }
        if let Some(v) = get("JAMEY_LLM_BASE_URL") {
            self.llm.base_url = Some(v);
        }
        if let Some(v) = get("JAMEY_LLM_MODEL") {
            self.llm.model = Some(v);
        }
    }
}
