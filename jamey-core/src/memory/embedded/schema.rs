//! The record, in the embedded store's `meta` table, of which embedder the vectors came from
//! (the file, its settings and its schema belong to `crate::db::sqlite`).

use crate::embedding::EmbedderIdentity;
use crate::memory::StoreError;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// The `meta` key under which the embedder identity is kept, as JSON.
const EMBEDDER_KEY: &str = "embedder";

/// The `meta` key under which an unfinished re-embedding records its target embedder.
pub(super) const REEMBED_TARGET_KEY: &str = "reembed_target";

/// Records `identity` on first use; afterwards refuses any other embedder, whose vectors would not
/// be comparable with the stored ones. Opening with the recorded embedder drops an unfinished
/// re-embedding: writes from now on would make its vectors stale.
pub(super) fn check_embedder(
    conn: &mut Connection,
    identity: &EmbedderIdentity,
) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    match stored_embedder(&tx)? {
        None => {
            record_embedder(&tx, identity)?;
            tx.commit()?;
            Ok(())
        }
        Some(stored) if &stored == identity => {
            tx.execute_batch(
                "DROP TABLE IF EXISTS reembed_next; DELETE FROM meta WHERE key = 'reembed_target';",
            )?;
            tx.commit()?;
            Ok(())
        }
        Some(stored) => Err(StoreError::EmbedderMismatch {
            stored: stored.to_string(),
            configured: identity.to_string(),
        }),
    }
}

/// The embedder the stored vectors come from, if one was recorded.
pub(super) fn stored_embedder(conn: &Connection) -> Result<Option<EmbedderIdentity>, StoreError> {
    read_identity(conn, EMBEDDER_KEY)
}

/// Records (or replaces) the embedder the stored vectors come from.
pub(super) fn record_embedder(
    conn: &Connection,
    identity: &EmbedderIdentity,
) -> Result<(), StoreError> {
    write_identity(conn, EMBEDDER_KEY, identity)
}

/// The embedder an unfinished re-embedding was computing vectors with.
pub(super) fn reembed_target(conn: &Connection) -> Result<Option<EmbedderIdentity>, StoreError> {
    read_identity(conn, REEMBED_TARGET_KEY)
}

pub(super) fn record_reembed_target(
    conn: &Connection,
    identity: &EmbedderIdentity,
) -> Result<(), StoreError> {
    write_identity(conn, REEMBED_TARGET_KEY, identity)
}

fn read_identity(conn: &Connection, key: &str) -> Result<Option<EmbedderIdentity>, StoreError> {
    let json: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
            row.get(0)
        })
        .optional()?;
    json.map(|json| {
        serde_json::from_str(&json).map_err(|e| {
            StoreError::Sqlite(format!("the recorded {key} is unreadable ({e}): {json}"))
        })
    })
    .transpose()
}

fn write_identity(
    conn: &Connection,
    key: &str,
    identity: &EmbedderIdentity,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(identity)
        .map_err(|e| StoreError::Sqlite(format!("cannot record the {key}: {e}")))?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, json.as_str()],
    )?;
    Ok(())
}
