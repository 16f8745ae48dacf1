//! Conversations in an SQLite file beside the embedded memory store (WAL, synchronous=FULL, so
//! an acknowledged message survives a killed process; the file and its schema come from
//! `crate::db::sqlite`). Calls run on tokio's blocking threads.

use super::rows::{
    self, Column, StoredMessage, StoredRow, CHECKPOINT_COLUMNS, MESSAGE_COLUMNS, SESSION_COLUMNS,
};
use super::{
    check_session_id, Checkpoint, ConversationError, ConversationStore, NewMessage, UsageRecord,
    UsageTotals,
};
use crate::db::sqlite::{self, SqliteFile};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jamey_protocol::{MessagePage, SessionMessage, SessionPage, SessionSummary};
use parking_lot::Mutex;
use rusqlite::types::FromSql;
use rusqlite::{params, Connection, Params, Row};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

impl SqliteConversationStore {
    /// Opens (creating) `dir/conversations.sqlite3` and brings its schema up to date.
    pub fn open(dir: &Path) -> Result<Self, ConversationError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| ConversationError::Sqlite(format!("{}: {e}", dir.display())))?;
        let connection = sqlite::open_writer(dir, SqliteFile::Conversations)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            path: SqliteFile::Conversations.path(dir),
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

/// Times are stored as microseconds since the epoch.
fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

impl<T: FromSql> Column<T> for Row<'_> {
    fn column(&self, name: &'static str) -> Result<T, ConversationError> {
        self.get(name).map_err(|e| rows::unreadable(name, e))
    }
}

/// JSON is stored as text.
fn parse_json(name: &'static str, text: &str) -> Result<serde_json::Value, ConversationError> {
    serde_json::from_str(text).map_err(|e| rows::unreadable(name, e))
}

impl StoredRow for Row<'_> {
    fn time(&self, name: &'static str) -> Result<DateTime<Utc>, ConversationError> {
        let stored: i64 = self.column(name)?;
        DateTime::from_timestamp_micros(stored)
            .ok_or_else(|| rows::unreadable(name, format!("time {stored} is out of range")))
    }

    fn json(&self, name: &'static str) -> Result<serde_json::Value, ConversationError> {
        let text: String = self.column(name)?;
        parse_json(name, &text)
    }

    fn optional_json(
        &self,
        name: &'static str,
    ) -> Result<Option<serde_json::Value>, ConversationError> {
        let text: Option<String> = self.column(name)?;
        text.map(|text| parse_json(name, &text)).transpose()
    }
}

/// Every row `sql` returns for `params`, decoded.
fn all<T>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
    decode: impl Fn(&Row<'_>) -> Result<T, ConversationError>,
) -> Result<Vec<T>, ConversationError> {
    let mut statement = connection.prepare(sql)?;
    let mut found = statement.query(params)?;
    let mut items = Vec::new();
    while let Some(row) = found.next()? {
        items.push(decode(row)?);
    }
    Ok(items)
}

/// The first row `sql` returns for `params`, decoded, if there is one.
fn first<T>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
    decode: impl Fn(&Row<'_>) -> Result<T, ConversationError>,
) -> Result<Option<T>, ConversationError> {
    let mut statement = connection.prepare(sql)?;
    let mut found = statement.query(params)?;
    found.next()?.map(decode).transpose()
}

fn read_session(
    connection: &Connection,
    id: &str,
) -> Result<Option<SessionSummary>, ConversationError> {
    first(
        connection,
        &format!("SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE id = ?1"),
        params![id],
        |row| rows::session_from(row),
    )
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
        let before = rows::session_page_start(limit, cursor)?;
        self.with(move |c| {
            let order = "ORDER BY updated_at DESC, id DESC";
            let found = match before {
                Some((at, id)) => all(
                    c,
                    &format!(
                        "SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE (updated_at, id) < (?1, ?2) {order} LIMIT ?3"
                    ),
                    params![micros(at), id, rows::fetch_for(limit)],
                    |row| rows::session_from(row),
                )?,
                None => all(
                    c,
                    &format!("SELECT {SESSION_COLUMNS} FROM chat_sessions {order} LIMIT ?1"),
                    params![rows::fetch_for(limit)],
                    |row| rows::session_from(row),
                )?,
            };
            let (items, next_cursor) = rows::cut_page(found, limit, rows::session_cursor);
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
        self.with(move |c| {
            let stored = StoredMessage::new(&message)?;
            let tx = c.transaction()?;
            let at = micros(Utc::now());
            let touched = tx.execute(
                "UPDATE chat_sessions SET message_count = message_count + 1, updated_at = ?2 WHERE id = ?1",
                params![session_id, at],
            )?;
            if touched == 0 {
                return Err(ConversationError::SessionNotFound(session_id));
            }
            let inserted = first(
                &tx,
                &format!(
                    "INSERT INTO chat_messages (session_id, role, content, tool_calls, tool_result, status, model, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING {MESSAGE_COLUMNS}"
                ),
                params![
                    session_id,
                    stored.role,
                    message.content,
                    stored.tool_calls.to_string(),
                    stored.tool_result.as_ref().map(ToString::to_string),
                    stored.status,
                    message.model,
                    at
                ],
                |row| rows::message_from(row),
            )?
            .ok_or_else(|| ConversationError::Sqlite("the insert returned no row".into()))?;
            tx.commit()?;
            Ok(inserted)
        })
        .await
    }

    async fn messages(
        &self,
        session_id: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<MessagePage, ConversationError> {
        let after = rows::message_page_start(limit, cursor)?;
        let session_id = session_id.to_string();
        self.with(move |c| {
            if read_session(c, &session_id)?.is_none() {
                return Err(ConversationError::SessionNotFound(session_id));
            }
            let found = all(
                c,
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
                ),
                params![session_id, after, rows::fetch_for(limit)],
                |row| rows::message_from(row),
            )?;
            let (items, next_cursor) = rows::cut_page(found, limit, rows::message_cursor);
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
            let mut items = all(
                c,
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = ?1 AND id > ?2 ORDER BY id DESC LIMIT ?3"
                ),
                params![session_id, after.unwrap_or(0), i64::from(limit)],
                |row| rows::message_from(row),
            )?;
            items.reverse();
            Ok(items)
        })
        .await
    }

    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), ConversationError> {
        let checkpoint = checkpoint.clone();
        self.with(move |c| {
            c.execute(
                &format!(
                    "INSERT INTO chat_checkpoints ({CHECKPOINT_COLUMNS}) VALUES (?1, ?2, ?3, ?4)"
                ),
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
            first(
                c,
                &format!(
                    "SELECT {CHECKPOINT_COLUMNS} FROM chat_checkpoints \
                     WHERE session_id = ?1 ORDER BY up_to_message DESC, id DESC LIMIT 1"
                ),
                params![session_id],
                |row| rows::checkpoint_from(row),
            )
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
                    rows::tokens(usage.prompt_tokens),
                    rows::tokens(usage.completion_tokens),
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
            first(
                c,
                "SELECT count(*) AS requests, coalesce(sum(prompt_tokens), 0) AS prompt_tokens, \
                 coalesce(sum(completion_tokens), 0) AS completion_tokens, \
                 coalesce(sum(cost_usd), 0.0) AS cost_usd FROM llm_usage \
                 WHERE created_at >= ?1 AND (?2 IS NULL OR session_id = ?2)",
                params![micros(since), session_id],
                |row| rows::totals_from(row),
            )?
            .ok_or_else(|| ConversationError::Sqlite("the ledger sums returned no row".into()))
        })
        .await
    }
}
