//! What the two conversation backends share: the columns they read, turning a row's columns
//! into sessions, messages, checkpoints and ledger totals, the stored form of a new message,
//! and cutting a keyset page. Each backend only says how to read one column of its row type.

use super::{check_page_limit, cursor, parse_role, parse_status, role_name};
use super::{Checkpoint, ConversationError};
use super::{NewMessage, UsageTotals};
use chrono::{DateTime, Utc};
use jamey_protocol::{SessionMessage, SessionSummary};

pub(super) const SESSION_COLUMNS: &str = "id, title, message_count, created_at, updated_at";
pub(super) const MESSAGE_COLUMNS: &str =
    "id, session_id, role, content, tool_calls, tool_result, status, model, created_at";
pub(super) const CHECKPOINT_COLUMNS: &str = "session_id, up_to_message, summary, created_at";

/// Reads one column of a stored row as a `T`. A column that is missing or holds another type is
/// a [`ConversationError::UnreadableColumn`] naming it, never a panic.
pub(super) trait Column<T> {
    fn column(&self, name: &'static str) -> Result<T, ConversationError>;
}

/// One stored row, read by column name. Text and numbers read the same on both backends; times
/// and JSON are stored differently, so each backend says how to read them.
pub(super) trait StoredRow:
    Column<String> + Column<Option<String>> + Column<i64> + Column<f64>
{
    fn time(&self, column: &'static str) -> Result<DateTime<Utc>, ConversationError>;
    fn json(&self, column: &'static str) -> Result<serde_json::Value, ConversationError>;
    fn optional_json(
        &self,
        column: &'static str,
    ) -> Result<Option<serde_json::Value>, ConversationError>;
}

/// The error for `column` holding something unreadable.
pub(super) fn unreadable(column: &'static str, reason: impl ToString) -> ConversationError {
    ConversationError::UnreadableColumn {
        column,
        reason: reason.to_string(),
    }
}

/// A text column, for parsing.
fn text(row: &impl StoredRow, column: &'static str) -> Result<String, ConversationError> {
    row.column(column)
}

/// A count column as the unsigned number it is.
fn count(row: &impl StoredRow, column: &'static str) -> Result<u64, ConversationError> {
    let value: i64 = row.column(column)?;
    u64::try_from(value).map_err(|_| unreadable(column, format!("negative count {value}")))
}

/// A row of [`SESSION_COLUMNS`].
pub(super) fn session_from(row: &impl StoredRow) -> Result<SessionSummary, ConversationError> {
    Ok(SessionSummary {
        id: row.column("id")?,
        title: row.column("title")?,
        message_count: count(row, "message_count")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// A row of [`MESSAGE_COLUMNS`].
pub(super) fn message_from(row: &impl StoredRow) -> Result<SessionMessage, ConversationError> {
    Ok(SessionMessage {
        id: row.column("id")?,
        session_id: row.column("session_id")?,
        role: parse_role(&text(row, "role")?)?,
        content: row.column("content")?,
        tool_calls: serde_json::from_value(row.json("tool_calls")?)
            .map_err(|e| unreadable("tool_calls", e))?,
        tool_result: row
            .optional_json("tool_result")?
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| unreadable("tool_result", e))?,
        status: parse_status(&text(row, "status")?)?,
        model: row.column("model")?,
        created_at: row.time("created_at")?,
    })
}

/// A row of [`CHECKPOINT_COLUMNS`].
pub(super) fn checkpoint_from(row: &impl StoredRow) -> Result<Checkpoint, ConversationError> {
    Ok(Checkpoint {
        session_id: row.column("session_id")?,
        up_to_message: row.column("up_to_message")?,
        summary: row.column("summary")?,
        created_at: row.time("created_at")?,
    })
}

/// The ledger sums, in columns named `requests`, `prompt_tokens`, `completion_tokens` and
/// `cost_usd`.
pub(super) fn totals_from(row: &impl StoredRow) -> Result<UsageTotals, ConversationError> {
    Ok(UsageTotals {
        requests: count(row, "requests")?,
        prompt_tokens: count(row, "prompt_tokens")?,
        completion_tokens: count(row, "completion_tokens")?,
        cost_usd: row.column("cost_usd")?,
    })
}

/// The message's fields as stored: role and status by name, tool calls and result as JSON.
pub(super) struct StoredMessage {
    pub(super) role: &'static str,
    pub(super) status: &'static str,
    pub(super) tool_calls: serde_json::Value,
    pub(super) tool_result: Option<serde_json::Value>,
}

impl StoredMessage {
    pub(super) fn new(message: &NewMessage) -> Result<Self, ConversationError> {
        let tool_calls = serde_json::to_value(&message.tool_calls)
            .map_err(|e| ConversationError::Corrupt(format!("tool_calls: {e}")))?;
        let tool_result = message
            .tool_result
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| ConversationError::Corrupt(format!("tool_result: {e}")))?;
        Ok(Self {
            role: role_name(message.role),
            status: message.status.as_str(),
            tool_calls,
            tool_result,
        })
    }
}

/// A token count as the signed integer the databases store.
pub(super) fn tokens(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// How many rows to fetch for a page of `limit`: one more says whether a next page exists.
pub(super) fn fetch_for(limit: u32) -> i64 {
    i64::from(limit) + 1
}

/// The page in `rows` (fetched with [`fetch_for`]) and the cursor that continues after it.
pub(super) fn cut_page<T>(
    mut rows: Vec<T>,
    limit: u32,
    cursor_after: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let limit = limit as usize;
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows.last().map(cursor_after);
    (rows, next)
}

/// The cursor that continues a session list after `session`.
pub(super) fn session_cursor(session: &SessionSummary) -> String {
    cursor::encode_session(session.updated_at.timestamp_micros(), &session.id)
}

/// The cursor that continues a message list after `message`.
pub(super) fn message_cursor(message: &SessionMessage) -> String {
    cursor::encode_message(message.id)
}

/// Checks a request for a page of sessions; where it starts: before this activity time, or at it
/// with a lower id.
pub(super) fn session_page_start(
    limit: u32,
    cursor: Option<&str>,
) -> Result<Option<(DateTime<Utc>, String)>, ConversationError> {
    check_page_limit(limit)?;
    cursor.map(sessions_before).transpose()
}

/// Checks a request for a page of messages; the message id it starts after.
pub(super) fn message_page_start(
    limit: u32,
    cursor: Option<&str>,
) -> Result<i64, ConversationError> {
    check_page_limit(limit)?;
    Ok(cursor.map(cursor::decode_message).transpose()?.unwrap_or(0))
}

fn sessions_before(cursor: &str) -> Result<(DateTime<Utc>, String), ConversationError> {
    let (micros, id) = cursor::decode_session(cursor)?;
    let at = DateTime::from_timestamp_micros(micros).ok_or_else(|| {
        ConversationError::InvalidCursor("not a cursor this server issued".into())
    })?;
    Ok((at, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_with_an_extra_row_has_a_cursor() {
        let (items, next) = cut_page(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!((items, next.as_deref()), (vec![1, 2], Some("2")));
        let (items, next) = cut_page(vec![1, 2], 2, |n| n.to_string());
        assert_eq!((items, next), (vec![1, 2], None));
    }
}
