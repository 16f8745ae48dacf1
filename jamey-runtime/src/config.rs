//! The runtime's configuration: built-in defaults < `config.toml` < `JAMEY_*` environment <
//! runtime overrides, parsed raw and then validated into one typed `Config`. Invalid settings stop
//! the start with a message naming the key, the value and what is allowed.

use jamey_core::cache::{EvictionStrategy, InvalidationPolicy};
use jamey_protocol::settings::{Setting, SETTING_VARIABLES};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Config {
    pub listen: SocketAddr,
    pub log: LogConfig,
    pub database: DatabaseConfig,
    pub embedding: EmbeddingConfig,
    pub tls: TlsConfig,
    pub limits: LimitsConfig,
    pub search: SearchConfig,
    pub cache: CacheConfig,
    pub llm: crate::chat_config::LlmConfig,
    pub chat: crate::chat_config::ChatConfig,
    pub tools: crate::chat_config::ToolsConfig,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DatabaseConfig {
    /// `None`: the embedded store. Never serialized in clear: see `masked`.
    pub url: Option<String>,
    pub pool_size: usize,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EmbeddingConfig {
    pub model_dir: Option<PathBuf>,
    pub base_url: Option<String>,
    pub model: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TlsConfig {
    pub plain_http: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LimitsConfig {
    pub max_body_bytes: usize,
    pub max_batch_body_bytes: usize,
    pub max_content_bytes: usize,
    pub request_timeout_secs: u64,
    pub max_concurrent_requests: usize,
    pub token_requests_per_second: u32,
    pub owner_requests_per_second: u32,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SearchConfig {
    pub keyword_weight: f32,
}

/// The hybrid cache: in process always, Redis when `redis_url` is set.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CacheConfig {
    /// `None`: in-process only. Never serialized in clear: see `masked`.
    pub redis_url: Option<String>,
    pub strategy: EvictionStrategy,
    pub policy: InvalidationPolicy,
    pub max_entries: u64,
    pub max_bytes: u64,
    pub ttl_secs: u64,
    pub idle_secs: u64,
    pub redis_ttl_secs: u64,
    pub delay_ms: u64,
    pub hot_reads: u32,
    pub burst_writes_per_sec: u32,
    pub redis_timeout_ms: u64,
    pub redis_key_prefix: String,
}

impl CacheConfig {
    /// The lifetimes (in process, idle, in Redis): the keys that reload live.
    pub fn times(
        &self,
    ) -> (
        std::time::Duration,
        std::time::Duration,
        std::time::Duration,
    ) {
        use std::time::Duration;
        (
            Duration::from_secs(self.ttl_secs),
            Duration::from_secs(self.idle_secs),
            Duration::from_secs(self.redis_ttl_secs),
        )
    }

    /// The cache's own configuration.
    pub fn to_core(&self) -> jamey_core::cache::CacheConfig {
        use std::time::Duration;
        let (ttl, idle, redis_ttl) = self.times();
        let redis = self.redis_url.as_ref().map(|url| {
            let mut redis = jamey_core::cache::RedisCacheConfig::new(url.clone());
            redis.key_prefix = self.redis_key_prefix.clone();
            redis.command_timeout = Duration::from_millis(self.redis_timeout_ms);
            redis.connect_timeout = Duration::from_millis(self.redis_timeout_ms.max(250) * 2);
            redis
        });
        jamey_core::cache::CacheConfig {
            strategy: self.strategy,
            policy: self.policy,
            max_entries: self.max_entries,
            max_bytes: self.max_bytes,
            times: jamey_core::cache::CacheTimes::new(ttl, idle, redis_ttl),
            delay: Duration::from_millis(self.delay_ms),
            hot_reads: self.hot_reads,
            burst_writes_per_sec: self.burst_writes_per_sec,
            redis,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: jamey_protocol::home::DEFAULT_LISTEN,
            log: LogConfig {
                level: "info".into(),
                format: LogFormat::Pretty,
            },
            database: DatabaseConfig {
                url: None,
                pool_size: 16,
            },
            embedding: EmbeddingConfig {
                model_dir: None,
                base_url: None,
                model: None,
            },
            tls: TlsConfig { plain_http: false },
            limits: LimitsConfig {
                max_body_bytes: 1024 * 1024,
                max_batch_body_bytes: 32 * 1024 * 1024,
                max_content_bytes: 64 * 1024,
                request_timeout_secs: 30,
                max_concurrent_requests: 512,
                token_requests_per_second: 50,
                owner_requests_per_second: 0,
            },
            search: SearchConfig {
                keyword_weight: jamey_core::memory::fusion::DEFAULT_KEYWORD_WEIGHT,
            },
            cache: {
                let core = jamey_core::cache::CacheConfig::default();
                CacheConfig {
                    redis_url: None,
                    strategy: core.strategy,
                    policy: core.policy,
                    max_entries: core.max_entries,
                    max_bytes: core.max_bytes,
                    ttl_secs: core.times.ttl().as_secs(),
                    idle_secs: core.times.idle().as_secs(),
                    redis_ttl_secs: core.times.redis_ttl().as_secs(),
                    delay_ms: u64::try_from(core.delay.as_millis()).unwrap_or(5),
                    hot_reads: core.hot_reads,
                    burst_writes_per_sec: core.burst_writes_per_sec,
                    redis_timeout_ms: 100,
                    redis_key_prefix: "jamey".into(),
                }
            },
            llm: Default::default(),
            chat: Default::default(),
            tools: Default::default(),
        }
    }
}

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
    pub llm: crate::chat_config::RawLlm,
    #[serde(default)]
    pub chat: crate::chat_config::RawChat,
    #[serde(default)]
    pub tools: crate::chat_config::RawTools,
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

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    pub redis_url: Option<String>,
    pub strategy: Option<String>,
    pub policy: Option<String>,
    pub max_entries: Option<i64>,
    pub max_bytes: Option<i64>,
    pub ttl_secs: Option<i64>,
    pub idle_secs: Option<i64>,
    pub redis_ttl_secs: Option<i64>,
    pub delay_ms: Option<i64>,
    pub hot_reads: Option<i64>,
    pub burst_writes_per_sec: Option<i64>,
    pub redis_timeout_ms: Option<i64>,
    pub redis_key_prefix: Option<String>,
}

/// Runtime overrides accepted by `PATCH /v1/config`: only keys that are safe to change live.
#[derive(Debug, Default, Clone, Deserialize, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_requests_per_second: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_requests_per_second: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword_weight: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_ttl_secs: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_idle_secs: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_redis_ttl_secs: Option<i64>,
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

    /// Validates every key into a `Config`; `terminal` picks the default log format.
    pub fn validate(&self, terminal: bool) -> Result<Config, ConfigError> {
        let defaults = Config::default();
        let listen = match &self.listen {
            Some(text) => text.parse::<SocketAddr>().map_err(|_| {
                ConfigError::invalid(
                    "listen",
                    text,
                    "an IP address and port, e.g. 127.0.0.1:3000",
                )
            })?,
            None => defaults.listen,
        };
        let level = self.log.level.clone().unwrap_or(defaults.log.level);
        check_log_filter(&level)?;
        let format = match self.log.format.as_deref() {
            None => {
                if terminal {
                    LogFormat::Pretty
                } else {
                    LogFormat::Json
                }
            }
            Some("json") => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            Some(other) => {
                return Err(ConfigError::invalid(
                    "log.format",
                    other,
                    "\"json\" or \"pretty\"",
                ))
            }
        };
        let url = self.database.url.clone().filter(|u| !u.trim().is_empty());
        if let Some(url) = &url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ConfigError::invalid(
                    "database.url",
                    jamey_core::memory::redact_url(url),
                    "a postgres:// or postgresql:// URL, or empty for the embedded store",
                ));
            }
        }
        let pool_size = range(
            "database.pool_size",
            self.database.pool_size,
            1,
            256,
            defaults.database.pool_size as i64,
        )? as usize;
        let model_dir = self
            .embedding
            .model_dir
            .clone()
            .filter(|d| !d.trim().is_empty())
            .map(PathBuf::from);
        let base_url = self
            .embedding
            .base_url
            .clone()
            .filter(|u| !u.trim().is_empty());
        let model = self
            .embedding
            .model
            .clone()
            .filter(|m| !m.trim().is_empty());
        if let Some(url) = &base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::invalid(
                    "embedding.base_url",
                    url,
                    "an http:// or https:// URL",
                ));
            }
            if model.is_none() {
                return Err(ConfigError::invalid(
                    "embedding.model",
                    "",
                    "a model name, required with embedding.base_url",
                ));
            }
            if model_dir.is_some() {
                return Err(ConfigError::invalid(
                    "embedding.model_dir",
                    model_dir
                        .as_ref()
                        .map(|d| d.display().to_string())
                        .unwrap_or_default(),
                    "empty when embedding.base_url is set (choose one embedder)",
                ));
            }
        }
        let plain_http = self.tls.plain_http.unwrap_or(false);
        if plain_http && !listen.ip().is_loopback() {
            return Err(ConfigError::invalid(
                "tls.plain_http",
                "true",
                format!("only with a loopback listen address, but listen is {listen}"),
            ));
        }
        let l = &self.limits;
        let d = &defaults.limits;
        let limits = LimitsConfig {
            max_body_bytes: range(
                "limits.max_body_bytes",
                l.max_body_bytes,
                1024,
                1 << 30,
                d.max_body_bytes as i64,
            )? as usize,
            max_batch_body_bytes: range(
                "limits.max_batch_body_bytes",
                l.max_batch_body_bytes,
                1024,
                1 << 32,
                d.max_batch_body_bytes as i64,
            )? as usize,
            max_content_bytes: range(
                "limits.max_content_bytes",
                l.max_content_bytes,
                16,
                16 << 20,
                d.max_content_bytes as i64,
            )? as usize,
            request_timeout_secs: range(
                "limits.request_timeout_secs",
                l.request_timeout_secs,
                1,
                3600,
                d.request_timeout_secs as i64,
            )? as u64,
            max_concurrent_requests: range(
                "limits.max_concurrent_requests",
                l.max_concurrent_requests,
                1,
                100_000,
                d.max_concurrent_requests as i64,
            )? as usize,
            token_requests_per_second: range(
                "limits.token_requests_per_second",
                l.token_requests_per_second,
                0,
                1_000_000,
                i64::from(d.token_requests_per_second),
            )? as u32,
            owner_requests_per_second: range(
                "limits.owner_requests_per_second",
                l.owner_requests_per_second,
                0,
                1_000_000,
                i64::from(d.owner_requests_per_second),
            )? as u32,
        };
        let keyword_weight = match self.search.keyword_weight {
            None => defaults.search.keyword_weight,
            Some(w) if w.is_finite() && (0.0..=1.0).contains(&w) => w as f32,
            Some(w) => {
                return Err(ConfigError::invalid(
                    "search.keyword_weight",
                    w,
                    "a number from 0 to 1",
                ))
            }
        };
        let cache = self.cache.validate(&defaults.cache)?;
        Ok(Config {
            listen,
            log: LogConfig { level, format },
            database: DatabaseConfig { url, pool_size },
            embedding: EmbeddingConfig {
                model_dir,
                base_url,
                model,
            },
            tls: TlsConfig { plain_http },
            limits,
            search: SearchConfig { keyword_weight },
            cache,
            llm: self.llm.validate()?,
            chat: self.chat.validate()?,
            tools: self.tools.validate()?,
        })
    }

    /// Applies runtime overrides onto this raw configuration (they win over file and env).
    pub fn apply_overrides(&mut self, overrides: &ConfigOverrides) {
        if let Some(level) = &overrides.log_level {
            self.log.level = Some(level.clone());
        }
        if let Some(v) = overrides.token_requests_per_second {
            self.limits.token_requests_per_second = Some(v);
        }
        if let Some(v) = overrides.owner_requests_per_second {
            self.limits.owner_requests_per_second = Some(v);
        }
        if let Some(w) = overrides.keyword_weight {
            self.search.keyword_weight = Some(w);
        }
        if let Some(v) = overrides.cache_ttl_secs {
            self.cache.ttl_secs = Some(v);
        }
        if let Some(v) = overrides.cache_idle_secs {
            self.cache.idle_secs = Some(v);
        }
        if let Some(v) = overrides.cache_redis_ttl_secs {
            self.cache.redis_ttl_secs = Some(v);
        }
    }
}

