//! Per-caller rate limits (governor): bearer tokens and tool certificates share
//! `token_requests_per_second`, the owner's certificate has `owner_requests_per_second`
//! (0 = unlimited). Both reload with the configuration.

use crate::caller::Caller;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Duration;

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

    /// Counts one request of `caller`; when it is over its rate, how long until it may retry.
    pub fn check(&self, caller: &Caller) -> Result<(), Duration> {
        let limiter = match caller {
            Caller::Owner => self.owner.as_ref(),
            Caller::Certificate(_) | Caller::Token(_) => self.tokens.as_ref(),
        };
        let Some(limiter) = limiter else {
            return Ok(());
        };
        limiter
            .check_key(&caller.to_string())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}
