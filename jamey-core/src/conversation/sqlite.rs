//! Conversations in an SQLite file beside the embedded memory store (WAL, synchronous=FULL, so
//! an acknowledged message survives a killed process). Calls run on tokio's blocking threads.

use super::cursor;
use super::{
    check_page_limit, check_session_id, parse_role, parse_status, role_name, Checkpoint,
    ConversationError, ConversationStore, NewMessage, UsageRecord, UsageTotals,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jamey_protocol::{MessagePage, SessionMessage, SessionPage, SessionSummary};
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The database file inside the embedded store's directory.
pub(super) const CONVERSATIONS_FILE: &str = "conversations.sqlite3";

/// Migration `i` moves `PRAGMA user_version` from `i` to `i + 1`; append, never edit.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE chat_sessions (
    id TEXT PRIMARY KEY,
    title TEXT,
    message_count INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX chat_sessions_active ON chat_sessions (updated_at DESC, id DESC);
CREATE TABLE chat_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    tool_calls TEXT NOT NULL DEFAULT '[]',
    tool_result TEXT,
    status TEXT NOT NULL,
    model TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX chat_messages_session ON chat_messages (session_id, id);
CREATE TABLE chat_checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    up_to_message INTEGER NOT NULL,
    summary TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX chat_checkpoints_session ON chat_checkpoints (session_id, up_to_message DESC);
CREATE TABLE llm_usage (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT,
    model TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX llm_usage_session ON llm_usage (session_id, created_at);
CREATE INDEX llm_usage_created ON llm_usage (created_at);
"#];

/// Sessions, messages, checkpoints and the ledger in one SQLite file.
#[derive(Clone)]
pub struct SqliteConversationStore {
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteConversationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteConversationStore")
            .field("path", &self.path)
            .finish()
    }
}

const SESSION_COLUMNS: &str = "id, title, message_count, created_at, updated_at";
const MESSAGE_COLUMNS: &str =
    "id, session_id, role, content, tool_calls, tool_result, status, model, created_at";

impl SqliteConversationStore {
    /// Opens (creating) `dir/conversations.sqlite3` and brings its schema up to date.
    pub fn open(dir: &Path) -> Result<Self, ConversationError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| ConversationError::Sqlite(format!("{}: {e}", dir.display())))?;
        let path = dir.join(CONVERSATIONS_FILE);
        let mut connection = Connection::open(&path)?;
        connection.busy_timeout(Duration::from_secs(5))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = connection.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let start = usize::try_from(version).unwrap_or(usize::MAX);
        if start > MIGRATIONS.len() {
            return Err(ConversationError::Sqlite(format!(
                "{} has schema version {version}, newer than this program knows ({})",
                path.display(),
                MIGRATIONS.len()
            )));
        }
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(start) {
            let tx = connection.transaction()?;
            tx.execute_batch(migration)?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tx.commit()?;
        }
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            path,
        })
    }

    async fn with<T, F>(&self, work: F) -> Result<T, ConversationError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ConversationError> + Send + 'static,
    {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || work(&mut connection.lock()))
            .await
            .map_err(|e| ConversationError::Sqlite(format!("conversation task failed: {e}")))?
    }
}

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

fn session_from(row: &Row<'_>) -> rusqlite::Result<SessionSummary> {
    Ok(SessionSummary {
        id: row.get(0)?,
        title: row.get(1)?,
        message_count: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
        created_at: time(row.get(3)?),
        updated_at: time(row.get(4)?),
    })
}

type RawMessage = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    i64,
);

fn raw_message(row: &Row<'_>) -> rusqlite::Result<RawMessage> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

fn message_from(raw: RawMessage) -> Result<SessionMessage, ConversationError> {
    let (id, session_id, role, content, tool_calls, tool_result, status, model, created_at) = raw;
    Ok(SessionMessage {
        id,
        session_id,
        role: parse_role(&role)?,
        content,
        tool_calls: serde_json::from_str(&tool_calls)
            .map_err(|e| ConversationError::Corrupt(format!("tool_calls: {e}")))?,
        tool_result: tool_result
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| ConversationError::Corrupt(format!("tool_result: {e}")))?,
        status: parse_status(&status)?,
        model,
        created_at: time(created_at),
    })
}

