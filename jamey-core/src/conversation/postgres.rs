//! Conversations in PostgreSQL, on the shared database (the schema comes with its migrations:
//! `migrations/V2__conversations.sql`).

use super::rows::{
    self, Column, StoredMessage, StoredRow, CHECKPOINT_COLUMNS, MESSAGE_COLUMNS, SESSION_COLUMNS,
};
use super::{
    check_session_id, Checkpoint, ConversationError, ConversationStore, NewMessage, UsageRecord,
    UsageTotals,
};
use crate::db::PgDatabase;
use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use jamey_protocol::{MessagePage, SessionMessage, SessionPage, SessionSummary};
use tokio_postgres::types::FromSql;
use tokio_postgres::Row;

/// Sessions, messages, checkpoints and the ledger in PostgreSQL.
#[derive(Clone)]
pub struct PgConversationStore {
    db: PgDatabase,
}

impl std::fmt::Debug for PgConversationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConversationStore")
            .finish_non_exhaustive()
    }
}

impl PgConversationStore {
    /// The store on the shared database, whose connect applied the schema.
    pub fn new(db: PgDatabase) -> Self {
        Self { db }
    }
}

impl<T: for<'a> FromSql<'a>> Column<T> for Row {
    fn column(&self, name: &'static str) -> Result<T, ConversationError> {
        self.try_get(name).map_err(|e| rows::unreadable(name, e))
    }
}

impl StoredRow for Row {
    fn time(&self, name: &'static str) -> Result<DateTime<Utc>, ConversationError> {
        self.column(name)
    }

    fn json(&self, name: &'static str) -> Result<serde_json::Value, ConversationError> {
        self.column(name)
    }

    fn optional_json(
        &self,
        name: &'static str,
    ) -> Result<Option<serde_json::Value>, ConversationError> {
        self.column(name)
    }
}

fn all<T>(
    rows: &[Row],
    decode: impl Fn(&Row) -> Result<T, ConversationError>,
) -> Result<Vec<T>, ConversationError> {
    rows.iter().map(decode).collect()
}

/// Microsecond precision, as PostgreSQL stores it, so cursors compare equal.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[async_trait]
impl ConversationStore for PgConversationStore {
    async fn open_session(
        &self,
        id: &str,
        title: Option<&str>,
    ) -> Result<SessionSummary, ConversationError> {
        check_session_id(id)?;
        let client = self.db.client().await?;
        let at = now();
        client
            .execute(
                "INSERT INTO chat_sessions (id, title, created_at, updated_at) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (id) DO NOTHING",
                &[&id, &title, &at],
            )
            .await?;
        let row = client
            .query_one(
                &format!("SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE id = $1"),
                &[&id],
            )
            .await?;
        rows::session_from(&row)
    }

