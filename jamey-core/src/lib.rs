//! Jamey's core: long-term memory (the `MemoryStore` trait with its PostgreSQL + pgvector and
//! embedded SQLite backends), text embeddings, and the search that ranks memories.
//!
//! This crate does no HTTP serving and reads no environment variables: callers pass typed configs.

pub mod embedding;
pub mod memory;

pub use embedding::{EmbedError, Embedder, EmbedderIdentity};
pub use memory::{Memories, MemoryStore, StoreError};
