//! Re-embedding the embedded store: new vectors go to `reembed_next` batch by batch (kept if the
//! run is interrupted and resumed with the same embedder), then replace the old ones, and the
//! new embedder is recorded, in one transaction.

use super::schema;
use super::vectors;
use super::{lock_directory, EmbeddedMemoryStore, EmbeddedStoreConfig};
use crate::db::sqlite::{self, SqliteFile};
use crate::embedding::Embedder;
use crate::memory::reembed::{embed_batch, ReembedProgress, ReembedReport, REEMBED_BATCH};
use crate::memory::StoreError;
use rusqlite::{params, Connection, TransactionBehavior};

impl EmbeddedMemoryStore {
    /// Gives every memory in `config.dir` a vector from `embedder` and records it as the store's
    /// embedder. Blocking: run it off the async runtime. Needs the store's directory lock, so no
    /// runtime may have the store open. `progress` is called after every batch.
    pub fn reembed(
        config: &EmbeddedStoreConfig,
        embedder: &dyn Embedder,
        progress: &mut dyn FnMut(ReembedProgress),
    ) -> Result<ReembedReport, StoreError> {
        std::fs::create_dir_all(&config.dir)
            .map_err(|e| StoreError::Io(format!("cannot create {}: {e}", config.dir.display())))?;
        let _lock = lock_directory(&config.dir)?;
        let mut conn = sqlite::open_writer(&config.dir, SqliteFile::Memories)?;
        let target = embedder.identity().clone();
        let from = schema::stored_embedder(&conn)?;
        if from.is_none() || from.as_ref() == Some(&target) {
            // Nothing stored under another model: recording the embedder is all there is to do.
            schema::check_embedder(&mut conn, &target)?;
            return Ok(ReembedReport {
                from,
                to: target,
                reembedded: 0,
                resumed: 0,
            });
        }
        start(&mut conn, &target)?;
        let total: u64 = conn.query_row("SELECT count(*) FROM memories", [], |r| r.get(0))?;
        let resumed: u64 = conn.query_row(
            "SELECT count(*) FROM reembed_next JOIN memories USING (rowid)",
            [],
            |r| r.get(0),
        )?;
        let mut done = resumed;
        progress(ReembedProgress { done, total });
        loop {
            let batch = pending(&conn)?;
            if batch.is_empty() {
                break;
            }
            let contents: Vec<String> = batch.iter().map(|(_, c)| c.clone()).collect();
            let vectors = embed_batch(embedder, &contents)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR REPLACE INTO reembed_next (rowid, embedding) VALUES (?1, ?2)",
                )?;
                for ((rowid, _), vector) in batch.iter().zip(&vectors) {
                    insert.execute(params![rowid, vectors::to_blob(vector)])?;
                }
            }
            tx.commit()?;
            done += batch.len() as u64;
            progress(ReembedProgress {
                done: done.min(total),
                total,
            });
        }
        finish(&mut conn, &target)?;
        tracing::info!(from = ?from, to = %target, reembedded = total - resumed, resumed, "re-embedded the embedded memory store");
        Ok(ReembedReport {
            from,
            to: target,
            reembedded: total - resumed.min(total),
            resumed,
        })
    }
}

/// Creates the side table, or empties it when it holds another model's vectors.
fn start(
    conn: &mut Connection,
    target: &crate::embedding::EmbedderIdentity,
) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS reembed_next (rowid INTEGER PRIMARY KEY, embedding BLOB NOT NULL)",
    )?;
    if schema::reembed_target(&tx)?.as_ref() != Some(target) {
        tx.execute("DELETE FROM reembed_next", [])?;
        schema::record_reembed_target(&tx, target)?;
    }
    tx.commit()?;
    Ok(())
}

/// The next memories without a new vector, oldest row first.
fn pending(conn: &Connection) -> Result<Vec<(i64, String)>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT m.rowid, m.content FROM memories m \
         WHERE NOT EXISTS (SELECT 1 FROM reembed_next r WHERE r.rowid = m.rowid) \
         ORDER BY m.rowid LIMIT ?1",
    )?;
    let rows = statement
        .query_map([REEMBED_BATCH as i64], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Swaps the new vectors in and records the new embedder, all or nothing.
fn finish(
    conn: &mut Connection,
    target: &crate::embedding::EmbedderIdentity,
) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let missing: u64 = tx.query_row(
        "SELECT count(*) FROM memories m WHERE NOT EXISTS \
         (SELECT 1 FROM reembed_next r WHERE r.rowid = m.rowid)",
        [],
        |r| r.get(0),
    )?;
    if missing > 0 {
        return Err(StoreError::Migration(format!(
            "{missing} memories still lack a new vector; run the re-embedding again"
        )));
    }
    tx.execute_batch(
        "UPDATE memories SET embedding = (SELECT r.embedding FROM reembed_next r WHERE r.rowid = memories.rowid); \
         DROP TABLE reembed_next; \
         DELETE FROM meta WHERE key = 'reembed_target';",
    )?;
    schema::record_embedder(&tx, target)?;
    tx.commit()?;
    Ok(())
}
