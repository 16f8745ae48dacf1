//! The two tiers and the read path: L1, then L2 (promoting), then the store (filling both);
//! writes go through; every eviction strategy bounds what it should.

use crate::redis_support::{cached, redis_url, store, two_tier, unique_prefix};
use jamey_core::cache::{
    decode_memory, CacheConfig, CacheTimes, EvictionStrategy, HybridCache, RedisState,
};
use jamey_protocol::{MemoryPatch, NewMemory};
use std::time::Duration;

async fn redis_get(url: &str, key: &str) -> Option<Vec<u8>> {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("GET")
        .arg(key)
        .query_async::<Option<Vec<u8>>>(&mut connection)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_l1_then_l2_then_the_store_and_writes_go_through() {
    let Some(url) = redis_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let shared_store = store(dir.path());
    let prefix = unique_prefix();
    let a = cached(shared_store.clone(), two_tier(&url, &prefix)).await;
    let b = cached(shared_store.clone(), two_tier(&url, &prefix)).await;
    let (cache_a, cache_b) = (a.cache().unwrap().clone(), b.cache().unwrap().clone());
    assert_eq!(cache_a.check_redis().await, RedisState::Ok);

    // Storage flow: the store, then both tiers.
    let memory = a
        .add(NewMemory::from_content("The boiler service is due in May."))
        .await
        .unwrap();
    let stored = redis_get(&url, &format!("{prefix}:m:{}", memory.id))
        .await
        .expect("written through to Redis");
    assert_eq!(decode_memory(&stored).unwrap(), Some(memory.clone()));
    assert_eq!(a.get(memory.id).await.unwrap().as_deref(), Some(&memory));
    assert_eq!(cache_a.stats().l1_hits, 1, "written through to L1");

    // B: L1 miss, L2 hit promoted to L1, then an L1 hit.
    assert_eq!(b.get(memory.id).await.unwrap().as_deref(), Some(&memory));
    let s = cache_b.stats();
    assert_eq!((s.l1_hits, s.l1_misses, s.l2_hits), (0, 1, 1));
    assert_eq!(b.get(memory.id).await.unwrap().as_deref(), Some(&memory));
    assert_eq!(cache_b.stats().l1_hits, 1);

    // A memory only the store has (added without the cache): miss, miss, store, both filled.
    let plain = jamey_core::Memories::new(
        shared_store.clone(),
        crate::redis_support::embedder(),
        Default::default(),
    );
    let uncached = plain
        .add(NewMemory::from_content("Only the store knows this."))
        .await
        .unwrap();
    let key = format!("{prefix}:m:{}", uncached.id);
    assert!(redis_get(&url, &key).await.is_none());
    assert_eq!(
        b.get(uncached.id).await.unwrap().as_deref(),
        Some(&uncached)
    );
    let s = cache_b.stats();
    assert_eq!((s.l1_misses, s.l2_misses), (2, 1));
    assert!(
        redis_get(&url, &key).await.is_some(),
        "the store read filled L2"
    );
    assert_eq!(
        b.get(uncached.id).await.unwrap().as_deref(),
        Some(&uncached)
    );
    assert_eq!(cache_b.stats().l1_hits, 2, "and L1");

    // Update and delete reach Redis: the new value, then a tombstone that reads as absent.
    let changed = a
        .update(
            memory.id,
            MemoryPatch {
                importance: Some(0.9),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let stored = redis_get(&url, &format!("{prefix}:m:{}", memory.id))
        .await
        .unwrap();
    assert_eq!(decode_memory(&stored).unwrap(), Some(changed));
    assert!(a.delete(memory.id).await.unwrap());
    let stored = redis_get(&url, &format!("{prefix}:m:{}", memory.id))
        .await
        .unwrap();
    assert_eq!(decode_memory(&stored).unwrap(), None, "tombstone");
    assert_eq!(a.get(memory.id).await.unwrap(), None);
    assert!(!a.delete(memory.id).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_only_without_redis() {
    let dir = tempfile::tempdir().unwrap();
    let memories = cached(store(dir.path()), CacheConfig::default()).await;
    let cache = memories.cache().unwrap().clone();
    assert_eq!(cache.status().redis, RedisState::Disabled);
    assert_eq!(cache.check_redis().await, RedisState::Disabled);
    let memory = memories
        .add(NewMemory::from_content("Water the ficus on Sundays."))
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            memories.get(memory.id).await.unwrap().as_deref(),
            Some(&memory)
        );
    }
    let s = cache.stats();
    assert_eq!(
        (s.l1_hits, s.l1_misses, s.l2_hits, s.l2_misses),
        (3, 0, 0, 0)
    );
    cache.clear_local();
    assert_eq!(
        memories.get(memory.id).await.unwrap().as_deref(),
        Some(&memory)
    );
    let s = cache.stats();
    assert_eq!((s.l1_misses, s.l2_misses), (1, 0), "no L2 to ask");
    assert!((s.hit_rate() - 0.75).abs() < 1e-9);
}

/// Every strategy serves from L1 and keeps its own bound; expiring ones also expire L2 entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_strategy_bounds_what_it_should() {
    let Some(url) = redis_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let shared_store = store(dir.path());
    for strategy in [
        EvictionStrategy::Ttl,
        EvictionStrategy::Lru,
        EvictionStrategy::Size,
        EvictionStrategy::Composite,
    ] {
        let prefix = unique_prefix();
        let mut config = two_tier(&url, &prefix);
        config.strategy = strategy;
        config.max_entries = 8;
        // About 12 memories of the size below fit in the memories' three quarters.
        config.max_bytes = 12_000;
        config.times = CacheTimes::new(
            Duration::from_millis(300),
            Duration::ZERO,
            Duration::from_millis(300),
        );
        let memories = cached(shared_store.clone(), config).await;
        let cache: std::sync::Arc<HybridCache> = memories.cache().unwrap().clone();
        let mut ids = Vec::new();
        for i in 0..30 {
            let text = format!(
                "Strategy {strategy:?} memory number {i}: {}",
                "x".repeat(500)
            );
            ids.push(
                memories
                    .add(NewMemory::from_content(text))
                    .await
                    .unwrap()
                    .id,
            );
        }
        cache.settle();
        let status = cache.status();
        match strategy {
            EvictionStrategy::Ttl | EvictionStrategy::Lru => {
                assert!(status.l1_entries <= 8, "{strategy:?}: {status:?}")
            }
            EvictionStrategy::Size => assert!(
                status.l1_entries > 8 && status.l1_entries <= 16,
                "{strategy:?} bounds bytes, not entries: {status:?}"
            ),
            EvictionStrategy::Composite => {
                assert!(status.l1_entries <= 8, "{strategy:?}: {status:?}")
            }
        }
        assert!(cache.stats().evictions > 0, "{strategy:?} evicted");
        // Everything is still served (from L2 or the store).
        for id in &ids {
            assert!(memories.get(*id).await.unwrap().is_some());
        }
        let last = *ids.last().unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let before = cache.stats();
        assert!(memories.get(last).await.unwrap().is_some());
        let after = cache.stats();
        if matches!(
            strategy,
            EvictionStrategy::Ttl | EvictionStrategy::Composite
        ) {
            assert_eq!(
                after.l1_misses,
                before.l1_misses + 1,
                "{strategy:?}: L1 expired"
            );
        } else {
            assert_eq!(
                after.l1_hits,
                before.l1_hits + 1,
                "{strategy:?}: no expiry by time"
            );
        }
        // Redis entries expire after the L2 lifetime whatever the strategy.
        assert!(
            redis_get(&url, &format!("{prefix}:m:{}", ids[0]))
                .await
                .is_none(),
            "{strategy:?}: L2 entry expired"
        );
    }
}

/// The storage flow holds for batches too: every memory of a batch is in L1 and in Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_written_through_to_both_tiers() {
    let Some(url) = redis_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix();
    let memories = cached(store(dir.path()), two_tier(&url, &prefix)).await;
    let cache = memories.cache().unwrap().clone();
    let ids = memories
        .add_batch(vec![
            NewMemory::from_content("The spare key is under the blue pot."),
            NewMemory::from_content("Grandma's birthday is on the 3rd of March."),
        ])
        .await
        .unwrap();
    for id in &ids {
        let stored = redis_get(&url, &format!("{prefix}:m:{id}"))
            .await
            .expect("a batched memory is written through to Redis");
        assert_eq!(decode_memory(&stored).unwrap().map(|m| m.id), Some(*id));
        assert_eq!(memories.get(*id).await.unwrap().map(|m| m.id), Some(*id));
    }
    let s = cache.stats();
    assert_eq!(
        (s.l1_hits, s.l1_misses),
        (2, 0),
        "batched memories are read from L1"
    );
}
