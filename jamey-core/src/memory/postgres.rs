//! PostgreSQL + pgvector backend: HNSW (cosine) for vectors with iterative scans so filters keep
//! their results, a generated tsvector with GIN for keywords, and a (created_at, id) index for
//! keyset pages. The schema comes from the shared database's migrations; the store fixes the
//! vector column's dimension for its embedder under the same advisory lock.

use super::{
    check_vector, Cursor, MemoryRecord, MemoryStore, MemoryUpdate, PageRequest, StoreError,
    StoreSearch,
};
use crate::db::{redact_url, PgDatabase, PgDatabaseConfig};
use crate::embedding::EmbedderIdentity;
use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use jamey_protocol::{Memory, MemoryId, MemoryPage, ScoredMemory};
use pgvector::Vector;
use rows::{memory_from_row, COLUMNS};
use setup::prepare_locked;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

mod reembed;
mod rows;
mod search;
mod setup;

/// HNSW parameters. m=16 with ef_construction=48 keeps inserts near 1,000/s on two cores with
/// recall@10 above 0.95 at ef_search=100 (docs/adr/0004-pgvector-index.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswParams {
    pub m: u32,
    pub ef_construction: u32,
    pub ef_search: u32,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            m: 16,
            ef_construction: 48,
            ef_search: 100,
        }
    }
}

/// How to reach and tune the PostgreSQL store.
#[derive(Clone)]
pub struct PgStoreConfig {
    /// `postgres://user:password@host:port/database`.
    pub url: String,
    pub pool_size: usize,
    pub hnsw: HnswParams,
    pub keyword_weight: f32,
}

impl std::fmt::Debug for PgStoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStoreConfig")
            .field("url", &redact_url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("hnsw", &self.hnsw)
            .field("keyword_weight", &self.keyword_weight)
            .finish()
    }
}

impl PgStoreConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: 16,
            hnsw: HnswParams::default(),
            keyword_weight: super::fusion::DEFAULT_KEYWORD_WEIGHT,
        }
    }

    /// The shared database this store's URL and pool size describe. Every connection searches
    /// with `hnsw.ef_search` and iterative scans, which make HNSW keep searching until a
    /// filtered query has its rows (pgvector >= 0.8); relaxed order is re-sorted by exact
    /// distance after.
    pub fn database(&self) -> PgDatabaseConfig {
        PgDatabaseConfig {
            url: self.url.clone(),
            pool_size: self.pool_size,
            options: Some(format!(
                "-c hnsw.ef_search={} -c hnsw.iterative_scan=relaxed_order",
                self.hnsw.ef_search
            )),
        }
    }
}

/// Memories in PostgreSQL with pgvector.
pub struct PgMemoryStore {
    db: PgDatabase,
    dimensions: usize,
    keyword_weight: f32,
    /// Query terms found in at least `DF_CAP` memories. Counting them is the costly part of a
    /// search (GIN reads a common term's whole posting list before the count can stop), and a
    /// common term stays common, so it is counted once and remembered for a while. Rare terms
    /// are counted every time: that is cheap, and a memory just stored must be found by them.
    common_terms: moka::sync::Cache<String, ()>,
}

impl std::fmt::Debug for PgMemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgMemoryStore")
            .field("dimensions", &self.dimensions)
            .finish()
    }
}

impl PgMemoryStore {
    /// Connects to the database `config` names (see [`PgDatabase::connect`]) and opens the store
    /// on it.
    pub async fn connect(
        config: &PgStoreConfig,
        identity: &EmbedderIdentity,
    ) -> Result<Self, StoreError> {
        let db = PgDatabase::connect(&config.database()).await?;
        Self::open(db, config, identity).await
    }

    /// The store on the shared database `db`, after checking that the stored vectors come from
    /// `identity` (the first open records it and fixes the vector column). Of `config`, the
    /// HNSW build parameters and the keyword weight apply; `db` was connected with the rest.
    pub async fn open(
        db: PgDatabase,
        config: &PgStoreConfig,
        identity: &EmbedderIdentity,
    ) -> Result<Self, StoreError> {
        let mut lock = db.migration_lock().await?;
        let prepared = prepare_locked(lock.client(), identity, config.hnsw).await;
        let released = lock.release().await;
        prepared?;
        released?;
        let store = Self {
            db,
            dimensions: identity.dimensions,
            keyword_weight: config.keyword_weight,
            common_terms: search::common_terms_cache(),
        };
        Ok(store)
    }

    /// The shared database the store is on.
    pub fn database(&self) -> &PgDatabase {
        &self.db
    }
}

