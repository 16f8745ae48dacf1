#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

//! Runtime tests, one binary: the router driven with `oneshot` on both stores, and real TLS
//! listeners on 127.0.0.1 for authentication, hot reload and graceful shutdown; and the check
//! that the runtime's modules import each other in no loop.

mod cache;
mod chat;
mod host;
mod modules;
mod provider_errors;
mod routes;
mod store_errors;
mod support;
mod tools;
mod transport;
