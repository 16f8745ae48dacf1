//! PostgreSQL-only behaviour: migrations under concurrency, the embedder record, the HNSW index.

use crate::support::{fresh_database, identity, record, sql_client, vector};
use jamey_core::db::{DbError, DbErrorKind};
use jamey_core::embedding::EmbedderIdentity;
use jamey_core::memory::{PgMemoryStore, PgStoreConfig};
use jamey_core::{MemoryStore, StoreError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_starting_together_migrate_once() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let config = PgStoreConfig::new(url.clone());
    let id = identity();
    let (a, b) = tokio::join!(
        PgMemoryStore::connect(&config, &id),
        PgMemoryStore::connect(&config, &id)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let stored = a.insert(record("from a", vector(0, 0.0))).await.unwrap();
    assert_eq!(b.get(stored.id).await.unwrap().unwrap(), stored);

    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let versions: i64 = client
        .query_one("SELECT count(*) FROM refinery_schema_history", &[])
        .await
        .unwrap()
        .get(0);
    // Each migration in migrations/ applied exactly once.
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count();
    assert_eq!(versions, i64::try_from(files).unwrap());
    let index: String = client
        .query_one(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'memories_embedding_hnsw_idx'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        index.contains("hnsw") && index.contains("vector_cosine_ops"),
        "{index}"
    );
    let column: String = client
        .query_one("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'memories'::regclass AND attname = 'embedding'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(column, "vector(8)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_different_embedder_is_refused_with_directions() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let config = PgStoreConfig::new(url);
    let store = PgMemoryStore::connect(&config, &identity()).await.unwrap();
    store.insert(record("kept", vector(0, 0.0))).await.unwrap();
    drop(store);
    let other = EmbedderIdentity {
        model: "local/all-MiniLM-L6-v2".into(),
        dimensions: 384,
    };
    let err = PgMemoryStore::connect(&config, &other).await.unwrap_err();
    assert!(matches!(err, StoreError::EmbedderMismatch { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("test/synthetic") && message.contains("all-MiniLM-L6-v2"),
        "{message}"
    );
    let again = PgMemoryStore::connect(&config, &identity()).await.unwrap();
    assert_eq!(
        again.count().await.unwrap(),
        1,
        "refusing the embedder lost nothing"
    );
}

#[tokio::test]
async fn an_unreachable_database_is_a_clear_retryable_error() {
    let config = PgStoreConfig::new("postgres://jamey:secret-pw@127.0.0.1:1/jamey");
    let err = PgMemoryStore::connect(&config, &identity())
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    assert!(!err.to_string().contains("secret-pw"), "{err}");
}

/// A store on a fresh database, and a plain connection to change the database behind its back.
async fn store_and_client() -> Option<(PgMemoryStore, tokio_postgres::Client)> {
    let url = fresh_database().await?;
    let store = PgMemoryStore::connect(&PgStoreConfig::new(url.clone()), &identity())
        .await
        .unwrap();
    Some((store, sql_client(&url).await))
}

fn database_error(err: &StoreError) -> &DbError {
    match err {
        StoreError::Postgres(db) => db,
        other => panic!("not a database error: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constraint_violations_are_client_errors_that_name_the_field() {
    let Some((store, client)) = store_and_client().await else {
        return;
    };
    client
        .batch_execute(
            "CREATE UNIQUE INDEX memories_content_unique ON memories (content); \
             ALTER TABLE memories ADD CONSTRAINT memories_kind_allowed CHECK (kind <> 'forbidden');",
        )
        .await
        .unwrap();
    store
        .insert(record("only once", vector(0, 0.0)))
        .await
        .unwrap();

    let err = store
        .insert(record("only once", vector(1, 0.0)))
        .await
        .unwrap_err();
    assert!(err.is_client_error() && !err.is_retryable(), "{err}");
    assert_eq!(database_error(&err).kind(), DbErrorKind::UniqueViolation);
    assert_eq!(database_error(&err).field(), Some("content"));

    let mut forbidden = record("another", vector(2, 0.0));
    forbidden.kind = "forbidden".into();
    let err = store.insert(forbidden).await.unwrap_err();
    assert_eq!(database_error(&err).kind(), DbErrorKind::CheckViolation);
    assert_eq!(database_error(&err).field(), Some("memories_kind_allowed"));
    assert!(err.is_client_error() && !err.is_retryable(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_database_errors_are_internal() {
    let Some((store, client)) = store_and_client().await else {
        return;
    };
    client
        .batch_execute("ALTER TABLE memories RENAME COLUMN kind TO category")
        .await
        .unwrap();
    let err = store
        .insert(record("lost column", vector(0, 0.0)))
        .await
        .unwrap_err();
    assert!(!err.is_client_error() && !err.is_retryable(), "{err}");
    assert_eq!(database_error(&err).kind(), DbErrorKind::Internal);
}

/// Hybrid search counts terms and queries vectors on two connections at once. More concurrent
/// hybrid searches than the pool has connections must all finish: a search that held one
/// connection and waited for a second would deadlock with the others (each holding one). The
/// bound is a deadlock detector, not a speed check: each search takes milliseconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_concurrent_hybrid_searches_than_connections_all_finish() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let mut config = PgStoreConfig::new(url);
    config.pool_size = 2;
    let store = std::sync::Arc::new(PgMemoryStore::connect(&config, &identity()).await.unwrap());
    for i in 0..20 {
        store
            .insert(record(
                &format!("locker {i} holds the blue umbrella"),
                vector(i, 0.1),
            ))
            .await
            .unwrap();
    }
    let searches = (0..16).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .search(&jamey_core::memory::StoreSearch {
                    text: "blue umbrella".into(),
                    embedding: vector(i, 0.1),
                    mode: jamey_protocol::SearchMode::Hybrid,
                    filter: Default::default(),
                    limit: 5,
                    keyword_weight: None,
                })
                .await
        })
    });
    let results = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        futures::future::join_all(searches),
    )
    .await
    .expect("concurrent hybrid searches deadlocked on the connection pool");
    for result in results {
        assert_eq!(result.unwrap().unwrap().len(), 5);
    }
}
