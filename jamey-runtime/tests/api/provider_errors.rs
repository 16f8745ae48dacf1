//! Model provider failures as a client sees them: a fixed message per cause and the request id,
//! in the JSON error body, the SSE `error` event of `/v1/chat` and the error chunk of the
//! OpenAI-compatible stream; never the provider's own text (an HTML page, a traceback, an
//! internal host, a key), which the scripted server puts in every failure here.

use crate::chat::{owner_request, sse_request, twin};
use crate::support::raw;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::Router;
use jamey_providers::scripted::ScriptedReply;
use serde_json::{json, Value};

/// What an upstream may leak: a key and an internal address.
const LEAKED_KEY: &str = "sk-or-LEAKED-abcd";
const LEAKED_HOST: &str = "internal-host:8443";

const KEY_REJECTED: &str = "the model provider rejected the API key: check OPENROUTER_API_KEY \
                            or `jamey secret set llm_api_key`";
const PROVIDER_FAILED: &str = "the model provider failed; retry later";

fn assert_no_upstream_text(text: &str) {
    for marker in [LEAKED_KEY, LEAKED_HOST, "<html", "Traceback", "/srv/app.py"] {
        assert!(
            !text.contains(marker),
            "`{marker}` reached the client: {text}"
        );
    }
}

fn with_request_id(mut request: Request<Body>, id: &str) -> Request<Body> {
    request
        .headers_mut()
        .insert("x-request-id", HeaderValue::from_str(id).unwrap());
    request
}

/// `POST /v1/chat` answered as one JSON document: the status and the error body.
async fn chat_error(router: &Router, request_id: &str) -> (StatusCode, Value) {
    let request = owner_request("POST", "/v1/chat", json!({"message": "hi"}));
    let (status, headers, body) = raw(router, with_request_id(request, request_id)).await;
    assert_eq!(headers["x-request-id"], request_id);
    assert_no_upstream_text(&body.to_string());
    (status, body["error"].clone())
}

/// `POST /v1/chat` streamed: the turn starts (200), then ends with an `error` event; its data.
async fn streamed_chat_error(router: &Router, request_id: &str) -> Value {
    let request = owner_request("POST", "/v1/chat", json!({"message": "hi", "stream": true}));
    let (status, headers, events) = sse_request(router, with_request_id(request, request_id)).await;
    assert_eq!(status, StatusCode::OK, "{events:?}");
    assert_eq!(headers["x-request-id"], request_id);
    assert_no_upstream_text(&format!("{events:?}"));
    assert_eq!(events.first().map(|(name, _)| name.as_str()), Some("start"));
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "error", "{events:?}");
    serde_json::from_str(data).unwrap()
}

/// `POST /v1/chat/completions` streamed: the `error` object of the chunk that ends it.
async fn openai_stream_error(router: &Router, request_id: &str) -> Value {
    let request = owner_request(
        "POST",
        "/v1/chat/completions",
        json!({"model": "jamey", "stream": true,
               "messages": [{"role": "user", "content": "hi"}]}),
    );
    let (status, _, events) = sse_request(router, with_request_id(request, request_id)).await;
    assert_eq!(status, StatusCode::OK, "{events:?}");
    assert_no_upstream_text(&format!("{events:?}"));
    assert_eq!(events.last().map(|(_, data)| data.as_str()), Some("[DONE]"));
    let error = events
        .iter()
        .filter_map(|(_, data)| serde_json::from_str::<Value>(data).ok())
        .find(|chunk| chunk.get("error").is_some())
        .unwrap_or_else(|| panic!("no error chunk: {events:?}"));
    error["error"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_is_told_with_what_to_set_never_with_the_providers_text() {
    let (_home, router, server) = twin("").await;
    let upstream =
        format!("Invalid key {LEAKED_KEY}: rejected by the auth service at {LEAKED_HOST}");

    server.push(ScriptedReply::error(401, &upstream));
    let (status, error) = chat_error(&router, "req-key-json").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{error}");
    assert_eq!(
        error,
        json!({"code": "upstream_auth", "message": KEY_REJECTED, "request_id": "req-key-json"})
    );

    server.push(ScriptedReply::error(401, &upstream));
    let event = streamed_chat_error(&router, "req-key-sse").await;
    assert_eq!(
        event,
        json!({"type": "error", "code": "upstream_auth", "message": KEY_REJECTED,
               "request_id": "req-key-sse"})
    );

    server.push(ScriptedReply::error(401, &upstream));
    let error = openai_stream_error(&router, "req-key-openai").await;
    assert_eq!(
        error,
        json!({"code": "upstream_auth", "message": KEY_REJECTED, "request_id": "req-key-openai"})
    );
    // Each answer came from the provider's 401, not from a refusal before the call.
    assert_eq!(server.request_count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_error_page_stays_in_the_log() {
    let (_home, router, server) = twin("").await;
    let page = format!(
        "<html><head><title>500 Internal Server Error</title></head><body><pre>\
         Traceback (most recent call last):\n  File \"/srv/app.py\", line 12, in handle\n\
         ConnectionError: {LEAKED_HOST} refused the key {LEAKED_KEY}</pre></body></html>"
    );

    server.push(ScriptedReply::html(500, &page));
    let (status, error) = chat_error(&router, "req-page-json").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{error}");
    assert_eq!(
        error,
        json!({"code": "upstream_error", "message": PROVIDER_FAILED, "request_id": "req-page-json"})
    );

    server.push(ScriptedReply::html(500, &page));
    let event = streamed_chat_error(&router, "req-page-sse").await;
    assert_eq!(
        event,
        json!({"type": "error", "code": "upstream_error", "message": PROVIDER_FAILED,
               "request_id": "req-page-sse"})
    );

    server.push(ScriptedReply::html(500, &page));
    let error = openai_stream_error(&router, "req-page-openai").await;
    assert_eq!(
        error,
        json!({"code": "upstream_error", "message": PROVIDER_FAILED,
               "request_id": "req-page-openai"})
    );
    assert_eq!(server.request_count(), 3);
}
