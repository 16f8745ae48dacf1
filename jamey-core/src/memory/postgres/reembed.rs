//! Re-embedding the PostgreSQL store: new vectors go to an `embedding_next` column batch by batch
//! (kept if the run is interrupted and resumed with the same embedder), then, in one transaction
//! with the table locked, replace the old column, get their dimension and HNSW index, and the new
//! embedder is recorded. The migration lock is held throughout, so no runtime starts meanwhile.

use super::setup::{prepare_locked, record_identity, set_vector_column, stored_identity};
use super::{HnswParams, PgMemoryStore, PgStoreConfig};
use crate::db::PgDatabase;
use crate::embedding::{Embedder, EmbedderIdentity};
use crate::memory::reembed::{embed_batch, ReembedProgress, ReembedReport, REEMBED_BATCH};
use crate::memory::StoreError;
use pgvector::Vector;
use std::sync::Arc;
use tokio_postgres::GenericClient;
use uuid::Uuid;

impl PgMemoryStore {
    /// Gives every memory a vector from `embedder` and records it as the store's embedder.
    /// Runtimes using the database should be stopped: one that starts waits for the end, but one
    /// already running could change a memory the run has passed. `progress` is called after
    /// every batch.
    pub async fn reembed(
        config: &PgStoreConfig,
        embedder: Arc<dyn Embedder>,
        progress: &mut (dyn FnMut(ReembedProgress) + Send),
    ) -> Result<ReembedReport, StoreError> {
        let db = PgDatabase::connect(&config.database()).await?;
        let mut lock = db.migration_lock().await?;
        let result = reembed_locked(lock.client(), config.hnsw, embedder, progress).await;
        let released = lock.release().await;
        let report = result?;
        released?;
        Ok(report)
    }
}

async fn reembed_locked(
    client: &mut tokio_postgres::Client,
    hnsw: HnswParams,
    embedder: Arc<dyn Embedder>,
    progress: &mut (dyn FnMut(ReembedProgress) + Send),
) -> Result<ReembedReport, StoreError> {
    let target = embedder.identity().clone();
    let from = stored_identity(client, "embedder").await?;
    if from.is_none() || from.as_ref() == Some(&target) {
        // Nothing stored under another model: recording the embedder is all there is to do.
        prepare_locked(client, &target, hnsw).await?;
        return Ok(ReembedReport {
            from,
            to: target,
            reembedded: 0,
            resumed: 0,
        });
    }
    start(client, &target).await?;
    let total = count(client, "TRUE").await?;
    let resumed = count(client, "embedding_next IS NOT NULL").await?;
    let mut done = resumed;
    progress(ReembedProgress { done, total });
    loop {
        let written = embed_pending(&*client, &embedder).await?;
        if written == 0 {
            break;
        }
        done += written;
        progress(ReembedProgress {
            done: done.min(total),
            total,
        });
    }
    let tx = client.transaction().await?;
    tx.batch_execute("LOCK TABLE memories IN ACCESS EXCLUSIVE MODE")
        .await?;
    // Memories a running runtime added since the last batch.
    let mut late = 0;
    loop {
        let written = embed_pending(&tx, &embedder).await?;
        if written == 0 {
            break;
        }
        late += written;
    }
    tx.batch_execute(
        "DROP INDEX IF EXISTS memories_embedding_hnsw_idx; \
         ALTER TABLE memories DROP COLUMN embedding; \
         ALTER TABLE memories RENAME COLUMN embedding_next TO embedding; \
         ALTER TABLE memories ALTER COLUMN embedding SET NOT NULL; \
         DELETE FROM jamey_store_meta WHERE key = 'reembed_target';",
    )
    .await?;
    set_vector_column(&tx, target.dimensions, hnsw).await?;
    record_identity(&tx, "embedder", &target).await?;
    tx.commit().await?;
    let reembedded = (total - resumed.min(total)) + late;
    tracing::info!(from = ?from, to = %target, reembedded, resumed, "re-embedded the PostgreSQL memory store");
    Ok(ReembedReport {
        from,
        to: target,
        reembedded,
        resumed,
    })
}

/// Adds the side column, or empties it when it holds another model's vectors.
async fn start(
    client: &tokio_postgres::Client,
    target: &EmbedderIdentity,
) -> Result<(), StoreError> {
    client
        .batch_execute("ALTER TABLE memories ADD COLUMN IF NOT EXISTS embedding_next vector")
        .await?;
    if stored_identity(client, "reembed_target").await?.as_ref() != Some(target) {
        client
            .execute(
                "UPDATE memories SET embedding_next = NULL WHERE embedding_next IS NOT NULL",
                &[],
            )
            .await?;
        record_identity(client, "reembed_target", target).await?;
    }
    Ok(())
}

async fn count(client: &tokio_postgres::Client, condition: &str) -> Result<u64, StoreError> {
    let row = client
        .query_one(
            &format!("SELECT count(*) FROM memories WHERE {condition}"),
            &[],
        )
        .await?;
    let n: i64 = row.try_get(0)?;
    Ok(n.max(0) as u64)
}

/// Embeds the next batch of memories without a new vector; returns how many it wrote.
async fn embed_pending(
    client: &impl GenericClient,
    embedder: &Arc<dyn Embedder>,
) -> Result<u64, StoreError> {
    let rows = client
        .query(
            "SELECT id, content FROM memories WHERE embedding_next IS NULL ORDER BY id LIMIT $1",
            &[&(REEMBED_BATCH as i64)],
        )
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut ids = Vec::with_capacity(rows.len());
    let mut contents = Vec::with_capacity(rows.len());
    for row in &rows {
        ids.push(row.try_get::<_, Uuid>(0)?);
        contents.push(row.try_get::<_, String>(1)?);
    }
    let embedder = Arc::clone(embedder);
    let vectors = tokio::task::spawn_blocking(move || embed_batch(embedder.as_ref(), &contents))
        .await
        .map_err(|e| StoreError::Migration(format!("embedding task failed: {e}")))??;
    let update = client
        .prepare("UPDATE memories SET embedding_next = $2 WHERE id = $1")
        .await?;
    for (id, vector) in ids.iter().zip(vectors) {
        client
            .execute(&update, &[id, &Vector::from(vector)])
            .await?;
    }
    Ok(ids.len() as u64)
}
