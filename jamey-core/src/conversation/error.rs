//! `ConversationError`: what can go wrong storing sessions, messages and the ledger.

use crate::db::{DbError, SqliteError};

/// A conversation-store failure.
#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    /// A field the caller gave is not acceptable.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// No session has this id.
    #[error("session {0} not found")]
    SessionNotFound(String),
    /// A pagination cursor that this store did not issue, or that was altered.
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
    /// The PostgreSQL server failed or could not be reached; classified by SQLSTATE.
    #[error("database error: {0}")]
    Postgres(#[from] DbError),
    /// The embedded SQLite file failed.
    #[error("embedded conversation store error: {0}")]
    Sqlite(String),
    /// A stored row could not be read back (a role or JSON the code does not know).
    #[error("stored conversation data is unreadable: {0}")]
    Corrupt(String),
    /// A column of a stored row is missing or does not hold what the code expects.
    #[error("stored conversation data is unreadable: column {column}: {reason}")]
    UnreadableColumn {
        column: &'static str,
        reason: String,
    },
}

impl ConversationError {
    /// True for failures of the caller's input (the 4xx family), including a row the database's
    /// unique or check constraints refused.
    pub fn is_client_error(&self) -> bool {
        match self {
            Self::Postgres(e) => e.is_client_error(),
            other => matches!(
                other,
                Self::Invalid { .. } | Self::SessionNotFound(_) | Self::InvalidCursor(_)
            ),
        }
    }

    /// True when the same operation may succeed later (the database was down or lost a race).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Postgres(e) if e.is_retryable())
    }
}

impl From<tokio_postgres::Error> for ConversationError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Postgres(error.into())
    }
}

impl From<deadpool_postgres::PoolError> for ConversationError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        Self::Postgres(error.into())
    }
}

impl From<SqliteError> for ConversationError {
    fn from(error: SqliteError) -> Self {
        Self::Sqlite(error.to_string())
    }
}

impl From<rusqlite::Error> for ConversationError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sqlite(error.to_string())
    }
}
