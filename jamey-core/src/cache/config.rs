//! What the cache is told at start: its eviction strategy, invalidation policy, bounds, lifetimes
//! and, for the shared tier, where Redis is. `CacheTimes` holds the lifetimes that may change
//! while the cache runs (a configuration reload).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How the in-process tier decides what to drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EvictionStrategy {
    /// Entries expire `ttl` after they were written (and `idle` after their last read); the
    /// entry count is a safety bound, evicted by frequency.
    Ttl,
    /// No expiry: the least recently used entry goes when `max_entries` is reached.
    Lru,
    /// No expiry: entries are weighed by their size and the least recently used go when
    /// `max_bytes` is reached.
    Size,
    /// All of the above: expiry by TTL and idle time, least recently used eviction, bounded by
    /// both `max_entries` and `max_bytes`.
    #[default]
    Composite,
}

impl EvictionStrategy {
    pub const NAMES: &'static str = "\"ttl\", \"lru\", \"size\" or \"composite\"";

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ttl" => Some(Self::Ttl),
            "lru" => Some(Self::Lru),
            "size" => Some(Self::Size),
            "composite" => Some(Self::Composite),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ttl => "ttl",
            Self::Lru => "lru",
            Self::Size => "size",
            Self::Composite => "composite",
        }
    }

    /// Whether entries expire by time.
    pub(crate) fn expires(self) -> bool {
        matches!(self, Self::Ttl | Self::Composite)
    }

    /// Whether the least recently used entry is evicted first (else moka's TinyLFU).
    pub(crate) fn lru(self) -> bool {
        !matches!(self, Self::Ttl)
    }

    pub(crate) fn bounds_entries(self) -> bool {
        !matches!(self, Self::Size)
    }

    pub(crate) fn bounds_bytes(self) -> bool {
        matches!(self, Self::Size | Self::Composite)
    }
}

/// When other instances hear that an entry changed. The writing instance itself always drops
/// or replaces its own copies at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InvalidationPolicy {
    /// One message per write, sent as the write returns.
    #[default]
    Immediate,
    /// Invalidations are coalesced and sent together once `delay` has passed since the first.
    Delayed,
    /// Immediate for hot keys (read at least `hot_reads` times from this instance's L1) and
    /// while writes are calm; delayed while writes exceed `burst_writes_per_sec`.
    Adaptive,
}

impl InvalidationPolicy {
    pub const NAMES: &'static str = "\"immediate\", \"delayed\" or \"adaptive\"";

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "immediate" => Some(Self::Immediate),
            "delayed" => Some(Self::Delayed),
            "adaptive" => Some(Self::Adaptive),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Immediate => "immediate",
            Self::Delayed => "delayed",
            Self::Adaptive => "adaptive",
        }
    }
}

/// The shared tier: a Redis server every runtime instance uses.
#[derive(Clone, PartialEq)]
pub struct RedisCacheConfig {
    /// `redis://[user:password@]host:port[/db]`. Never logged in clear.
    pub url: String,
    /// Prefix of every key and of the invalidation channel; instances sharing data share it.
    pub key_prefix: String,
    /// Longest wait for one Redis command before the cache treats Redis as failing.
    pub command_timeout: Duration,
    /// Longest wait for a connection attempt.
    pub connect_timeout: Duration,
    /// Consecutive failures that open the circuit breaker.
    pub breaker_failures: u32,
    /// How long the breaker stays open before one probe is let through.
    pub breaker_cooldown: Duration,
}

impl std::fmt::Debug for RedisCacheConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCacheConfig")
            .field("url", &crate::memory::redact_url(&self.url))
            .field("key_prefix", &self.key_prefix)
            .field("command_timeout", &self.command_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("breaker_failures", &self.breaker_failures)
            .field("breaker_cooldown", &self.breaker_cooldown)
            .finish()
    }
}

impl RedisCacheConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key_prefix: "jamey".into(),
            command_timeout: Duration::from_millis(100),
            connect_timeout: Duration::from_millis(500),
            breaker_failures: 3,
            breaker_cooldown: Duration::from_secs(1),
        }
    }
}

/// The whole cache configuration.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    pub strategy: EvictionStrategy,
    pub policy: InvalidationPolicy,
    /// Most memories held in process (strategies that bound entries).
    pub max_entries: u64,
    /// Most bytes held in process (strategies that bound size); search results count too.
    pub max_bytes: u64,
    /// Lifetimes that may change while running.
    pub times: CacheTimes,
    /// Coalescing window of the delayed policy (and of the adaptive one under bursts).
    pub delay: Duration,
    /// L1 reads after which the adaptive policy treats a key as hot.
    pub hot_reads: u32,
    /// Writes per second above which the adaptive policy delays invalidations of cold keys.
    pub burst_writes_per_sec: u32,
    /// `None`: in-process only.
    pub redis: Option<RedisCacheConfig>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            strategy: EvictionStrategy::default(),
            policy: InvalidationPolicy::default(),
            max_entries: 100_000,
            max_bytes: 256 * 1024 * 1024,
            times: CacheTimes::new(
                Duration::from_secs(3600),
                Duration::from_secs(600),
                Duration::from_secs(3600),
            ),
            delay: Duration::from_millis(5),
            hot_reads: 8,
            burst_writes_per_sec: 200,
            redis: None,
        }
    }
}

/// Entry lifetimes, shared with the running cache so a reload changes them in place. New values
/// apply to entries written or read after the change.
#[derive(Debug, Clone)]
pub struct CacheTimes {
    ttl_ms: Arc<AtomicU64>,
    idle_ms: Arc<AtomicU64>,
    redis_ttl_ms: Arc<AtomicU64>,
}

impl CacheTimes {
    /// `ttl`: in-process time to live; `idle`: in-process time to idle (zero: none);
    /// `redis_ttl`: lifetime of shared entries.
    pub fn new(ttl: Duration, idle: Duration, redis_ttl: Duration) -> Self {
        let times = Self {
            ttl_ms: Arc::new(AtomicU64::new(0)),
            idle_ms: Arc::new(AtomicU64::new(0)),
            redis_ttl_ms: Arc::new(AtomicU64::new(0)),
        };
        times.set(ttl, idle, redis_ttl);
        times
    }

    pub fn set(&self, ttl: Duration, idle: Duration, redis_ttl: Duration) {
        self.ttl_ms.store(millis(ttl), Ordering::Relaxed);
        self.idle_ms.store(millis(idle), Ordering::Relaxed);
        self.redis_ttl_ms
            .store(millis(redis_ttl).max(1), Ordering::Relaxed);
    }

    pub fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms.load(Ordering::Relaxed))
    }

    /// Zero means entries do not expire by idleness.
    pub fn idle(&self) -> Duration {
        Duration::from_millis(self.idle_ms.load(Ordering::Relaxed))
    }

    pub fn redis_ttl(&self) -> Duration {
        Duration::from_millis(self.redis_ttl_ms.load(Ordering::Relaxed))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
