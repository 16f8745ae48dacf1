//! The twin answering: `/v1/chat` (JSON and SSE), the tool loop, sessions, compaction, budgets,
//! faults and the OpenAI-compatible API, with the production provider client talking to a
//! scripted OpenRouter-compatible server on 127.0.0.1.

use crate::support::{call, state, As, Backend, TestHome};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use futures::StreamExt;
use jamey_providers::scripted::{ScriptedReply, ScriptedServer, ScriptedUsage, StreamScript};
use jamey_runtime::api::router;
use jamey_runtime::auth::{ClientCert, ConnectionInfo};
use serde_json::{json, Value};
use std::time::Duration;
use tower::ServiceExt;

pub(crate) const MODEL: &str = "test/model";

fn usage(cost: f64) -> ScriptedUsage {
    ScriptedUsage {
        prompt_tokens: 120,
        completion_tokens: 30,
        cost: Some(cost),
    }
}

pub(crate) async fn twin(extra: &str) -> (TestHome, Router, ScriptedServer) {
    let server = ScriptedServer::start().await.unwrap();
    let home = TestHome::new();
    let config = format!(
        "[llm]\nbase_url = \"{}\"\nmodel = \"{MODEL}\"\nmax_retries = 0\n{extra}",
        server.base_url()
    );
    let app = state(&home, Backend::Embedded, &config).await.unwrap();
    (home, router(app), server)
}

pub(crate) fn owner_request(method: &str, uri: &str, body: Value) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    request.extensions_mut().insert(ConnectionInfo {
        client_cert: Some(ClientCert {
            name: "owner".into(),
            fingerprint: "test-owner".into(),
        }),
    });
    request
}

/// Sends a streaming request and returns the SSE events as (event, data).
async fn sse(router: &Router, uri: &str, body: Value) -> (StatusCode, Vec<(String, String)>) {
    let (status, _, events) = sse_request(router, owner_request("POST", uri, body)).await;
    (status, events)
}

/// Sends `request` and returns the status, the headers and the SSE events as (event, data).
pub(crate) async fn sse_request(
    router: &Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<(String, String)>) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut events = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut name = String::from("message");
        let mut data = String::new();
        for line in block.lines() {
            if let Some(v) = line
                .strip_prefix("event: ")
                .or_else(|| line.strip_prefix("event:"))
            {
                name = v.trim().to_string();
            } else if let Some(v) = line
                .strip_prefix("data: ")
                .or_else(|| line.strip_prefix("data:"))
            {
                data.push_str(v);
            }
        }
        if !data.is_empty() {
            events.push((name, data));
        }
    }
    (status, headers, events)
}

