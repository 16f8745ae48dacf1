//! Integration tests: the production `OpenAiCompatClient` against `ScriptedServer`, which
//! replays OpenRouter's wire format on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod complete;
mod faults;
mod policy;
mod streaming;
