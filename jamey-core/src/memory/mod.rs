//! Long-term memory: the `MemoryStore` trait, its two backends, and `Memories`, which embeds text
//! before it reaches a store.

mod cursor;
mod embedded;
mod error;
pub mod fusion;
pub mod keyword;
mod postgres;
pub mod reembed;
mod service;
mod validate;

pub use crate::db::redact_url;
pub use cursor::Cursor;
pub use embedded::{EmbeddedMemoryStore, EmbeddedStoreConfig};
pub use error::StoreError;
pub use postgres::{HnswParams, PgMemoryStore, PgStoreConfig};
pub use reembed::{ReembedProgress, ReembedReport};
pub use service::{Memories, DEFAULT_SEARCH_LIMIT, MAX_PAGE_LIMIT, MAX_SEARCH_LIMIT};
pub use validate::MemoryLimits;

use async_trait::async_trait;
use jamey_protocol::{Memory, MemoryFilter, MemoryId, MemoryPage, SearchMode};

/// A validated memory with its embedding, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryRecord {
    pub content: String,
    pub kind: String,
    pub tags: Vec<String>,
    pub metadata: serde_json::Value,
    pub session_id: Option<String>,
    pub importance: f32,
    pub embedding: Vec<f32>,
}

impl MemoryRecord {
    /// The memory as stored under `id` at `at` (created and updated at once).
    pub(crate) fn into_memory(self, id: MemoryId, at: chrono::DateTime<chrono::Utc>) -> Memory {
        Memory {
            id,
            content: self.content,
            kind: self.kind,
            tags: self.tags,
            metadata: self.metadata,
            session_id: self.session_id,
            importance: self.importance,
            created_at: at,
            updated_at: at,
        }
    }
}

/// A validated change to a stored memory. `embedding` is set exactly when `content` is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryUpdate {
    pub content: Option<String>,
    pub kind: Option<String>,
    pub tags: Option<Vec<String>>,
    pub metadata: Option<serde_json::Value>,
    pub importance: Option<f32>,
    pub embedding: Option<Vec<f32>>,
}

/// Which page of the newest-first listing to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRequest {
    /// The page after `after` (the first page when `None`).
    Keyset { limit: u32, after: Option<Cursor> },
    /// `limit` memories after skipping `offset`.
    Offset { limit: u32, offset: u64 },
}

/// A search as the store runs it: the query text (for keywords) and its embedding (for vectors).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreSearch {
    pub text: String,
    pub embedding: Vec<f32>,
    pub mode: SearchMode,
    pub filter: MemoryFilter,
    pub limit: u32,
    /// Weight of keyword evidence in hybrid search; `None` uses the store's configured weight.
    pub keyword_weight: Option<f32>,
}

/// A store hit with its score (higher is better).
pub type ScoredMemory = jamey_protocol::ScoredMemory;

/// Persistent storage of memories with vector and keyword search. Implementations validate
/// nothing about content (that is `Memories`' job) but check vector dimensions and cursors.
#[async_trait]
pub trait MemoryStore: Send + Sync + std::fmt::Debug {
    /// A short name for logs and `/ready`: `postgres` or `embedded`.
    fn backend(&self) -> &'static str;

    async fn insert(&self, record: MemoryRecord) -> Result<Memory, StoreError>;

    /// Stores all records or none; the stored memories come back in the order of `records`.
    async fn insert_batch(&self, records: Vec<MemoryRecord>) -> Result<Vec<Memory>, StoreError>;

    async fn get(&self, id: MemoryId) -> Result<Option<Memory>, StoreError>;

    /// Applies `update`; `StoreError::NotFound` when no memory has that id.
    async fn update(&self, id: MemoryId, update: MemoryUpdate) -> Result<Memory, StoreError>;

    /// True when a memory was deleted.
    async fn delete(&self, id: MemoryId) -> Result<bool, StoreError>;

    async fn count(&self) -> Result<u64, StoreError>;

    /// Newest first.
    async fn list(&self, page: PageRequest) -> Result<MemoryPage, StoreError>;

    /// Best first, at most `search.limit` results.
    async fn search(&self, search: &StoreSearch) -> Result<Vec<ScoredMemory>, StoreError>;

    /// Answers when the store is reachable.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Checks a vector's dimension and values before it reaches a store.
pub(crate) fn check_vector(vector: &[f32], dimensions: usize) -> Result<(), StoreError> {
    if vector.len() != dimensions {
        return Err(StoreError::Dimension {
            expected: dimensions,
            got: vector.len(),
        });
    }
    if let Some(position) = vector.iter().position(|v| !v.is_finite()) {
        return Err(StoreError::NonFiniteVector { position });
    }
    Ok(())
}
