//! Conversations in PostgreSQL, in the memory store's database and pool (the schema comes with
//! the memory store's migrations: `migrations/V2__conversations.sql`).

use super::cursor;
use super::{
    check_page_limit, check_session_id, parse_role, parse_status, role_name, Checkpoint,
    ConversationError, ConversationStore, NewMessage, UsageRecord, UsageTotals,
};
use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use deadpool_postgres::Pool;
use jamey_protocol::{MessagePage, SessionMessage, SessionPage, SessionSummary};
use tokio_postgres::Row;

/// Sessions, messages, checkpoints and the ledger in PostgreSQL.
#[derive(Clone)]
pub struct PgConversationStore {
    pool: Pool,
}

impl std::fmt::Debug for PgConversationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConversationStore")
            .finish_non_exhaustive()
    }
}

const SESSION_COLUMNS: &str = "id, title, message_count, created_at, updated_at";
const MESSAGE_COLUMNS: &str =
    "id, session_id, role, content, tool_calls, tool_result, status, model, created_at";

impl PgConversationStore {
    /// Uses the pool of a connected `PgMemoryStore`, whose connect applied the schema.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

fn session_from(row: &Row) -> SessionSummary {
    SessionSummary {
        id: row.get(0),
        title: row.get(1),
        message_count: u64::try_from(row.get::<_, i64>(2)).unwrap_or(0),
        created_at: row.get(3),
        updated_at: row.get(4),
    }
}

fn message_from(row: &Row) -> Result<SessionMessage, ConversationError> {
    let tool_calls: serde_json::Value = row.get(4);
    let tool_result: Option<serde_json::Value> = row.get(5);
    Ok(SessionMessage {
        id: row.get(0),
        session_id: row.get(1),
        role: parse_role(row.get(2))?,
        content: row.get(3),
        tool_calls: serde_json::from_value(tool_calls)
            .map_err(|e| ConversationError::Corrupt(format!("tool_calls: {e}")))?,
        tool_result: tool_result
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| ConversationError::Corrupt(format!("tool_result: {e}")))?,
        status: parse_status(row.get(6))?,
        model: row.get(7),
        created_at: row.get(8),
    })
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
        let client = self.pool.get().await?;
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
        Ok(session_from(&row))
    }

    async fn session(&self, id: &str) -> Result<Option<SessionSummary>, ConversationError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                &format!("SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE id = $1"),
                &[&id],
            )
            .await?;
        Ok(row.as_ref().map(session_from))
    }

    async fn list_sessions(
        &self,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<SessionPage, ConversationError> {
        check_page_limit(limit)?;
        let client = self.pool.get().await?;
        let fetch = i64::from(limit) + 1;
        let rows = match cursor {
            Some(cursor) => {
                let (micros, id) = cursor::decode_session(cursor)?;
                let at = DateTime::from_timestamp_micros(micros).ok_or_else(|| {
                    ConversationError::InvalidCursor("not a cursor this server issued".into())
                })?;
                client
                    .query(
                        &format!(
                            "SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE (updated_at, id) < ($1, $2) \
                             ORDER BY updated_at DESC, id DESC LIMIT $3"
                        ),
                        &[&at, &id, &fetch],
                    )
                    .await?
            }
            None => {
                client
                    .query(
                        &format!(
                            "SELECT {SESSION_COLUMNS} FROM chat_sessions ORDER BY updated_at DESC, id DESC LIMIT $1"
                        ),
                        &[&fetch],
                    )
                    .await?
            }
        };
        let mut items: Vec<SessionSummary> = rows.iter().map(session_from).collect();
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items
                .last()
                .map(|s| cursor::encode_session(s.updated_at.timestamp_micros(), &s.id))
        } else {
            None
        };
        Ok(SessionPage { items, next_cursor })
    }

    async fn append(
        &self,
        session_id: &str,
        message: NewMessage,
    ) -> Result<SessionMessage, ConversationError> {
        let mut client = self.pool.get().await?;
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
        let tool_calls = serde_json::to_value(&message.tool_calls)
            .map_err(|e| ConversationError::Corrupt(e.to_string()))?;
        let tool_result = message
            .tool_result
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| ConversationError::Corrupt(e.to_string()))?;
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO chat_messages (session_id, role, content, tool_calls, tool_result, status, model, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {MESSAGE_COLUMNS}"
                ),
                &[
                    &session_id,
                    &role_name(message.role),
                    &message.content,
                    &tool_calls,
                    &tool_result,
                    &message.status.as_str(),
                    &message.model,
                    &at,
                ],
            )
            .await?;
        tx.commit().await?;
        message_from(&row)
    }

    async fn messages(
        &self,
        session_id: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<MessagePage, ConversationError> {
        check_page_limit(limit)?;
        let after = cursor.map(cursor::decode_message).transpose()?.unwrap_or(0);
        let client = self.pool.get().await?;
        if client
            .query_opt("SELECT 1 FROM chat_sessions WHERE id = $1", &[&session_id])
            .await?
            .is_none()
        {
            return Err(ConversationError::SessionNotFound(session_id.to_string()));
        }
        let rows = client
            .query(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = $1 AND id > $2 \
                     ORDER BY id LIMIT $3"
                ),
                &[&session_id, &after, &(i64::from(limit) + 1)],
            )
            .await?;
        let mut items = rows
            .iter()
            .map(message_from)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|m| cursor::encode_message(m.id))
        } else {
            None
        };
        Ok(MessagePage { items, next_cursor })
    }

    async fn recent_messages(
        &self,
        session_id: &str,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<SessionMessage>, ConversationError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = $1 AND id > $2 \
                     ORDER BY id DESC LIMIT $3"
                ),
                &[&session_id, &after.unwrap_or(0), &i64::from(limit)],
            )
            .await?;
        let mut items = rows
            .iter()
            .map(message_from)
            .collect::<Result<Vec<_>, _>>()?;
        items.reverse();
        Ok(items)
    }

    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), ConversationError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO chat_checkpoints (session_id, up_to_message, summary, created_at) VALUES ($1, $2, $3, $4)",
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
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT session_id, up_to_message, summary, created_at FROM chat_checkpoints \
                 WHERE session_id = $1 ORDER BY up_to_message DESC, id DESC LIMIT 1",
                &[&session_id],
            )
            .await?;
        Ok(row.map(|row| Checkpoint {
            session_id: row.get(0),
            up_to_message: row.get(1),
            summary: row.get(2),
            created_at: row.get(3),
        }))
    }

    async fn record_usage(&self, usage: &UsageRecord) -> Result<(), ConversationError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO llm_usage (session_id, model, prompt_tokens, completion_tokens, cost_usd, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &usage.session_id,
                    &usage.model,
                    &i64::try_from(usage.prompt_tokens).unwrap_or(i64::MAX),
                    &i64::try_from(usage.completion_tokens).unwrap_or(i64::MAX),
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
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "SELECT count(*), coalesce(sum(prompt_tokens), 0)::bigint, coalesce(sum(completion_tokens), 0)::bigint, \
                 coalesce(sum(cost_usd), 0)::double precision FROM llm_usage \
                 WHERE created_at >= $1 AND ($2::text IS NULL OR session_id = $2)",
                &[&since, &session_id],
            )
            .await?;
        Ok(UsageTotals {
            requests: u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
            prompt_tokens: u64::try_from(row.get::<_, i64>(1)).unwrap_or(0),
            completion_tokens: u64::try_from(row.get::<_, i64>(2)).unwrap_or(0),
            cost_usd: row.get(3),
        })
    }
}
