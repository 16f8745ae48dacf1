//! Tools the twin acts through. `Tool` (typed arguments, schema from schemars) and `DynamicTool`
//! (name and schema known at run time, such as an MCP server's) sit behind one `ToolRegistry`
//! with a permission per tool; `ToolRunner` is the one path every call takes: scope, arguments,
//! permission, an approval for `ask` calls (`approvals`), the run under a deadline and a
//! cancellation signal (`CallContext`), and the audit row with secrets masked (`mask`).
//! Built-in tools: the memory tools and the host tools (`host`: system information, processes,
//! killing one under the host rules, the configuration), the GitHub connector (`github`) and
//! the web tools `http_fetch`, `http_request` and `web_read`, whose every URL passes the
//! network guard in `net`.

pub mod approvals;
mod audit_trail;
mod caller;
mod context;
mod error;
pub mod github;
pub mod host;
pub mod mask;
mod memory;
pub mod net;
mod registry;
mod runner;
#[cfg(test)]
mod test_tools;
mod web;

pub use approvals::{ApprovalGate, StoreApprovalGate};
pub use audit_trail::AuditTrail;
pub use caller::Caller;
pub use context::{CallContext, CallOrigin, ToolScope};
pub use error::ToolError;
pub use host::HostError;
pub use jamey_protocol::Permission;
pub use memory::{MemorySave, MemorySearch};
pub use registry::{is_valid_tool_name, ToolLimits, ToolRegistry};
pub use runner::{CallObserver, CallResult, ToolRunner};
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

/// Every built-in tool name (SPEC: stable; models, configs and scripts use them). A name in
/// `[tools.permissions]` must be one of these or an `mcp__<server>__<tool>` name.
pub const BUILTIN_TOOL_NAMES: &[&str] = &[
    "memory_search",
    "memory_save",
    "system_info",
    "process_list",
    "process_kill",
    "config_get",
    "http_fetch",
    "http_request",
    "web_read",
    "github_list_repos",
    "github_get_file",
    "github_search_code",
    "github_list_issues",
    "github_get_issue",
    "github_create_issue",
    "github_comment_issue",
    "github_close_issue",
    "github_list_pulls",
    "github_get_pull",
    "workspace_list",
    "workspace_read",
    "workspace_search",
    "workspace_apply_change",
    "workspace_undo",
];