/// The current time at the database's precision, so a returned memory equals a later read.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[async_trait]
impl MemoryStore for PgMemoryStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn insert(&self, mut record: MemoryRecord) -> Result<Memory, StoreError> {
        check_vector(&record.embedding, self.dimensions)?;
        let client = self.db.client().await?;
        let statement = client.prepare_cached(INSERT).await?;
        let at = now();
        let id = Uuid::now_v7();
        let embedding = Vector::from(std::mem::take(&mut record.embedding));
        client
            .execute(
                &statement,
                &[
                    &id,
                    &record.content,
                    &record.kind,
                    &record.tags,
                    &record.metadata,
                    &record.session_id,
                    &record.importance,
                    &embedding,
                    &at,
                ],
            )
            .await?;
        Ok(record.into_memory(id, at))
    }

    async fn insert_batch(&self, records: Vec<MemoryRecord>) -> Result<Vec<Memory>, StoreError> {
        for (i, record) in records.iter().enumerate() {
            check_vector(&record.embedding, self.dimensions).map_err(|e| batch_error(e, i))?;
        }
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let statement = tx.prepare_cached(INSERT).await?;
        let at = now();
        let ids: Vec<MemoryId> = records.iter().map(|_| Uuid::now_v7()).collect();
        let vectors: Vec<Vector> = records
            .iter()
            .map(|r| Vector::from(r.embedding.clone()))
            .collect();
        // Pipelined: the statements go out back to back inside the one transaction.
        let inserts = records
            .iter()
            .zip(&ids)
            .zip(&vectors)
            .map(|((record, id), embedding)| {
                let statement = &statement;
                let tx = &tx;
                async move {
                    tx.execute(
                        statement,
                        &[
                            id,
                            &record.content,
                            &record.kind,
                            &record.tags,
                            &record.metadata,
                            &record.session_id,
                            &record.importance,
                            embedding,
                            &at,
                        ],
                    )
                    .await
                }
            });
        futures::future::try_join_all(inserts).await?;
        tx.commit().await?;
        Ok(records
            .into_iter()
            .zip(ids)
            .map(|(record, id)| record.into_memory(id, at))
            .collect())
    }

    async fn get(&self, id: MemoryId) -> Result<Option<Memory>, StoreError> {
        let client = self.db.client().await?;
        let statement = client
            .prepare_cached(&format!("SELECT {COLUMNS} FROM memories WHERE id = $1"))
            .await?;
        client
            .query_opt(&statement, &[&id])
            .await?
            .as_ref()
            .map(memory_from_row)
            .transpose()
    }

    async fn update(&self, id: MemoryId, update: MemoryUpdate) -> Result<Memory, StoreError> {
        if let Some(embedding) = &update.embedding {
            check_vector(embedding, self.dimensions)?;
        }
        let client = self.db.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "UPDATE memories SET content = COALESCE($2, content), kind = COALESCE($3, kind), \
                 tags = COALESCE($4, tags), metadata = COALESCE($5, metadata), \
                 importance = COALESCE($6, importance), embedding = COALESCE($7, embedding), updated_at = $8 \
                 WHERE id = $1 RETURNING {COLUMNS}"
            ))
            .await?;
        let embedding = update.embedding.map(Vector::from);
        let row = client
            .query_opt(
                &statement,
                &[
                    &id,
                    &update.content,
                    &update.kind,
                    &update.tags,
                    &update.metadata,
                    &update.importance,
                    &embedding,
                    &now(),
                ],
            )
            .await?
            .ok_or(StoreError::NotFound(id))?;
        memory_from_row(&row)
    }

    async fn delete(&self, id: MemoryId) -> Result<bool, StoreError> {
        let client = self.db.client().await?;
        let statement = client
            .prepare_cached("DELETE FROM memories WHERE id = $1")
            .await?;
        Ok(client.execute(&statement, &[&id]).await? == 1)
    }

    async fn count(&self) -> Result<u64, StoreError> {
        let client = self.db.client().await?;
        let count: i64 = client
            .query_one("SELECT count(*) FROM memories", &[])
            .await?
            .try_get(0)?;
        Ok(count.max(0) as u64)
    }

    async fn list(&self, page: PageRequest) -> Result<MemoryPage, StoreError> {
        let client = self.db.client().await?;
        let order = "ORDER BY created_at DESC, id DESC";
        let (limit, rows) = match page {
            PageRequest::Keyset { limit, after: None } => {
                let sql = format!("SELECT {COLUMNS} FROM memories {order} LIMIT $1");
                (limit, client.query(&sql, &[&(i64::from(limit) + 1)]).await?)
            }
            PageRequest::Keyset {
                limit,
                after: Some(cursor),
            } => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM memories WHERE (created_at, id) < ($1, $2) {order} LIMIT $3"
                );
                let params: [&(dyn ToSql + Sync); 3] =
                    [&cursor.created_at(), &cursor.id, &(i64::from(limit) + 1)];
                (limit, client.query(&sql, &params).await?)
            }
            PageRequest::Offset { limit, offset } => {
                let sql = format!("SELECT {COLUMNS} FROM memories {order} LIMIT $1 OFFSET $2");
                let offset = i64::try_from(offset).unwrap_or(i64::MAX);
                (
                    limit,
                    client
                        .query(&sql, &[&(i64::from(limit) + 1), &offset])
                        .await?,
                )
            }
        };
        let mut items = rows
            .iter()
            .map(memory_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_cursor = if more {
            items
                .last()
                .map(|m| Cursor::new(m.created_at, m.id).encode())
        } else {
            None
        };
        Ok(MemoryPage { items, next_cursor })
    }

    #[tracing::instrument(name = "pg_search", level = "debug", skip_all, fields(mode = search.mode.as_str(), limit = search.limit))]
    async fn search(&self, search: &StoreSearch) -> Result<Vec<ScoredMemory>, StoreError> {
        self.search_memories(search).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.db.client().await?;
        client.execute("SELECT 1", &[]).await?;
        Ok(())
    }
}

fn batch_error(error: StoreError, index: usize) -> StoreError {
    match error {
        StoreError::Dimension { expected, got } => StoreError::Invalid {
            field: "embedding",
            reason: format!("has {got} dimensions, the store holds {expected}"),
            index: Some(index),
        },
        StoreError::NonFiniteVector { position } => StoreError::Invalid {
            field: "embedding",
            reason: format!("value at position {position} is not a finite number"),
            index: Some(index),
        },
        other => other.at_index(index),
    }
}

const INSERT: &str = "INSERT INTO memories \
    (id, content, kind, tags, metadata, session_id, importance, embedding, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)";
