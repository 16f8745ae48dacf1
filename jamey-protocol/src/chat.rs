//! Conversation types: messages, tool calls and their results, token usage and sessions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// A tool invocation requested by the model. `arguments` is the JSON text the model produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// The outcome of one tool call, sent back to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolResult {
    pub call_id: String,
    pub content: String,
    #[serde(default)]
    pub is_error: bool,
}

/// One message of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_result: Option<ToolResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
}

/// Tokens counted by the provider for one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// The sum of two usages, for totals across the rounds of a turn.
impl std::ops::Add for TokenUsage {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            prompt_tokens: self.prompt_tokens + other.prompt_tokens,
            completion_tokens: self.completion_tokens + other.completion_tokens,
            total_tokens: self.total_tokens + other.total_tokens,
        }
    }
}

/// A conversation as listed by `GET /v1/sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionSummary {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub message_count: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whether a stored message is whole, or was cut off (client gone, provider failed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    #[default]
    Complete,
    Incomplete,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Incomplete => "incomplete",
        }
    }
}

/// One stored message of a session, oldest first in `GET /v1/sessions/{id}/messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionMessage {
    /// Increases with every message stored; the order of a session's messages.
    pub id: i64,
    pub session_id: String,
    pub role: Role,
    pub content: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_result: Option<ToolResult>,
    pub status: MessageStatus,
    /// The model that wrote an assistant message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// One page of a session's messages, oldest first; `next_cursor` is absent on the last page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessagePage {
    pub items: Vec<SessionMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One page of sessions, most recently active first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionPage {
    pub items: Vec<SessionSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `POST /v1/chat` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    pub message: String,
    /// Continue this session (created on first use); a new one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// A configured model; the default model when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Answer as Server-Sent Events (`ChatEvent`s) instead of one JSON document.
    #[serde(default)]
    pub stream: bool,
}

/// A tool call the twin made while answering, with its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolCallRecord {
    pub id: String,
    pub name: String,
    /// The JSON arguments the model gave.
    pub arguments: String,
    pub output: String,
    pub is_error: bool,
}

/// `POST /v1/chat` answer when not streaming.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatReply {
    pub session_id: String,
    pub reply: String,
    /// The model that answered (a fallback model when the chosen one failed).
    pub model: String,
    pub tool_calls: Vec<ToolCallRecord>,
    pub usage: TokenUsage,
    pub cost_usd: f64,
    /// The memories given to the model as context, best first.
    #[serde(default)]
    pub memories: Vec<uuid::Uuid>,
}

/// One Server-Sent Event of a streamed `POST /v1/chat`; the SSE `event` field is the tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatEvent {
    /// The session the turn belongs to, and the memories given as context; always first.
    Start {
        session_id: String,
        memories: Vec<uuid::Uuid>,
    },
    /// The next piece of the answer.
    Token { delta: String },
    /// The model asked for a tool.
    ToolCall {
        id: String,
        name: String,
        arguments: String,
    },
    /// A tool finished.
    ToolResult {
        id: String,
        name: String,
        output: String,
        is_error: bool,
    },
    /// A tool call waits for the user's decision (`POST /v1/approvals/{id}`).
    ApprovalRequired(crate::tools::Approval),
    /// The decision on an approval the turn waited for: `approve`, `deny` or `expired`.
    ApprovalResolved(crate::tools::ApprovalResolved),
    /// The turn is complete; always last unless an `error` ends it.
    Done {
        session_id: String,
        model: String,
        usage: TokenUsage,
        cost_usd: f64,
    },
    /// The turn failed; what was said so far is stored, marked incomplete. `message` is fixed
    /// per cause (never upstream text); `request_id` is the request the server log has the
    /// details under.
    Error {
        code: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
}

impl ChatEvent {
    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Start { .. } => "start",
            Self::Token { .. } => "token",
            Self::ToolCall { .. } => "tool_call",
            Self::ToolResult { .. } => "tool_result",
            Self::ApprovalRequired(_) => "approval_required",
            Self::ApprovalResolved(_) => "approval_resolved",
            Self::Done { .. } => "done",
            Self::Error { .. } => "error",
        }
    }
}

/// A tool the twin can use, as `GET /v1/tools` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolDescription {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments.
    pub parameters: serde_json::Value,
    /// `allow`, `ask` or `deny`.
    pub permission: String,
    /// `builtin`, or `mcp:<server>` for a tool an MCP server offers.
    #[serde(default = "builtin_source")]
    pub source: String,
}

fn builtin_source() -> String {
    "builtin".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn chat_message_round_trips(content in ".{0,80}", name in "[a-z_]{1,20}", args in "\\{.{0,40}\\}", with_call in any::<bool>()) {
            let message = ChatMessage {
                role: Role::Assistant,
                content,
                tool_calls: if with_call { vec![ToolCall { id: "call_1".into(), name, arguments: args }] } else { vec![] },
                tool_result: None,
                created_at: None,
            };
            let back: ChatMessage = serde_json::from_str(&serde_json::to_string(&message).unwrap()).unwrap();
            prop_assert_eq!(back, message);
        }

        #[test]
        fn usage_addition_is_componentwise(a in 0u64..1_000_000, b in 0u64..1_000_000, c in 0u64..1_000_000, d in 0u64..1_000_000) {
            let x = TokenUsage { prompt_tokens: a, completion_tokens: b, total_tokens: a + b };
            let y = TokenUsage { prompt_tokens: c, completion_tokens: d, total_tokens: c + d };
            let sum = x + y;
            prop_assert_eq!(sum.total_tokens, sum.prompt_tokens + sum.completion_tokens);
        }
    }

    #[test]
    fn roles_are_lowercase_on_the_wire() {
        assert_eq!(
            serde_json::to_string(&Role::Assistant).unwrap(),
            "\"assistant\""
        );
    }
}