impl RawCache {
    fn validate(&self, d: &CacheConfig) -> Result<CacheConfig, ConfigError> {
        const MONTH: i64 = 30 * 24 * 3600;
        let redis_url = self.redis_url.clone().filter(|u| !u.trim().is_empty());
        if let Some(url) = &redis_url {
            if !url.starts_with("redis://") {
                return Err(ConfigError::invalid(
                    "cache.redis_url",
                    jamey_core::memory::redact_url(url),
                    "a redis:// URL, or empty for the in-process cache only",
                ));
            }
        }
        let strategy = match self.strategy.as_deref() {
            None => d.strategy,
            Some(text) => EvictionStrategy::parse(text).ok_or_else(|| {
                ConfigError::invalid("cache.strategy", text, EvictionStrategy::NAMES)
            })?,
        };
        let policy = match self.policy.as_deref() {
            None => d.policy,
            Some(text) => InvalidationPolicy::parse(text).ok_or_else(|| {
                ConfigError::invalid("cache.policy", text, InvalidationPolicy::NAMES)
            })?,
        };
        let redis_key_prefix = match &self.redis_key_prefix {
            None => d.redis_key_prefix.clone(),
            Some(p) if !p.is_empty() && !p.contains(char::is_whitespace) && !p.contains('*') => {
                p.clone()
            }
            Some(p) => {
                return Err(ConfigError::invalid(
                    "cache.redis_key_prefix",
                    p,
                    "a non-empty prefix without spaces or '*'",
                ))
            }
        };
        let u = |key, value, min, max, default: u64| {
            range(key, value, min, max, default as i64).map(|v| v as u64)
        };
        Ok(CacheConfig {
            redis_url,
            strategy,
            policy,
            max_entries: u(
                "cache.max_entries",
                self.max_entries,
                1,
                100_000_000,
                d.max_entries,
            )?,
            max_bytes: u(
                "cache.max_bytes",
                self.max_bytes,
                1 << 20,
                1 << 40,
                d.max_bytes,
            )?,
            ttl_secs: u("cache.ttl_secs", self.ttl_secs, 1, MONTH, d.ttl_secs)?,
            idle_secs: u("cache.idle_secs", self.idle_secs, 0, MONTH, d.idle_secs)?,
            redis_ttl_secs: u(
                "cache.redis_ttl_secs",
                self.redis_ttl_secs,
                1,
                MONTH,
                d.redis_ttl_secs,
            )?,
            delay_ms: u("cache.delay_ms", self.delay_ms, 1, 10_000, d.delay_ms)?,
            hot_reads: u(
                "cache.hot_reads",
                self.hot_reads,
                1,
                1_000_000,
                u64::from(d.hot_reads),
            )? as u32,
            burst_writes_per_sec: u(
                "cache.burst_writes_per_sec",
                self.burst_writes_per_sec,
                1,
                10_000_000,
                u64::from(d.burst_writes_per_sec),
            )? as u32,
            redis_timeout_ms: u(
                "cache.redis_timeout_ms",
                self.redis_timeout_ms,
                1,
                60_000,
                d.redis_timeout_ms,
            )?,
            redis_key_prefix,
        })
    }
}

