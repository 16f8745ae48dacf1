//! Re-embedding after the embedder changes, on both backends: the store refuses the new model,
//! `reembed` gives every memory a new vector (resuming after an interruption), and the store then
//! opens with the new model and finds memories by their new vectors; nothing else changes.

use crate::support::{fresh_database, identity, record, vector, DIM};
use jamey_core::embedding::{EmbedError, Embedder, EmbedderIdentity};
use jamey_core::memory::{
    EmbeddedMemoryStore, EmbeddedStoreConfig, PgMemoryStore, PgStoreConfig, ReembedProgress,
    StoreError, StoreSearch,
};
use jamey_core::MemoryStore;
use jamey_protocol::{MemoryFilter, SearchMode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// More memories than one re-embedding batch, so batching and resuming are exercised.
const MEMORIES: usize = 150;
const NEW_DIM: usize = 4;

/// The "new model": 4 dimensions, each memory's vector along the axis its number names, and able
/// to fail after a number of calls, like a model server going away mid-run.
#[derive(Debug)]
struct NewModel {
    identity: EmbedderIdentity,
    calls: AtomicUsize,
    fail_after: Option<usize>,
}

impl NewModel {
    fn new(fail_after: Option<usize>) -> Arc<Self> {
        Arc::new(Self {
            identity: EmbedderIdentity {
                model: "test/new-model".into(),
                dimensions: NEW_DIM,
            },
            calls: AtomicUsize::new(0),
            fail_after,
        })
    }
}

/// The axis of "memory number N": N mod 4.
fn new_vector(text: &str) -> Vec<f32> {
    let n: usize = text
        .rsplit(' ')
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let mut v = vec![0.0; NEW_DIM];
    v[n % NEW_DIM] = 1.0;
    v
}

impl Embedder for NewModel {
    fn identity(&self) -> &EmbedderIdentity {
        &self.identity
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail_after.is_some_and(|limit| call >= limit) {
            return Err(EmbedError::Inference("model server went away".into()));
        }
        Ok(texts.iter().map(|t| new_vector(t)).collect())
    }
}

fn records() -> Vec<jamey_core::memory::MemoryRecord> {
    (0..MEMORIES)
        .map(|i| record(&format!("memory number {i}"), vector(i, 0.1)))
        .collect()
}

async fn assert_searchable_with_new_vectors(store: &dyn MemoryStore) {
    assert_eq!(store.count().await.unwrap(), MEMORIES as u64);
    let hits = store
        .search(&StoreSearch {
            text: String::new(),
            embedding: new_vector("x 2"),
            mode: SearchMode::Vector,
            filter: MemoryFilter::default(),
            limit: 5,
            keyword_weight: None,
        })
        .await
        .unwrap();
    assert_eq!(hits.len(), 5);
    for hit in hits {
        let n: usize = hit
            .memory
            .content
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(n % NEW_DIM, 2, "{}", hit.memory.content);
        assert!(hit.score > 0.99, "{}", hit.score);
    }
}

#[tokio::test]
async fn embedded_store_reembeds_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let config = EmbeddedStoreConfig::new(dir.path());
    {
        let store = EmbeddedMemoryStore::open(&config, &identity()).unwrap();
        store.insert_batch(records()).await.unwrap();
    }
    let model = NewModel::new(None);
    let err = EmbeddedMemoryStore::open(&config, &model.identity).unwrap_err();
    assert!(matches!(err, StoreError::EmbedderMismatch { .. }), "{err}");
    assert!(err.to_string().contains("jamey memory reembed"), "{err}");

    // Interrupted after one batch: the store still opens with the old model, unchanged.
    let failing = NewModel::new(Some(1));
    let err = EmbeddedMemoryStore::reembed(&config, failing.as_ref(), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("went away"), "{err}");
    let err = EmbeddedMemoryStore::open(&config, &model.identity).unwrap_err();
    assert!(matches!(err, StoreError::EmbedderMismatch { .. }), "{err}");

    // Resumed: the first batch is kept, the rest computed, progress reaches the total.
    let mut steps: Vec<ReembedProgress> = Vec::new();
    let report =
        EmbeddedMemoryStore::reembed(&config, model.as_ref(), &mut |p| steps.push(p)).unwrap();
    assert_eq!(report.from, Some(identity()));
    assert_eq!(report.to, model.identity);
    assert!(report.resumed > 0, "{report:?}");
    assert_eq!(report.reembedded + report.resumed, MEMORIES as u64);
    assert_eq!(
        steps.last(),
        Some(&ReembedProgress {
            done: MEMORIES as u64,
            total: MEMORIES as u64
        })
    );

    let store = EmbeddedMemoryStore::open(&config, &model.identity).unwrap();
    assert_searchable_with_new_vectors(&store).await;
    drop(store);
    let err = EmbeddedMemoryStore::open(&config, &identity()).unwrap_err();
    assert!(matches!(err, StoreError::EmbedderMismatch { .. }), "{err}");
    // Again with the same model: nothing to do.
    let again = EmbeddedMemoryStore::reembed(&config, model.as_ref(), &mut |_| {}).unwrap();
    assert_eq!((again.reembedded, again.resumed), (0, 0));
}

