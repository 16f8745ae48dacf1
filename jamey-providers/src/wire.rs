//! The OpenAI chat-completions wire format (as OpenRouter, Ollama, vLLM and llama.cpp speak it):
//! the request body we send and the response, chunk and error bodies we read.

use jamey_protocol::{ChatMessage, Role};
use serde::{Deserialize, Serialize};

use crate::{ChatRequest, ToolDefinition};

/// The body of `POST /chat/completions`.
#[derive(Debug, Serialize)]
pub(crate) struct WireRequest<'a> {
    pub(crate) model: &'a str,
    /// OpenRouter's server-side fallback list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) models: Option<&'a [String]>,
    pub(crate) messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_tokens: Option<u32>,
    pub(crate) stream: bool,
    /// OpenAI's switch for a final usage chunk in streams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stream_options: Option<StreamOptions>,
    /// OpenRouter's usage accounting (token counts and cost).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) usage: Option<UsageOptions>,
}

#[derive(Debug, Serialize)]
pub(crate) struct StreamOptions {
    pub(crate) include_usage: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct UsageOptions {
    pub(crate) include: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct WireMessage<'a> {
    role: &'static str,
    /// `null` for an assistant message that only calls tools.
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireToolCallOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct WireToolCallOut<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunctionOut<'a>,
}

#[derive(Debug, Serialize)]
struct WireFunctionOut<'a> {
    name: &'a str,
    arguments: &'a str,
}

#[derive(Debug, Serialize)]
pub(crate) struct WireTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: &'a ToolDefinition,
}

impl<'a> WireRequest<'a> {
    /// The body asking `model` (with OpenRouter's `fallbacks` list when given).
    pub(crate) fn build(
        request: &'a ChatRequest,
        model: &'a str,
        fallbacks: Option<&'a [String]>,
        stream: bool,
        openrouter_extensions: bool,
    ) -> Self {
        Self {
            model,
            models: fallbacks.filter(|models| models.len() > 1 && openrouter_extensions),
            messages: request
                .messages
                .iter()
                .map(WireMessage::from_message)
                .collect(),
            tools: request
                .tools
                .iter()
                .map(|function| WireTool {
                    kind: "function",
                    function,
                })
                .collect(),
            temperature: request.temperature,
            max_tokens: request.max_tokens,
            stream,
            stream_options: stream.then_some(StreamOptions {
                include_usage: true,
            }),
            usage: openrouter_extensions.then_some(UsageOptions { include: true }),
        }
    }
}

impl<'a> WireMessage<'a> {
    fn from_message(message: &'a ChatMessage) -> Self {
        let role = match message.role {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        };
        let content = match &message.tool_result {
            Some(result) if message.role == Role::Tool => Some(result.content.as_str()),
            _ if message.content.is_empty() && !message.tool_calls.is_empty() => None,
            _ => Some(message.content.as_str()),
        };
        Self {
            role,
            content,
            tool_calls: message
                .tool_calls
                .iter()
                .map(|call| WireToolCallOut {
                    id: &call.id,
                    kind: "function",
                    function: WireFunctionOut {
                        name: &call.name,
                        arguments: &call.arguments,
                    },
                })
                .collect(),
            tool_call_id: message
                .tool_result
                .as_ref()
                .map(|result| result.call_id.as_str()),
        }
    }
}

/// A non-streamed answer.
#[derive(Debug, Deserialize)]
pub(crate) struct WireCompletion {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) model: Option<String>,
    #[serde(default)]
    pub(crate) choices: Vec<WireChoice>,
    #[serde(default)]
    pub(crate) usage: Option<WireUsage>,
    /// OpenRouter reports a failure that happened after the model started inside a 200 body.
    #[serde(default)]
    pub(crate) error: Option<WireError>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireChoice {
    #[serde(default)]
    pub(crate) message: WireResponseMessage,
    #[serde(default)]
    pub(crate) finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireResponseMessage {
    #[serde(default)]
    pub(crate) content: Option<String>,
    #[serde(default)]
    pub(crate) tool_calls: Option<Vec<WireToolCallIn>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireToolCallIn {
    #[serde(default)]
    pub(crate) id: Option<String>,
    pub(crate) function: WireFunctionIn,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireFunctionIn {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) arguments: Option<String>,
}

/// Token counts, plus OpenRouter's `cost` in USD (credits).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub(crate) prompt_tokens: u64,
    #[serde(default)]
    pub(crate) completion_tokens: u64,
    #[serde(default)]
    pub(crate) total_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) cost: Option<f64>,
}

