//! The OpenAI-compatible API: `POST /v1/chat/completions` (streaming and not) and
//! `GET /v1/models`, so any OpenAI client can talk to the twin. Model `jamey` is the twin with
//! its default model; a configured model name picks that model. Memory context and Jamey's tools
//! apply either way; when the client sends its own `tools`, those are offered instead and their
//! calls are returned to the client, as OpenAI clients expect.

use crate::api::chat::{run_whole_turn, start_turn, tokio_stream_from, turn_result};
use crate::api::ApiJson;
use crate::error::ApiError;
use crate::orchestrator::{ChatError, ExternalHistory, TurnOutcome, TurnRequest};
use crate::request_scope::current_request_id;
use crate::state::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures::stream::{self, StreamExt};
use jamey_protocol::{ChatEvent, ChatMessage, ErrorBody, Role, ToolCall, ToolResult};
use jamey_providers::ToolDefinition;
use jamey_tools::{Caller, ToolScope};
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;

/// The model name that means "the twin, with its default model".
pub(crate) const TWIN_MODEL: &str = "jamey";

/// An OpenAI chat-completions request; fields Jamey does not use are accepted and ignored.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct CompletionRequest {
    model: String,
    #[schema(value_type = Vec<Object>)]
    messages: Vec<OpenAiMessage>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    tools: Option<Vec<OpenAiTool>>,
    /// Continues the Jamey session `openai-{user}`.
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    stream_options: Option<StreamOptions>,
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize)]
struct OpenAiMessage {
    role: String,
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    tool_calls: Option<Vec<OpenAiToolCall>>,
    #[serde(default)]
    tool_call_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct OpenAiToolCall {
    id: String,
    function: OpenAiFunctionCall,
}

#[derive(Debug, Deserialize)]
struct OpenAiFunctionCall {
    name: String,
    #[serde(default)]
    arguments: String,
}

#[derive(Debug, Deserialize)]
struct OpenAiTool {
    function: OpenAiFunction,
}

#[derive(Debug, Deserialize)]
struct OpenAiFunction {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
}

/// Text of a message: a string, or the text parts of a content array.
fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::InvalidField {
        field: field.into(),
        message: message.into(),
    }
}

/// Splits the client's conversation into Jamey's turn: the last user message is the turn, the
/// rest is history.
fn into_turn(
    app: &AppState,
    request: CompletionRequest,
    caller: Caller,
    scope: ToolScope,
) -> Result<TurnRequest, ApiError> {
    let model = if request.model == TWIN_MODEL {
        None
    } else if app.orchestrator.models().contains(&request.model) {
        Some(request.model.clone())
    } else {
        return Err(ChatError::UnknownModel(request.model).into());
    };
    let mut messages = request.messages;
    let last = messages
        .pop()
        .ok_or_else(|| invalid("messages", "messages: must hold at least one message"))?;
    if last.role != "user" {
        return Err(invalid(
            "messages",
            "messages: the last message must be the user's (role \"user\")",
        ));
    }
    let mut external = ExternalHistory::default();
    for (i, m) in messages.into_iter().enumerate() {
        let content = text_of(m.content.as_ref());
        let role = match m.role.as_str() {
            "system" | "developer" => {
                external.system.push(content);
                continue;
            }
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            other => {
                return Err(invalid(
                    &format!("messages[{i}].role"),
                    format!("messages[{i}].role: unknown role `{other}`"),
                ))
            }
        };
        let tool_result = match role {
            Role::Tool => Some(ToolResult {
                call_id: m.tool_call_id.clone().ok_or_else(|| {
                    invalid(
                        &format!("messages[{i}].tool_call_id"),
                        format!("messages[{i}].tool_call_id: required for a tool message"),
                    )
                })?,
                content: content.clone(),
                is_error: false,
            }),
            _ => None,
        };
        external.messages.push(ChatMessage {
            role,
            content,
            tool_calls: m
                .tool_calls
                .unwrap_or_default()
                .into_iter()
                .map(|c| ToolCall {
                    id: c.id,
                    name: c.function.name,
                    arguments: c.function.arguments,
                })
                .collect(),
            tool_result,
            created_at: None,
        });
    }
    external.tools = request
        .tools
        .unwrap_or_default()
        .into_iter()
        .map(|t| ToolDefinition {
            name: t.function.name,
            description: t.function.description.unwrap_or_default(),
            parameters: t
                .function
                .parameters
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        })
        .collect();
    let session_id = match request.user {
        Some(user) if jamey_core::conversation::check_session_id(&user).is_ok() => {
            format!("openai-{user}")
        }
        _ => "openai".to_string(),
    };
    Ok(TurnRequest {
        caller,
        scope,
        message: text_of(last.content.as_ref()),
        session_id: Some(session_id.chars().take(128).collect()),
        model,
        external: Some(external),
    })
}

