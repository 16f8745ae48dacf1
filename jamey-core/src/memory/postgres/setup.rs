//! The store's schema work under the migration lock: the embedder identity kept in
//! `jamey_store_meta`, and the vector column's dimension and HNSW index fixed for it.

use super::HnswParams;
use crate::embedding::EmbedderIdentity;
use crate::memory::StoreError;

/// Records `identity` on first use (fixing the vector column's dimension and building its HNSW
/// index), refuses another embedder afterwards. Run under the migration lock.
pub(super) async fn prepare_locked(
    client: &mut tokio_postgres::Client,
    identity: &EmbedderIdentity,
    hnsw: HnswParams,
) -> Result<(), StoreError> {
    match stored_identity(client, "embedder").await? {
        Some(stored) if &stored == identity => {
            // An unfinished re-embedding is dropped: writes from now on would make it stale.
            if stored_identity(client, "reembed_target").await?.is_some() {
                client
                    .batch_execute(
                        "ALTER TABLE memories DROP COLUMN IF EXISTS embedding_next; \
                     DELETE FROM jamey_store_meta WHERE key = 'reembed_target';",
                    )
                    .await?;
            }
        }
        Some(stored) => {
            return Err(StoreError::EmbedderMismatch {
                stored: stored.to_string(),
                configured: identity.to_string(),
            });
        }
        None => {
            // The first embedder fixes the column's dimension; HNSW needs one.
            let tx = client.transaction().await?;
            set_vector_column(&tx, identity.dimensions, hnsw).await?;
            record_identity(&tx, "embedder", identity).await?;
            tx.commit().await?;
            tracing::info!(embedder = %identity, "memory store initialised");
        }
    }
    Ok(())
}

/// Gives the `embedding` column `dims` dimensions and (re)creates its HNSW index.
pub(super) async fn set_vector_column(
    tx: &tokio_postgres::Transaction<'_>,
    dims: usize,
    hnsw: HnswParams,
) -> Result<(), StoreError> {
    if dims == 0 || dims > 16_000 {
        return Err(StoreError::Migration(format!(
            "unsupported embedding dimension {dims}"
        )));
    }
    tx.batch_execute(&format!(
        "DROP INDEX IF EXISTS memories_embedding_hnsw_idx; \
         ALTER TABLE memories ALTER COLUMN embedding TYPE vector({dims}); \
         CREATE INDEX memories_embedding_hnsw_idx ON memories \
           USING hnsw (embedding vector_cosine_ops) WITH (m = {}, ef_construction = {});",
        hnsw.m, hnsw.ef_construction
    ))
    .await?;
    Ok(())
}

/// An embedder identity kept in `jamey_store_meta` under `key`.
pub(super) async fn stored_identity(
    client: &impl tokio_postgres::GenericClient,
    key: &str,
) -> Result<Option<EmbedderIdentity>, StoreError> {
    let row = client
        .query_opt("SELECT value FROM jamey_store_meta WHERE key = $1", &[&key])
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let value: String = row.try_get(0)?;
    serde_json::from_str(&value)
        .map(Some)
        .map_err(|e| StoreError::Migration(format!("unreadable {key} record {value:?}: {e}")))
}

/// Records (or replaces) an embedder identity under `key`.
pub(super) async fn record_identity(
    client: &impl tokio_postgres::GenericClient,
    key: &str,
    identity: &EmbedderIdentity,
) -> Result<(), StoreError> {
    let value =
        serde_json::to_string(identity).map_err(|e| StoreError::Migration(e.to_string()))?;
    client
        .execute(
            "INSERT INTO jamey_store_meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            &[&key, &value],
        )
        .await?;
    Ok(())
}
