//! Vector, keyword and hybrid search over the embedded store: SQLite's FTS5 finds keyword
//! candidates and term statistics, the in-memory index scores vectors, and `fusion` combines them
//! the same way the PostgreSQL backend does.

use super::rows;
use super::vectors::VectorIndex;
use crate::memory::fusion::{best_first, hybrid_score};
use crate::memory::keyword::{query_terms, WeightedTerms, DF_CAP};
use crate::memory::{ScoredMemory, StoreError, StoreSearch};
use jamey_protocol::{MemoryFilter, SearchMode};
use parking_lot::RwLock;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};
use std::collections::{HashMap, HashSet};

/// Runs `search` on `conn`, which should hold a read transaction so every query sees one snapshot.
/// The query vector has been checked, unless the mode is keyword-only.
pub(super) fn run(
    conn: &Connection,
    index: &RwLock<VectorIndex>,
    search: &StoreSearch,
    keyword_weight: f32,
) -> Result<Vec<ScoredMemory>, StoreError> {
    let limit = search.limit as usize;
    if limit == 0 {
        return Ok(Vec::new());
    }
    let filter = FilterSql::new(&search.filter);
    let ranked = match search.mode {
        SearchMode::Vector => {
            let allowed = filter.as_ref().map(|f| f.rowids(conn)).transpose()?;
            index
                .read()
                .nearest(&search.embedding, limit, allowed.as_ref())
        }
        SearchMode::Keyword => keyword_search(conn, index, &search.text, filter.as_ref(), limit)?,
        SearchMode::Hybrid => hybrid_search(conn, index, search, filter.as_ref(), keyword_weight)?,
    };
    let rowids: Vec<i64> = ranked.iter().map(|(rowid, _)| *rowid).collect();
    let mut memories = rows::by_rowids(conn, &rowids)?;
    // A memory deleted since the index was scanned is simply left out.
    Ok(ranked
        .into_iter()
        .filter_map(|(rowid, score)| {
            memories
                .remove(&rowid)
                .map(|memory| ScoredMemory { memory, score })
        })
        .collect())
}

/// Ranks FTS5 candidates by the share of the query's IDF weight they match; bm25 breaks ties.
fn keyword_search(
    conn: &Connection,
    index: &RwLock<VectorIndex>,
    text: &str,
    filter: Option<&FilterSql>,
    limit: usize,
) -> Result<Vec<(i64, f32)>, StoreError> {
    let Some(keywords) = Keywords::of(conn, index, text)? else {
        return Ok(Vec::new());
    };
    let mut picks = keywords.weighted.distinctive(&keywords.dfs, 5);
    if picks.is_empty() {
        picks = (0..keywords.dfs.len()).collect();
    }
    let pool = (limit * 5).clamp(50, 500);
    let candidates = keywords.candidates(conn, &picks, filter, pool)?;
    let matched = keywords.matched(conn, &candidates)?;
    let mut ranked: Vec<(i64, f32)> = candidates
        .iter()
        .map(|rowid| (*rowid, keywords.coverage(&matched, *rowid)))
        .collect();
    // Stable: equal coverage keeps the bm25 order.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.truncate(limit);
    Ok(ranked)
}

/// Scores the union of the nearest vectors and the distinctive-term keyword candidates by cosine
/// similarity plus a weighted keyword bonus.
fn hybrid_search(
    conn: &Connection,
    index: &RwLock<VectorIndex>,
    search: &StoreSearch,
    filter: Option<&FilterSql>,
    keyword_weight: f32,
) -> Result<Vec<(i64, f32)>, StoreError> {
    let limit = search.limit as usize;
    let pool = (limit * 3).clamp(30, 300);
    let allowed = filter.map(|f| f.rowids(conn)).transpose()?;
    let nearest = index
        .read()
        .nearest(&search.embedding, pool, allowed.as_ref());
    let Some(keywords) = Keywords::of(conn, index, &search.text)? else {
        return Ok(best_first(nearest, limit));
    };
    let mut candidates: Vec<i64> = nearest.iter().map(|(rowid, _)| *rowid).collect();
    let picks = keywords.weighted.distinctive(&keywords.dfs, 5);
    if !picks.is_empty() {
        let seen: HashSet<i64> = candidates.iter().copied().collect();
        let found = keywords.candidates(conn, &picks, filter, pool)?;
        candidates.extend(found.into_iter().filter(|rowid| !seen.contains(rowid)));
    }
    let matched = keywords.matched(conn, &candidates)?;
    let index = index.read();
    let scored: Vec<(i64, f32)> = candidates
        .iter()
        .filter_map(|rowid| {
            // A row committed but not yet indexed has no vector to score; the next search sees it.
            let cosine = index.similarity(*rowid, &search.embedding)?;
            Some((
                *rowid,
                hybrid_score(cosine, keywords.coverage(&matched, *rowid), keyword_weight),
            ))
        })
        .collect();
    Ok(best_first(scored, limit))
}

/// A query's terms, their document frequencies, and their weights.
struct Keywords {
    weighted: WeightedTerms,
    dfs: Vec<u64>,
}

