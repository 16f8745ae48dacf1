//! Tools the twin can use while answering: the `Tool` trait, a `ToolRegistry` that validates
//! arguments against each tool's JSON Schema (generated with schemars), applies a permission
//! policy per tool, and runs calls concurrently with a timeout and an output limit each.
//! Built-in tools: `memory_search` and `memory_save`; the web tools `http_fetch`, `http_request`
//! and `web_read`, whose every URL passes the network guard in `net`. `host` holds the host
//! operations (system information, processes and killing them under the host rules) that the
//! runtime's host routes call. `Caller` says who asked.

mod caller;
mod context;
mod error;
pub mod host;
mod memory;
pub mod net;
mod registry;
mod web;

pub use caller::Caller;
pub use context::{CallContext, CallOrigin, ToolScope};
pub use error::ToolError;
pub use host::HostError;
pub use jamey_protocol::Permission;
pub use memory::{MemorySave, MemorySearch};
pub use registry::{ToolCallOutcome, ToolLimits, ToolRegistry};
pub use web::{
    FetchMethod, HttpFetch, HttpFetchArgs, HttpRequest, HttpRequestArgs, WebRead, WebReadArgs,
};

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

/// A tool with typed arguments. Its JSON Schema comes from `Args`, and the registry hands it
/// arguments that already parsed into `Args`.
#[async_trait]
pub trait Tool: Send + Sync + std::fmt::Debug + 'static {
    /// Arguments, deserialized strictly (unknown fields are errors the model sees).
    type Args: DeserializeOwned + JsonSchema + Send;

    /// The name the model calls it by: `^[a-zA-Z0-9_-]{1,64}$`.
    fn name(&self) -> &'static str;

    /// What it does, for the model.
    fn description(&self) -> &'static str;

    /// The permission unless `[tools.permissions]` says otherwise: `ask` unless the tool only
    /// reads, so a tool that changes the world is never run unasked by default.
    fn default_permission(&self) -> Permission {
        Permission::Ask
    }

    /// Runs the tool; the text returned goes back to the model. Long work watches
    /// `context.cancel` and stops when it fires.
    async fn call(&self, args: Self::Args, context: &CallContext) -> Result<String, ToolError>;
}

/// A tool whose name and schema are known only at run time (an MCP server's tools).
#[async_trait]
pub trait DynamicTool: Send + Sync + std::fmt::Debug + 'static {
    fn name(&self) -> &str;
    fn description(&self) -> &str;
    /// The JSON Schema arguments are validated against before `call` runs.
    fn parameters(&self) -> &serde_json::Value;
    /// `mcp:<server>`.
    fn source(&self) -> String;
    fn default_permission(&self) -> Permission {
        Permission::Ask
    }
    async fn call(
        &self,
        arguments: serde_json::Value,
        context: &CallContext,
    ) -> Result<String, ToolError>;
}

/// Where a call's approval events go while a client watches (a streaming chat).
#[async_trait]
pub trait CallEvents: Send + Sync + std::fmt::Debug {
    /// A call waits for a decision.
    async fn approval_required(&self, approval: &jamey_protocol::Approval);
    /// The decision came (or the approval expired).
    async fn approval_resolved(&self, resolved: &jamey_protocol::ApprovalResolved);
}
