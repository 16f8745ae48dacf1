//! `HybridCache`: the seed's two-tier cache in front of the memory store. Reads go L1, then L2
//! (promoting to L1), then the caller's store (filling both); writes go through to both tiers and
//! are announced to the other instances according to the invalidation policy. Redis is only ever
//! a cache: every failure of it is counted, logged and skipped.

use super::bus::{self, Invalidation, InvalidationSink, Outbox};
use super::config::{CacheConfig, CacheTimes};
use super::encoding::{self, Stored};
use super::generations::Generations;
use super::local::{LocalBounds, LocalTier};
use super::policy::PolicyDecider;
use super::redis_tier::RedisTier;
use super::search_key;
use super::stats::{CacheStats, CacheStatsSnapshot};
use super::CacheError;
use jamey_protocol::{Memory, MemoryFilter, MemoryId, ScoredMemory, SearchMode};
use parking_lot::Mutex;
use std::sync::Arc;
use tokio::sync::watch;

mod coherence;

/// The state of the shared tier as `/ready` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RedisState {
    /// No Redis configured: in-process only.
    Disabled,
    /// Connected, answering, and subscribed to invalidations.
    Ok,
    /// Configured but down, failing or unsubscribed: serving from L1 and the store.
    Degraded,
}

impl RedisState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::Ok => "ok",
            Self::Degraded => "degraded",
        }
    }
}

/// A summary for `/ready` and logs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CacheStatus {
    pub redis: RedisState,
    pub strategy: &'static str,
    pub policy: &'static str,
    pub l1_entries: u64,
    pub search_entries: u64,
    /// Keys whose Redis write or invalidation failed and will be repaired when Redis is back.
    pub pending_repairs: usize,
}

/// The result of looking a memory up in the cache.
#[derive(Debug)]
pub enum MemoryLookup {
    /// Shared with the cache: a hit costs a reference count, not a copy.
    Hit(Arc<Memory>),
    /// Not cached: read the store, then hand the result to `HybridCache::fill`.
    Miss(FillTicket),
}

/// Proof of when a miss was seen, so a fill that raced with a write is dropped.
#[derive(Debug, Clone, Copy)]
pub struct FillTicket {
    id: MemoryId,
    generation: u64,
}

/// Where a search's results are cached.
#[derive(Debug, Clone)]
pub struct SearchTicket {
    key: String,
}

/// The two-tier cache; dropping it stops its background tasks.
#[derive(Debug)]
pub struct HybridCache {
    inner: Arc<Inner>,
    _stop: watch::Sender<()>,
}

struct Inner {
    memories: LocalTier<MemoryId, Arc<Memory>>,
    searches: LocalTier<String, Vec<ScoredMemory>>,
    /// Per memory id: bumped by every write, checked before a fill.
    ids: Generations,
    /// Per session (and "any"): part of every search key.
    scopes: Generations,
    shared: Option<Shared>,
    decider: PolicyDecider,
    config: CacheConfig,
    stats: Arc<CacheStats>,
}

struct Shared {
    tier: Arc<RedisTier>,
    channel: String,
    key_prefix: String,
    origin: uuid::Uuid,
    outbox: Outbox,
    /// Writes that did not reach Redis (or other instances), replayed when Redis is back.
    repair: Mutex<Invalidation>,
    subscribed: watch::Sender<bool>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HybridCache")
            .field("strategy", &self.config.strategy)
            .field("policy", &self.config.policy)
            .field("memories", &self.memories)
            .field("searches", &self.searches)
            .field("redis", &self.shared.as_ref().map(|s| &s.tier))
            .finish()
    }
}

