//! `Memories` with the real bundled embedder: validation, embedding and search end to end, on
//! both backends.

use jamey_core::embedding::{BundledEmbedder, Embedder};
use jamey_core::memory::{
    EmbeddedMemoryStore, EmbeddedStoreConfig, MemoryLimits, PgMemoryStore, PgStoreConfig,
};
use jamey_core::{Memories, MemoryStore, StoreError};
use jamey_protocol::{MemoryPatch, NewMemory, SearchMode, SearchRequest};
use std::sync::Arc;

fn embedder() -> Arc<dyn Embedder> {
    Arc::new(BundledEmbedder::load().unwrap())
}

async fn remembers_and_recalls(memories: Memories) {
    let facts = [
        "My sister Anna is allergic to peanuts.",
        "The car needs new winter tyres before December.",
        "Dr. Ferreira-Lindqvist moved my dental check-up to March 3rd.",
        "I keep the spare house key in the blue flowerpot by the shed.",
    ];
    let mut ids = Vec::new();
    for fact in facts {
        ids.push(
            memories
                .add(NewMemory::from_content(fact))
                .await
                .unwrap()
                .id,
        );
    }
    let ask = |query: &str, mode| SearchRequest {
        query: query.into(),
        limit: Some(2),
        mode,
        filter: None,
    };
    let hits = memories
        .search(ask(
            "which food can my sibling not eat?",
            SearchMode::Hybrid,
        ))
        .await
        .unwrap();
    assert_eq!(hits[0].memory.id, ids[0]);
    let hits = memories
        .search(ask(
            "When is the Ferreira-Lindqvist appointment?",
            SearchMode::Hybrid,
        ))
        .await
        .unwrap();
    assert_eq!(hits[0].memory.id, ids[2]);
    let hits = memories
        .search(ask("where is the spare key", SearchMode::Vector))
        .await
        .unwrap();
    assert_eq!(hits[0].memory.id, ids[3]);
    let hits = memories
        .search(ask("tyres", SearchMode::Keyword))
        .await
        .unwrap();
    assert_eq!(hits[0].memory.id, ids[1]);

    // Changing the text re-embeds it.
    memories
        .update(
            ids[1],
            MemoryPatch {
                content: Some("Book a piano lesson for Tuesday evening.".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let hits = memories
        .search(ask("music class", SearchMode::Vector))
        .await
        .unwrap();
    assert_eq!(hits[0].memory.id, ids[1]);
}

async fn rejects_bad_input_without_losing_anything(memories: Memories) {
    memories
        .add(NewMemory::from_content("kept safe"))
        .await
        .unwrap();
    let err = memories
        .add(NewMemory::from_content("   "))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("content: must not be empty"),
        "{err}"
    );
    let err = memories
        .add(NewMemory::from_content("x".repeat(64 * 1024 + 1)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("limit is 65536 bytes"), "{err}");
    let mut batch: Vec<_> = (0..4)
        .map(|i| NewMemory::from_content(format!("batch {i}")))
        .collect();
    batch[2].importance = Some(7.0);
    let err = memories.add_batch(batch).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "importance",
                index: Some(2),
                ..
            }
        ),
        "{err}"
    );
    let err = memories
        .search(SearchRequest {
            query: "kept".into(),
            limit: Some(0),
            mode: SearchMode::Hybrid,
            filter: None,
        })
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("limit:"), "{err}");
    let err = memories
        .update(
            uuid::Uuid::new_v4(),
            MemoryPatch {
                importance: Some(0.1),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)));
    assert_eq!(memories.count().await.unwrap(), 1);
}

async fn with_postgres(case: impl AsyncFnOnce(Memories)) {
    let Some(url) = crate::support::fresh_database().await else {
        return;
    };
    let embedder = embedder();
    let store: Arc<dyn MemoryStore> = Arc::new(
        PgMemoryStore::connect(&PgStoreConfig::new(url), embedder.identity())
            .await
            .unwrap(),
    );
    case(Memories::new(store, embedder, MemoryLimits::default())).await;
}

async fn with_embedded(case: impl AsyncFnOnce(Memories)) {
    let dir = tempfile::tempdir().unwrap();
    let embedder = embedder();
    let store: Arc<dyn MemoryStore> = Arc::new(
        EmbeddedMemoryStore::open(&EmbeddedStoreConfig::new(dir.path()), embedder.identity())
            .unwrap(),
    );
    case(Memories::new(store, embedder, MemoryLimits::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_remembers_and_recalls() {
    with_postgres(remembers_and_recalls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_remembers_and_recalls() {
    with_embedded(remembers_and_recalls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rejects_bad_input() {
    with_postgres(rejects_bad_input_without_losing_anything).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_rejects_bad_input() {
    with_embedded(rejects_bad_input_without_losing_anything).await;
}
