//! Per-caller rate limits (governor): bearer tokens and tool certificates share
//! `token_requests_per_second`, the owner's certificate has `owner_requests_per_second`
//! (0 = unlimited). Both reload with the configuration.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

/// The limiters for the current configuration.
#[derive(Debug)]
pub struct RateLimits {
    tokens: Option<DefaultKeyedRateLimiter<String>>,
    owner: Option<DefaultKeyedRateLimiter<String>>,
}

impl RateLimits {
    pub fn new(token_per_second: u32, owner_per_second: u32) -> Self {
        let limiter =
            |rate: u32| NonZeroU32::new(rate).map(|r| RateLimiter::keyed(Quota::per_second(r)));
        Self {
            tokens: limiter(token_per_second),
            owner: limiter(owner_per_second),
        }
    }
}

/// Answers 429 with `Retry-After` when `caller` is over its rate.
pub fn check_rate(app: &AppState, caller: &Caller) -> Result<(), ApiError> {
    let limits = app.rate_limits.read();
    let limiter = match caller {
        Caller::Owner => limits.owner.as_ref(),
        Caller::Certificate(_) | Caller::Token(_) => limits.tokens.as_ref(),
    };
    let Some(limiter) = limiter else {
        return Ok(());
    };
    match limiter.check_key(&caller.rate_key()) {
        Ok(()) => Ok(()),
        Err(not_until) => {
            let retry_after = not_until.wait_time_from(DefaultClock::default().now());
            Err(ApiError::RateLimited { retry_after })
        }
    }
}
