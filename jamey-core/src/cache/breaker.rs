//! A circuit breaker in front of Redis: after a few consecutive failures the cache stops asking
//! Redis for a cool-down, then lets one probe through; its success closes the circuit again.
//! While open, every L2 operation is skipped at once, so a dead or slow Redis costs nothing.

use parking_lot::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is out; another is allowed if it has not come back by `retry_at`.
    HalfOpen {
        retry_at: Instant,
    },
}

/// Whether a call may go to Redis, and the record of how calls went.
#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    state: Mutex<State>,
    failures_to_open: u32,
    cooldown: Duration,
}

/// What a recorded success did to the circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recovery {
    /// It was closed already.
    Steady,
    /// It had been open: Redis is back.
    Healed,
}

impl CircuitBreaker {
    pub(crate) fn new(failures_to_open: u32, cooldown: Duration) -> Self {
        Self {
            state: Mutex::new(State::Closed { failures: 0 }),
            failures_to_open: failures_to_open.max(1),
            cooldown,
        }
    }

    /// True when a call may be made now.
    pub(crate) fn allow(&self) -> bool {
        let mut state = self.state.lock();
        match *state {
            State::Closed { .. } => true,
            State::Open { until } | State::HalfOpen { retry_at: until } => {
                let now = Instant::now();
                if now >= until {
                    *state = State::HalfOpen {
                        retry_at: now + self.cooldown,
                    };
                    true
                } else {
                    false
                }
            }
        }
    }

    pub(crate) fn record_success(&self) -> Recovery {
        let mut state = self.state.lock();
        let was_open = !matches!(*state, State::Closed { .. });
        *state = State::Closed { failures: 0 };
        if was_open {
            Recovery::Healed
        } else {
            Recovery::Steady
        }
    }

    /// Returns true when this failure opened the circuit.
    pub(crate) fn record_failure(&self) -> bool {
        let mut state = self.state.lock();
        match *state {
            State::Closed { failures } if failures + 1 < self.failures_to_open => {
                *state = State::Closed {
                    failures: failures + 1,
                };
                false
            }
            State::Closed { .. } | State::HalfOpen { .. } => {
                *state = State::Open {
                    until: Instant::now() + self.cooldown,
                };
                true
            }
            State::Open { .. } => false,
        }
    }

    /// Opens the circuit now (the connection is known to be gone).
    pub(crate) fn trip(&self) {
        *self.state.lock() = State::Open {
            until: Instant::now() + self.cooldown,
        };
    }

    pub(crate) fn is_closed(&self) -> bool {
        matches!(*self.state.lock(), State::Closed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_heals_through_one_probe() {
        let breaker = CircuitBreaker::new(3, Duration::from_millis(50));
        assert!(!breaker.record_failure());
        assert_eq!(breaker.record_success(), Recovery::Steady);
        assert!(!breaker.record_failure());
        assert!(!breaker.record_failure());
        assert!(breaker.record_failure(), "third consecutive failure opens");
        assert!(!breaker.allow() && !breaker.is_closed());
        std::thread::sleep(Duration::from_millis(60));
        assert!(breaker.allow(), "one probe after the cool-down");
        assert!(!breaker.allow(), "only one");
        assert!(breaker.record_failure(), "a failed probe opens again");
        assert!(!breaker.allow());
        std::thread::sleep(Duration::from_millis(60));
        assert!(breaker.allow());
        assert_eq!(breaker.record_success(), Recovery::Healed);
        assert!(breaker.is_closed() && breaker.allow());
    }

    #[test]
    fn a_lost_probe_does_not_keep_the_circuit_open_forever() {
        let breaker = CircuitBreaker::new(1, Duration::from_millis(30));
        breaker.trip();
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow());
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow(), "the probe never reported; another goes");
    }
}