#[tokio::test]
async fn an_interrupted_reembedding_is_dropped_when_the_old_model_writes_again() {
    let dir = tempfile::tempdir().unwrap();
    let config = EmbeddedStoreConfig::new(dir.path());
    drop(EmbeddedMemoryStore::open(&config, &identity()).unwrap());
    {
        let store = EmbeddedMemoryStore::open(&config, &identity()).unwrap();
        store.insert_batch(records()).await.unwrap();
    }
    let failing = NewModel::new(Some(1));
    EmbeddedMemoryStore::reembed(&config, failing.as_ref(), &mut |_| {}).unwrap_err();
    // The old model opens the store (and may change memories): the partial work is gone.
    drop(EmbeddedMemoryStore::open(&config, &identity()).unwrap());
    let model = NewModel::new(None);
    let report = EmbeddedMemoryStore::reembed(&config, model.as_ref(), &mut |_| {}).unwrap();
    assert_eq!(report.resumed, 0);
    assert_eq!(report.reembedded, MEMORIES as u64);
}

#[tokio::test]
async fn postgres_store_reembeds_resumes_and_changes_dimension() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let config = PgStoreConfig::new(url);
    {
        let store = PgMemoryStore::connect(&config, &identity()).await.unwrap();
        store.insert_batch(records()).await.unwrap();
        assert_eq!(DIM, 8);
    }
    let model = NewModel::new(None);
    let err = PgMemoryStore::connect(&config, &model.identity)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::EmbedderMismatch { .. }), "{err}");

    let failing: Arc<dyn Embedder> = NewModel::new(Some(1));
    let err = PgMemoryStore::reembed(&config, failing, &mut |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("went away"), "{err}");
    // Interrupted: the old model still works.
    let old = PgMemoryStore::connect(&config, &identity()).await;
    drop(old.unwrap());

    let failing: Arc<dyn Embedder> = NewModel::new(Some(1));
    PgMemoryStore::reembed(&config, failing, &mut |_| {})
        .await
        .unwrap_err();
    let mut last = None;
    let new: Arc<dyn Embedder> = model.clone();
    let report = PgMemoryStore::reembed(&config, new, &mut |p| last = Some(p))
        .await
        .unwrap();
    assert!(report.resumed > 0, "{report:?}");
    assert_eq!(report.reembedded + report.resumed, MEMORIES as u64);
    assert_eq!(last.map(|p| p.done), Some(MEMORIES as u64));

    let store = PgMemoryStore::connect(&config, &model.identity)
        .await
        .unwrap();
    assert_searchable_with_new_vectors(&store).await;
    let err = PgMemoryStore::connect(&config, &identity())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::EmbedderMismatch { .. }), "{err}");
}
