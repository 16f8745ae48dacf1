//! One behavioural suite, run against both memory backends: whatever the store, a memory is kept,
//! paged, searched and rejected the same way.

use crate::support::{random_vector, record, vector};
use jamey_core::memory::{Cursor, MemoryUpdate, PageRequest, StoreSearch};
use jamey_core::{MemoryStore, StoreError};
use jamey_protocol::{MemoryFilter, SearchMode};
use std::collections::HashSet;
use std::sync::Arc;

type Store = Arc<dyn MemoryStore>;

fn search(text: &str, embedding: Vec<f32>, mode: SearchMode, limit: u32) -> StoreSearch {
    StoreSearch {
        text: text.into(),
        embedding,
        mode,
        filter: MemoryFilter::default(),
        limit,
        keyword_weight: None,
    }
}

async fn inserted_memories_read_back_equal(store: Store) {
    let mut r = record("Lunch with Priya on Friday", vector(0, 0.1));
    r.tags = vec!["social".into(), "food".into()];
    r.metadata = serde_json::json!({"source": "chat", "n": 3});
    r.session_id = Some("s-1".into());
    r.importance = 0.9;
    let stored = store.insert(r).await.unwrap();
    assert_eq!(stored.content, "Lunch with Priya on Friday");
    let read = store
        .get(stored.id)
        .await
        .unwrap()
        .expect("stored memory is found");
    assert_eq!(read, stored);
    assert_eq!(store.count().await.unwrap(), 1);
    assert!(store.get(uuid::Uuid::new_v4()).await.unwrap().is_none());
}

async fn a_bad_batch_stores_nothing_and_names_the_item(store: Store) {
    store
        .insert(record("already here", vector(1, 0.0)))
        .await
        .unwrap();
    let mut batch: Vec<_> = (0..5)
        .map(|i| record(&format!("item {i}"), vector(i, 0.2)))
        .collect();
    batch[3].embedding[2] = f32::NAN;
    let err = store.insert_batch(batch).await.unwrap_err();
    assert!(err.to_string().contains("item 3"), "{err}");
    let mut batch: Vec<_> = (0..5)
        .map(|i| record(&format!("item {i}"), vector(i, 0.2)))
        .collect();
    batch[2].embedding.push(0.0);
    let err = store.insert_batch(batch).await.unwrap_err();
    assert!(err.to_string().contains("item 2"), "{err}");
    assert_eq!(
        store.count().await.unwrap(),
        1,
        "a failed batch must store nothing"
    );

    let stored = store
        .insert_batch(
            (0..5)
                .map(|i| record(&format!("item {i}"), vector(i, 0.2)))
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(stored.len(), 5);
    assert_eq!(stored[4].content, "item 4");
    assert_eq!(
        store.get(stored[4].id).await.unwrap().as_ref(),
        Some(&stored[4]),
        "the batch returns the memories as stored"
    );
    assert_eq!(store.count().await.unwrap(), 6);
}

async fn wrong_vectors_are_rejected(store: Store) {
    let err = store
        .insert(record("short", vec![1.0; 3]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Dimension {
                expected: 8,
                got: 3
            }
        ),
        "{err}"
    );
    let mut v = vector(0, 0.0);
    v[5] = f32::INFINITY;
    let err = store.insert(record("inf", v)).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NonFiniteVector { position: 5 }),
        "{err}"
    );
    let err = store
        .search(&search("x", vec![0.0; 2], SearchMode::Vector, 5))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Dimension { .. }), "{err}");
    assert_eq!(store.count().await.unwrap(), 0);
}