fn read_session(
    connection: &Connection,
    id: &str,
) -> Result<Option<SessionSummary>, ConversationError> {
    Ok(connection
        .query_row(
            &format!("SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE id = ?1"),
            params![id],
            session_from,
        )
        .optional()?)
}

#[async_trait]
impl ConversationStore for SqliteConversationStore {
    async fn open_session(
        &self,
        id: &str,
        title: Option<&str>,
    ) -> Result<SessionSummary, ConversationError> {
        check_session_id(id)?;
        let id = id.to_string();
        let title = title.map(str::to_string);
        self.with(move |c| {
            let at = micros(Utc::now());
            c.execute(
                "INSERT INTO chat_sessions (id, title, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) \
                 ON CONFLICT (id) DO NOTHING",
                params![id, title, at],
            )?;
            read_session(c, &id)?.ok_or(ConversationError::SessionNotFound(id))
        })
        .await
    }

    async fn session(&self, id: &str) -> Result<Option<SessionSummary>, ConversationError> {
        let id = id.to_string();
        self.with(move |c| read_session(c, &id)).await
    }

    async fn list_sessions(
        &self,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<SessionPage, ConversationError> {
        check_page_limit(limit)?;
        let after = cursor.map(cursor::decode_session).transpose()?;
        self.with(move |c| {
            let fetch = i64::from(limit) + 1;
            let mut items = match after {
                Some((at, id)) => {
                    let mut statement = c.prepare(&format!(
                        "SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE (updated_at, id) < (?1, ?2) \
                         ORDER BY updated_at DESC, id DESC LIMIT ?3"
                    ))?;
                    let rows = statement.query_map(params![at, id, fetch], session_from)?;
                    rows.collect::<Result<Vec<_>, _>>()?
                }
                None => {
                    let mut statement = c.prepare(&format!(
                        "SELECT {SESSION_COLUMNS} FROM chat_sessions ORDER BY updated_at DESC, id DESC LIMIT ?1"
                    ))?;
                    let rows = statement.query_map(params![fetch], session_from)?;
                    rows.collect::<Result<Vec<_>, _>>()?
                }
            };
            let next_cursor = if items.len() > limit as usize {
                items.truncate(limit as usize);
                items
                    .last()
                    .map(|s| cursor::encode_session(s.updated_at.timestamp_micros(), &s.id))
            } else {
                None
            };
            Ok(SessionPage { items, next_cursor })
        })
        .await
    }

    async fn append(
        &self,
        session_id: &str,
        message: NewMessage,
    ) -> Result<SessionMessage, ConversationError> {
        let session_id = session_id.to_string();
        let tool_calls = serde_json::to_string(&message.tool_calls)
            .map_err(|e| ConversationError::Corrupt(e.to_string()))?;
        let tool_result = message
            .tool_result
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| ConversationError::Corrupt(e.to_string()))?;
        self.with(move |c| {
            let tx = c.transaction()?;
            let at = micros(Utc::now());
            let touched = tx.execute(
                "UPDATE chat_sessions SET message_count = message_count + 1, updated_at = ?2 WHERE id = ?1",
                params![session_id, at],
            )?;
            if touched == 0 {
                return Err(ConversationError::SessionNotFound(session_id));
            }
            let raw = tx.query_row(
                &format!(
                    "INSERT INTO chat_messages (session_id, role, content, tool_calls, tool_result, status, model, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING {MESSAGE_COLUMNS}"
                ),
                params![
                    session_id,
                    role_name(message.role),
                    message.content,
                    tool_calls,
                    tool_result,
                    message.status.as_str(),
                    message.model,
                    at
                ],
                raw_message,
            )?;
            tx.commit()?;
            message_from(raw)
        })
        .await
    }

