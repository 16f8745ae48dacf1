//! Local rate limits per model (governor): requests per minute and tokens per minute. A request
//! waits for capacity, but only up to `max_wait`; beyond that it fails with a local
//! `RateLimited` instead of queueing without bound.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::{ModelRateLimit, ProviderError, RateLimitConfig};

/// The limiters of all models a client has called.
#[derive(Debug)]
pub(crate) struct RateLimits {
    config: RateLimitConfig,
    models: Mutex<HashMap<String, Arc<ModelLimiter>>>,
}

#[derive(Debug)]
struct ModelLimiter {
    requests: Option<DefaultDirectRateLimiter>,
    /// The token bucket and its size (a minute's worth).
    tokens: Option<(DefaultDirectRateLimiter, NonZeroU32)>,
}

impl RateLimits {
    pub(crate) fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            models: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until `model` may take one more request of about `estimated_tokens` tokens.
    pub(crate) async fn acquire(
        &self,
        model: &str,
        estimated_tokens: u64,
    ) -> Result<(), ProviderError> {
        let Some(limiter) = self.limiter(model) else {
            return Ok(());
        };
        let deadline = Instant::now() + self.config.max_wait;
        if let Some(requests) = &limiter.requests {
            wait_for(requests, NonZeroU32::MIN, model, deadline).await?;
        }
        if let Some((tokens, capacity)) = &limiter.tokens {
            // A prompt larger than a minute's budget waits for a full bucket and empties it.
            let cells = clamp_tokens(estimated_tokens).min(*capacity);
            wait_for(tokens, cells, model, deadline).await?;
        }
        Ok(())
    }

    /// Charges tokens learned after the call (the completion) without waiting: the next
    /// request pays for them.
    pub(crate) fn charge_tokens(&self, model: &str, tokens: u64) {
        if tokens == 0 {
            return;
        }
        if let Some(limiter) = self.limiter(model) {
            if let Some((tokens_limiter, capacity)) = &limiter.tokens {
                // Charged only if the bucket holds them; otherwise the next request's own
                // estimate is what slows it down.
                let _ = tokens_limiter.check_n(clamp_tokens(tokens).min(*capacity));
            }
        }
    }

    fn limiter(&self, model: &str) -> Option<Arc<ModelLimiter>> {
        let limits = self
            .config
            .per_model
            .get(model)
            .copied()
            .unwrap_or(self.config.default);
        if limits == ModelRateLimit::default() {
            return None;
        }
        let mut models = self.models.lock();
        Some(
            models
                .entry(model.to_owned())
                .or_insert_with(|| {
                    Arc::new(ModelLimiter {
                        requests: limits
                            .requests_per_minute
                            .map(|per_minute| RateLimiter::direct(Quota::per_minute(per_minute))),
                        tokens: limits.tokens_per_minute.map(|per_minute| {
                            (
                                RateLimiter::direct(Quota::per_minute(per_minute)),
                                per_minute,
                            )
                        }),
                    })
                })
                .clone(),
        )
    }
}

fn clamp_tokens(tokens: u64) -> NonZeroU32 {
    NonZeroU32::new(u32::try_from(tokens).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN)
}

async fn wait_for(
    limiter: &DefaultDirectRateLimiter,
    cells: NonZeroU32,
    model: &str,
    deadline: Instant,
) -> Result<(), ProviderError> {
    let clock = limiter.clock();
    loop {
        let wait = match limiter.check_n(cells) {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(not_until)) => not_until.wait_time_from(clock.now()),
            // Callers clamp `cells` to the bucket size, so this cannot happen; admitting is
            // the harmless answer if it did.
            Err(_) => return Ok(()),
        };
        let now = Instant::now();
        if now + wait > deadline {
            return Err(ProviderError::RateLimited {
                model: model.to_owned(),
                retry_after: Some(wait),
                local: true,
            });
        }
        tracing::debug!(
            model,
            wait_ms = wait.as_millis() as u64,
            "waiting for the local rate limit"
        );
        tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_beyond_the_limit_fail_after_the_bounded_wait() {
        let limits = RateLimits::new(RateLimitConfig {
            default: ModelRateLimit {
                requests_per_minute: NonZeroU32::new(2),
                tokens_per_minute: None,
            },
            per_model: HashMap::new(),
            max_wait: Duration::from_millis(50),
        });
        limits.acquire("m", 10).await.unwrap();
        limits.acquire("m", 10).await.unwrap();
        let error = limits.acquire("m", 10).await.unwrap_err();
        assert!(matches!(
            error,
            ProviderError::RateLimited { local: true, .. }
        ));
        assert!(error.retry_after().unwrap() > Duration::from_secs(20));
        // Another model has its own budget.
        limits.acquire("other", 10).await.unwrap();
    }
}
