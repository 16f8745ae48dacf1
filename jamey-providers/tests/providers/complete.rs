//! Non-streamed answers: text, tool calls, usage and cost, and what goes over the wire.

use jamey_protocol::{ChatMessage, Role, ToolCall, ToolResult};
use jamey_providers::scripted::{ScriptedReply, ScriptedServer, StreamScript};
use jamey_providers::{
    ChatRequest, CostSource, FinishReason, LlmProvider, ModelPrice, OpenAiCompatClient,
    ToolDefinition,
};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn a_completion_reports_usage_and_the_providers_cost() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(ScriptedReply::completion(
        PRIMARY,
        "Paris.",
        Some(usage(12, 2, Some(0.0000213))),
    ));
    let client = client(&server, &[PRIMARY]);

    let response = client.complete(ask("Capital of France?")).await.unwrap();

    assert_eq!(response.content, "Paris.");
    assert!(response.tool_calls.is_empty());
    assert_eq!(response.finish.reason, FinishReason::Stop);
    assert_eq!(response.finish.usage.total_tokens, 14);
    assert_eq!(response.finish.cost_usd, Some(0.0000213));
    assert_eq!(response.finish.cost_source, Some(CostSource::Provider));
    assert_eq!(response.finish.model, PRIMARY);
    assert_eq!(
        response.finish.generation_id.as_deref(),
        Some("gen-1764460800-scripted")
    );
}

#[tokio::test]
async fn without_a_reported_cost_the_price_table_prices_the_usage() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(ScriptedReply::completion(
        PRIMARY,
        "ok",
        Some(usage(1_000, 500, None)),
    ));
    let mut config = config(&server, &[PRIMARY]);
    config.prices.insert(
        PRIMARY,
        ModelPrice {
            prompt_usd_per_million: 0.15,
            completion_usd_per_million: 0.60,
        },
    );
    let client = OpenAiCompatClient::new(config).unwrap();

    let finish = client.complete(ask("hi")).await.unwrap().finish;

    let expected = (1_000.0 * 0.15 + 500.0 * 0.60) / 1_000_000.0;
    assert!((finish.cost_usd.unwrap() - expected).abs() < 1e-15);
    assert_eq!(finish.cost_source, Some(CostSource::PriceTable));

    // No reported cost and no price: unknown, not zero.
    server.push(ScriptedReply::completion(
        "other/model",
        "ok",
        Some(usage(1, 1, None)),
    ));
    let unpriced = client
        .complete(ask("hi").with_model("other/model"))
        .await
        .unwrap();
    assert_eq!(unpriced.finish.cost_usd, None);
}

#[tokio::test]
async fn tool_calls_and_results_round_trip_through_the_wire_format() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(ScriptedReply::completion_with_tool_calls(
        PRIMARY,
        &[
            ("call_1", "memory_search", "{\"query\":\"tea\"}"),
            ("call_2", "memory_save", "{\"content\":\"x\"}"),
        ],
        Some(usage(40, 10, Some(0.00002))),
    ));
    server.push(ScriptedReply::completion(
        PRIMARY,
        "You like green tea.",
        Some(usage(60, 5, Some(0.00003))),
    ));
    let client = client(&server, &[PRIMARY]);
    let tools = vec![ToolDefinition {
        name: "memory_search".into(),
        description: "Search the owner's memories".into(),
        parameters: json!({"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}),
    }];
    let mut messages = vec![user("What tea do I like?")];

    let first = client
        .complete(ChatRequest::new(messages.clone()).with_tools(tools.clone()))
        .await
        .unwrap();
    assert_eq!(first.finish.reason, FinishReason::ToolCalls);
    assert_eq!(
        first.tool_calls,
        vec![
            ToolCall {
                id: "call_1".into(),
                name: "memory_search".into(),
                arguments: "{\"query\":\"tea\"}".into()
            },
            ToolCall {
                id: "call_2".into(),
                name: "memory_save".into(),
                arguments: "{\"content\":\"x\"}".into()
            },
        ]
    );
    messages.push(first.to_message());
    messages.push(ChatMessage {
        role: Role::Tool,
        content: String::new(),
        tool_calls: vec![],
        tool_result: Some(ToolResult {
            call_id: "call_1".into(),
            content: "green tea".into(),
            is_error: false,
        }),
        created_at: None,
    });
    let second = client
        .complete(ChatRequest::new(messages).with_tools(tools))
        .await
        .unwrap();
    assert_eq!(second.content, "You like green tea.");

    let requests = server.requests();
    let body = &requests[1].body;
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "memory_search");
    assert_eq!(body["messages"][1]["role"], "assistant");
    assert_eq!(body["messages"][1]["tool_calls"][1]["id"], "call_2");
    assert_eq!(
        body["messages"][1]["tool_calls"][0]["function"]["arguments"],
        "{\"query\":\"tea\"}"
    );
    assert_eq!(
        body["messages"][2],
        json!({"role": "tool", "content": "green tea", "tool_call_id": "call_1"})
    );
}

#[tokio::test]
async fn the_bearer_token_and_attribution_headers_are_always_sent() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(ScriptedReply::completion(PRIMARY, "ok", None));
    server.push(StreamScript::answer(PRIMARY, &["ok"], usage(1, 1, None)).into_reply());
    let mut config = config(&server, &[PRIMARY, FALLBACK]);
    config.attribution.referer = "https://jamey.example".into();
    config.attribution.title = "Jamey Test".into();
    let client = OpenAiCompatClient::new(config).unwrap();

    client.complete(ask("hi")).await.unwrap();
    let (events, error) = collect(client.stream(ask("hi")).await.unwrap()).await;
    assert!(
        error.is_none() && text_of(&events) == "ok",
        "{events:?} {error:?}"
    );

    let requests = server.requests();
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/api/v1/chat/completions");
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert_eq!(
            request.header("http-referer"),
            Some("https://jamey.example")
        );
        assert_eq!(request.header("x-title"), Some("Jamey Test"));
        assert_eq!(request.body["usage"], json!({"include": true}));
        assert_eq!(request.body["models"], json!([PRIMARY, FALLBACK]));
    }
    assert_eq!(requests[0].body["stream"], false);
    assert_eq!(requests[1].body["stream"], true);
    assert_eq!(
        requests[1].body["stream_options"],
        json!({"include_usage": true})
    );
    assert_eq!(requests[1].header("accept"), Some("text/event-stream"));
}

#[tokio::test]
async fn a_plain_openai_compatible_server_gets_no_openrouter_extensions() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(ScriptedReply::completion("llama3.1", "ok", None));
    let mut config = config(&server, &["llama3.1", "qwen2.5"]);
    config.openrouter_extensions = false;
    config.api_key = None;
    let client = OpenAiCompatClient::new(config).unwrap();

    client.complete(ask("hi")).await.unwrap();

    let request = &server.requests()[0];
    assert!(request.body.get("usage").is_none());
    assert!(request.body.get("models").is_none());
    assert_eq!(request.header("authorization"), None);
    assert!(
        request.header("x-title").is_some(),
        "attribution is always sent"
    );
}
