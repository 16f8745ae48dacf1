//! L1: the in-process tier, a moka cache shaped by the configured `EvictionStrategy`: bounded by
//! entries, by bytes (a weigher) or both, with time to live and time to idle read from
//! `CacheTimes` so a reload changes them without rebuilding the cache.

use super::config::{CacheTimes, EvictionStrategy};
use super::stats::CacheStats;
use moka::policy::EvictionPolicy;
use moka::Expiry;
use std::hash::Hash;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One cached value with what eviction and the adaptive policy need to know about it.
#[derive(Debug)]
pub(crate) struct LocalEntry<V> {
    pub(crate) value: V,
    weight: u32,
    written: Instant,
    reads: AtomicU32,
}

impl<V> LocalEntry<V> {
    pub(crate) fn reads(&self) -> u32 {
        self.reads.load(Ordering::Relaxed)
    }
}

/// The bounds one L1 cache is built with.
#[derive(Debug, Clone)]
pub(crate) struct LocalBounds {
    pub(crate) strategy: EvictionStrategy,
    pub(crate) max_entries: u64,
    pub(crate) max_bytes: u64,
    pub(crate) times: CacheTimes,
}

/// An in-process cache of `V` by `K`.
pub(crate) struct LocalTier<K, V> {
    cache: moka::sync::Cache<K, Arc<LocalEntry<V>>>,
    /// The smallest weight an entry gets, so that `max_bytes / floor` bounds the entry count.
    weight_floor: u32,
}

impl<K, V> std::fmt::Debug for LocalTier<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTier")
            .field("entries", &self.cache.entry_count())
            .field("weighted_size", &self.cache.weighted_size())
            .finish()
    }
}

impl<K, V> LocalTier<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    pub(crate) fn new(bounds: &LocalBounds, stats: Arc<CacheStats>) -> Self {
        let strategy = bounds.strategy;
        let max_entries = bounds.max_entries.max(1);
        let max_bytes = bounds.max_bytes.max(1);
        // Both bounds with one moka capacity: capacity is the byte budget and every entry weighs
        // at least budget / max_entries, so neither bound can be exceeded.
        let (capacity, weight_floor) = match (strategy.bounds_entries(), strategy.bounds_bytes()) {
            (true, true) => (
                max_bytes,
                u32::try_from((max_bytes / max_entries).max(1)).unwrap_or(u32::MAX),
            ),
            (false, true) => (max_bytes, 0),
            _ => (max_entries, 0),
        };
        let by_bytes = strategy.bounds_bytes();
        let mut builder = moka::sync::Cache::builder()
            .max_capacity(capacity)
            .weigher(
                move |_key: &K, entry: &Arc<LocalEntry<V>>| {
                    if by_bytes {
                        entry.weight
                    } else {
                        1
                    }
                },
            )
            .eviction_listener(move |_key, _value, cause| {
                if cause.was_evicted() {
                    CacheStats::bump(&stats.evictions);
                }
            });
        if strategy.lru() {
            builder = builder.eviction_policy(EvictionPolicy::lru());
        }
        if strategy.expires() {
            builder = builder.expire_after(LocalExpiry {
                times: bounds.times.clone(),
            });
        }
        Self {
            cache: builder.build(),
            weight_floor,
        }
    }

    /// The entry, counting the read.
    pub(crate) fn get(&self, key: &K) -> Option<Arc<LocalEntry<V>>> {
        let entry = self.cache.get(key)?;
        entry.reads.fetch_add(1, Ordering::Relaxed);
        Some(entry)
    }

    /// Stores `value`, which occupies about `bytes` of memory.
    pub(crate) fn insert(&self, key: K, value: V, bytes: usize) {
        let weight = u32::try_from(bytes)
            .unwrap_or(u32::MAX)
            .max(self.weight_floor);
        self.cache.insert(
            key,
            Arc::new(LocalEntry {
                value,
                weight,
                written: Instant::now(),
                reads: AtomicU32::new(0),
            }),
        );
    }

    /// Drops the entry; returns how often it had been read.
    pub(crate) fn remove(&self, key: &K) -> Option<u32> {
        self.cache.remove(key).map(|entry| entry.reads())
    }

    pub(crate) fn clear(&self) {
        self.cache.invalidate_all();
    }

    /// Runs moka's pending maintenance (evictions, expiry); tests and the benchmark use it to
    /// read settled counts.
    pub(crate) fn settle(&self) {
        self.cache.run_pending_tasks();
    }

    pub(crate) fn entry_count(&self) -> u64 {
        self.cache.entry_count()
    }

    #[cfg(test)]
    pub(crate) fn weighted_size(&self) -> u64 {
        self.cache.weighted_size()
    }
}

/// Time to live from the write, time to idle from the last read, whichever comes first.
struct LocalExpiry {
    times: CacheTimes,
}

impl LocalExpiry {
    /// How far an entry's deadline may be off before a read moves it: 1/64 of the shorter
    /// lifetime, at most a second.
    fn slack(&self) -> Duration {
        let (ttl, idle) = (self.times.ttl(), self.times.idle());
        let shortest = if idle.is_zero() { ttl } else { ttl.min(idle) };
        (shortest / 64).min(Duration::from_secs(1))
    }

