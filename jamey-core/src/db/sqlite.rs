//! The embedded stores' SQLite files: where each lives in the store directory, the connection
//! settings that make every acknowledged write durable, and the schema each gets from
//! `migrations/sqlite/`, versioned by `PRAGMA user_version`.

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long a statement waits for a lock held by another connection before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One of the SQLite files in the embedded store's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteFile {
    /// `memories.sqlite3`: memories, their keyword index and the embedder record.
    Memories,
    /// `conversations.sqlite3`: sessions, messages, checkpoints and the cost ledger.
    Conversations,
    /// `tools.sqlite3`: tool-call approvals and the audit trail of every call.
    Tools,
}

impl SqliteFile {
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Memories => "memories.sqlite3",
            Self::Conversations => "conversations.sqlite3",
            Self::Tools => "tools.sqlite3",
        }
    }

    /// The file's path inside the store directory `dir`.
    pub fn path(self, dir: &Path) -> PathBuf {
        dir.join(self.file_name())
    }

    /// Migration `i` moves the schema from `PRAGMA user_version` `i` to `i + 1`. Never edit a
    /// released file: add a new one.
    fn migrations(self) -> &'static [&'static str] {
        match self {
            Self::Memories => &[include_str!("../../../migrations/sqlite/memories-1.sql")],
            Self::Conversations => &[include_str!(
                "../../../migrations/sqlite/conversations-1.sql"
            )],
            Self::Tools => &[include_str!("../../../migrations/sqlite/tools-1.sql")],
        }
    }

    fn store(self) -> &'static str {
        match self {
            Self::Memories => "embedded memory store",
            Self::Conversations => "embedded conversation store",
            Self::Tools => "embedded tool store",
        }
    }
}

/// Opening or migrating an SQLite file failed.
#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    /// The store directory could not be created.
    #[error("cannot create {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file could not be opened or created.
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// The file system does not support write-ahead logging.
    #[error("{path}: cannot use write-ahead logging (journal mode is {mode})")]
    NoWal { path: PathBuf, mode: String },
    /// The file was written by a newer Jamey.
    #[error(
        "the {store} has schema version {found}, but this build of Jamey knows only up to {known}: \
         use a newer Jamey"
    )]
    TooNew {
        store: &'static str,
        found: i64,
        known: usize,
    },
    /// A migration failed; the file keeps the version before it.
    #[error("the {store}, to schema version {version}: {source}")]
    Migration {
        store: &'static str,
        version: usize,
        source: rusqlite::Error,
    },
    /// Any other SQLite failure while setting up the connection.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The blocking task running a statement panicked or was cancelled.
    #[error("the task running an SQLite statement failed: {0}")]
    Task(String),
}

/// The writer connection of one SQLite file, shared by the stores that live in it (clones share
/// it). Work runs on tokio's blocking threads, one call at a time, so each call is atomic with
/// respect to every other store on the same file.
#[derive(Clone)]
pub struct SharedConnection {
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for SharedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedConnection")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SharedConnection {
    /// Opens (creating `dir` and the file if needed) the writer of `file` in `dir`, its schema
    /// up to date (see [`open_writer`]).
    pub fn open(dir: &Path, file: SqliteFile) -> Result<Self, SqliteError> {
        std::fs::create_dir_all(dir).map_err(|source| SqliteError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let connection = open_writer(dir, file)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            path: file.path(dir),
        })
    }

    /// The file this connection writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the connection on a blocking thread.
    pub(crate) async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<SqliteError> + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || work(&mut connection.lock()))
            .await
            .map_err(|e| E::from(SqliteError::Task(e.to_string())))?
    }
}

/// Opens (creating if needed) the connection that performs every write to `file` in `dir`, and
/// brings its schema up to date.
pub fn open_writer(dir: &Path, file: SqliteFile) -> Result<Connection, SqliteError> {
    let path = file.path(dir);
    let mut conn = Connection::open(&path).map_err(|source| SqliteError::Open {
        path: path.clone(),
        source,
    })?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(SqliteError::NoWal { path, mode });
    }
    // FULL syncs the WAL on every commit: a write is on disk before it is acknowledged.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&mut conn, file)?;
    Ok(conn)
}

/// Opens a connection for queries on `file` in `dir`; WAL lets it read while the writer commits.
pub fn open_reader(dir: &Path, file: SqliteFile) -> Result<Connection, SqliteError> {
    let path = file.path(dir);
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(&path, flags).map_err(|source| SqliteError::Open {
        path: path.clone(),
        source,
    })?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // The last connection to close checkpoints the WAL, so readers sync as fully as the writer.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// Applies the migrations the file has not seen, one transaction each.
fn migrate(conn: &mut Connection, file: SqliteFile) -> Result<(), SqliteError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let migrations = file.migrations();
    let current = usize::try_from(found).unwrap_or(usize::MAX);
    if current > migrations.len() {
        return Err(SqliteError::TooNew {
            store: file.store(),
            found,
            known: migrations.len(),
        });
    }
    for (done, sql) in migrations.iter().enumerate().skip(current) {
        let version = done + 1;
        let failed = |source| SqliteError::Migration {
            store: file.store(),
            version,
            source,
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed)?;
        tx.execute_batch(sql).map_err(failed)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(failed)?;
        tx.commit().map_err(failed)?;
        tracing::info!(store = file.store(), version, "migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema as the code created it before it moved to `migrations/sqlite/`.
    const PREVIOUS_CONVERSATIONS: &str = "CREATE TABLE chat_sessions (id TEXT PRIMARY KEY, title TEXT, \
        message_count INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL); \
        CREATE INDEX chat_sessions_active ON chat_sessions (updated_at DESC, id DESC); \
        INSERT INTO chat_sessions (id, created_at, updated_at) VALUES ('kept', 1, 2);";

    #[test]
    fn a_file_without_a_version_adopts_the_schema_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = SqliteFile::Conversations.path(dir.path());
        Connection::open(&path)
            .unwrap()
            .execute_batch(PREVIOUS_CONVERSATIONS)
            .unwrap();
        let conn = open_writer(dir.path(), SqliteFile::Conversations).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 1);
        let kept: String = conn
            .query_row("SELECT id FROM chat_sessions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, "kept");
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'chat_%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 3, "the missing tables were created");
    }

    #[test]
    fn a_newer_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(open_writer(dir.path(), SqliteFile::Memories).unwrap());
        Connection::open(SqliteFile::Memories.path(dir.path()))
            .unwrap()
            .pragma_update(None, "user_version", 7)
            .unwrap();
        let err = open_writer(dir.path(), SqliteFile::Memories).unwrap_err();
        assert!(matches!(err, SqliteError::TooNew { found: 7, .. }), "{err}");
    }
}
