//! Jamey's core: long-term memory (the `MemoryStore` trait with its PostgreSQL + pgvector and
//! embedded SQLite backends), the hybrid cache in front of it (in process + Redis), text
//! embeddings, and the search that ranks memories.
//!
//! This crate does no HTTP serving and reads no environment variables: callers pass typed configs.

pub mod cache;
pub mod conversation;
pub mod credentials;
pub mod db;
pub mod embedding;
pub mod home;
pub mod memory;
pub mod pki;
pub mod secrets;

pub use embedding::{EmbedError, Embedder, EmbedderIdentity};
pub use memory::{Memories, MemoryStore, StoreError};
