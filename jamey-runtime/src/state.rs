//! `AppState`: what every handler shares — the memory subsystem, the orchestrator, the tools, the settings,
//! credentials, limits and metrics — and how a new configuration is put into effect.

use crate::config::{Config, Settings};
use crate::credentials::CredentialsCache;
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
    /// The tool runner every call goes through, and the approval gate decisions go to.
    pub toolbox: crate::tools::Toolbox,
    pub settings: Arc<Settings>,
    pub credentials: Arc<CredentialsCache>,
    pub rate_limits: Arc<RwLock<RateLimits>>,
    pub metrics: Metrics,
    pub started_at: Instant,
    /// Applies a new log filter (the subscriber's reload handle), when logging is installed.
    pub log_reload: Option<crate::telemetry::LogReload>,
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
        if old.tools != new.tools {
            crate::tools::apply(&self.toolbox, new);
            tracing::info!("tool permissions and limits changed");
        }
        let restart = old.restart_needed(new);
        if !restart.is_empty() {
            tracing::warn!(settings = ?restart, "changed settings take effect after a restart");
        }
    }
}