/// One `data:` payload of a stream.
#[derive(Debug, Deserialize)]
pub(crate) struct WireChunk {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) model: Option<String>,
    /// vLLM sends errors as `{"object": "error", "message": ...}`.
    #[serde(default)]
    pub(crate) object: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default)]
    pub(crate) choices: Vec<WireChunkChoice>,
    #[serde(default)]
    pub(crate) usage: Option<WireUsage>,
    #[serde(default)]
    pub(crate) error: Option<WireError>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireChunkChoice {
    #[serde(default)]
    pub(crate) delta: WireDelta,
    #[serde(default)]
    pub(crate) finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireDelta {
    #[serde(default)]
    pub(crate) content: Option<String>,
    #[serde(default)]
    pub(crate) tool_calls: Option<Vec<WireToolCallDelta>>,
}

/// A fragment of a streamed tool call; `index` says which call of a parallel set it extends.
#[derive(Debug, Deserialize)]
pub(crate) struct WireToolCallDelta {
    #[serde(default)]
    pub(crate) index: Option<usize>,
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) function: Option<WireFunctionIn>,
}

/// OpenRouter's and OpenAI's error object: `{"code": 429 | "server_error", "message": ...}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct WireError {
    #[serde(default)]
    pub(crate) code: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
}

impl WireError {
    /// The code as text, whether the server sent a number or a string.
    pub(crate) fn code_text(&self) -> Option<String> {
        match &self.code {
            Some(serde_json::Value::String(code)) => Some(code.clone()),
            Some(serde_json::Value::Number(code)) => Some(code.to_string()),
            _ => self.kind.clone(),
        }
    }
}

/// The body of an error response: `{"error": {...}}`, or `{"message": ...}` from some servers.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireErrorBody {
    #[serde(default)]
    pub(crate) error: Option<WireErrorField>,
    #[serde(default)]
    pub(crate) message: Option<String>,
}

/// Most servers send an object; a few send a bare string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum WireErrorField {
    Object(WireError),
    Text(String),
}

impl WireErrorBody {
    /// The error's code and message, if the body has either.
    pub(crate) fn into_parts(self) -> (Option<String>, Option<String>) {
        match self.error {
            Some(WireErrorField::Object(error)) => (error.code_text(), error.message),
            Some(WireErrorField::Text(text)) => (None, Some(text)),
            None => (None, self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jamey_protocol::{ToolCall, ToolResult};
    use serde_json::json;

    #[test]
    fn request_body_carries_tools_tool_calls_and_openrouter_extensions() {
        let request = ChatRequest {
            model: None,
            messages: vec![
                ChatMessage {
                    role: Role::Assistant,
                    content: String::new(),
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "memory_search".into(),
                        arguments: "{\"query\":\"tea\"}".into(),
                    }],
                    tool_result: None,
                    created_at: None,
                },
                ChatMessage {
                    role: Role::Tool,
                    content: String::new(),
                    tool_calls: vec![],
                    tool_result: Some(ToolResult {
                        call_id: "call_1".into(),
                        content: "green".into(),
                        is_error: false,
                    }),
                    created_at: None,
                },
            ],
            tools: vec![ToolDefinition {
                name: "memory_search".into(),
                description: "Search memories".into(),
                parameters: json!({"type": "object"}),
            }],
            temperature: Some(0.5),
            max_tokens: None,
        };
        let models = vec!["a/m".to_owned(), "b/m".to_owned()];
        let body = serde_json::to_value(WireRequest::build(
            &request,
            "a/m",
            Some(models.as_slice()),
            true,
            true,
        ))
        .unwrap();
        assert_eq!(
            body,
            json!({
                "model": "a/m",
                "models": ["a/m", "b/m"],
                "messages": [
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "memory_search", "arguments": "{\"query\":\"tea\"}"}}
                    ]},
                    {"role": "tool", "content": "green", "tool_call_id": "call_1"}
                ],
                "tools": [{"type": "function", "function": {"name": "memory_search", "description": "Search memories", "parameters": {"type": "object"}}}],
                "temperature": 0.5,
                "stream": true,
                "stream_options": {"include_usage": true},
                "usage": {"include": true}
            })
        );
        let plain = serde_json::to_value(WireRequest::build(
            &request,
            "a/m",
            Some(models.as_slice()),
            false,
            false,
        ))
        .unwrap();
        assert!(plain.get("models").is_none() && plain.get("usage").is_none());
    }

    #[test]
    fn error_bodies_in_their_several_shapes() {
        let openrouter: WireErrorBody =
            serde_json::from_str(r#"{"error":{"code":401,"message":"No auth credentials found"}}"#)
                .unwrap();
        assert_eq!(
            openrouter.into_parts(),
            (Some("401".into()), Some("No auth credentials found".into()))
        );
        let ollama: WireErrorBody = serde_json::from_str(r#"{"error":"model not found"}"#).unwrap();
        assert_eq!(ollama.into_parts(), (None, Some("model not found".into())));
    }
}
