//! Redis is a cache, never the source of truth: killed in the middle of a mixed load, no request
//! fails and no write is lost; down at start, the cache runs in process and heals when it comes.

use crate::redis_support::{
    cached, eventually, redis_url, store, two_tier, unique_prefix, PrivateRedis,
};
use jamey_core::cache::RedisState;
use jamey_core::Memories;
use jamey_protocol::{MemoryPatch, NewMemory, SearchMode, SearchRequest};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_load_fails_no_request_and_loses_no_write() {
    // The shared server is not touched: this test kills its own.
    if redis_url().is_none() {
        return;
    }
    let mut redis = PrivateRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let shared_store = store(dir.path());
    let prefix = unique_prefix();
    let a = Arc::new(cached(shared_store.clone(), two_tier(&redis.url(), &prefix)).await);
    let b = Arc::new(cached(shared_store.clone(), two_tier(&redis.url(), &prefix)).await);
    assert_eq!(a.cache().unwrap().check_redis().await, RedisState::Ok);

    let mut seeded = Vec::new();
    for i in 0..40 {
        seeded.push(
            a.add(NewMemory::from_content(format!(
                "seeded memory {i} about gardening"
            )))
            .await
            .unwrap()
            .id,
        );
    }
    let seeded = Arc::new(seeded);
    let failures = Arc::new(AtomicU64::new(0));
    let requests = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let run_for = Duration::from_millis(4_000);

    // Four workers, each owning a quarter of the seeded ids for its updates, so the last value
    // written to each id is known.
    let mut workers = Vec::new();
    for worker in 0..4usize {
        let (a, b, seeded) = (a.clone(), b.clone(), seeded.clone());
        let (failures, requests) = (failures.clone(), requests.clone());
        workers.push(tokio::spawn(async move {
            let mut last_written: HashMap<uuid::Uuid, f32> = HashMap::new();
            let mut added: Vec<(uuid::Uuid, String)> = Vec::new();
            let mut step = 0u64;
            while started.elapsed() < run_for {
                step += 1;
                let via: &Memories = if step.is_multiple_of(2) { &a } else { &b };
                let owned = seeded[(worker + 4 * (step as usize % 10)) % seeded.len()];
                let ok = match step % 10 {
                    0 => {
                        let text = format!("worker {worker} note {step}");
                        match via.add(NewMemory::from_content(text.clone())).await {
                            Ok(m) => {
                                added.push((m.id, text));
                                true
                            }
                            Err(_) => false,
                        }
                    }
                    1 | 2 => {
                        let value = (step % 1000) as f32 / 1000.0;
                        let patch = MemoryPatch {
                            importance: Some(value),
                            ..Default::default()
                        };
                        match via.update(owned, patch).await {
                            Ok(_) => {
                                last_written.insert(owned, value);
                                true
                            }
                            Err(_) => false,
                        }
                    }
                    3 => via
                        .search(SearchRequest {
                            query: "gardening".into(),
                            limit: Some(5),
                            mode: SearchMode::Keyword,
                            filter: None,
                        })
                        .await
                        .is_ok(),
                    _ => {
                        let id = seeded[step as usize % seeded.len()];
                        matches!(via.get(id).await, Ok(Some(_)))
                    }
                };
                requests.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            (last_written, added)
        }));
    }

    tokio::time::sleep(Duration::from_millis(1_000)).await;
    redis.kill();
    let killed_at = requests.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert!(
        requests.load(Ordering::Relaxed) > killed_at + 50,
        "requests kept flowing while Redis was down"
    );
    assert_eq!(a.cache().unwrap().status().redis, RedisState::Degraded);
    redis.restart();

    let mut last_written = HashMap::new();
    let mut added = Vec::new();
    for worker in workers {
        let (written, new) = worker.await.unwrap();
        last_written.extend(written);
        added.extend(new);
    }
    let total = requests.load(Ordering::Relaxed);
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "failed requests out of {total}"
    );
    assert!(
        a.cache().unwrap().stats().redis_errors > 0,
        "Redis really was down"
    );

    // Nothing lost: the store holds every write.
    let plain = Memories::new(
        shared_store,
        crate::redis_support::embedder(),
        Default::default(),
    );
    for (id, text) in &added {
        assert_eq!(plain.get(*id).await.unwrap().unwrap().content, *text);
    }
    for (id, value) in &last_written {
        assert_eq!(plain.get(*id).await.unwrap().unwrap().importance, *value);
    }

    // Healed by itself, and both instances serve what the store holds.
    for memories in [&a, &b] {
        let healed = eventually(Duration::from_secs(5), || async {
            memories.cache().unwrap().check_redis().await == RedisState::Ok
        })
        .await;
        assert!(
            healed,
            "cache did not heal: {:?}",
            memories.cache().unwrap().status()
        );
    }
    for id in seeded.iter() {
        let truth = plain.get(*id).await.unwrap();
        let consistent = eventually(Duration::from_secs(2), || async {
            a.get(*id).await.unwrap() == truth && b.get(*id).await.unwrap() == truth
        })
        .await;
        assert!(consistent, "stale value for {id} after healing");
    }
    // Coherence works again over the new subscription.
    let probe = seeded[0];
    a.update(
        probe,
        MemoryPatch {
            importance: Some(0.999),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let seen = eventually(Duration::from_secs(2), || async {
        b.get(probe).await.unwrap().unwrap().importance == 0.999
    })
    .await;
    assert!(seen);
    let l2_hits_before = b.cache().unwrap().stats().l2_hits;
    b.cache().unwrap().clear_local();
    b.get(probe).await.unwrap();
    assert_eq!(
        b.cache().unwrap().stats().l2_hits,
        l2_hits_before + 1,
        "L2 serves again"
    );
    eprintln!("{total} requests, none failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_at_start_degrades_then_heals() {
    if redis_url().is_none() {
        return;
    }
    let mut redis = PrivateRedis::start();
    redis.kill();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let memories = cached(store(dir.path()), two_tier(&redis.url(), &unique_prefix())).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "start is bounded"
    );
    let cache = memories.cache().unwrap().clone();
    assert_eq!(cache.status().redis, RedisState::Degraded);
    assert_eq!(cache.check_redis().await, RedisState::Degraded);
    let memory = memories
        .add(NewMemory::from_content("Redis is down but this is kept."))
        .await
        .unwrap();
    let read = Instant::now();
    assert_eq!(
        memories.get(memory.id).await.unwrap().as_deref(),
        Some(&memory)
    );
    cache.clear_local();
    assert_eq!(
        memories.get(memory.id).await.unwrap().as_deref(),
        Some(&memory)
    );
    assert!(
        read.elapsed() < Duration::from_secs(1),
        "a down Redis costs bounded time"
    );

    redis.restart();
    let healed = eventually(Duration::from_secs(5), || async {
        cache.check_redis().await == RedisState::Ok
    })
    .await;
    assert!(healed, "{:?}", cache.status());
    cache.clear_local();
    memories.get(memory.id).await.unwrap();
    memories.cache().unwrap().clear_local();
    let before = cache.stats().l2_hits;
    memories.get(memory.id).await.unwrap();
    assert_eq!(
        cache.stats().l2_hits,
        before + 1,
        "filled and served by Redis"
    );
}
