//! What a provider answers: a whole response, or a stream of events ending in a `Finish`.

use std::pin::Pin;

use futures::Stream;
use jamey_protocol::{ChatMessage, Role, TokenUsage, ToolCall};

use crate::ProviderError;

/// A streamed answer. Dropping it aborts the upstream HTTP request.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, ProviderError>> + Send>>;

/// One event of a streamed answer. A successful stream ends with exactly one `Finish`.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The next piece of the answer's text.
    TextDelta(String),
    /// A tool call, complete: assembled from all of its argument fragments.
    ToolCall(ToolCall),
    /// The answer is complete.
    Finish(Finish),
}

/// A complete (non-streamed) answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish: Finish,
}

impl ChatResponse {
    /// The answer as an assistant message of the conversation.
    pub fn to_message(&self) -> ChatMessage {
        ChatMessage {
            role: Role::Assistant,
            content: self.content.clone(),
            tool_calls: self.tool_calls.clone(),
            tool_result: None,
            created_at: None,
        }
    }
}

/// How an answer ended, what it cost and which model gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    pub reason: FinishReason,
    /// Zero when the server reported no usage.
    pub usage: TokenUsage,
    /// From the provider's usage (`usage.cost`) or the configured price table; `None` when
    /// neither knows.
    pub cost_usd: Option<f64>,
    pub cost_source: Option<CostSource>,
    /// The model that answered, as the server named it.
    pub model: String,
    /// The model that was asked first.
    pub requested_model: String,
    /// Whether a fallback model answered instead of `requested_model`.
    pub fell_back: bool,
    /// The upstream generation id, when the server gave one.
    pub generation_id: Option<String>,
}

/// Where a cost figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostSource {
    /// The provider reported it (OpenRouter's `usage.cost`).
    Provider,
    /// Computed from token counts and the configured price table.
    PriceTable,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    /// The `max_tokens` limit was reached.
    Length,
    /// The model wants tool results before it continues.
    ToolCalls,
    ContentFilter,
    /// Any other reason the server gave, verbatim.
    Other(String),
}

impl FinishReason {
    /// Parses the wire value (`stop`, `length`, `tool_calls`, `function_call`, `content_filter`).
    pub fn from_wire(value: &str) -> Self {
        match value {
            "stop" | "end_turn" | "eos" => Self::Stop,
            "length" | "max_tokens" => Self::Length,
            "tool_calls" | "function_call" | "tool_use" => Self::ToolCalls,
            "content_filter" => Self::ContentFilter,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The snake_case name used on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ToolCalls => "tool_calls",
            Self::ContentFilter => "content_filter",
            Self::Other(other) => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reasons_round_trip_their_wire_names() {
        for name in ["stop", "length", "tool_calls", "content_filter", "weird"] {
            assert_eq!(FinishReason::from_wire(name).as_str(), name);
        }
        assert_eq!(
            FinishReason::from_wire("function_call"),
            FinishReason::ToolCalls
        );
    }
}
