//! The embedded store's SQLite file: connection settings that make every acknowledged write
//! durable, the schema migrations, and the record of which embedder the vectors came from.

use crate::embedding::EmbedderIdentity;
use crate::memory::StoreError;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// The database file inside the store's directory.
pub(super) const DATABASE_FILE: &str = "memories.sqlite3";

/// How long a statement waits for a lock held by another connection before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The `meta` key under which the embedder identity is kept, as JSON.
const EMBEDDER_KEY: &str = "embedder";

/// Migration `i` moves the schema from `PRAGMA user_version` `i` to `i + 1`. Never edit a
/// released entry: append a new one.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE memories (
    -- Declared, so VACUUM never renumbers rows that the FTS and vector indexes refer to;
    -- AUTOINCREMENT, so a deleted row's number is never reused and a search that raced a
    -- delete cannot attach one memory's score to another.
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    id BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
    content TEXT NOT NULL,
    kind TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    session_id TEXT,
    importance REAL NOT NULL,
    embedding BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX memories_newest ON memories (created_at DESC, id DESC);
CREATE INDEX memories_kind ON memories (kind);
CREATE INDEX memories_session ON memories (session_id);

CREATE VIRTUAL TABLE memories_fts USING fts5(
    content,
    content = 'memories',
    content_rowid = 'rowid',
    tokenize = 'porter unicode61'
);
CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
END;
CREATE TRIGGER memories_fts_update AFTER UPDATE OF content ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
    INSERT INTO memories_fts (rowid, content) VALUES (new.rowid, new.content);
END;

-- The tags again, one row each, so that a tag filter is an index lookup rather than a JSON
-- parse of every row.
CREATE TABLE memory_tags (
    tag TEXT NOT NULL,
    memory INTEGER NOT NULL,
    PRIMARY KEY (tag, memory)
) WITHOUT ROWID;
CREATE INDEX memory_tags_by_memory ON memory_tags (memory);
CREATE TRIGGER memory_tags_insert AFTER INSERT ON memories BEGIN
    INSERT OR IGNORE INTO memory_tags (tag, memory) SELECT value, new.rowid FROM json_each(new.tags);
END;
CREATE TRIGGER memory_tags_delete AFTER DELETE ON memories BEGIN
    DELETE FROM memory_tags WHERE memory = old.rowid;
END;
CREATE TRIGGER memory_tags_update AFTER UPDATE OF tags ON memories WHEN old.tags IS NOT new.tags BEGIN
    DELETE FROM memory_tags WHERE memory = old.rowid;
    INSERT OR IGNORE INTO memory_tags (tag, memory) SELECT value, new.rowid FROM json_each(new.tags);
END;

CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;
"#];

/// Opens (creating if needed) the connection that performs every write.
pub(super) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| open_error(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Sqlite(format!(
            "{}: cannot use write-ahead logging (journal mode is {mode})",
            path.display()
        )));
    }
    // FULL syncs the WAL on every commit: a write is on disk before it is acknowledged.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// Opens a connection for queries; WAL lets it read while the writer commits.
pub(super) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // The last connection to close checkpoints the WAL, so readers sync as fully as the writer.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// Brings the schema up to date, one transaction per migration.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = MIGRATIONS.len();
    let current = usize::try_from(current).unwrap_or(usize::MAX);
    if current > known {
        return Err(StoreError::Migration(format!(
            "the embedded store has schema version {current}, but this build of Jamey knows only up to {known}: \
             use a newer Jamey"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let failed = |e: rusqlite::Error| {
            StoreError::Migration(format!("to schema version {}: {e}", version + 1))
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed)?;
        tx.execute_batch(sql).map_err(failed)?;
        tx.pragma_update(None, "user_version", version + 1)
            .map_err(failed)?;
        tx.commit().map_err(failed)?;
        tracing::info!(version = version + 1, "migrated the embedded memory store");
    }
    Ok(())
}

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

fn open_error(path: &Path, error: rusqlite::Error) -> StoreError {
    StoreError::Sqlite(format!("cannot open {}: {error}", path.display()))
}
