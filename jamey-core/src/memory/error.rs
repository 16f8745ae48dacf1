//! `StoreError`: everything that can go wrong storing or finding memories.

use crate::db::{DbError, SqliteError};
use crate::embedding::EmbedError;
use jamey_protocol::MemoryId;

/// A memory-store failure, classified so the caller can pick a status and decide to retry.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A field of a memory is not acceptable; `index` is the item's position in a batch.
    #[error("{}{field}: {reason}", index.map(|i| format!("item {i}: ")).unwrap_or_default())]
    Invalid {
        field: &'static str,
        reason: String,
        index: Option<usize>,
    },
    /// No memory has this id.
    #[error("memory {0} not found")]
    NotFound(MemoryId),
    /// A pagination cursor that this store did not issue, or that was altered.
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
    /// A vector whose length is not the store's dimension.
    #[error("vector has {got} dimensions, the store holds {expected}")]
    Dimension { expected: usize, got: usize },
    /// A vector holding NaN or infinity.
    #[error("vector value at position {position} is not a finite number")]
    NonFiniteVector { position: usize },
    /// The stored vectors come from another embedding model than the configured one.
    #[error(
        "this memory store was embedded with {stored}, but the configured embedder is {configured}. \
         Vectors from different models cannot be compared: run `jamey memory reembed` (with the runtime \
         stopped) to embed every memory again with {configured}, or configure {stored} again"
    )]
    EmbedderMismatch { stored: String, configured: String },
    /// Embedding the text failed.
    #[error(transparent)]
    Embedding(#[from] EmbedError),
    /// The PostgreSQL server failed or could not be reached; classified by SQLSTATE.
    #[error("database error: {0}")]
    Postgres(#[from] DbError),
    /// The embedded SQLite store failed.
    #[error("embedded store error: {0}")]
    Sqlite(String),
    /// Applying the schema migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The embedded store's files could not be read or written.
    #[error("store I/O error: {0}")]
    Io(String),
}

impl StoreError {
    /// True for failures of the caller's input (the 4xx family), including a row the database's
    /// unique or check constraints refused.
    pub fn is_client_error(&self) -> bool {
        if let Self::Postgres(e) = self {
            return e.is_client_error();
        }
        matches!(
            self,
            Self::Invalid { .. }
                | Self::NotFound(_)
                | Self::InvalidCursor(_)
                | Self::Dimension { .. }
                | Self::NonFiniteVector { .. }
        ) || matches!(self, Self::Embedding(EmbedError::Input(_)))
    }

    /// True when the same operation may succeed later (a dependency was down or busy).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Postgres(e) => e.is_retryable(),
            Self::Embedding(e) => e.is_retryable(),
            _ => false,
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
            index: None,
        }
    }

    /// The same error, placed at `index` of a batch. The vector errors have no place for an
    /// index, so they become `Invalid` errors of the `embedding` field; other errors are not about
    /// one item and stay as they are.
    pub(crate) fn at_index(self, at: usize) -> Self {
        let (field, reason) = match self {
            Self::Invalid { field, reason, .. } => (field, reason),
            Self::Dimension { expected, got } => (
                "embedding",
                format!("has {got} dimensions, the store holds {expected}"),
            ),
            Self::NonFiniteVector { position } => (
                "embedding",
                format!("value at position {position} is not a finite number"),
            ),
            other => return other,
        };
        Self::Invalid {
            field,
            reason,
            index: Some(at),
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Postgres(error.into())
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        Self::Postgres(error.into())
    }
}

impl From<SqliteError> for StoreError {
    fn from(error: SqliteError) -> Self {
        match error {
            e @ (SqliteError::TooNew { .. } | SqliteError::Migration { .. }) => {
                Self::Migration(e.to_string())
            }
            e => Self::Sqlite(e.to_string()),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sqlite(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_index_names_the_item_of_a_batch() {
        let placed = StoreError::Dimension {
            expected: 8,
            got: 3,
        }
        .at_index(2);
        assert!(
            matches!(
                &placed,
                StoreError::Invalid {
                    field: "embedding",
                    index: Some(2),
                    ..
                }
            ),
            "{placed:?}"
        );
        assert_eq!(
            placed.to_string(),
            "item 2: embedding: has 3 dimensions, the store holds 8"
        );
        let placed = StoreError::NonFiniteVector { position: 5 }.at_index(0);
        assert_eq!(
            placed.to_string(),
            "item 0: embedding: value at position 5 is not a finite number"
        );
        assert!(placed.is_client_error());
        let placed = StoreError::invalid("content", "is empty").at_index(4);
        assert_eq!(placed.to_string(), "item 4: content: is empty");
        let other = StoreError::Sqlite("disk full".into()).at_index(1);
        assert!(matches!(other, StoreError::Sqlite(_)), "{other:?}");
    }
}
