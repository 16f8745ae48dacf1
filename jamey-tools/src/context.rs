//! `CallContext`: what every tool call carries besides its arguments: who asked, for which
//! session or job, through which door, the tools the caller may use, until when, and the signal
//! that stops it.

use crate::Caller;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How a call reached the registry. It decides what counts as an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallOrigin {
    /// The model asked during a chat turn.
    Turn,
    /// A client asked directly (`POST /v1/tools/{name}/invoke`, the host routes). The owner's
    /// direct request is its own approval; anyone else's `ask` call waits for one.
    Direct,
    /// A scheduled job's turn.
    Job,
    /// A client of Jamey's MCP server: never approved by the credentials it travels on.
    Mcp,
}

/// The tools a caller may use, whatever their permission says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolScope {
    /// Every tool (the owner's certificate).
    All,
    /// The tools whose permission is `allow`: a token or tool certificate created without a
    /// list of tools.
    AllowedOnly,
    /// Exactly these (`jamey token create NAME --tools a,b`).
    Only(Arc<BTreeSet<String>>),
}

impl ToolScope {
    /// Whether the scope reaches `tool`, whose effective permission is `permission`.
    pub fn includes(&self, tool: &str, permission: jamey_protocol::Permission) -> bool {
        match self {
            Self::All => true,
            Self::AllowedOnly => permission == jamey_protocol::Permission::Allow,
            Self::Only(tools) => tools.contains(tool),
        }
    }
}

/// Everything a call carries besides its arguments.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The audit row's id; the runner gives every call a fresh one.
    pub call_id: uuid::Uuid,
    pub caller: Caller,
    pub scope: ToolScope,
    pub origin: CallOrigin,
    pub session: Option<String>,
    pub job: Option<String>,
    /// The call (not the wait for an approval) must finish by then.
    pub deadline: Instant,
    /// Cancelled when whoever asked is gone: a tool stops its work (kills its child process,
    /// drops its request) when this fires.
    pub cancel: CancellationToken,
    /// Where approval events go (a streaming chat), if anywhere.
    pub events: Option<Arc<dyn crate::CallEvents>>,
}

impl CallContext {
    /// A context for `caller`, with a new call id, ending after `timeout`.
    pub fn new(caller: Caller, origin: CallOrigin, timeout: std::time::Duration) -> Self {
        let scope = if caller.is_owner() {
            ToolScope::All
        } else {
            ToolScope::AllowedOnly
        };
        Self {
            call_id: uuid::Uuid::now_v7(),
            caller,
            scope,
            origin,
            session: None,
            job: None,
            deadline: Instant::now() + timeout,
            cancel: CancellationToken::new(),
            events: None,
        }
    }

    /// Whether the caller's own request approves an `ask` call: the owner asking directly.
    pub fn request_is_approval(&self) -> bool {
        self.origin == CallOrigin::Direct && self.caller.is_owner()
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> std::time::Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}
