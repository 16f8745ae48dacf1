//! `ToolError`: why a tool call did not produce its output. The text is shown to the model,
//! so it says what was wrong and how to call the tool correctly.

/// A failed tool call. It fails that call only, never the turn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    #[error("unknown tool `{0}`")]
    UnknownTool(String),
    #[error("invalid arguments for `{tool}`: {reason}")]
    InvalidArguments { tool: String, reason: String },
    #[error("tool `{0}` is denied by the permission policy")]
    Denied(String),
    #[error("tool `{0}` needs the user's approval, which this turn cannot ask for; ask the user to allow it in the configuration")]
    NeedsApproval(String),
    #[error("tool `{tool}` did not finish within {seconds} s")]
    Timeout { tool: String, seconds: u64 },
    #[error("{0}")]
    Failed(String),
}