fn completion_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::new_v4().simple())
}

fn tool_calls_json(calls: &[ToolCall]) -> Value {
    Value::Array(
        calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                json!({"index": i, "id": c.id, "type": "function",
                       "function": {"name": c.name, "arguments": c.arguments}})
            })
            .collect(),
    )
}

fn usage_json(outcome: &TurnOutcome) -> Value {
    json!({
        "prompt_tokens": outcome.usage.prompt_tokens,
        "completion_tokens": outcome.usage.completion_tokens,
        "total_tokens": outcome.usage.total_tokens,
        "cost": outcome.cost_usd,
    })
}

/// OpenAI's chat completions, answered by the twin.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", request_body = CompletionRequest,
    responses((status = 200, description = "A chat.completion object, or chat.completion.chunk events ending with [DONE]", body = Object),
        (status = 404, description = "Unknown model", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
        (status = 502, description = "The model provider failed", body = ErrorBody),
        (status = 503, description = "The model needs an API key and none is configured (llm_unconfigured)", body = ErrorBody)))]
pub(crate) async fn completions(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(scope): Extension<ToolScope>,
    ApiJson(request): ApiJson<CompletionRequest>,
) -> Result<Response, ApiError> {
    let streaming = request.stream;
    let include_usage = request
        .stream_options
        .as_ref()
        .is_some_and(|o| o.include_usage);
    let name = request.model.clone();
    let turn = into_turn(&app, request, caller, scope)?;
    let id = completion_id();
    let created = chrono::Utc::now().timestamp();
    if !streaming {
        let outcome = run_whole_turn(&app, turn).await?;
        let mut message = json!({"role": "assistant", "content": outcome.reply});
        if !outcome.external_calls.is_empty() {
            message["tool_calls"] = tool_calls_json(&outcome.external_calls);
        }
        return Ok(Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": name,
            "choices": [{"index": 0, "message": message, "finish_reason": outcome.finish_reason}],
            "usage": usage_json(&outcome),
        }))
        .into_response());
    }

    let (first, rx, task) = start_turn(&app, turn).await?;
    let request_id = current_request_id();
    let chunk = {
        let id = id.clone();
        let name = name.clone();
        move |delta: Value, finish: Option<&str>| {
            json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": name,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        }
    };
    let opening = chunk(json!({"role": "assistant", "content": ""}), None);
    let body_chunk = chunk.clone();
    let deltas = stream::once(async move { first })
        .chain(tokio_stream_from(rx))
        .filter_map(move |event| {
            let chunk = body_chunk.clone();
            async move {
                match event {
                    ChatEvent::Token { delta } => Some(chunk(json!({"content": delta}), None)),
                    _ => None,
                }
            }
        });
    let ending = stream::once(async move {
        let mut tail = Vec::new();
        match turn_result(task.await, request_id) {
            Ok(outcome) => {
                if !outcome.external_calls.is_empty() {
                    tail.push(chunk(
                        json!({"tool_calls": tool_calls_json(&outcome.external_calls)}),
                        None,
                    ));
                }
                tail.push(chunk(json!({}), Some(&outcome.finish_reason)));
                if include_usage {
                    tail.push(
                        json!({"id": id, "object": "chat.completion.chunk", "created": created,
                                     "model": name, "choices": [], "usage": usage_json(&outcome)}),
                    );
                }
            }
            Err(body) => tail.push(json!({"error": {
                "message": body.error.message,
                "code": body.error.code.as_str(),
                "request_id": body.error.request_id,
            }})),
        }
        stream::iter(tail)
    })
    .flatten();
    let events = stream::once(async move { opening })
        .chain(deltas)
        .chain(ending)
        .map(|value| Event::default().data(value.to_string()))
        .chain(stream::once(async { Event::default().data("[DONE]") }))
        .map(Ok::<_, Infallible>);
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The models a client may name: `jamey` and the configured ones.
#[utoipa::path(get, path = "/v1/models", tag = "openai", responses((status = 200, description = "OpenAI model list", body = Object)))]
pub(crate) async fn models(State(app): State<AppState>) -> Json<Value> {
    let mut data =
        vec![json!({"id": TWIN_MODEL, "object": "model", "created": 0, "owned_by": "jamey"})];
    data.extend(
        app.orchestrator
            .models()
            .into_iter()
            .map(|m| json!({"id": m, "object": "model", "created": 0, "owned_by": "upstream"})),
    );
    Json(json!({"object": "list", "data": data}))
}
