//! PostgreSQL + pgvector backend: HNSW (cosine) for vectors with iterative scans so filters keep
//! their results, a generated tsvector with GIN for keywords, and a (created_at, id) index for
//! keyset pages. The schema comes from the shared database's migrations; the store fixes the
//! vector column's dimension for its embedder under the same advisory lock.

use super::fusion::{best_first, hybrid_score};
use super::keyword::{query_terms, WeightedTerms, DF_CAP};
use super::{
    check_vector, Cursor, MemoryRecord, MemoryStore, MemoryUpdate, PageRequest, StoreError,
    StoreSearch,
};
use crate::db::{redact_url, PgDatabase, PgDatabaseConfig};
use crate::embedding::EmbedderIdentity;
use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use jamey_protocol::{Memory, MemoryFilter, MemoryId, MemoryPage, ScoredMemory, SearchMode};
use pgvector::Vector;
use std::collections::HashMap;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use uuid::Uuid;

mod reembed;

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

/// How long a term stays known as common before it is counted again.
const COMMON_TERM_TTL: std::time::Duration = std::time::Duration::from_secs(600);
/// Most common terms remembered.
const COMMON_TERMS_MAX: u64 = 50_000;

impl std::fmt::Debug for PgMemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgMemoryStore")
            .field("dimensions", &self.dimensions)
            .finish()
    }
}

const COLUMNS: &str =
    "id, content, kind, tags, metadata, session_id, importance, created_at, updated_at";

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
            common_terms: moka::sync::Cache::builder()
                .max_capacity(COMMON_TERMS_MAX)
                .time_to_live(COMMON_TERM_TTL)
                .build(),
        };
        Ok(store)
    }

    /// The shared database the store is on.
    pub fn database(&self) -> &PgDatabase {
        &self.db
    }

    /// Vector hits, best first, each with the terms it matches.
    async fn vector_candidates(
        &self,
        client: &deadpool_postgres::Client,
        embedding: &Vector,
        terms: &[String],
        filter: &MemoryFilter,
        limit: u32,
    ) -> Result<Vec<Candidate>, StoreError> {
        let mut params = Params::new();
        params.push(embedding.clone());
        params.push(terms.to_vec());
        let filter_sql = filter_clause(filter, &mut params);
        params.push(i64::from(limit));
        let limit_param = params.len();
        let select = format!(
            "SELECT {COLUMNS}, (embedding <=> $1) AS distance, {MATCHED} AS matched FROM memories WHERE {filter_sql}"
        );
        let approximate = format!("{select} ORDER BY embedding <=> $1 LIMIT ${limit_param}");
        let rows = client.query(&approximate, &params.refs()).await?;
        let rows = if rows.len() < limit as usize {
            // Fewer hits than asked: either the table is small or the filter is selective
            // enough that the graph walk gave up. An exact scan settles which.
            let exact = format!("{select} ORDER BY (embedding <=> $1) + 0 LIMIT ${limit_param}");
            client.query(&exact, &params.refs()).await?
        } else {
            rows
        };
        let mut candidates = rows
            .iter()
            .map(Candidate::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        candidates.sort_by(|a, b| b.cosine.total_cmp(&a.cosine));
        Ok(candidates)
    }

    /// Memories containing any of `or_terms`, best keyword rank first.
    async fn keyword_candidates(
        &self,
        client: &deadpool_postgres::Client,
        embedding: Option<&Vector>,
        terms: &[String],
        or_terms: &[&str],
        filter: &MemoryFilter,
        limit: u32,
    ) -> Result<Vec<Candidate>, StoreError> {
        let mut params = Params::new();
        params.push(embedding.cloned());
        params.push(terms.to_vec());
        let tsquery = or_terms
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(" | ");
        params.push(tsquery);
        let filter_sql = filter_clause(filter, &mut params);
        params.push(i64::from(limit));
        let sql = format!(
            "SELECT {COLUMNS}, CASE WHEN $1::vector IS NULL THEN NULL ELSE embedding <=> $1::vector END AS distance, \
             {MATCHED} AS matched FROM memories \
             WHERE content_tsv @@ to_tsquery('english', $3) AND {filter_sql} \
             ORDER BY ts_rank_cd(content_tsv, to_tsquery('english', $3)) DESC LIMIT ${}",
            params.len()
        );
        let rows = client.query(&sql, &params.refs()).await?;
        rows.iter().map(Candidate::from_row).collect()
    }

    /// The query's weighted terms and the distinctive ones worth fetching keyword candidates for.
    async fn keyword_plan(
        &self,
        client: &deadpool_postgres::Client,
        terms: &[String],
        mode: SearchMode,
    ) -> Result<(WeightedTerms, Vec<usize>), StoreError> {
        if terms.is_empty() {
            return Ok((
                WeightedTerms {
                    terms: Vec::new(),
                    weights: Vec::new(),
                },
                Vec::new(),
            ));
        }
        let (dfs, total) = self.term_statistics(client, terms).await?;
        let weighted = WeightedTerms::new(terms.to_vec(), &dfs, total);
        let mut picks = weighted.distinctive(&dfs, 5);
        if picks.is_empty() && mode == SearchMode::Keyword {
            picks = (0..terms.len()).filter(|i| dfs[*i] > 0).collect();
        }
        Ok((weighted, picks))
    }

    /// Capped document frequencies of `terms` and the number of memories. Terms known to be
    /// common are not counted again. The number of memories is the planner's estimate or the
    /// statistics collector's live count, whichever is larger (a table never analyzed, e.g.
    /// with autovacuum off, has no estimate); only a small table is counted.
    async fn term_statistics(
        &self,
        client: &deadpool_postgres::Client,
        terms: &[String],
    ) -> Result<(Vec<u64>, u64), StoreError> {
        let cap = DF_CAP as i64;
        let unknown: Vec<String> = terms
            .iter()
            .filter(|t| !self.common_terms.contains_key(*t))
            .cloned()
            .collect();
        let row = client
            .query_one(
                "SELECT ARRAY(SELECT jamey_term_frequency(t, $2) \
                   FROM unnest($1::text[]) WITH ORDINALITY AS u(t, ord) ORDER BY ord) AS dfs, \
                 (SELECT CASE WHEN e.rows < 10000 THEN (SELECT count(*) FROM (SELECT 1 FROM memories LIMIT 10000) n) \
                   ELSE e.rows END FROM (SELECT GREATEST(c.reltuples::bigint, pg_stat_get_live_tuples(c.oid)) AS rows \
                   FROM pg_class c WHERE c.oid = 'memories'::regclass) e) AS total",
                &[&unknown, &cap],
            )
            .await?;
        let counted: Vec<i64> = row.try_get("dfs")?;
        let total: i64 = row.try_get("total")?;
        let counted: HashMap<&str, u64> = unknown
            .iter()
            .map(String::as_str)
            .zip(counted.into_iter().map(|d| d.max(0) as u64))
            .collect();
        let dfs = terms
            .iter()
            .map(|t| match counted.get(t.as_str()) {
                Some(df) => {
                    if *df >= DF_CAP {
                        self.common_terms.insert(t.clone(), ());
                    }
                    *df
                }
                None => DF_CAP,
            })
            .collect();
        Ok((dfs, total.max(0) as u64))
    }
}

