//! The invalidation policy as a decision: for each write, send the invalidation to the other
//! instances now, or hold it for the coalescing window.

use super::config::InvalidationPolicy;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// When an invalidation leaves this instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dispatch {
    Now,
    /// With the next coalesced batch.
    Batched,
}

/// Decides per write, tracking the write rate the adaptive policy needs.
#[derive(Debug)]
pub(crate) struct PolicyDecider {
    policy: InvalidationPolicy,
    hot_reads: u32,
    burst_writes_per_sec: u64,
    started: Instant,
    /// (second since start) << 32 | writes in that second.
    current: AtomicU64,
    /// Writes in the second before `current`'s.
    previous: AtomicU64,
}

impl PolicyDecider {
    pub(crate) fn new(
        policy: InvalidationPolicy,
        hot_reads: u32,
        burst_writes_per_sec: u32,
    ) -> Self {
        Self {
            policy,
            hot_reads: hot_reads.max(1),
            burst_writes_per_sec: u64::from(burst_writes_per_sec.max(1)),
            started: Instant::now(),
            current: AtomicU64::new(0),
            previous: AtomicU64::new(0),
        }
    }

    /// Records one write of a key that had been read `reads` times here, and decides.
    pub(crate) fn decide(&self, reads: u32) -> Dispatch {
        let rate = self.record_write();
        match self.policy {
            InvalidationPolicy::Immediate => Dispatch::Now,
            InvalidationPolicy::Delayed => Dispatch::Batched,
            InvalidationPolicy::Adaptive => {
                if reads >= self.hot_reads || rate <= self.burst_writes_per_sec {
                    Dispatch::Now
                } else {
                    Dispatch::Batched
                }
            }
        }
    }

    /// Counts a write; returns the writes per second over the current and previous second.
    fn record_write(&self) -> u64 {
        let second = self.started.elapsed().as_secs();
        loop {
            let packed = self.current.load(Ordering::Relaxed);
            let (at, count) = (packed >> 32, packed & 0xFFFF_FFFF);
            let next = if at == second {
                (second << 32) | (count + 1).min(0xFFFF_FFFF)
            } else {
                (second << 32) | 1
            };
            if self
                .current
                .compare_exchange_weak(packed, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                if at != second {
                    let carried = if at + 1 == second { count } else { 0 };
                    self.previous.store(carried, Ordering::Relaxed);
                }
                return (next & 0xFFFF_FFFF).max(self.previous.load(Ordering::Relaxed));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediate_and_delayed_ignore_heat_and_rate() {
        let now = PolicyDecider::new(InvalidationPolicy::Immediate, 1, 1);
        let later = PolicyDecider::new(InvalidationPolicy::Delayed, 1, 1);
        for reads in [0, 100] {
            assert_eq!(now.decide(reads), Dispatch::Now);
            assert_eq!(later.decide(reads), Dispatch::Batched);
        }
    }

    #[test]
    fn adaptive_batches_cold_keys_only_during_a_burst() {
        let decider = PolicyDecider::new(InvalidationPolicy::Adaptive, 5, 10);
        for _ in 0..10 {
            assert_eq!(decider.decide(0), Dispatch::Now, "calm: immediate");
        }
        assert_eq!(
            decider.decide(0),
            Dispatch::Batched,
            "burst: cold key waits"
        );
        assert_eq!(
            decider.decide(5),
            Dispatch::Now,
            "burst: hot key still immediate"
        );
    }
}
