#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

//! Integration tests of jamey-core, one binary: stores against real PostgreSQL (a fresh database
//! per test) and the embedded store on temporary directories.

mod conversations;
mod memories_service;
mod store_behaviour;
mod store_postgres;
mod support;