/// For each query term, whether the memory contains it.
const MATCHED: &str = "ARRAY(SELECT content_tsv @@ plainto_tsquery('english', t) \
     FROM unnest($2::text[]) WITH ORDINALITY AS u(t, ord) ORDER BY ord)";

struct Candidate {
    memory: Memory,
    cosine: f32,
    matched: Vec<bool>,
}

impl Candidate {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        let distance: Option<f64> = row.try_get("distance")?;
        Ok(Self {
            memory: memory_from_row(row)?,
            cosine: distance.map_or(0.0, |d| (1.0 - d) as f32),
            matched: row.try_get("matched")?,
        })
    }
}

/// Parameters of a query built at run time.
struct Params(Vec<Box<dyn ToSql + Sync + Send>>);

impl Params {
    fn new() -> Self {
        Self(Vec::new())
    }

    fn push(&mut self, value: impl ToSql + Sync + Send + 'static) {
        self.0.push(Box::new(value));
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// A SQL condition for `filter`, its values appended to `params`.
fn filter_clause(filter: &MemoryFilter, params: &mut Params) -> String {
    let mut conditions = vec!["TRUE".to_string()];
    if let Some(tags) = filter.tags.as_ref().filter(|t| !t.is_empty()) {
        params.push(tags.clone());
        conditions.push(format!("tags @> ${}::text[]", params.len()));
    }
    if let Some(kind) = &filter.kind {
        params.push(kind.clone());
        conditions.push(format!("kind = ${}", params.len()));
    }
    if let Some(session) = &filter.session_id {
        params.push(session.clone());
        conditions.push(format!("session_id = ${}", params.len()));
    }
    conditions.join(" AND ")
}

fn memory_from_row(row: &Row) -> Result<Memory, StoreError> {
    Ok(Memory {
        id: row.try_get("id")?,
        content: row.try_get("content")?,
        kind: row.try_get("kind")?,
        tags: row.try_get("tags")?,
        metadata: row.try_get("metadata")?,
        session_id: row.try_get("session_id")?,
        importance: row.try_get("importance")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The current time at the database's precision, so a returned memory equals a later read.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Records `identity` on first use (fixing the vector column's dimension and building its HNSW
/// index), refuses another embedder afterwards. Run under the migration lock.
async fn prepare_locked(
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
async fn set_vector_column(
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
async fn stored_identity(
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
async fn record_identity(
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
        let limit = search.limit as usize;
        let keyword_weight = search.keyword_weight.unwrap_or(self.keyword_weight);
        let terms = if search.mode == SearchMode::Vector {
            Vec::new()
        } else {
            query_terms(&search.text)
        };
        let embedding = if search.mode == SearchMode::Keyword {
            None
        } else {
            check_vector(&search.embedding, self.dimensions)?;
            Some(Vector::from(search.embedding.clone()))
        };
        let client = self.db.client().await?;
        let hybrid_pool = (search.limit * 3).clamp(30, 300);

        // Hybrid: the vector query runs on a second connection while the terms are counted.
        let (plan, vector_hits) = match (search.mode, &embedding) {
            (SearchMode::Hybrid, Some(embedding)) if !terms.is_empty() => {
                let second = self.db.client().await?;
                let (plan, hits) = tokio::try_join!(
                    self.keyword_plan(&client, &terms, search.mode),
                    self.vector_candidates(&second, embedding, &terms, &search.filter, hybrid_pool),
                )?;
                (plan, Some(hits))
            }
            _ => (self.keyword_plan(&client, &terms, search.mode).await?, None),
        };
        let (weighted, distinctive) = plan;
        let or_terms: Vec<&str> = distinctive.iter().map(|i| terms[*i].as_str()).collect();

        let scored: Vec<(Memory, f32)> = match (search.mode, embedding) {
            (SearchMode::Vector, Some(embedding)) => self
                .vector_candidates(&client, &embedding, &terms, &search.filter, search.limit)
                .await?
                .into_iter()
                .map(|c| (c.memory, c.cosine))
                .collect(),
            (SearchMode::Hybrid, Some(embedding)) => {
                let vector_hits = match vector_hits {
                    Some(hits) => hits,
                    None => {
                        self.vector_candidates(
                            &client,
                            &embedding,
                            &terms,
                            &search.filter,
                            hybrid_pool,
                        )
                        .await?
                    }
                };
                let mut candidates: HashMap<Uuid, Candidate> = HashMap::new();
                for c in vector_hits {
                    candidates.insert(c.memory.id, c);
                }
                if !or_terms.is_empty() {
                    for c in self
                        .keyword_candidates(
                            &client,
                            Some(&embedding),
                            &terms,
                            &or_terms,
                            &search.filter,
                            hybrid_pool,
                        )
                        .await?
                    {
                        candidates.entry(c.memory.id).or_insert(c);
                    }
                }
                let ranked = best_first(
                    candidates
                        .into_values()
                        .map(|c| {
                            let score = hybrid_score(
                                c.cosine,
                                weighted.coverage(&c.matched),
                                keyword_weight,
                            );
                            (ById(c.memory), score)
                        })
                        .collect(),
                    limit,
                );
                ranked.into_iter().map(|(m, s)| (m.0, s)).collect()
            }
            _ => {
                if or_terms.is_empty() {
                    Vec::new()
                } else {
                    let pool_size = (search.limit * 5).clamp(50, 500);
                    let hits = self
                        .keyword_candidates(
                            &client,
                            None,
                            &terms,
                            &or_terms,
                            &search.filter,
                            pool_size,
                        )
                        .await?;
                    // Keep the database's rank order among equal coverage.
                    let mut ranked: Vec<(usize, Candidate, f32)> = hits
                        .into_iter()
                        .enumerate()
                        .map(|(i, c)| {
                            let coverage = weighted.coverage(&c.matched);
                            (i, c, coverage)
                        })
                        .collect();
                    ranked.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
                    ranked.truncate(limit);
                    ranked.into_iter().map(|(_, c, s)| (c.memory, s)).collect()
                }
            }
        };
        Ok(scored
            .into_iter()
            .map(|(memory, score)| ScoredMemory { memory, score })
            .collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.db.client().await?;
        client.execute("SELECT 1", &[]).await?;
        Ok(())
    }
}

/// Orders memories by id so equal scores rank deterministically.
struct ById(Memory);

impl PartialEq for ById {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}
impl Eq for ById {}
impl PartialOrd for ById {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ById {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.id.cmp(&other.0.id)
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