impl HybridCache {
    /// Builds the in-process tier and, when configured, connects to Redis and subscribes to
    /// invalidations, waiting up to twice the connect timeout. Redis being down is not an
    /// error: the cache starts degraded and heals by itself.
    pub async fn open(config: CacheConfig) -> Result<Self, CacheError> {
        let stats = Arc::new(CacheStats::default());
        let bounds = |share: u64| LocalBounds {
            strategy: config.strategy,
            max_entries: (config.max_entries / share).max(1),
            max_bytes: (config.max_bytes / share).max(1),
            times: config.times.clone(),
        };
        // Memories get three quarters of the budget, search results a quarter.
        let mut memory_bounds = bounds(1);
        memory_bounds.max_bytes = config.max_bytes / 4 * 3;
        let search_bounds = bounds(4);
        let (stop, stop_rx) = watch::channel(());
        let shared = match &config.redis {
            Some(redis) => {
                let tier = RedisTier::open(redis.clone(), stats.clone())?;
                let (subscribed, _) = watch::channel(false);
                Some(Shared {
                    tier,
                    channel: format!("{}:invalidations", redis.key_prefix),
                    key_prefix: redis.key_prefix.clone(),
                    origin: uuid::Uuid::new_v4(),
                    outbox: Outbox::default(),
                    repair: Mutex::new(Invalidation::default()),
                    subscribed,
                })
            }
            None => None,
        };
        let inner = Arc::new(Inner {
            memories: LocalTier::new(&memory_bounds, stats.clone()),
            searches: LocalTier::new(&search_bounds, stats.clone()),
            ids: Generations::new(),
            scopes: Generations::new(),
            shared,
            decider: PolicyDecider::new(
                config.policy,
                config.hot_reads,
                config.burst_writes_per_sec,
            ),
            config,
            stats,
        });
        if let Some(shared) = &inner.shared {
            let connect_timeout = shared.tier.config().connect_timeout;
            shared.tier.connect_now().await;
            let sink: std::sync::Weak<dyn InvalidationSink> = Arc::downgrade(&inner) as _;
            bus::spawn_subscriber(
                shared.tier.clone(),
                shared.channel.clone(),
                shared.origin,
                sink,
                stop_rx.clone(),
            );
            coherence::spawn_repairer(Arc::downgrade(&inner), stop_rx);
            let mut subscribed = shared.subscribed.subscribe();
            let waited =
                tokio::time::timeout(connect_timeout * 2, subscribed.wait_for(|s| *s)).await;
            if !matches!(waited, Ok(Ok(_))) {
                tracing::warn!(
                    "redis not reachable at start: cache runs in process only until it is"
                );
            }
        }
        Ok(Self { inner, _stop: stop })
    }

    pub fn stats(&self) -> CacheStatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// Lifetimes; changing them takes effect for entries written or read afterwards.
    pub fn times(&self) -> &CacheTimes {
        &self.inner.config.times
    }

    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// The state without asking Redis.
    pub fn status(&self) -> CacheStatus {
        let inner = &self.inner;
        CacheStatus {
            redis: self.redis_state(),
            strategy: inner.config.strategy.as_str(),
            policy: inner.config.policy.as_str(),
            l1_entries: inner.memories.entry_count(),
            search_entries: inner.searches.entry_count(),
            pending_repairs: inner
                .shared
                .as_ref()
                .map(|s| s.repair.lock().ids.len())
                .unwrap_or(0),
        }
    }

    fn redis_state(&self) -> RedisState {
        match &self.inner.shared {
            None => RedisState::Disabled,
            Some(shared) if shared.tier.is_available() && *shared.subscribed.borrow() => {
                RedisState::Ok
            }
            Some(_) => RedisState::Degraded,
        }
    }

    /// Asks Redis (through the breaker and timeout) and reports its state.
    pub async fn check_redis(&self) -> RedisState {
        match &self.inner.shared {
            None => RedisState::Disabled,
            Some(shared) => match shared.tier.ping().await {
                Ok(()) if *shared.subscribed.borrow() => RedisState::Ok,
                _ => RedisState::Degraded,
            },
        }
    }

    /// Drops everything held in process.
    pub fn clear_local(&self) {
        self.inner.reset_local();
    }