    async fn messages(
        &self,
        session_id: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<MessagePage, ConversationError> {
        check_page_limit(limit)?;
        let after = cursor.map(cursor::decode_message).transpose()?.unwrap_or(0);
        let session_id = session_id.to_string();
        self.with(move |c| {
            if read_session(c, &session_id)?.is_none() {
                return Err(ConversationError::SessionNotFound(session_id));
            }
            let mut statement = c.prepare(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
            ))?;
            let raws = statement
                .query_map(params![session_id, after, i64::from(limit) + 1], raw_message)?
                .collect::<Result<Vec<_>, _>>()?;
            let mut items = raws
                .into_iter()
                .map(message_from)
                .collect::<Result<Vec<_>, _>>()?;
            let next_cursor = if items.len() > limit as usize {
                items.truncate(limit as usize);
                items.last().map(|m| cursor::encode_message(m.id))
            } else {
                None
            };
            Ok(MessagePage { items, next_cursor })
        })
        .await
    }

    async fn recent_messages(
        &self,
        session_id: &str,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<SessionMessage>, ConversationError> {
        let session_id = session_id.to_string();
        self.with(move |c| {
            let mut statement = c.prepare(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = ?1 AND id > ?2 ORDER BY id DESC LIMIT ?3"
            ))?;
            let raws = statement
                .query_map(
                    params![session_id, after.unwrap_or(0), i64::from(limit)],
                    raw_message,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            let mut items = raws
                .into_iter()
                .map(message_from)
                .collect::<Result<Vec<_>, _>>()?;
            items.reverse();
            Ok(items)
        })
        .await
    }

    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), ConversationError> {
        let checkpoint = checkpoint.clone();
        self.with(move |c| {
            c.execute(
                "INSERT INTO chat_checkpoints (session_id, up_to_message, summary, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![
                    checkpoint.session_id,
                    checkpoint.up_to_message,
                    checkpoint.summary,
                    micros(checkpoint.created_at)
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn latest_checkpoint(
        &self,
        session_id: &str,
    ) -> Result<Option<Checkpoint>, ConversationError> {
        let session_id = session_id.to_string();
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT session_id, up_to_message, summary, created_at FROM chat_checkpoints \
                 WHERE session_id = ?1 ORDER BY up_to_message DESC, id DESC LIMIT 1",
                params![session_id],
                |row| {
                    Ok(Checkpoint {
                        session_id: row.get(0)?,
                        up_to_message: row.get(1)?,
                        summary: row.get(2)?,
                        created_at: time(row.get(3)?),
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    async fn record_usage(&self, usage: &UsageRecord) -> Result<(), ConversationError> {
        let usage = usage.clone();
        self.with(move |c| {
            c.execute(
                "INSERT INTO llm_usage (session_id, model, prompt_tokens, completion_tokens, cost_usd, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    usage.session_id,
                    usage.model,
                    i64::try_from(usage.prompt_tokens).unwrap_or(i64::MAX),
                    i64::try_from(usage.completion_tokens).unwrap_or(i64::MAX),
                    usage.cost_usd,
                    micros(Utc::now())
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn usage_totals(
        &self,
        session_id: Option<&str>,
        since: DateTime<Utc>,
    ) -> Result<UsageTotals, ConversationError> {
        let session_id = session_id.map(str::to_string);
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT count(*), coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0), \
                 coalesce(sum(cost_usd), 0.0) FROM llm_usage \
                 WHERE created_at >= ?1 AND (?2 IS NULL OR session_id = ?2)",
                params![micros(since), session_id],
                |row| {
                    Ok(UsageTotals {
                        requests: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
                        prompt_tokens: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                        completion_tokens: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                        cost_usd: row.get(3)?,
                    })
                },
            )?)
        })
        .await
    }
}
