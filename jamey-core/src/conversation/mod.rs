//! Conversations: sessions, their messages (append-only, so nothing a user said is ever lost),
//! the checkpoints that summarize what the prompt window dropped, and the cost ledger of every
//! paid model call. One `ConversationStore` trait, two backends beside the memory stores.

mod cursor;
mod error;
mod postgres;
mod rows;
mod sqlite;

pub use error::ConversationError;
pub use postgres::PgConversationStore;
pub use sqlite::SqliteConversationStore;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jamey_protocol::{
    MessagePage, MessageStatus, Role, SessionPage, SessionSummary, ToolCall, ToolResult,
};

/// Longest session id a client may choose.
pub const MAX_SESSION_ID_LEN: usize = 128;
/// Most messages or sessions one page may hold.
pub const MAX_CONVERSATION_PAGE: u32 = 500;

/// A message to append to a session.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub role: Role,
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub tool_result: Option<ToolResult>,
    pub status: MessageStatus,
    pub model: Option<String>,
}

impl NewMessage {
    /// A whole message with text only.
    pub fn text(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_result: None,
            status: MessageStatus::Complete,
            model: None,
        }
    }
}

/// A summary of a session's messages up to and including `up_to_message`, saved before the
/// prompt window drops them.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub session_id: String,
    pub up_to_message: i64,
    pub summary: String,
    pub created_at: DateTime<Utc>,
}

/// One paid model call in the cost ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    pub session_id: Option<String>,
    pub model: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

/// Sums from the cost ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UsageTotals {
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

/// Where conversations live. Messages are only ever appended.
#[async_trait]
pub trait ConversationStore: Send + Sync + std::fmt::Debug {
    /// The session, created (with `title`) when it does not exist yet.
    async fn open_session(
        &self,
        id: &str,
        title: Option<&str>,
    ) -> Result<SessionSummary, ConversationError>;

    async fn session(&self, id: &str) -> Result<Option<SessionSummary>, ConversationError>;

    /// Most recently active first.
    async fn list_sessions(
        &self,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<SessionPage, ConversationError>;

    /// Appends one message; the session must exist.
    async fn append(
        &self,
        session_id: &str,
        message: NewMessage,
    ) -> Result<jamey_protocol::SessionMessage, ConversationError>;

    /// Oldest first, in keyset pages.
    async fn messages(
        &self,
        session_id: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<MessagePage, ConversationError>;

    /// The newest `limit` messages with an id above `after` (the last checkpoint), oldest first.
    async fn recent_messages(
        &self,
        session_id: &str,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<jamey_protocol::SessionMessage>, ConversationError>;

    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), ConversationError>;

    async fn latest_checkpoint(
        &self,
        session_id: &str,
    ) -> Result<Option<Checkpoint>, ConversationError>;

    async fn record_usage(&self, usage: &UsageRecord) -> Result<(), ConversationError>;

    /// Ledger totals since `since`, for one session or (None) for all.
    async fn usage_totals(
        &self,
        session_id: Option<&str>,
        since: DateTime<Utc>,
    ) -> Result<UsageTotals, ConversationError>;
}

/// Session ids are chosen by clients: 1 to 128 of letters, digits and `-_.:`.
pub fn check_session_id(id: &str) -> Result<(), ConversationError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_SESSION_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(ConversationError::Invalid {
            field: "session_id",
            reason: format!(
                "must be 1 to {MAX_SESSION_ID_LEN} letters, digits or `-_.:`, got {:?}",
                id.chars().take(40).collect::<String>()
            ),
        })
    }
}

pub(crate) fn check_page_limit(limit: u32) -> Result<(), ConversationError> {
    if limit == 0 || limit > MAX_CONVERSATION_PAGE {
        return Err(ConversationError::Invalid {
            field: "limit",
            reason: format!("must be from 1 to {MAX_CONVERSATION_PAGE}, got {limit}"),
        });
    }
    Ok(())
}

pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

pub(crate) fn parse_role(name: &str) -> Result<Role, ConversationError> {
    match name {
        "system" => Ok(Role::System),
        "user" => Ok(Role::User),
        "assistant" => Ok(Role::Assistant),
        "tool" => Ok(Role::Tool),
        other => Err(ConversationError::Corrupt(format!(
            "unknown role {other:?}"
        ))),
    }
}

pub(crate) fn parse_status(name: &str) -> Result<MessageStatus, ConversationError> {
    match name {
        "complete" => Ok(MessageStatus::Complete),
        "incomplete" => Ok(MessageStatus::Incomplete),
        other => Err(ConversationError::Corrupt(format!(
            "unknown message status {other:?}"
        ))),
    }
}