    /// Runs pending in-process maintenance so entry counts and evictions are settled.
    pub fn settle(&self) {
        self.inner.memories.settle();
        self.inner.searches.settle();
    }

    /// L1, then L2 (promoting a hit to L1).
    pub async fn memory(&self, id: MemoryId) -> MemoryLookup {
        let inner = &self.inner;
        if let Some(entry) = inner.memories.get(&id) {
            CacheStats::bump(&inner.stats.l1_hits);
            return MemoryLookup::Hit(entry.value.clone());
        }
        CacheStats::bump(&inner.stats.l1_misses);
        let ticket = FillTicket {
            id,
            generation: inner.ids.of(&id),
        };
        if let Some(shared) = &inner.shared {
            if let Ok(Some(bytes)) = shared.tier.get(shared.memory_key(id)).await {
                match encoding::decode(&bytes) {
                    Ok(Stored::Memory(memory)) if memory.id == id => {
                        CacheStats::bump(&inner.stats.l2_hits);
                        let memory = Arc::new(memory);
                        if inner.ids.of(&id) == ticket.generation {
                            let bytes = memory_bytes(&memory);
                            inner.memories.insert(id, memory.clone(), bytes);
                        }
                        return MemoryLookup::Hit(memory);
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, %id, "ignoring an undecodable cache entry")
                    }
                }
            }
            CacheStats::bump(&inner.stats.l2_misses);
        }
        MemoryLookup::Miss(ticket)
    }

    /// Caches what the store returned for a miss, unless a write to that memory came between.
    pub async fn fill(&self, ticket: FillTicket, memory: &Arc<Memory>) {
        let inner = &self.inner;
        if inner.ids.of(&ticket.id) != ticket.generation {
            return;
        }
        inner
            .memories
            .insert(ticket.id, memory.clone(), memory_bytes(memory));
        if let Some(shared) = &inner.shared {
            // NX: a concurrent write on another instance has already put the newer value.
            let _ = shared
                .tier
                .set(
                    shared.memory_key(ticket.id),
                    encoding::encode_memory(memory),
                    inner.config.times.redis_ttl(),
                    true,
                )
                .await;
        }
    }

    /// A new memory was stored: write it through to both tiers.
    pub async fn stored(&self, memory: &Memory) {
        self.stored_batch(std::slice::from_ref(memory)).await;
    }

    /// Memories were stored (one, or a batch): each is written through to both tiers, and the
    /// search results of their sessions are stale now.
    pub async fn stored_batch(&self, memories: &[Memory]) {
        let inner = &self.inner;
        for memory in memories {
            inner
                .memories
                .insert(memory.id, Arc::new(memory.clone()), memory_bytes(memory));
        }
        let invalidation = inner.searches_changed(memories.iter().map(|m| m.session_id.as_deref()));
        let entries = inner.shared.as_ref().map_or_else(Vec::new, |shared| {
            memories
                .iter()
                .map(|m| (shared.memory_key(m.id), encoding::encode_memory(m)))
                .collect()
        });
        inner.write_through(entries, invalidation, 0).await;
    }

    /// A memory changed: this instance keeps the new value, Redis gets it, others drop theirs.
    pub async fn updated(&self, memory: &Memory) {
        let inner = &self.inner;
        inner.ids.bump(&memory.id);
        let reads = inner.memories.remove(&memory.id).unwrap_or(0);
        inner
            .memories
            .insert(memory.id, Arc::new(memory.clone()), memory_bytes(memory));
        let mut invalidation =
            inner.searches_changed(std::iter::once(memory.session_id.as_deref()));
        invalidation.ids.push(memory.id);
        let entries = inner.shared.as_ref().map_or_else(Vec::new, |shared| {
            vec![(
                shared.memory_key(memory.id),
                encoding::encode_memory(memory),
            )]
        });
        inner.write_through(entries, invalidation, reads).await;
    }

    /// A memory was deleted; `session` is its session when known (`None` = unknown).
    pub async fn deleted(&self, id: MemoryId, session: Option<Option<&str>>) {
        let inner = &self.inner;
        inner.ids.bump(&id);
        let reads = inner.memories.remove(&id).unwrap_or(0);
        let mut invalidation = match session {
            Some(session) => inner.searches_changed(std::iter::once(session)),
            None => {
                inner.scopes.reset();
                Invalidation {
                    any: true,
                    every_session: true,
                    ..Default::default()
                }
            }
        };
        invalidation.ids.push(id);
        let entries = inner.shared.as_ref().map_or_else(Vec::new, |shared| {
            vec![(shared.memory_key(id), encoding::tombstone())]
        });
        inner.write_through(entries, invalidation, reads).await;
    }

    /// Where this search's results live; `normalized_query` comes from `normalize_query`.
    pub fn search_ticket(
        &self,
        normalized_query: &str,
        mode: SearchMode,
        filter: &MemoryFilter,
        limit: u32,
        keyword_weight: Option<f32>,
    ) -> SearchTicket {
        let scopes = &self.inner.scopes;
        let generation = match search_key::scope(filter) {
            Some(session) => scopes.of(session),
            None => scopes.any(),
        };
        SearchTicket {
            key: search_key::search_key(
                generation,
                normalized_query,
                mode,
                filter,
                limit,
                keyword_weight,
            ),
        }
    }

    pub fn search(&self, ticket: &SearchTicket) -> Option<Vec<ScoredMemory>> {
        let inner = &self.inner;
        match inner.searches.get(&ticket.key) {
            Some(entry) => {
                CacheStats::bump(&inner.stats.search_hits);
                Some(entry.value.clone())
            }
            None => {
                CacheStats::bump(&inner.stats.search_misses);
                None
            }
        }
    }

    pub fn fill_search(&self, ticket: SearchTicket, results: Vec<ScoredMemory>) {
        let bytes = ticket.key.len()
            + results
                .iter()
                .map(|r| memory_bytes(&r.memory) + 8)
                .sum::<usize>();
        self.inner.searches.insert(ticket.key, results, bytes);
    }
}

