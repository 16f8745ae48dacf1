//! Conversation types: messages, tool calls and their results, token usage and sessions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// A tool invocation requested by the model. `arguments` is the JSON text the model produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// The outcome of one tool call, sent back to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResult {
    pub call_id: String,
    pub content: String,
    #[serde(default)]
    pub is_error: bool,
}

/// One message of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
pub struct SessionSummary {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub message_count: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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
