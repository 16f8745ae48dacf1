//! A circuit breaker per model: after `failure_threshold` consecutive failed calls the model is
//! skipped for `open_for`, then one trial call decides whether it is back.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use crate::CircuitBreakerConfig;

/// The breakers of all models a client has called.
#[derive(Debug)]
pub(crate) struct CircuitBreakers {
    config: CircuitBreakerConfig,
    states: Mutex<HashMap<String, BreakerState>>,
}

#[derive(Debug, Default)]
struct BreakerState {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    trial_in_flight: bool,
}

impl CircuitBreakers {
    pub(crate) fn new(config: CircuitBreakerConfig) -> Self {
        Self {
            config,
            states: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `model` may be called now; `Err` holds how long it stays open. Once the open
    /// period has passed, exactly one caller gets through as the trial.
    pub(crate) fn admit(&self, model: &str) -> Result<(), Duration> {
        let mut states = self.states.lock();
        let Some(state) = states.get_mut(model) else {
            return Ok(());
        };
        let Some(open_until) = state.open_until else {
            return Ok(());
        };
        let now = Instant::now();
        if now < open_until {
            return Err(open_until - now);
        }
        if state.trial_in_flight {
            return Err(self.config.open_for);
        }
        state.trial_in_flight = true;
        Ok(())
    }

    pub(crate) fn record_success(&self, model: &str) {
        self.states.lock().remove(model);
    }

    /// Counts a failed call; returns whether the circuit is (now) open.
    pub(crate) fn record_failure(&self, model: &str) -> bool {
        let mut states = self.states.lock();
        let state = states.entry(model.to_owned()).or_default();
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        let reopen = state.trial_in_flight;
        state.trial_in_flight = false;
        if reopen || state.consecutive_failures >= self.config.failure_threshold.max(1) {
            state.open_until = Some(Instant::now() + self.config.open_for);
            return true;
        }
        false
    }

    /// A call ended without a verdict on the model (cancelled, or failed for a reason that is
    /// not the model's fault): let the next caller be the trial.
    pub(crate) fn record_neutral(&self, model: &str) {
        if let Some(state) = self.states.lock().get_mut(model) {
            state.trial_in_flight = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_the_threshold_and_lets_one_trial_through() {
        let breakers = CircuitBreakers::new(CircuitBreakerConfig {
            failure_threshold: 2,
            open_for: Duration::from_secs(10),
        });
        assert!(breakers.admit("m").is_ok());
        assert!(!breakers.record_failure("m"));
        assert!(breakers.record_failure("m"));
        assert!(breakers.admit("m").is_err());
        assert!(breakers.admit("other").is_ok());

        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(breakers.admit("m").is_ok(), "the trial");
        assert!(breakers.admit("m").is_err(), "only one trial at a time");
        assert!(breakers.record_failure("m"), "a failed trial reopens");
        assert!(breakers.admit("m").is_err());

        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(breakers.admit("m").is_ok());
        breakers.record_success("m");
        assert!(breakers.admit("m").is_ok());
        assert!(breakers.admit("m").is_ok());
    }
}