impl Shared {
    fn memory_key(&self, id: MemoryId) -> String {
        format!("{}:m:{}", self.key_prefix, id)
    }
}

impl Inner {
    /// Bumps the search generations a write to these sessions affects; returns the message
    /// that tells the other instances the same.
    fn searches_changed<'a>(
        &self,
        sessions: impl Iterator<Item = Option<&'a str>>,
    ) -> Invalidation {
        self.scopes.bump_any();
        let mut named: Vec<String> = Vec::new();
        for session in sessions.flatten() {
            self.scopes.bump(session);
            named.push(session.to_string());
        }
        named.sort_unstable();
        named.dedup();
        Invalidation {
            any: true,
            sessions: named,
            ..Default::default()
        }
    }

    fn reset_local(&self) {
        self.ids.reset();
        self.scopes.reset();
        self.memories.clear();
        self.searches.clear();
        CacheStats::bump(&self.stats.resets);
    }
}

/// About how much memory a cached memory occupies.
fn memory_bytes(memory: &Memory) -> usize {
    const FIXED: usize = std::mem::size_of::<Memory>() + 64;
    FIXED
        + memory.content.len()
        + memory.kind.len()
        + memory.tags.iter().map(|t| t.len() + 24).sum::<usize>()
        + json_bytes(&memory.metadata)
        + memory.session_id.as_ref().map_or(0, String::len)
}

fn json_bytes(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 16,
        Value::String(s) => 24 + s.len(),
        Value::Array(items) => 24 + items.iter().map(json_bytes).sum::<usize>(),
        Value::Object(map) => {
            48 + map
                .iter()
                .map(|(k, v)| 24 + k.len() + json_bytes(v))
                .sum::<usize>()
        }
    }
}
