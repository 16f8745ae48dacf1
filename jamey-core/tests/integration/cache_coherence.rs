//! Two cache instances over one store and one Redis: invalidations travel on pub/sub under each
//! policy, the old value is never served once the invalidation has arrived, and cached search
//! results are never stale after a write.

use crate::redis_support::{cached, eventually, redis_url, store, two_tier, unique_prefix};
use jamey_core::cache::{CacheConfig, InvalidationPolicy};
use jamey_core::Memories;
use jamey_protocol::{MemoryFilter, MemoryPatch, NewMemory, SearchMode, SearchRequest};
use std::time::Duration;

async fn pair(url: &str, policy: InvalidationPolicy) -> (Memories, Memories, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let shared_store = store(dir.path());
    let prefix = unique_prefix();
    let config = |policy| CacheConfig {
        policy,
        delay: Duration::from_millis(30),
        hot_reads: 3,
        burst_writes_per_sec: 5,
        ..two_tier(url, &prefix)
    };
    let a = cached(shared_store.clone(), config(policy)).await;
    let b = cached(shared_store, config(policy)).await;
    (a, b, dir)
}

fn importance(value: f32) -> MemoryPatch {
    MemoryPatch {
        importance: Some(value),
        ..Default::default()
    }
}

/// After B has seen A's update, B never serves the old value again.
async fn b_sees_the_update_and_never_the_old_value(a: &Memories, b: &Memories, value: f32) {
    let id = a
        .add(NewMemory::from_content(format!("coherence probe {value}")))
        .await
        .unwrap()
        .id;
    assert!(b.get(id).await.unwrap().is_some());
    assert!(b.get(id).await.unwrap().is_some(), "now in B's L1");
    a.update(id, importance(value)).await.unwrap();
    let seen = eventually(Duration::from_secs(2), || async {
        b.get(id).await.unwrap().unwrap().importance == value
    })
    .await;
    assert!(seen, "B never saw the update");
    for _ in 0..200 {
        assert_eq!(b.get(id).await.unwrap().unwrap().importance, value);
    }
    a.delete(id).await.unwrap();
    let gone = eventually(Duration::from_secs(2), || async {
        b.get(id).await.unwrap().is_none()
    })
    .await;
    assert!(gone, "B still serves a deleted memory");
    for _ in 0..50 {
        assert!(b.get(id).await.unwrap().is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immediate_policy_sends_one_message_per_write() {
    let Some(url) = redis_url() else { return };
    let (a, b, _dir) = pair(&url, InvalidationPolicy::Immediate).await;
    b_sees_the_update_and_never_the_old_value(&a, &b, 0.11).await;
    // add, update, delete: three writes, three messages, all received.
    let sent = a.cache().unwrap().stats().invalidations_sent;
    assert_eq!(sent, 3);
    let received = eventually(Duration::from_secs(1), || async {
        b.cache().unwrap().stats().invalidations_received == 3
    })
    .await;
    assert!(received, "{:?}", b.cache().unwrap().stats());
    assert_eq!(b.cache().unwrap().stats().invalidations_sent, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_policy_coalesces_a_burst_into_few_messages() {
    let Some(url) = redis_url() else { return };
    let (a, b, _dir) = pair(&url, InvalidationPolicy::Delayed).await;
    b_sees_the_update_and_never_the_old_value(&a, &b, 0.22).await;
    let id = a
        .add(NewMemory::from_content("burst target"))
        .await
        .unwrap()
        .id;
    assert!(b.get(id).await.unwrap().is_some());
    let before = a.cache().unwrap().stats().invalidations_sent;
    for i in 0..20 {
        a.update(id, importance(i as f32 / 100.0)).await.unwrap();
    }
    let seen = eventually(Duration::from_secs(2), || async {
        b.get(id).await.unwrap().unwrap().importance == 0.19
    })
    .await;
    assert!(seen);
    let sent = a.cache().unwrap().stats().invalidations_sent - before;
    assert!(
        (1..20).contains(&sent),
        "20 writes coalesced into {sent} messages"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_policy_is_immediate_for_hot_keys_and_batches_cold_bursts() {
    let Some(url) = redis_url() else { return };
    let (a, b, _dir) = pair(&url, InvalidationPolicy::Adaptive).await;
    b_sees_the_update_and_never_the_old_value(&a, &b, 0.33).await;
    // A burst of writes to cold keys (never read on A): coalesced.
    let mut cold = Vec::new();
    for i in 0..10 {
        cold.push(
            a.add(NewMemory::from_content(format!("cold {i}")))
                .await
                .unwrap()
                .id,
        );
    }
    let cache = a.cache().unwrap().clone();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = cache.stats().invalidations_sent;
    for id in &cold {
        cache.clear_local(); // keep every key cold on A
        a.update(*id, importance(0.6)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sent_cold = cache.stats().invalidations_sent - before;
    assert!(
        sent_cold < 10,
        "cold burst sent {sent_cold} messages for 10 writes"
    );

    // A hot key (read often on A) is invalidated at once even during the burst.
    let hot = cold[0];
    for _ in 0..5 {
        a.get(hot).await.unwrap();
    }
    assert!(b.get(hot).await.unwrap().is_some());
    let before = cache.stats().invalidations_sent;
    a.update(hot, importance(0.7)).await.unwrap();
    assert_eq!(
        cache.stats().invalidations_sent,
        before + 1,
        "hot key: sent before the write returned"
    );
    let seen = eventually(Duration::from_secs(1), || async {
        b.get(hot).await.unwrap().unwrap().importance == 0.7
    })
    .await;
    assert!(seen);
}

fn search(query: &str, session: Option<&str>) -> SearchRequest {
    SearchRequest {
        query: query.into(),
        limit: Some(5),
        mode: SearchMode::Keyword,
        filter: session.map(|s| MemoryFilter {
            session_id: Some(s.into()),
            ..Default::default()
        }),
    }
}

fn ids(results: &[jamey_protocol::ScoredMemory]) -> Vec<uuid::Uuid> {
    results.iter().map(|r| r.memory.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_search_results_are_never_stale_after_a_write() {
    let Some(url) = redis_url() else { return };
    let (a, b, _dir) = pair(&url, InvalidationPolicy::Immediate).await;
    let first = a
        .add(NewMemory::from_content(
            "The marmalade recipe uses Seville oranges.",
        ))
        .await
        .unwrap();
    let hits = a.search(search("marmalade", None)).await.unwrap();
    assert_eq!(ids(&hits), vec![first.id]);
    let again = a.search(search("  marmalade ", None)).await.unwrap();
    assert_eq!(again, hits);
    assert_eq!(
        a.cache().unwrap().stats().search_hits,
        1,
        "normalized query hit"
    );

    // A write on the same instance: the next search sees it.
    let second = a
        .add(NewMemory::from_content(
            "Grandma's marmalade needs less sugar.",
        ))
        .await
        .unwrap();
    let hits = a.search(search("marmalade", None)).await.unwrap();
    assert_eq!(hits.len(), 2);
    // Content change: the updated text is what the results hold.
    a.update(
        second.id,
        MemoryPatch {
            content: Some("Grandma's marmalade needs more sugar.".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let hits = a.search(search("marmalade", None)).await.unwrap();
    assert!(hits.iter().any(|h| h.memory.content.contains("more sugar")));
    // Delete: gone from the results.
    a.delete(first.id).await.unwrap();
    let hits = a.search(search("marmalade", None)).await.unwrap();
    assert_eq!(ids(&hits), vec![second.id]);

    // Another instance's cached results go stale only until the invalidation arrives.
    assert_eq!(
        ids(&b.search(search("marmalade", None)).await.unwrap()),
        vec![second.id]
    );
    let third = a
        .add(NewMemory::from_content("Marmalade jars are in the pantry."))
        .await
        .unwrap();
    let fresh = eventually(Duration::from_secs(2), || async {
        ids(&b.search(search("marmalade", None)).await.unwrap()).contains(&third.id)
    })
    .await;
    assert!(fresh, "B kept serving a stale search result");
    for _ in 0..50 {
        assert!(ids(&b.search(search("marmalade", None)).await.unwrap()).contains(&third.id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_generations_are_per_session() {
    let dir = tempfile::tempdir().unwrap();
    let memories = cached(store(dir.path()), CacheConfig::default()).await;
    let cache = memories.cache().unwrap().clone();
    let in_session = |text: &str, session: &str| NewMemory {
        session_id: Some(session.into()),
        ..NewMemory::from_content(text)
    };
    memories
        .add(in_session("kayak trip on the lake", "s1"))
        .await
        .unwrap();
    memories
        .add(in_session("kayak paddles need wax", "s2"))
        .await
        .unwrap();
    let s1 = memories.search(search("kayak", Some("s1"))).await.unwrap();
    let s2 = memories.search(search("kayak", Some("s2"))).await.unwrap();
    assert_eq!((s1.len(), s2.len()), (1, 1));
    // A write in s2 leaves s1's cached results valid and makes s2's stale.
    memories
        .add(in_session("kayak storage in winter", "s2"))
        .await
        .unwrap();
    let hits_before = cache.stats().search_hits;
    assert_eq!(
        memories.search(search("kayak", Some("s1"))).await.unwrap(),
        s1
    );
    assert_eq!(
        cache.stats().search_hits,
        hits_before + 1,
        "s1 still cached"
    );
    assert_eq!(
        memories
            .search(search("kayak", Some("s2")))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        cache.stats().search_hits,
        hits_before + 1,
        "s2 searched again"
    );
    assert_eq!(
        memories.search(search("kayak", None)).await.unwrap().len(),
        3
    );
}
