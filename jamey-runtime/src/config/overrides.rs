//! Runtime overrides (`PATCH /v1/config`): only keys that are safe to change live. They win over
//! the file and the environment.

use super::raw::RawConfig;
use serde::Deserialize;

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

impl ConfigOverrides {
    /// `patch` on top of these overrides: a key the patch names replaces ours.
    pub fn merged(&self, patch: &Self) -> Self {
        Self {
            log_level: patch.log_level.clone().or_else(|| self.log_level.clone()),
            token_requests_per_second: patch
                .token_requests_per_second
                .or(self.token_requests_per_second),
            owner_requests_per_second: patch
                .owner_requests_per_second
                .or(self.owner_requests_per_second),
            keyword_weight: patch.keyword_weight.or(self.keyword_weight),
            cache_ttl_secs: patch.cache_ttl_secs.or(self.cache_ttl_secs),
            cache_idle_secs: patch.cache_idle_secs.or(self.cache_idle_secs),
            cache_redis_ttl_secs: patch.cache_redis_ttl_secs.or(self.cache_redis_ttl_secs),
        }
    }
}

impl RawConfig {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_replaces_the_keys_it_names_and_keeps_the_others() {
        let current = ConfigOverrides {
            log_level: Some("debug".into()),
            keyword_weight: Some(0.2),
            ..ConfigOverrides::default()
        };
        let patch = ConfigOverrides {
            keyword_weight: Some(0.7),
            cache_ttl_secs: Some(9),
            ..ConfigOverrides::default()
        };
        let merged = current.merged(&patch);
        assert_eq!(merged.log_level.as_deref(), Some("debug"));
        assert_eq!(merged.keyword_weight, Some(0.7));
        assert_eq!(merged.cache_ttl_secs, Some(9));
        assert_eq!(merged.owner_requests_per_second, None);
        assert_eq!(current.merged(&ConfigOverrides::default()), current);
    }
}
