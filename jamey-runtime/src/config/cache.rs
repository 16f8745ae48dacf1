//! The `[cache]` section: the hybrid cache, in process always and in Redis when `redis_url` is
//! set. Raw and validated forms, and the cache's own configuration built from them.

use super::{range, ConfigError};
use jamey_core::cache::{EvictionStrategy, InvalidationPolicy};
use serde::Deserialize;

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

impl Default for CacheConfig {
    fn default() -> Self {
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
    }
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

impl RawCache {
    pub(super) fn validate(&self, d: &CacheConfig) -> Result<CacheConfig, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_env as env;
    use crate::config::{ConfigOverrides, RawConfig};

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
