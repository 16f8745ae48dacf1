//! `ToolError`: why a tool call did not produce its output. The text is shown to the model,
//! so it says what was wrong and how to call the tool correctly.

/// A failed tool call. It fails that call only, never the turn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    /// No tool has this name.
    #[error("unknown tool `{0}`")]
    UnknownTool(String),
    /// A second tool under a name already registered.
    #[error("a tool named `{0}` is already registered")]
    DuplicateName(String),
    /// The arguments do not fit the tool's schema; `field` names the one at fault when known.
    #[error("invalid arguments for `{tool}`: {reason}")]
    InvalidArguments {
        tool: String,
        field: Option<String>,
        reason: String,
    },
    /// The permission policy says `deny`.
    #[error("tool `{0}` is denied by the permission policy")]
    Denied(String),
    /// The user denied the call, or nobody decided in time.
    #[error("the user did not approve this call of `{tool}` ({reason}); do not retry it unless the user asks")]
    NotApproved { tool: String, reason: String },
    /// The caller's token or certificate was not created for this tool.
    #[error("`{tool}` is outside the tools {caller} may use")]
    OutOfScope { tool: String, caller: String },
    /// A rule stopped the call: the network guard, a repository or path scope. The text names
    /// what was refused and the rule that refused it.
    #[error("refused: {0}")]
    Refused(String),
    /// The call did not finish before its deadline.
    #[error("tool `{tool}` did not finish within {seconds} s")]
    Timeout { tool: String, seconds: u64 },
    /// Whoever asked is gone; the work was stopped.
    #[error("the call of `{0}` was cancelled")]
    Cancelled(String),
    /// A host operation did not happen (the host rules, or the operating system).
    #[error("{0}")]
    Host(#[from] crate::HostError),
    /// The tool ran and failed; the text says why.
    #[error("{0}")]
    Failed(String),
}

impl ToolError {
    /// Invalid arguments without a known field.
    pub fn invalid(tool: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArguments {
            tool: tool.into(),
            field: None,
            reason: reason.into(),
        }
    }

    /// What the audit trail records for a call that ended with this error before or while
    /// running: `denied` for a permission or a decision, `refused` for a rule.
    pub fn decision(&self) -> Option<jamey_protocol::CallDecision> {
        use jamey_protocol::CallDecision;
        match self {
            Self::Denied(_) | Self::NotApproved { .. } => Some(CallDecision::Denied),
            Self::UnknownTool(_)
            | Self::DuplicateName(_)
            | Self::InvalidArguments { .. }
            | Self::OutOfScope { .. }
            | Self::Refused(_) => Some(CallDecision::Refused),
            Self::Host(host) if host.is_rule() => Some(CallDecision::Refused),
            Self::Host(_) | Self::Timeout { .. } | Self::Cancelled(_) | Self::Failed(_) => None,
        }
    }
}
