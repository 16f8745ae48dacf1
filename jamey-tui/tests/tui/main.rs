//! `jamey-tui`'s integration tests, one binary: the end-to-end run in a pseudo-terminal and the
//! crate's dependency boundary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod boundaries;
mod pty;
