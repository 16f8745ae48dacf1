//! The validated configuration, `Config`, and the checks that turn a `RawConfig` into it.

use super::cache::CacheConfig;
use super::github::GithubConfig;
use super::llm::{ChatConfig, LlmConfig};
use super::raw::RawConfig;
use super::tools::ToolsConfig;
use super::{range, ConfigError};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
    pub llm: LlmConfig,
    pub chat: ChatConfig,
    pub tools: ToolsConfig,
    pub github: GithubConfig,
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
            cache: CacheConfig::default(),
            llm: Default::default(),
            chat: Default::default(),
            tools: Default::default(),
            github: Default::default(),
        }
    }
}

impl RawConfig {
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
                    jamey_core::db::redact_url(url),
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
            github: self.github.validate()?,
        })
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

    /// The effective settings as JSON with secrets masked: the password in the userinfo of
    /// every URL (database, Redis, model provider, embedding server).
    pub fn masked(&self) -> serde_json::Value {
        use jamey_core::db::redact_url;
        let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(url) = &self.database.url {
            value["database"]["url"] = redact_url(url).into();
        }
        if let Some(url) = &self.cache.redis_url {
            value["cache"]["redis_url"] = redact_url(url).into();
        }
        value["llm"]["base_url"] = redact_url(&self.llm.base_url).into();
        if let Some(url) = &self.embedding.base_url {
            value["embedding"]["base_url"] = redact_url(url).into();
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
        // Permissions, limits and the approval timeout apply live; the host rule is built
        // into the tool.
        if self.tools.kill_other_users != next.tools.kill_other_users {
            keys.push("tools.kill_other_users");
        }
        if self.tools.network != next.tools.network {
            keys.push("tools.network");
        }
        if self.github != next.github {
            keys.push("github");
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
    use crate::config::test_env as env;
    use crate::config::ConfigOverrides;

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
    fn masked_config_hides_passwords_in_the_model_and_embedding_urls() {
        let mut config = Config::default();
        config.llm.base_url = "https://proxy-user:llm-pass@llm.internal:8443/api/v1".into();
        config.embedding.base_url = Some("http://embed:embed-pass@10.0.0.7:8080/v1".into());
        let masked = config.masked();
        assert_eq!(
            masked["llm"]["base_url"],
            "https://proxy-user:[redacted]@llm.internal:8443/api/v1"
        );
        assert_eq!(
            masked["embedding"]["base_url"],
            "http://embed:[redacted]@10.0.0.7:8080/v1"
        );
        let text = masked.to_string();
        assert!(
            !text.contains("llm-pass") && !text.contains("embed-pass"),
            "{text}"
        );
        // A URL without a password is shown as it is.
        assert_eq!(
            Config::default().masked()["llm"]["base_url"],
            Config::default().llm.base_url.as_str()
        );
    }
}
