//! Counters of what the cache did, read by the runtime's `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counters; cheap to bump from any thread.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub(crate) l1_hits: AtomicU64,
    pub(crate) l1_misses: AtomicU64,
    pub(crate) l2_hits: AtomicU64,
    pub(crate) l2_misses: AtomicU64,
    pub(crate) search_hits: AtomicU64,
    pub(crate) search_misses: AtomicU64,
    pub(crate) evictions: AtomicU64,
    pub(crate) invalidations_sent: AtomicU64,
    pub(crate) invalidations_received: AtomicU64,
    pub(crate) redis_errors: AtomicU64,
    pub(crate) resets: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStatsSnapshot {
    /// Memory reads answered by the in-process tier.
    pub l1_hits: u64,
    pub l1_misses: u64,
    /// Memory reads answered by Redis after an L1 miss.
    pub l2_hits: u64,
    /// L1 misses that Redis did not answer either (absent, or Redis unavailable).
    pub l2_misses: u64,
    pub search_hits: u64,
    pub search_misses: u64,
    /// In-process entries dropped for size or age (not invalidations).
    pub evictions: u64,
    /// Invalidation messages published for other instances.
    pub invalidations_sent: u64,
    /// Invalidation messages received from other instances.
    pub invalidations_received: u64,
    /// Redis commands that failed or timed out.
    pub redis_errors: u64,
    /// Times the whole in-process tier was dropped (after a Redis reconnect).
    pub resets: u64,
}

impl CacheStatsSnapshot {
    /// Share of memory reads answered by a cache tier, 0 before any read.
    pub fn hit_rate(&self) -> f64 {
        let reads = self.l1_hits + self.l1_misses;
        if reads == 0 {
            return 0.0;
        }
        (self.l1_hits + self.l2_hits) as f64 / reads as f64
    }
}

impl CacheStats {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CacheStatsSnapshot {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStatsSnapshot {
            l1_hits: read(&self.l1_hits),
            l1_misses: read(&self.l1_misses),
            l2_hits: read(&self.l2_hits),
            l2_misses: read(&self.l2_misses),
            search_hits: read(&self.search_hits),
            search_misses: read(&self.search_misses),
            evictions: read(&self.evictions),
            invalidations_sent: read(&self.invalidations_sent),
            invalidations_received: read(&self.invalidations_received),
            redis_errors: read(&self.redis_errors),
            resets: read(&self.resets),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_rate_counts_both_tiers_over_all_reads() {
        let snapshot = CacheStatsSnapshot {
            l1_hits: 6,
            l1_misses: 4,
            l2_hits: 2,
            l2_misses: 2,
            ..Default::default()
        };
        assert!((snapshot.hit_rate() - 0.8).abs() < 1e-9);
        assert_eq!(CacheStatsSnapshot::default().hit_rate(), 0.0);
    }
}
