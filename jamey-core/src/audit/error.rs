//! `AuditError`: what can go wrong recording tool calls and reading them back.

use crate::db::rows::Unreadable;
use crate::db::{DbError, SqliteError};

/// An audit-trail failure.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A pagination cursor that this store did not issue, or that was altered.
    #[error("invalid cursor: not a cursor this server issued")]
    InvalidCursor,
    /// A page size outside 1 to `MAX_TOOL_CALL_PAGE`.
    #[error("limit must be from 1 to {max}, got {0}", max = super::MAX_TOOL_CALL_PAGE)]
    InvalidLimit(u32),
    /// The PostgreSQL server failed or could not be reached; classified by SQLSTATE.
    #[error("database error: {0}")]
    Db(#[from] DbError),
    /// The embedded SQLite file failed.
    #[error("embedded audit trail error: {0}")]
    Sqlite(String),
    /// A column of a stored row is missing or does not hold what the code expects.
    #[error("stored tool call is unreadable: column {column}: {reason}")]
    UnreadableColumn {
        column: &'static str,
        reason: String,
    },
}

impl AuditError {
    /// True when the same operation may succeed later (the database was down or lost a race).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Db(e) if e.is_retryable())
    }

    /// True for failures of the caller's request (the 4xx family): a bad cursor or limit, or a
    /// row the database's constraints refused (an id used twice).
    pub fn is_client_error(&self) -> bool {
        match self {
            Self::Db(e) => e.is_client_error(),
            other => matches!(other, Self::InvalidCursor | Self::InvalidLimit(_)),
        }
    }
}

impl From<tokio_postgres::Error> for AuditError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Db(error.into())
    }
}

impl From<deadpool_postgres::PoolError> for AuditError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        Self::Db(error.into())
    }
}

impl From<SqliteError> for AuditError {
    fn from(error: SqliteError) -> Self {
        Self::Sqlite(error.to_string())
    }
}

impl From<rusqlite::Error> for AuditError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sqlite(error.to_string())
    }
}

impl From<Unreadable> for AuditError {
    fn from(error: Unreadable) -> Self {
        Self::UnreadableColumn {
            column: error.column,
            reason: error.reason,
        }
    }
}