async fn updates_change_fields_and_vectors(store: Store) {
    let stored = store
        .insert(record("Dentist on Monday", vector(0, 0.0)))
        .await
        .unwrap();
    let updated = store
        .update(
            stored.id,
            MemoryUpdate {
                tags: Some(vec!["health".into()]),
                importance: Some(0.8),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.content, "Dentist on Monday");
    assert_eq!(updated.tags, vec!["health".to_string()]);
    assert!(updated.updated_at >= stored.updated_at);
    assert_eq!(store.get(stored.id).await.unwrap().unwrap(), updated);

    store
        .insert(record("Something else", vector(3, 0.0)))
        .await
        .unwrap();
    let moved = store
        .update(
            stored.id,
            MemoryUpdate {
                content: Some("Dentist moved to Tuesday".into()),
                embedding: Some(vector(3, 0.05)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.content, "Dentist moved to Tuesday");
    let hits = store
        .search(&search("", vector(3, 0.05), SearchMode::Vector, 1))
        .await
        .unwrap();
    assert_eq!(hits[0].memory.id, stored.id, "the new vector is searchable");

    let missing = uuid::Uuid::new_v4();
    let err = store
        .update(
            missing,
            MemoryUpdate {
                kind: Some("fact".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound(id) if id == missing),
        "{err}"
    );
}

async fn deleted_memories_are_gone(store: Store) {
    let stored = store
        .insert(record("temporary", vector(2, 0.0)))
        .await
        .unwrap();
    assert!(store.delete(stored.id).await.unwrap());
    assert!(!store.delete(stored.id).await.unwrap());
    assert!(store.get(stored.id).await.unwrap().is_none());
    let hits = store
        .search(&search("temporary", vector(2, 0.0), SearchMode::Hybrid, 5))
        .await
        .unwrap();
    assert!(hits.is_empty(), "a deleted memory is never found");
}

async fn keyset_pages_walk_newest_first(store: Store) {
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(
            store
                .insert(record(&format!("memory {i}"), random_vector(i)))
                .await
                .unwrap()
                .id,
        );
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut after = None;
    let mut sizes = Vec::new();
    loop {
        let page = store
            .list(PageRequest::Keyset { limit: 10, after })
            .await
            .unwrap();
        sizes.push(page.items.len());
        seen.extend(page.items.iter().map(|m| m.id));
        match page.next_cursor {
            Some(text) => after = Some(Cursor::decode(&text).unwrap()),
            None => break,
        }
    }
    assert_eq!(sizes, vec![10, 10, 5]);
    assert_eq!(seen, ids, "newest first, each memory once");

    let page = store
        .list(PageRequest::Offset {
            limit: 10,
            offset: 20,
        })
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        ids[20..].to_vec()
    );
    assert!(page.next_cursor.is_none());
    let page = store
        .list(PageRequest::Offset {
            limit: 5,
            offset: 0,
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 5);
    assert!(page.next_cursor.is_some());
}

async fn selective_filters_still_fill_the_limit(store: Store) {
    let mut batch = Vec::new();
    for i in 0..1_000u64 {
        let mut r = record(&format!("ordinary note number {i}"), random_vector(i));
        if i % 143 == 0 {
            r.tags = vec!["rare".into(), "x".into()];
            r.kind = "fact".into();
            r.session_id = Some("s-rare".into());
        }
        batch.push(r);
    }
    store.insert_batch(batch).await.unwrap();
    let tagged = 7; // i = 0, 143, ..., 858
    for filter in [
        MemoryFilter {
            tags: Some(vec!["rare".into()]),
            ..Default::default()
        },
        MemoryFilter {
            kind: Some("fact".into()),
            ..Default::default()
        },
        MemoryFilter {
            session_id: Some("s-rare".into()),
            ..Default::default()
        },
        MemoryFilter {
            tags: Some(vec!["rare".into(), "x".into()]),
            kind: Some("fact".into()),
            ..Default::default()
        },
    ] {
        for mode in [SearchMode::Vector, SearchMode::Hybrid] {
            let mut q = search("note", random_vector(99_999), mode, 5);
            q.filter = filter.clone();
            let hits = store.search(&q).await.unwrap();
            assert_eq!(hits.len(), 5, "{mode:?} {filter:?}");
            assert!(hits.iter().all(|h| h.memory.kind == "fact"));
            q.limit = 10;
            let hits = store.search(&q).await.unwrap();
            assert_eq!(hits.len(), tagged, "{mode:?} {filter:?}");
            let unique: HashSet<_> = hits.iter().map(|h| h.memory.id).collect();
            assert_eq!(unique.len(), tagged);
        }
    }
    let mut q = search("note", random_vector(1), SearchMode::Vector, 10);
    q.filter = MemoryFilter {
        tags: Some(vec!["rare".into(), "missing".into()]),
        ..Default::default()
    };
    assert!(
        store.search(&q).await.unwrap().is_empty(),
        "all tags must match"
    );
}

async fn vector_search_ranks_by_similarity(store: Store) {
    let near = store.insert(record("near", vector(4, 0.1))).await.unwrap();
    let nearer = store
        .insert(record("nearer", vector(4, 0.01)))
        .await
        .unwrap();
    store.insert(record("far", vector(0, 0.0))).await.unwrap();
    let hits = store
        .search(&search("", vector(4, 0.0), SearchMode::Vector, 2))
        .await
        .unwrap();
    assert_eq!(
        hits.iter().map(|h| h.memory.id).collect::<Vec<_>>(),
        vec![nearer.id, near.id]
    );
    assert!(hits[0].score >= hits[1].score);
    assert!(hits[0].score > 0.99);
}

async fn keyword_search_finds_rare_names(store: Store) {
    store
        .insert(record(
            "Call the plumber about the kitchen sink",
            vector(0, 0.0),
        ))
        .await
        .unwrap();
    let target = store
        .insert(record(
            "Zarkowski recommended the blue paint for the kitchen",
            vector(1, 0.0),
        ))
        .await
        .unwrap();
    store
        .insert(record("The kitchen needs new paint", vector(2, 0.0)))
        .await
        .unwrap();
    let hits = store
        .search(&search(
            "what did zarkowski say",
            Vec::new(),
            SearchMode::Keyword,
            3,
        ))
        .await
        .unwrap();
    assert_eq!(hits[0].memory.id, target.id);
    assert_eq!(
        hits.len(),
        1,
        "only memories sharing a term are keyword hits"
    );
    let none = store
        .search(&search(
            "quantum chromodynamics",
            Vec::new(),
            SearchMode::Keyword,
            3,
        ))
        .await
        .unwrap();
    assert!(none.is_empty());
}

async fn hybrid_promotes_an_exact_rare_match(store: Store) {
    // The query vector sits closest to a memory that does not name the person asked about.
    let query = vector(5, 0.0);
    let semantic = store
        .insert(record(
            "My neighbour wants a birthday cake",
            vector(5, 0.15),
        ))
        .await
        .unwrap();
    let exact = store
        .insert(record(
            "Okonkwo wants a birthday cake with lemon",
            vector(5, 0.25),
        ))
        .await
        .unwrap();
    for i in 0..20 {
        store
            .insert(record(
                &format!("unrelated errand {i}"),
                random_vector(1000 + i),
            ))
            .await
            .unwrap();
    }
    let vector_hits = store
        .search(&search(
            "What cake does Okonkwo want?",
            query.clone(),
            SearchMode::Vector,
            2,
        ))
        .await
        .unwrap();
    assert_eq!(
        vector_hits[0].memory.id, semantic.id,
        "set-up: vector alone prefers the other memory"
    );
    let hybrid = store
        .search(&search(
            "What cake does Okonkwo want?",
            query,
            SearchMode::Hybrid,
            2,
        ))
        .await
        .unwrap();
    assert_eq!(hybrid[0].memory.id, exact.id);
    assert_eq!(hybrid[1].memory.id, semantic.id);
}

async fn an_empty_store_searches_to_nothing(store: Store) {
    for mode in [SearchMode::Vector, SearchMode::Keyword, SearchMode::Hybrid] {
        let embedding = if mode == SearchMode::Keyword {
            Vec::new()
        } else {
            vector(0, 0.0)
        };
        assert!(store
            .search(&search("anything at all", embedding, mode, 10))
            .await
            .unwrap()
            .is_empty());
    }
    let page = store
        .list(PageRequest::Keyset {
            limit: 10,
            after: None,
        })
        .await
        .unwrap();
    assert!(page.items.is_empty() && page.next_cursor.is_none());
    store.ping().await.unwrap();
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(store) = crate::support::pg_store().await else { return };
                    super::$case(store).await;
                }
            )*
        }
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    super::$case(crate::support::embedded_store(dir.path())).await;
                }
            )*
        }
    };
}

on_both_backends!(
    inserted_memories_read_back_equal,
    a_bad_batch_stores_nothing_and_names_the_item,
    wrong_vectors_are_rejected,
    updates_change_fields_and_vectors,
    deleted_memories_are_gone,
    keyset_pages_walk_newest_first,
    selective_filters_still_fill_the_limit,
    vector_search_ranks_by_similarity,
    keyword_search_finds_rare_names,
    hybrid_promotes_an_exact_rare_match,
    an_empty_store_searches_to_nothing,
);
