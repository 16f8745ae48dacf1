#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

//! Integration tests of jamey-core, one binary: stores against real PostgreSQL (a fresh database
//! per test), the embedded store on temporary directories, and the cache against real Redis (a
//! unique key prefix per test, or a private server a test may kill); the approval and audit
//! stores on both backends.

mod cache_coherence;
mod cache_failure;
mod cache_tiers;
mod conversations;
mod memories_service;
mod redis_support;
mod reembed;
mod store_behaviour;
mod store_postgres;
mod support;
mod tool_calls;
