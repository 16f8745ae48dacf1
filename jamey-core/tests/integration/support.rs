//! Shared set-up for the store tests: a fresh PostgreSQL database per test and synthetic vectors.

use jamey_core::embedding::EmbedderIdentity;
use jamey_core::memory::{
    EmbeddedMemoryStore, EmbeddedStoreConfig, MemoryRecord, PgMemoryStore, PgStoreConfig,
};
use jamey_core::MemoryStore;
use std::sync::Arc;

pub(crate) const DIM: usize = 8;

pub(crate) fn identity() -> EmbedderIdentity {
    EmbedderIdentity {
        model: "test/synthetic".into(),
        dimensions: DIM,
    }
}

/// The server URL tests create their databases on. Without it a test cannot run: in CI that is a
/// failure (the test command provisions PostgreSQL), elsewhere the test is skipped with a note.
pub(crate) fn admin_url() -> Option<String> {
    match std::env::var("JAMEY_TEST_DATABASE_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "JAMEY_TEST_DATABASE_URL is not set; run the tests through scripts/test.sh"
            );
            eprintln!("skipping: JAMEY_TEST_DATABASE_URL is not set (run scripts/test.sh)");
            None
        }
    }
}

/// A new, empty database; its URL. Named uniquely so parallel tests never collide.
pub(crate) async fn fresh_database() -> Option<String> {
    let admin = admin_url()?;
    let name = format!("jamey_test_{}", uuid::Uuid::new_v4().simple());
    let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .expect("connect to JAMEY_TEST_DATABASE_URL");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    let base = admin
        .rsplit_once('/')
        .map(|(base, _)| base)
        .unwrap_or(&admin);
    Some(format!("{base}/{name}"))
}

/// A plain connection to `url`, for a test to change the database behind a store's back.
pub(crate) async fn sql_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    client
}

pub(crate) async fn pg_store() -> Option<Arc<dyn MemoryStore>> {
    let url = fresh_database().await?;
    let store = PgMemoryStore::connect(&PgStoreConfig::new(url), &identity())
        .await
        .expect("connect store");
    Some(Arc::new(store))
}

pub(crate) fn embedded_store(dir: &std::path::Path) -> Arc<dyn MemoryStore> {
    Arc::new(
        EmbeddedMemoryStore::open(&EmbeddedStoreConfig::new(dir), &identity())
            .expect("open embedded store"),
    )
}

/// A unit vector pointing mostly along `axis`, tilted by `tilt` towards the next axis.
pub(crate) fn vector(axis: usize, tilt: f32) -> Vec<f32> {
    let mut v = [0.0; DIM];
    v[axis % DIM] = 1.0;
    v[(axis + 1) % DIM] = tilt;
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

/// A deterministic pseudo-random unit vector.
pub(crate) fn random_vector(seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    let mut v: Vec<f32> = (0..DIM)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 2000) as f32 / 1000.0 - 1.0
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

pub(crate) fn record(content: &str, embedding: Vec<f32>) -> MemoryRecord {
    MemoryRecord {
        content: content.into(),
        kind: "note".into(),
        tags: Vec::new(),
        metadata: serde_json::json!({}),
        session_id: None,
        importance: 0.5,
        embedding,
    }
}
