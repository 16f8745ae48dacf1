//! Jamey's core: long-term memory (the `MemoryStore` trait with its PostgreSQL + pgvector and
//! embedded SQLite backends), the hybrid cache in front of it (in process + Redis), text
//! embeddings, and the search that ranks memories; and the local state every process shares:
//! the home, PKI, credentials and secrets. Beside them, the stores behind tool calls: approvals
//! waiting for the user's decision and the audit trail of every call.
//!
//! The stores and the cache are behind the `store` feature (on by default); without it this is
//! the light set-up library the CLI links, with no database, Redis or model code.
//!
//! This crate does no HTTP serving and reads no environment variables: callers pass typed configs.

#[cfg(feature = "store")]
pub mod approvals;
#[cfg(feature = "store")]
pub mod audit;
#[cfg(feature = "store")]
pub mod cache;
#[cfg(feature = "store")]
pub mod conversation;
pub mod credentials;
#[cfg(feature = "store")]
pub mod db;
pub mod embedding;
pub mod home;
#[cfg(feature = "store")]
pub mod memory;
pub mod pki;
pub mod secrets;

pub use embedding::{EmbedError, Embedder, EmbedderIdentity};
#[cfg(feature = "store")]
pub use memory::{Memories, MemoryStore, StoreError};