    async fn session(&self, id: &str) -> Result<Option<SessionSummary>, ConversationError> {
        let client = self.db.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE id = $1"),
                &[&id],
            )
            .await?;
        row.as_ref().map(rows::session_from).transpose()
    }

    async fn list_sessions(
        &self,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<SessionPage, ConversationError> {
        let before = rows::session_page_start(limit, cursor)?;
        let client = self.db.client().await?;
        let order = "ORDER BY updated_at DESC, id DESC";
        let found = match before {
            Some((at, id)) => {
                let sql = format!(
                    "SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE (updated_at, id) < ($1, $2) {order} LIMIT $3"
                );
                client
                    .query(&sql, &[&at, &id, &rows::fetch_for(limit)])
                    .await?
            }
            None => {
                let sql = format!("SELECT {SESSION_COLUMNS} FROM chat_sessions {order} LIMIT $1");
                client.query(&sql, &[&rows::fetch_for(limit)]).await?
            }
        };
        let (items, next_cursor) = rows::cut_page(
            all(&found, rows::session_from)?,
            limit,
            rows::session_cursor,
        );
        Ok(SessionPage { items, next_cursor })
    }

    async fn append(
        &self,
        session_id: &str,
        message: NewMessage,
    ) -> Result<SessionMessage, ConversationError> {
        let stored = StoredMessage::new(&message)?;
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let at = now();
        let touched = tx
            .execute(
                "UPDATE chat_sessions SET message_count = message_count + 1, updated_at = $2 WHERE id = $1",
                &[&session_id, &at],
            )
            .await?;
        if touched == 0 {
            return Err(ConversationError::SessionNotFound(session_id.to_string()));
        }
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO chat_messages (session_id, role, content, tool_calls, tool_result, status, model, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {MESSAGE_COLUMNS}"
                ),
                &[
                    &session_id,
                    &stored.role,
                    &message.content,
                    &stored.tool_calls,
                    &stored.tool_result,
                    &stored.status,
                    &message.model,
                    &at,
                ],
            )
            .await?;
        tx.commit().await?;
        rows::message_from(&row)
    }

    async fn messages(
        &self,
        session_id: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<MessagePage, ConversationError> {
        let after = rows::message_page_start(limit, cursor)?;
        let client = self.db.client().await?;
        if client
            .query_opt("SELECT 1 FROM chat_sessions WHERE id = $1", &[&session_id])
            .await?
            .is_none()
        {
            return Err(ConversationError::SessionNotFound(session_id.to_string()));
        }
        let found = client
            .query(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = $1 AND id > $2 \
                     ORDER BY id LIMIT $3"
                ),
                &[&session_id, &after, &rows::fetch_for(limit)],
            )
            .await?;
        let (items, next_cursor) = rows::cut_page(
            all(&found, rows::message_from)?,
            limit,
            rows::message_cursor,
        );
        Ok(MessagePage { items, next_cursor })
    }

    async fn recent_messages(
        &self,
        session_id: &str,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<SessionMessage>, ConversationError> {
        let client = self.db.client().await?;
        let found = client
            .query(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = $1 AND id > $2 \
                     ORDER BY id DESC LIMIT $3"
                ),
                &[&session_id, &after.unwrap_or(0), &i64::from(limit)],
            )
            .await?;
        let mut items = all(&found, rows::message_from)?;
        items.reverse();
        Ok(items)
    }

    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), ConversationError> {
        let client = self.db.client().await?;
        client
            .execute(
                &format!(
                    "INSERT INTO chat_checkpoints ({CHECKPOINT_COLUMNS}) VALUES ($1, $2, $3, $4)"
                ),
                &[
                    &checkpoint.session_id,
                    &checkpoint.up_to_message,
                    &checkpoint.summary,
                    &checkpoint.created_at,
                ],
            )
            .await?;
        Ok(())
    }

    async fn latest_checkpoint(
        &self,
        session_id: &str,
    ) -> Result<Option<Checkpoint>, ConversationError> {
        let client = self.db.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "SELECT {CHECKPOINT_COLUMNS} FROM chat_checkpoints \
                     WHERE session_id = $1 ORDER BY up_to_message DESC, id DESC LIMIT 1"
                ),
                &[&session_id],
            )
            .await?;
        row.as_ref().map(rows::checkpoint_from).transpose()
    }

    async fn record_usage(&self, usage: &UsageRecord) -> Result<(), ConversationError> {
        let client = self.db.client().await?;
        client
            .execute(
                "INSERT INTO llm_usage (session_id, model, prompt_tokens, completion_tokens, cost_usd, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &usage.session_id,
                    &usage.model,
                    &rows::tokens(usage.prompt_tokens),
                    &rows::tokens(usage.completion_tokens),
                    &usage.cost_usd,
                    &now(),
                ],
            )
            .await?;
        Ok(())
    }

    async fn usage_totals(
        &self,
        session_id: Option<&str>,
        since: DateTime<Utc>,
    ) -> Result<UsageTotals, ConversationError> {
        let client = self.db.client().await?;
        let row = client
            .query_one(
                "SELECT count(*) AS requests, coalesce(sum(prompt_tokens), 0)::bigint AS prompt_tokens, \
                 coalesce(sum(completion_tokens), 0)::bigint AS completion_tokens, \
                 coalesce(sum(cost_usd), 0)::double precision AS cost_usd FROM llm_usage \
                 WHERE created_at >= $1 AND ($2::text IS NULL OR session_id = $2)",
                &[&since, &session_id],
            )
            .await?;
        rows::totals_from(&row)
    }
}