fn system_prompt(request: &jamey_providers::scripted::RecordedRequest) -> String {
    request.body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_turn_with_memory_context_and_a_tool_round() {
    let (_home, router, server) = twin("").await;
    let (status, _, memory) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/memories",
        Some(json!({"content": "Anna's birthday is on 3 May", "tags": ["family"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let memory_id = memory["id"].as_str().unwrap().to_string();

    // Round 1: the model searches memory, its arguments split across three deltas.
    server.push(
        StreamScript::new(MODEL)
            .processing_comment()
            .tool_call_start(0, "call_1", "memory_search")
            .tool_call_arguments(0, "{\"que")
            .tool_call_arguments(0, "ry\": \"Anna birth")
            .tool_call_arguments(0, "day\"}")
            .finish("tool_calls")
            .usage(usage(0.001))
            .done()
            .into_reply(),
    );
    // Round 2: the answer, streamed.
    server.push(
        StreamScript::answer(
            MODEL,
            &[
                "Anna's birthday ",
                "is on 3 May ",
                &format!("[{memory_id}]."),
            ],
            usage(0.002),
        )
        .into_reply(),
    );
    let (status, events) = sse(
        &router,
        "/v1/chat",
        json!({"message": "When is Anna's birthday?", "session_id": "s-1", "stream": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"start"), "{events:?}");
    assert_eq!(names.last(), Some(&"done"), "{events:?}");
    let start: Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(start["memories"][0], memory_id.as_str());
    let call_event = events.iter().find(|(n, _)| n == "tool_call").unwrap();
    let call_event: Value = serde_json::from_str(&call_event.1).unwrap();
    assert_eq!(call_event["arguments"], "{\"query\": \"Anna birthday\"}");
    let result = events.iter().find(|(n, _)| n == "tool_result").unwrap();
    let result: Value = serde_json::from_str(&result.1).unwrap();
    assert_eq!(result["is_error"], false);
    assert!(result["output"].as_str().unwrap().contains("3 May"));
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "token")
        .map(|(_, d)| {
            serde_json::from_str::<Value>(d).unwrap()["delta"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(text, format!("Anna's birthday is on 3 May [{memory_id}]."));
    let done: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert_eq!(done["usage"]["prompt_tokens"], 240);
    assert!((done["cost_usd"].as_f64().unwrap() - 0.003).abs() < 1e-9);

    // What went upstream: the memory in the system prompt, the tools, then the tool result.
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(system_prompt(&requests[0]).contains("Anna's birthday is on 3 May"));
    assert!(system_prompt(&requests[0]).contains(&memory_id));
    let tools: Vec<&str> = requests[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(
        tools.contains(&"memory_search") && tools.contains(&"memory_save"),
        "{tools:?}"
    );
    let second = requests[1].body["messages"].as_array().unwrap();
    assert_eq!(second[second.len() - 1]["role"], "tool");
    assert_eq!(second[second.len() - 1]["tool_call_id"], "call_1");
    assert!(requests[0].header("authorization").is_none());
    assert_eq!(requests[0].header("x-title"), Some("Jamey"));

    // The session holds the whole turn, in order.
    let (status, _, page) = call(
        &router,
        &As::Owner,
        "GET",
        "/v1/sessions/s-1/messages",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let roles: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "tool", "assistant"]);
    assert_eq!(page["items"][1]["tool_calls"][0]["name"], "memory_search");
    assert_eq!(page["items"][3]["status"], "complete");
    let (_, _, sessions) = call(&router, &As::Owner, "GET", "/v1/sessions", None).await;
    assert_eq!(sessions["items"][0]["id"], "s-1");
    assert_eq!(sessions["items"][0]["message_count"], 4);
    let (_, _, metrics) = call(&router, &As::Owner, "GET", "/metrics", None).await;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("jamey_llm_requests_total")
            && metrics.contains("jamey_llm_cost_usd_total"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_saved_in_one_session_is_used_in_a_later_one() {
    let (_home, router, server) = twin("").await;
    server.push(
        StreamScript::new(MODEL)
            .tool_call_start(0, "call_save", "memory_save")
            .tool_call_arguments(
                0,
                r#"{"content": "The user's bike is a blue Brompton", "tags": ["bike"]}"#,
            )
            .finish("tool_calls")
            .usage(usage(0.0))
            .done()
            .into_reply(),
    );
    server.push(StreamScript::answer(MODEL, &["Noted."], usage(0.0)).into_reply());
    let (status, _, reply) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/chat",
        Some(json!({"message": "Remember that my bike is a blue Brompton", "session_id": "first"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["reply"], "Noted.");
    assert_eq!(reply["tool_calls"][0]["name"], "memory_save");
    assert_eq!(reply["tool_calls"][0]["is_error"], false);

    server.push(StreamScript::answer(MODEL, &["A blue Brompton."], usage(0.0)).into_reply());
    let (status, _, reply) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/chat",
        Some(json!({"message": "What bike do I ride?"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_ne!(reply["session_id"], "first");
    let last = server.requests().pop().unwrap();
    assert!(
        system_prompt(&last).contains("blue Brompton"),
        "{}",
        system_prompt(&last)
    );
    // Only the new session's own message is in the window.
    assert_eq!(last.body["messages"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_failures_are_clear_errors_and_keep_the_session_consistent() {
    let (_home, router, server) = twin("").await;
    // A mid-stream error: the SSE ends with an error event; what was said is stored incomplete.
    server.push(
        StreamScript::new(MODEL)
            .text("Let me th")
            .error(json!(502), "upstream overloaded")
            .into_reply(),
    );
    let (status, events) = sse(
        &router,
        "/v1/chat",
        json!({"message": "Think hard", "session_id": "f", "stream": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "error", "{events:?}");
    let error: Value = serde_json::from_str(data).unwrap();
    assert_eq!(error["code"], "upstream_error");
    let (_, _, page) = call(&router, &As::Owner, "GET", "/v1/sessions/f/messages", None).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        (items[0]["role"].as_str(), items[0]["status"].as_str()),
        (Some("user"), Some("complete"))
    );
    assert_eq!(
        (items[1]["content"].as_str(), items[1]["status"].as_str()),
        (Some("Let me th"), Some("incomplete"))
    );

    // An invalid API key: a JSON error naming the cause, never a key.
    server.push(ScriptedReply::error(401, "No auth credentials found"));
    let (status, _, body) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/chat",
        Some(json!({"message": "hi", "session_id": "f"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("upstream_auth")),
        "{body}"
    );
    // An unknown model is refused before anything is sent.
    let before = server.request_count();
    let (status, _, body) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/chat",
        Some(json!({"message": "hi", "model": "nope/nope"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_model")),
        "{body}"
    );
    assert_eq!(server.request_count(), before);
    // Bad input.
    let (status, _, body) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/chat",
        Some(json!({"message": "  "})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("message"))
    );
    let (status, _, _) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/chat",
        Some(json!({"message": "x", "session_id": "no spaces allowed"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, _) = call(
        &router,
        &As::Owner,
        "GET",
        "/v1/sessions/missing/messages",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The failed turns left the session readable and whole.
    let (_, _, page) = call(&router, &As::Owner, "GET", "/v1/sessions/f/messages", None).await;
    let roles: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_cancels_the_upstream_stream() {
    let (_home, router, server) = twin("").await;
    let mut script = StreamScript::new(MODEL).text("one ");
    for _ in 0..50 {
        script = script.pause(Duration::from_millis(100)).text("more ");
    }
    server.push(script.finish("stop").done().into_reply());
    let response = router
        .clone()
        .oneshot(owner_request(
            "POST",
            "/v1/chat",
            json!({"message": "Tell a long story", "session_id": "d", "stream": true}),
        ))
        .await
        .unwrap();
    let mut body = response.into_body().into_data_stream();
    let mut seen = String::new();
    while !seen.contains("event: token") {
        let chunk = body.next().await.unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(body);
    assert!(
        server.wait_for_disconnects(1, Duration::from_secs(5)).await,
        "upstream not cancelled"
    );
    // The partial answer is stored, marked incomplete.
    let mut stored = Value::Null;
    for _ in 0..50 {
        let (_, _, page) = call(&router, &As::Owner, "GET", "/v1/sessions/d/messages", None).await;
        if page["items"].as_array().is_some_and(|i| i.len() == 2) {
            stored = page;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored["items"][1]["status"], "incomplete", "{stored}");
    assert!(stored["items"][1]["content"]
        .as_str()
        .unwrap()
        .starts_with("one"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_refuse_a_turn_before_any_paid_call() {
    let (_home, router, server) = twin("[chat]\nsession_budget_usd = 0.01\n").await;
    server.push(StreamScript::answer(MODEL, &["Sure."], usage(0.02)).into_reply());
    let (status, _, _) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/chat",
        Some(json!({"message": "hi", "session_id": "b"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/chat",
        Some(json!({"message": "again", "session_id": "b"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::PAYMENT_REQUIRED, Some("budget_exceeded")),
        "{body}"
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("session_budget_usd"));
    assert_eq!(server.request_count(), 1);
    // Another session still has its budget.
    server.push(StreamScript::answer(MODEL, &["Hello."], usage(0.0)).into_reply());
    let (status, _, _) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/chat",
        Some(json!({"message": "hi", "session_id": "c"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_turn_becomes_a_searchable_memory_after_the_answer() {
    let (_home, router, server) = twin("").await;
    server
        .push(StreamScript::answer(MODEL, &["The ", "vet is on Friday."], usage(0.0)).into_reply());
    let (status, events) = sse(
        &router,
        "/v1/chat",
        json!({"message": "When is Biscuit's vet visit?", "session_id": "pets", "stream": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(events.last().map(|(name, _)| name.as_str()), Some("done"));
    // Remembering runs after the answer, in the background: it shows up shortly after.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let remembered = loop {
        let (status, _, page) =
            call(&router, &As::Owner, "GET", "/v1/memories?limit=10", None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let found = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["kind"] == "conversation")
            .cloned();
        if let Some(found) = found {
            break found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the turn was not remembered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        remembered["content"],
        "User: When is Biscuit's vet visit?\nJamey: The vet is on Friday."
    );
    assert_eq!(remembered["session_id"], "pets");
    assert_eq!(remembered["tags"], json!(["chat"]));
    let (status, _, hits) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/memories/search",
        Some(json!({"query": "Biscuit vet", "limit": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{hits}");
    assert_eq!(
        hits["results"][0]["memory"]["id"], remembered["id"],
        "{hits}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_session_is_compacted_into_a_saved_checkpoint() {
    let (_home, router, server) =
        twin("[chat]\ncontext_tokens = 500\nremember_turns = false\n").await;
    let long = "word ".repeat(300); // about 380 tokens per message
    server.push(StreamScript::answer(MODEL, &["ok"], usage(0.0)).into_reply());
    let (status, _, body) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/chat",
        Some(json!({"message": format!("first {long}"), "session_id": "long"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(server.request_count(), 1, "the first turn fits: no summary");
    // The second turn no longer fits: a summary is asked for first (not streamed), then the turn.
    server.push(ScriptedReply::completion(
        MODEL,
        "SUMMARY: the user sent a long message.",
        Some(usage(0.0)),
    ));
    server.push(StreamScript::answer(MODEL, &["done"], usage(0.0)).into_reply());
    let (status, _, body) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/chat",
        Some(json!({"message": format!("second {long}"), "session_id": "long"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests[1].body.get("stream").is_none_or(|s| s == false),
        "the summary is not streamed"
    );
    let summarized = requests[1].body["messages"][1]["content"].as_str().unwrap();
    assert!(summarized.contains("first word"), "{summarized}");
    let turn = &requests[2];
    assert!(system_prompt(turn).contains("SUMMARY: the user sent a long message."));
    let window: Vec<&str> = turn.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default())
        .collect();
    // The system prompt, the short reply that still fits, and the new message; not the first.
    assert_eq!(window.len(), 3, "{window:?}");
    assert!(window.iter().all(|m| !m.starts_with("first")));
    assert!(window[2].starts_with("second"));
    // Every raw message is still stored.
    let (_, _, page) = call(
        &router,
        &As::Owner,
        "GET",
        "/v1/sessions/long/messages",
        None,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_compatible_completions_models_and_tools() {
    let (_home, router, server) = twin("").await;
    let (status, _, models) = call(&router, &As::Owner, "GET", "/v1/models", None).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["jamey", MODEL]);
    let (_, _, tools) = call(&router, &As::Owner, "GET", "/v1/tools", None).await;
    let listed = tools["tools"].as_array().unwrap();
    for name in [
        "memory_search",
        "memory_save",
        "system_info",
        "process_kill",
    ] {
        assert!(listed.iter().any(|t| t["name"] == name), "{name}: {tools}");
    }
    assert!(
        listed.iter().all(|t| t["parameters"]["type"] == "object"),
        "{tools}"
    );

    server.push(StreamScript::answer(MODEL, &["Hi ", "there"], usage(0.0)).into_reply());
    let (status, _, completion) = call(&router, &As::Owner, "POST", "/v1/chat/completions", Some(json!({
        "model": "jamey", "temperature": 0.2,
        "messages": [{"role": "system", "content": "Answer in English."}, {"role": "user", "content": "Hello"}]
    }))).await;
    assert_eq!(status, StatusCode::OK, "{completion}");
    assert_eq!(completion["object"], "chat.completion");
    assert_eq!(completion["choices"][0]["message"]["content"], "Hi there");
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");
    assert!(system_prompt(&server.requests()[0]).contains("Answer in English."));

    server.push(StreamScript::answer(MODEL, &["a", "b"], usage(0.0)).into_reply());
    let (status, events) = sse(
        &router,
        "/v1/chat/completions",
        json!({
            "model": MODEL, "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "ab");
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "stop"));
    assert!(chunks.iter().any(|c| c["usage"]["total_tokens"] == 150));

    // The client's own tools: offered instead of Jamey's, and their calls returned to it.
    server.push(
        StreamScript::new(MODEL)
            .tool_call_start(0, "call_w", "get_weather")
            .tool_call_arguments(0, r#"{"city": "Oslo"}"#)
            .finish("tool_calls")
            .usage(usage(0.0))
            .done()
            .into_reply(),
    );
    let (status, _, completion) = call(&router, &As::Owner, "POST", "/v1/chat/completions", Some(json!({
        "model": "jamey",
        "messages": [{"role": "user", "content": "Weather in Oslo?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    }))).await;
    assert_eq!(status, StatusCode::OK, "{completion}");
    assert_eq!(completion["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        completion["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    let requests = server.requests();
    let offered: Vec<&str> = requests.last().unwrap().body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["get_weather"]);

    let (status, _, body) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/chat/completions",
        Some(json!({
        "model": "gpt-unknown", "messages": [{"role": "user", "content": "x"}]})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_model"))
    );
    let (status, _, _) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/chat/completions",
        Some(json!({
        "model": "jamey", "messages": [{"role": "assistant", "content": "x"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// A server that needs a key (`[llm] api_key_required`, true by default for OpenRouter) and no
/// key anywhere: every chat route is refused at once with what to set, nothing is sent upstream
/// or stored, and `/ready` says so while staying 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_without_a_required_key_is_refused_before_any_request() {
    let (_home, router, server) = twin("api_key_required = true").await;
    let (status, _, ready) = call(&router, &As::Nobody, "GET", "/ready", None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(
        ready["dependencies"]["llm"]["status"], "unconfigured",
        "{ready}"
    );

    let expect_refusal = |status: StatusCode, body: &Value| {
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"]["code"], "llm_unconfigured", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("OPENROUTER_API_KEY")
                && message.contains("jamey secret set llm_api_key"),
            "{message}"
        );
    };
    let (status, _, body) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/chat",
        Some(json!({"message": "hello"})),
    )
    .await;
    expect_refusal(status, &body);
    // Streamed: refused before the stream starts, so a plain error response.
    let (status, _, body) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/chat",
        Some(json!({"message": "hello", "stream": true})),
    )
    .await;
    expect_refusal(status, &body);
    let (status, _, body) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/chat/completions",
        Some(json!({
            "model": "jamey", "messages": [{"role": "user", "content": "Hello"}]
        })),
    )
    .await;
    expect_refusal(status, &body);

    assert_eq!(server.request_count(), 0, "nothing may reach the model");
    let (_, _, sessions) = call(&router, &As::Owner, "GET", "/v1/sessions", None).await;
    assert_eq!(sessions["items"], json!([]), "{sessions}");
}

/// The same server with a key: the turn goes through, and the key is the bearer token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_key_is_sent_and_ready_says_configured() {
    let server = ScriptedServer::start().await.unwrap();
    let home = TestHome::new();
    std::fs::write(
        home.home.config_file(),
        format!(
            "[llm]\nbase_url = \"{}\"\nmodel = \"{MODEL}\"\nmax_retries = 0\napi_key_required = true\n",
            server.base_url()
        ),
    )
    .unwrap();
    let env = home.env(&[("OPENROUTER_API_KEY", "sk-or-test-key")]);
    let (config, raw) =
        jamey_runtime::config::Config::load(&env.home.config_file(), &env.vars, true).unwrap();
    let app = jamey_runtime::build_state(&env, raw, config, None)
        .await
        .unwrap();
    let router = router(app);
    let (_, _, ready) = call(&router, &As::Nobody, "GET", "/ready", None).await;
    assert_eq!(
        ready["dependencies"]["llm"]["status"], "configured",
        "{ready}"
    );
    assert_eq!(ready["dependencies"]["llm"]["model"], MODEL, "{ready}");
    server.push(StreamScript::answer(MODEL, &["Hi."], usage(0.0)).into_reply());
    let (status, _, reply) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/chat",
        Some(json!({"message": "hello"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let requests = server.requests();
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer sk-or-test-key")
    );
}
