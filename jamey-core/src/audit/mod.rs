//! The audit trail: one row per tool call (allowed, approved, denied or refused), read back
//! newest first in keyset pages with filters. One `ToolCallLog` trait, a PostgreSQL backend on
//! the shared database and an embedded one in `tools.sqlite3`.

mod error;
mod postgres;
mod rows;
mod sqlite;

pub use error::AuditError;
pub use jamey_protocol::{CallDecision, ToolCallEntry, ToolCallPage};
pub use postgres::PgToolCallLog;
pub use sqlite::SqliteToolCallLog;

use async_trait::async_trait;

/// Rows a page holds unless the caller asks otherwise.
pub const DEFAULT_TOOL_CALL_PAGE: u32 = 50;
/// Most rows one page may hold.
pub const MAX_TOOL_CALL_PAGE: u32 = 500;

/// A request for a page of the audit trail. Filters combine with AND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCallQuery {
    /// 1 to [`MAX_TOOL_CALL_PAGE`].
    pub limit: u32,
    /// Where the previous page ended (its `next_cursor`); `None` for the newest calls.
    pub cursor: Option<String>,
    pub tool: Option<String>,
    pub session_id: Option<String>,
    pub decision: Option<CallDecision>,
}

impl Default for ToolCallQuery {
    fn default() -> Self {
        Self {
            limit: DEFAULT_TOOL_CALL_PAGE,
            cursor: None,
            tool: None,
            session_id: None,
            decision: None,
        }
    }
}

/// Where tool calls are recorded. Times are kept to the microsecond; arguments are stored as
/// given (the caller masks secrets first).
#[async_trait]
pub trait ToolCallLog: Send + Sync + std::fmt::Debug {
    async fn record(&self, entry: &ToolCallEntry) -> Result<(), AuditError>;

    /// Newest first (`at` descending, then `id` descending), in keyset pages continued by an
    /// opaque cursor; filters combine with AND.
    async fn page(&self, query: &ToolCallQuery) -> Result<ToolCallPage, AuditError>;
}
