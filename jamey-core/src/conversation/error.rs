//! `ConversationError`: what can go wrong storing sessions, messages and the ledger.

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
    /// The PostgreSQL server failed or could not be reached.
    #[error("database error: {0}")]
    Postgres(String),
    /// The embedded SQLite file failed.
    #[error("embedded conversation store error: {0}")]
    Sqlite(String),
    /// A stored row could not be read back (a role or JSON the code does not know).
    #[error("stored conversation data is unreadable: {0}")]
    Corrupt(String),
}

impl ConversationError {
    /// True for failures of the caller's input (the 4xx family).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Self::Invalid { .. } | Self::SessionNotFound(_) | Self::InvalidCursor(_)
        )
    }
}

impl From<tokio_postgres::Error> for ConversationError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Postgres(error.to_string())
    }
}

impl From<deadpool_postgres::PoolError> for ConversationError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        Self::Postgres(error.to_string())
    }
}

impl From<rusqlite::Error> for ConversationError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sqlite(error.to_string())
    }
}
