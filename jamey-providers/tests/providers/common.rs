//! Shared set-up: a client configured for a scripted server, and stream collection.

use std::time::Duration;

use futures::StreamExt;
use jamey_protocol::{ChatMessage, Role};
use jamey_providers::scripted::{ScriptedServer, ScriptedUsage};
use jamey_providers::{
    ApiKey, ChatRequest, ChatStream, OpenAiCompatClient, OpenAiCompatConfig, ProviderError,
    RetryConfig, StreamEvent,
};

pub(crate) const KEY: &str = "sk-or-v1-0123456789abcdef-test-key";
pub(crate) const PRIMARY: &str = "openai/gpt-4o-mini";
pub(crate) const FALLBACK: &str = "anthropic/claude-3.5-haiku";

/// OpenRouter-style configuration for `server` with fast retries.
pub(crate) fn config(server: &ScriptedServer, models: &[&str]) -> OpenAiCompatConfig {
    let mut config = OpenAiCompatConfig::new(
        server.base_url(),
        Some(ApiKey::new(KEY)),
        models.iter().map(|model| (*model).to_owned()).collect(),
    );
    config.openrouter_extensions = true;
    config.retry = RetryConfig {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(5),
    };
    config
}

pub(crate) fn client(server: &ScriptedServer, models: &[&str]) -> OpenAiCompatClient {
    OpenAiCompatClient::new(config(server, models)).unwrap()
}

pub(crate) fn user(text: &str) -> ChatMessage {
    ChatMessage {
        role: Role::User,
        content: text.to_owned(),
        tool_calls: vec![],
        tool_result: None,
        created_at: None,
    }
}

pub(crate) fn ask(text: &str) -> ChatRequest {
    ChatRequest::new(vec![user(text)])
}

pub(crate) fn usage(prompt: u64, completion: u64, cost: Option<f64>) -> ScriptedUsage {
    ScriptedUsage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        cost,
    }
}

/// Every event of `stream`, and the error that ended it if one did.
pub(crate) async fn collect(mut stream: ChatStream) -> (Vec<StreamEvent>, Option<ProviderError>) {
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => events.push(event),
            Err(error) => {
                assert!(stream.next().await.is_none(), "an error ends the stream");
                return (events, Some(error));
            }
        }
    }
    (events, None)
}

/// The concatenated text deltas.
pub(crate) fn text_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|event| match event {
            StreamEvent::TextDelta(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// The `model` field of each request the server received.
pub(crate) fn requested_models(server: &ScriptedServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|request| {
            request.body["model"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}
