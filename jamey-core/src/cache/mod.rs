//! The hybrid cache in front of the memory store: an in-process tier (L1, moka) and, when
//! configured, a Redis tier (L2) shared by every runtime instance, kept coherent by invalidation
//! messages on Redis pub/sub. Redis is never the source of truth: when it is down or slow, reads
//! and writes go on from L1 and the store, and the cache heals by itself.
//!
//! Eviction strategies (`EvictionStrategy`) and invalidation policies (`InvalidationPolicy`) are
//! configuration, applied here and nowhere else.

mod breaker;
mod bus;
mod config;
mod encoding;
mod generations;
mod hybrid;
mod local;
mod policy;
mod redis_tier;
mod search_key;
mod stats;

pub use config::{CacheConfig, CacheTimes, EvictionStrategy, InvalidationPolicy, RedisCacheConfig};
pub use encoding::{decode_memory, encode_memory, DecodeError};
pub use hybrid::{CacheStatus, FillTicket, HybridCache, MemoryLookup, RedisState, SearchTicket};
pub use search_key::normalize_query;
pub use stats::{CacheStats, CacheStatsSnapshot};

/// Why a cache could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The Redis URL does not parse (its password is redacted in the message).
    #[error("invalid redis URL {0}")]
    InvalidRedisUrl(String),
}
