//! Searching the PostgreSQL store: vector candidates from HNSW, keyword candidates from the
//! tsvector index, their fusion for hybrid search, and the term counts (with the cache of common
//! terms) that weigh the keywords.

use super::rows::{memory_from_row, COLUMNS};
use super::PgMemoryStore;
use crate::memory::fusion::{best_first, hybrid_score};
use crate::memory::keyword::{query_terms, WeightedTerms, DF_CAP};
use crate::memory::{check_vector, StoreError, StoreSearch};
use jamey_protocol::{Memory, MemoryFilter, ScoredMemory, SearchMode};
use pgvector::Vector;
use std::collections::HashMap;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use uuid::Uuid;

/// How long a term stays known as common before it is counted again.
const COMMON_TERM_TTL: std::time::Duration = std::time::Duration::from_secs(600);
/// Most common terms remembered.
const COMMON_TERMS_MAX: u64 = 50_000;

/// The cache of terms known to be common (`PgMemoryStore::common_terms`).
pub(super) fn common_terms_cache() -> moka::sync::Cache<String, ()> {
    moka::sync::Cache::builder()
        .max_capacity(COMMON_TERMS_MAX)
        .time_to_live(COMMON_TERM_TTL)
        .build()
}

impl PgMemoryStore {
    /// The memories `search` asks for, best first (`MemoryStore::search`).
    pub(super) async fn search_memories(
        &self,
        search: &StoreSearch,
    ) -> Result<Vec<ScoredMemory>, StoreError> {
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

        // Hybrid: the vector query runs on a second connection while the terms are counted, when
        // the pool has one free at once; under load it runs after them on this connection.
        let second = match (search.mode, &embedding) {
            (SearchMode::Hybrid, Some(_)) if !terms.is_empty() => self.db.extra_client().await,
            _ => None,
        };
        let (plan, vector_hits) = match (&second, &embedding) {
            (Some(second), Some(embedding)) => {
                let (plan, hits) = tokio::try_join!(
                    self.keyword_plan(&client, &terms, search.mode),
                    self.vector_candidates(second, embedding, &terms, &search.filter, hybrid_pool),
                )?;
                (plan, Some(hits))
            }
            _ => (self.keyword_plan(&client, &terms, search.mode).await?, None),
        };
        drop(second);
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
