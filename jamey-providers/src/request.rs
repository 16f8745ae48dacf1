//! What the orchestrator asks a provider: the conversation, the tools the model may call and
//! sampling options.

use jamey_protocol::ChatMessage;
use serde::{Deserialize, Serialize};

/// One chat request. Messages use the protocol's `ChatMessage`: system, user, assistant (with
/// `tool_calls`) and tool messages (with `tool_result`, whose `call_id` names the call).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// The model to ask first. `None` uses the client's configured chain; either way the
    /// configured fallback models follow.
    pub model: Option<String>,
    pub messages: Vec<ChatMessage>,
    /// Functions the model may call; empty means no tools.
    pub tools: Vec<ToolDefinition>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
}

impl ChatRequest {
    /// A request for these messages with the configured model and no tools.
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self {
            messages,
            ..Self::default()
        }
    }

    /// Asks `model` first.
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Offers these tools to the model.
    pub fn with_tools(mut self, tools: Vec<ToolDefinition>) -> Self {
        self.tools = tools;
        self
    }
}

/// A function the model may call, described by a JSON Schema for its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}
