//! `ApprovalError`: what can go wrong storing and deciding approvals.

use super::ApprovalState;
use crate::db::rows::Unreadable;
use crate::db::{DbError, SqliteError};
use uuid::Uuid;

/// An approval-store failure.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// No approval has this id.
    #[error("approval {0} not found")]
    NotFound(Uuid),
    /// The approval was decided already, or expired: a decision counts only once.
    #[error("approval {id} is already {state}")]
    AlreadyDecided { id: Uuid, state: ApprovalState },
    /// The PostgreSQL server failed or could not be reached; classified by SQLSTATE.
    #[error("database error: {0}")]
    Db(#[from] DbError),
    /// The embedded SQLite file failed.
    #[error("embedded approval store error: {0}")]
    Sqlite(String),
    /// A column of a stored row is missing or does not hold what the code expects.
    #[error("stored approval is unreadable: column {column}: {reason}")]
    UnreadableColumn {
        column: &'static str,
        reason: String,
    },
}

impl ApprovalError {
    /// True when the same operation may succeed later (the database was down or lost a race).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Db(e) if e.is_retryable())
    }

    /// True for failures of the caller's request (the 4xx family): an unknown id, a second
    /// decision, or a row the database's constraints refused (an id used twice).
    pub fn is_client_error(&self) -> bool {
        match self {
            Self::Db(e) => e.is_client_error(),
            other => matches!(other, Self::NotFound(_) | Self::AlreadyDecided { .. }),
        }
    }
}

impl From<tokio_postgres::Error> for ApprovalError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Db(error.into())
    }
}

impl From<deadpool_postgres::PoolError> for ApprovalError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        Self::Db(error.into())
    }
}

impl From<SqliteError> for ApprovalError {
    fn from(error: SqliteError) -> Self {
        Self::Sqlite(error.to_string())
    }
}

impl From<rusqlite::Error> for ApprovalError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sqlite(error.to_string())
    }
}

impl From<Unreadable> for ApprovalError {
    fn from(error: Unreadable) -> Self {
        Self::UnreadableColumn {
            column: error.column,
            reason: error.reason,
        }
    }
}