pub(crate) fn range(
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

fn check_log_filter(level: &str) -> Result<(), ConfigError> {
    tracing_subscriber::EnvFilter::try_new(level)
        .map(|_| ())
        .map_err(|_| {
            ConfigError::invalid(
                "log.level",
                level,
                "a tracing filter such as \"info\", \"warn\" or \"jamey_runtime=debug\"",
            )
        })
}

impl Config {
    /// Loads defaults < file < environment, validated.
    pub fn load(
        file: &Path,
        env: &HashMap<String, String>,
        terminal: bool,
    ) -> Result<(Self, RawConfig), ConfigError> {
        let mut raw = RawConfig::from_file(file)?;
        raw.apply_env(env);
        let config = raw.validate(terminal)?;
        Ok((config, raw))
    }

    /// The effective settings as JSON with secrets masked (the database password).
    pub fn masked(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(url) = &self.database.url {
            value["database"]["url"] = jamey_core::memory::redact_url(url).into();
        }
        if let Some(url) = &self.cache.redis_url {
            value["cache"]["redis_url"] = jamey_core::memory::redact_url(url).into();
        }
        value
    }

    /// Names of settings that differ between `self` and `next` and need a restart to apply.
    pub fn restart_needed(&self, next: &Self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.listen != next.listen {
            keys.push("listen");
        }
        if self.log.format != next.log.format {
            keys.push("log.format");
        }
        if self.database != next.database {
            keys.push("database");
        }
        if self.embedding != next.embedding {
            keys.push("embedding");
        }
        if self.tls != next.tls {
            keys.push("tls");
        }
        if self.tools != next.tools {
            keys.push("tools");
        }
        let (a, b) = (&self.limits, &next.limits);
        if a.max_body_bytes != b.max_body_bytes
            || a.max_batch_body_bytes != b.max_batch_body_bytes
            || a.max_content_bytes != b.max_content_bytes
            || a.request_timeout_secs != b.request_timeout_secs
            || a.max_concurrent_requests != b.max_concurrent_requests
        {
            keys.push("limits (sizes, timeout, concurrency)");
        }
        let (a, b) = (&self.cache, &next.cache);
        let a_with_b_times = CacheConfig {
            ttl_secs: b.ttl_secs,
            idle_secs: b.idle_secs,
            redis_ttl_secs: b.redis_ttl_secs,
            ..a.clone()
        };
        if a_with_b_times != *b {
            keys.push("cache (all but the ttl_secs, idle_secs and redis_ttl_secs)");
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_init_template_parses_to_the_defaults() {
        let raw = RawConfig::from_toml(jamey_core::home::CONFIG_TEMPLATE).unwrap();
        assert_eq!(raw.validate(true).unwrap(), Config::default());
        // Uncommenting every line must also give the defaults, so the comments tell the truth.
        let uncommented: String = jamey_core::home::CONFIG_TEMPLATE
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest)
                    if rest.split_once(" = ").is_some_and(|(key, _)| {
                        key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    }) =>
                {
                    rest
                }
                _ if line.starts_with('#') => "",
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let raw = RawConfig::from_toml(&uncommented).unwrap();
        assert_eq!(raw.validate(true).unwrap(), Config::default());
    }

    #[test]
    fn environment_beats_the_file_and_overrides_beat_both() {
        let mut raw =
            RawConfig::from_toml("listen = \"127.0.0.1:4000\"\n[search]\nkeyword_weight = 0.3")
                .unwrap();
        raw.apply_env(&env(&[
            ("JAMEY_LISTEN", "127.0.0.1:5000"),
            ("JAMEY_LOG", "debug"),
        ]));
        raw.apply_overrides(&ConfigOverrides {
            keyword_weight: Some(0.2),
            ..Default::default()
        });
        let config = raw.validate(false).unwrap();
        assert_eq!(config.listen.port(), 5000);
        assert_eq!(config.log.level, "debug");
        assert_eq!(config.log.format, LogFormat::Json);
        assert!((config.search.keyword_weight - 0.2).abs() < 1e-6);
    }

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

    #[test]
    fn invalid_values_name_key_value_and_what_is_allowed() {
        let cases = [
            ("listen = \"nowhere\"", "listen", "nowhere"),
            ("[limits]\nmax_body_bytes = 5", "limits.max_body_bytes", "5"),
            ("[log]\nformat = \"xml\"", "log.format", "xml"),
            (
                "[search]\nkeyword_weight = 3.0",
                "search.keyword_weight",
                "3",
            ),
            (
                "[database]\nurl = \"mysql://u:pw@h/db\"",
                "database.url",
                "mysql://u:[redacted]@h/db",
            ),
            (
                "listen = \"0.0.0.0:3000\"\n[tls]\nplain_http = true",
                "tls.plain_http",
                "true",
            ),
            ("[cache]\nstrategy = \"fifo\"", "cache.strategy", "fifo"),
            ("[cache]\npolicy = \"lazy\"", "cache.policy", "lazy"),
            ("[cache]\nttl_secs = 0", "cache.ttl_secs", "0"),
            (
                "[cache]\nredis_url = \"http://u:pw@h\"",
                "cache.redis_url",
                "http://u:[redacted]@h",
            ),
        ];
        for (text, key, value) in cases {
            let err = RawConfig::from_toml(text)
                .unwrap()
                .validate(true)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(key) && err.contains(value) && !err.contains("pw@"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let err = RawConfig::from_toml("[limits]\nmax_bodyy_bytes = 5").unwrap_err();
        assert!(err.contains("max_bodyy_bytes"), "{err}");
    }

    #[test]
    fn masked_config_hides_the_database_password() {
        let mut config = Config::default();
        config.database.url = Some("postgres://jamey:hunter2@db/jamey".into());
        config.cache.redis_url = Some("redis://default:swordfish@cache:6379".into());
        let text = config.masked().to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("swordfish") && text.contains("[redacted]"),
            "{text}"
        );
    }

    #[test]
    fn jamey_redis_url_selects_two_tiers_and_cache_ttls_reload_live() {
        let mut raw =
            RawConfig::from_toml("[cache]\nstrategy = \"lru\"\npolicy = \"adaptive\"").unwrap();
        let config = raw.validate(true).unwrap();
        assert!(
            config.cache.to_core().redis.is_none(),
            "unset: in process only"
        );
        raw.apply_env(&env(&[("JAMEY_REDIS_URL", "redis://127.0.0.1:6379")]));
        let two_tier = raw.validate(true).unwrap();
        let core = two_tier.cache.to_core();
        assert_eq!(core.redis.unwrap().url, "redis://127.0.0.1:6379");
        assert_eq!(core.strategy, EvictionStrategy::Lru);
        assert_eq!(core.policy, InvalidationPolicy::Adaptive);
        assert!(config
            .restart_needed(&two_tier)
            .iter()
            .any(|k| k.starts_with("cache")));
        raw.apply_overrides(&ConfigOverrides {
            cache_ttl_secs: Some(5),
            cache_redis_ttl_secs: Some(7),
            ..Default::default()
        });
        let reloaded = raw.validate(true).unwrap();
        assert_eq!(
            (reloaded.cache.ttl_secs, reloaded.cache.redis_ttl_secs),
            (5, 7)
        );
        assert!(
            two_tier.restart_needed(&reloaded).is_empty(),
            "TTLs are live keys"
        );
    }
}
