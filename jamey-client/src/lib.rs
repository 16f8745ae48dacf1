//! The thin client of a running `jamey-runtime`, shared by the `jamey` CLI and the TUI: it finds
//! the runtime from the same settings the runtime reads (`JAMEY_HOME`, `config.toml`,
//! `JAMEY_LISTEN`, or an explicit URL), presents the owner's client certificate, trusts only the
//! home's CA, and turns every failure into a `ClientError` whose message says what to do. It
//! also holds what both chat frontends share: the fold of a turn's events (`Turn`), the
//! slash-command grammar (`slash`) and how a tool call waiting for the user is asked about
//! (`approval`).
//!
//! It depends on `jamey-protocol` for the wire types and never on the runtime.

pub mod approval;
mod chat;
mod client;
mod endpoint;
mod error;
pub mod slash;
mod status;
mod turn;

pub use chat::ChatStream;
pub use client::{JameyClient, ListRequest, PageRequest, ToolCallQuery};
pub use endpoint::{platform_home, Endpoint, EndpointSettings, TlsFiles, DEFAULT_LISTEN};
pub use error::ClientError;
pub use status::{DependencyState, Health, Readiness};
pub use turn::{ToolActivity, ToolState, Turn, TurnOutcome, TurnUpdate};
