//! `AppState`: what every handler shares — the memory subsystem, configuration, credentials,
//! limits and metrics.

use crate::auth::CredentialsCache;
use crate::config::{Config, ConfigOverrides, RawConfig};
use crate::limits::RateLimits;
use crate::metrics::Metrics;
use jamey_core::Memories;
use parking_lot::RwLock;
use std::sync::Arc;
use std::time::Instant;

/// Shared state; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub memories: Memories,
    pub orchestrator: Arc<crate::orchestrator::Orchestrator>,
    pub settings: Arc<Settings>,
    pub credentials: Arc<CredentialsCache>,
    pub rate_limits: Arc<RwLock<RateLimits>>,
    pub metrics: Metrics,
    pub started_at: Instant,
    /// Applies a new log filter (the subscriber's reload handle), when logging is installed.
    pub log_reload: Option<crate::telemetry::LogReload>,
}

/// The configuration as it stands: the file and environment layer plus runtime overrides.
#[derive(Debug)]
pub struct Settings {
    inner: RwLock<SettingsInner>,
    terminal: bool,
}

#[derive(Debug)]
struct SettingsInner {
    base: RawConfig,
    overrides: ConfigOverrides,
    effective: Config,
}

impl Settings {
    pub fn new(base: RawConfig, effective: Config, terminal: bool) -> Self {
        Self {
            inner: RwLock::new(SettingsInner {
                base,
                overrides: ConfigOverrides::default(),
                effective,
            }),
            terminal,
        }
    }

    pub fn current(&self) -> Config {
        self.inner.read().effective.clone()
    }

    pub fn overrides(&self) -> ConfigOverrides {
        self.inner.read().overrides.clone()
    }

    /// Validates `base` (file + environment) with the current overrides on top; on success it
    /// becomes the configuration. Returns (old, new).
    pub fn replace_base(
        &self,
        base: RawConfig,
    ) -> Result<(Config, Config), crate::config::ConfigError> {
        let mut inner = self.inner.write();
        let mut layered = base.clone();
        layered.apply_overrides(&inner.overrides);
        let next = layered.validate(self.terminal)?;
        let old = std::mem::replace(&mut inner.effective, next.clone());
        inner.base = base;
        Ok((old, next))
    }

    /// Merges `patch` into the runtime overrides. Returns (old, new).
    pub fn apply_overrides(
        &self,
        patch: &ConfigOverrides,
    ) -> Result<(Config, Config), crate::config::ConfigError> {
        let mut inner = self.inner.write();
        let mut overrides = inner.overrides.clone();
        if patch.log_level.is_some() {
            overrides.log_level = patch.log_level.clone();
        }
        if patch.token_requests_per_second.is_some() {
            overrides.token_requests_per_second = patch.token_requests_per_second;
        }
        if patch.owner_requests_per_second.is_some() {
            overrides.owner_requests_per_second = patch.owner_requests_per_second;
        }
        if patch.keyword_weight.is_some() {
            overrides.keyword_weight = patch.keyword_weight;
        }
        if patch.cache_ttl_secs.is_some() {
            overrides.cache_ttl_secs = patch.cache_ttl_secs;
        }
        if patch.cache_idle_secs.is_some() {
            overrides.cache_idle_secs = patch.cache_idle_secs;
        }
        if patch.cache_redis_ttl_secs.is_some() {
            overrides.cache_redis_ttl_secs = patch.cache_redis_ttl_secs;
        }
        let mut layered = inner.base.clone();
        layered.apply_overrides(&overrides);
        let next = layered.validate(self.terminal)?;
        let old = std::mem::replace(&mut inner.effective, next.clone());
        inner.overrides = overrides;
        Ok((old, next))
    }
}

impl AppState {
    /// Puts the safe keys of a new configuration into effect.
    pub fn apply_live_settings(&self, old: &Config, new: &Config) {
        if old.log.level != new.log.level {
            if let Some(reload) = &self.log_reload {
                match reload.apply(&new.log.level) {
                    Ok(()) => tracing::info!(level = %new.log.level, "log level changed"),
                    Err(error) => tracing::warn!(%error, "cannot change the log level"),
                }
            }
        }
        if old.limits.token_requests_per_second != new.limits.token_requests_per_second
            || old.limits.owner_requests_per_second != new.limits.owner_requests_per_second
        {
            *self.rate_limits.write() = RateLimits::new(
                new.limits.token_requests_per_second,
                new.limits.owner_requests_per_second,
            );
            tracing::info!(
                token_rps = new.limits.token_requests_per_second,
                owner_rps = new.limits.owner_requests_per_second,
                "rate limits changed"
            );
        }
        if old.search.keyword_weight != new.search.keyword_weight {
            self.memories.set_keyword_weight(new.search.keyword_weight);
            tracing::info!(
                keyword_weight = new.search.keyword_weight,
                "hybrid keyword weight changed"
            );
        }
        if old.cache.times() != new.cache.times() {
            if let Some(cache) = self.memories.cache() {
                let (ttl, idle, redis_ttl) = new.cache.times();
                cache.times().set(ttl, idle, redis_ttl);
                tracing::info!(
                    ttl_secs = new.cache.ttl_secs,
                    idle_secs = new.cache.idle_secs,
                    redis_ttl_secs = new.cache.redis_ttl_secs,
                    "cache lifetimes changed"
                );
            }
        }
        if old.llm != new.llm {
            match self.orchestrator.reconfigure(&new.llm) {
                Ok(()) => {
                    tracing::info!(model = %new.llm.model, fallbacks = ?new.llm.fallback_models, "LLM settings changed")
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot apply the new LLM settings; the old ones stay")
                }
            }
        }
        let restart = old.restart_needed(new);
        if !restart.is_empty() {
            tracing::warn!(settings = ?restart, "changed settings take effect after a restart");
        }
    }
}