    fn remaining<V>(&self, entry: &LocalEntry<V>, now: Instant) -> Duration {
        let lived = now.saturating_duration_since(entry.written);
        let left = self.times.ttl().saturating_sub(lived);
        match self.times.idle() {
            idle if idle.is_zero() => left,
            idle => left.min(idle),
        }
    }
}

impl<K, V> Expiry<K, Arc<LocalEntry<V>>> for LocalExpiry {
    fn expire_after_create(
        &self,
        _key: &K,
        value: &Arc<LocalEntry<V>>,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(self.remaining(value, created_at))
    }

    fn expire_after_read(
        &self,
        _key: &K,
        value: &Arc<LocalEntry<V>>,
        read_at: Instant,
        duration_until_expiry: Option<Duration>,
        _last_modified_at: Instant,
    ) -> Option<Duration> {
        let wanted = self.remaining(value, read_at);
        // A changed deadline makes moka reschedule the entry's timer, which is most of the cost
        // of a hit; a deadline off by at most the slack is kept as it is.
        match duration_until_expiry {
            Some(current) if current.abs_diff(wanted) <= self.slack() => Some(current),
            _ => Some(wanted),
        }
    }

    fn expire_after_update(
        &self,
        _key: &K,
        value: &Arc<LocalEntry<V>>,
        updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.remaining(value, updated_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(strategy: EvictionStrategy, entries: u64, bytes: u64) -> LocalTier<u32, String> {
        LocalTier::new(
            &LocalBounds {
                strategy,
                max_entries: entries,
                max_bytes: bytes,
                times: CacheTimes::new(
                    Duration::from_millis(200),
                    Duration::from_millis(100),
                    Duration::from_secs(1),
                ),
            },
            Arc::new(CacheStats::default()),
        )
    }

    #[test]
    fn lru_keeps_the_recently_read_entry_and_the_entry_bound() {
        let cache = tier(EvictionStrategy::Lru, 3, 1 << 20);
        for k in 0..3 {
            cache.insert(k, format!("v{k}"), 10);
        }
        cache.settle();
        assert!(cache.get(&0).is_some());
        cache.insert(3, "v3".into(), 10);
        cache.settle();
        assert_eq!(cache.entry_count(), 3);
        assert!(cache.get(&0).is_some(), "recently read entry survives");
        assert!(cache.get(&1).is_none(), "least recently used entry goes");
    }

    #[test]
    fn size_strategy_bounds_bytes_not_entries() {
        let cache = tier(EvictionStrategy::Size, 2, 1000);
        for k in 0..10 {
            cache.insert(k, "x".into(), 100);
            cache.settle();
        }
        assert!(cache.weighted_size() <= 1000);
        assert!(cache.entry_count() > 2, "entry count is not the bound");
        cache.insert(99, "big".into(), 900);
        cache.settle();
        assert!(cache.weighted_size() <= 1000);
    }

    #[test]
    fn composite_bounds_entries_and_bytes_and_expires() {
        let cache = tier(EvictionStrategy::Composite, 4, 1000);
        for k in 0..10 {
            cache.insert(k, "x".into(), 10);
            cache.settle();
        }
        assert!(cache.entry_count() <= 4, "{}", cache.entry_count());
        for k in 20..30 {
            cache.insert(k, "x".into(), 400);
            cache.settle();
        }
        assert!(cache.weighted_size() <= 1000);
        cache.clear();
        cache.insert(1, "x".into(), 10);
        std::thread::sleep(Duration::from_millis(150));
        assert!(cache.get(&1).is_none(), "idle entry expired");
    }

    #[test]
    fn ttl_expires_even_a_busy_entry_and_follows_a_changed_ttl() {
        let times = CacheTimes::new(
            Duration::from_millis(150),
            Duration::ZERO,
            Duration::from_secs(1),
        );
        let cache: LocalTier<u32, String> = LocalTier::new(
            &LocalBounds {
                strategy: EvictionStrategy::Ttl,
                max_entries: 100,
                max_bytes: 1 << 20,
                times: times.clone(),
            },
            Arc::new(CacheStats::default()),
        );
        cache.insert(1, "x".into(), 10);
        for _ in 0..5 {
            std::thread::sleep(Duration::from_millis(20));
            assert!(cache.get(&1).is_some());
        }
        std::thread::sleep(Duration::from_millis(100));
        assert!(cache.get(&1).is_none(), "TTL counts from the write");
        times.set(
            Duration::from_secs(60),
            Duration::ZERO,
            Duration::from_secs(1),
        );
        cache.insert(2, "y".into(), 10);
        std::thread::sleep(Duration::from_millis(200));
        assert!(cache.get(&2).is_some(), "the reloaded TTL applies");
    }

    #[test]
    fn lru_strategy_never_expires_by_time() {
        let cache = tier(EvictionStrategy::Lru, 10, 1 << 20);
        cache.insert(1, "x".into(), 10);
        std::thread::sleep(Duration::from_millis(250));
        assert!(cache.get(&1).is_some());
        assert_eq!(cache.remove(&1), Some(1));
    }
}
