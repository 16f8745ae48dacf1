//! `jamey-tui`'s integration tests, one binary: the end-to-end run in a pseudo-terminal (the
//! crate's dependency boundary is checked with the others in `jamey-bench/tests/architecture.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pty;