impl Keywords {
    /// `None` when the query has no content words.
    fn of(
        conn: &Connection,
        index: &RwLock<VectorIndex>,
        text: &str,
    ) -> Result<Option<Self>, StoreError> {
        let terms = query_terms(text);
        if terms.is_empty() {
            return Ok(None);
        }
        let mut statement = conn.prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM memories_fts WHERE memories_fts MATCH ?1 LIMIT ?2)",
        )?;
        let cap = i64::try_from(DF_CAP).unwrap_or(i64::MAX);
        let mut dfs = Vec::with_capacity(terms.len());
        for term in &terms {
            let df: i64 =
                statement.query_row(rusqlite::params![phrase(term), cap], |row| row.get(0))?;
            dfs.push(u64::try_from(df).unwrap_or(0));
        }
        let total = index.read().len() as u64;
        let weighted = WeightedTerms::new(terms, &dfs, total);
        Ok(Some(Self { weighted, dfs }))
    }

    /// Rowids matching any of the terms `picks`, best bm25 first, at most `pool`.
    fn candidates(
        &self,
        conn: &Connection,
        picks: &[usize],
        filter: Option<&FilterSql>,
        pool: usize,
    ) -> Result<Vec<i64>, StoreError> {
        let query = picks
            .iter()
            .filter_map(|i| self.weighted.terms.get(*i))
            .map(|term| phrase(term))
            .collect::<Vec<_>>()
            .join(" OR ");
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let mut params = vec![Value::Text(query)];
        // The full-text match drives the join (CROSS JOIN fixes the order): handed the filter's
        // rowids instead, FTS5 would run the whole query once per rowid.
        let sql = match filter {
            Some(filter) => {
                params.extend(filter.params.iter().cloned());
                format!(
                    "SELECT f.rowid FROM memories_fts AS f CROSS JOIN memories AS m ON m.rowid = f.rowid \
                     WHERE memories_fts MATCH ? AND {} ORDER BY f.rank LIMIT ?",
                    filter.clause
                )
            }
            None => {
                "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? ORDER BY rank LIMIT ?"
                    .to_string()
            }
        };
        params.push(Value::Integer(i64::try_from(pool).unwrap_or(i64::MAX)));
        let mut statement = conn.prepare_cached(&sql)?;
        let rowids = statement
            .query_map(params_from_iter(params), |row| row.get(0))?
            .collect::<Result<Vec<i64>, _>>()?;
        Ok(rowids)
    }

    /// For each candidate, which of the query's terms it contains.
    fn matched(
        &self,
        conn: &Connection,
        candidates: &[i64],
    ) -> Result<HashMap<i64, Vec<bool>>, StoreError> {
        let terms = &self.weighted.terms;
        let mut matched: HashMap<i64, Vec<bool>> = HashMap::with_capacity(candidates.len());
        if candidates.is_empty() {
            return Ok(matched);
        }
        let within = rows::json_array(candidates);
        // `+rowid` keeps the candidate list away from FTS5, which would otherwise evaluate the
        // term once per candidate; reading the term's posting list once is several times faster.
        let mut statement = conn.prepare_cached(
            "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ?1 \
             AND +rowid IN (SELECT value FROM json_each(?2))",
        )?;
        for (i, term) in terms.iter().enumerate() {
            // A term in no memory cannot be in a candidate.
            if self.dfs.get(i).is_none_or(|df| *df == 0) {
                continue;
            }
            let hits = statement.query_map(rusqlite::params![phrase(term), within], |row| {
                row.get::<_, i64>(0)
            })?;
            for rowid in hits {
                matched
                    .entry(rowid?)
                    .or_insert_with(|| vec![false; terms.len()])[i] = true;
            }
        }
        Ok(matched)
    }

    fn coverage(&self, matched: &HashMap<i64, Vec<bool>>, rowid: i64) -> f32 {
        matched
            .get(&rowid)
            .map_or(0.0, |m| self.weighted.coverage(m))
    }
}

/// A term as an FTS5 string, so no character of it is read as query syntax.
fn phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// A search filter as an SQL condition on `memories AS m`, with its parameters in order.
#[derive(Debug)]
struct FilterSql {
    clause: String,
    params: Vec<Value>,
}

impl FilterSql {
    /// `None` when the filter lets every memory through.
    fn new(filter: &MemoryFilter) -> Option<Self> {
        if filter.is_empty() {
            return None;
        }
        let mut conditions: Vec<&str> = Vec::new();
        let mut params = Vec::new();
        if let Some(kind) = &filter.kind {
            conditions.push("m.kind = ?");
            params.push(Value::Text(kind.clone()));
        }
        if let Some(session_id) = &filter.session_id {
            conditions.push("m.session_id = ?");
            params.push(Value::Text(session_id.clone()));
        }
        let mut tags: Vec<&String> = filter.tags.iter().flatten().collect();
        tags.sort();
        tags.dedup();
        if !tags.is_empty() {
            // A memory qualifies when it carries every wanted tag (tags are distinct per memory).
            conditions.push(
                "m.rowid IN (SELECT memory FROM memory_tags WHERE tag IN (SELECT value FROM json_each(?)) \
                 GROUP BY memory HAVING count(*) = ?)",
            );
            params.push(Value::Text(
                serde_json::Value::from(tags.iter().map(|t| t.as_str()).collect::<Vec<_>>())
                    .to_string(),
            ));
            params.push(Value::Integer(tags.len() as i64));
        }
        Some(Self {
            clause: conditions.join(" AND "),
            params,
        })
    }

    /// The rowids of every memory the filter lets through.
    fn rowids(&self, conn: &Connection) -> Result<HashSet<i64>, StoreError> {
        let mut statement = conn.prepare_cached(&format!(
            "SELECT m.rowid FROM memories AS m WHERE {}",
            self.clause
        ))?;
        let rowids = statement
            .query_map(params_from_iter(self.params.iter()), |row| row.get(0))?
            .collect::<Result<HashSet<i64>, _>>()?;
        Ok(rowids)
    }
}
