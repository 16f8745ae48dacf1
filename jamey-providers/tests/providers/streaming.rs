//! Streamed answers: text, split and parallel tool calls, usage, mid-stream errors, cancellation.

use std::time::Duration;

use futures::StreamExt;
use jamey_providers::scripted::{ScriptedReply, ScriptedServer, StreamScript};
use jamey_providers::{CostSource, FinishReason, LlmProvider, ProviderError, StreamEvent};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn a_streamed_answer_arrives_in_order_with_usage_and_cost() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(
        StreamScript::new(PRIMARY)
            .crlf()
            .processing_comment()
            .processing_comment()
            .text("The capital")
            .pause(Duration::from_millis(20))
            .text(" of France")
            .text(" is Paris.")
            .finish("stop")
            .usage(usage(14, 6, Some(0.000_042)))
            .done()
            .into_reply(),
    );
    let client = client(&server, &[PRIMARY]);

    let stream = client
        .stream(ask("What is the capital of France?"))
        .await
        .unwrap();
    let (events, error) = collect(stream).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(text_of(&events), "The capital of France is Paris.");
    assert_eq!(events.len(), 4, "three deltas and the finish: {events:?}");
    let Some(StreamEvent::Finish(finish)) = events.last() else {
        panic!("the stream must end with a finish: {events:?}");
    };
    assert_eq!(finish.reason, FinishReason::Stop);
    assert_eq!(
        (
            finish.usage.prompt_tokens,
            finish.usage.completion_tokens,
            finish.usage.total_tokens
        ),
        (14, 6, 20)
    );
    assert_eq!(finish.cost_usd, Some(0.000_042));
    assert_eq!(finish.cost_source, Some(CostSource::Provider));
    assert_eq!(finish.model, PRIMARY);
    assert!(!finish.fell_back);
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn tool_call_arguments_split_across_many_deltas_are_assembled() {
    let server = ScriptedServer::start().await.unwrap();
    let arguments = r#"{"query": "what tea does the owner like?", "limit": 5}"#;
    let mut script = StreamScript::new(PRIMARY)
        .processing_comment()
        .tool_call_start(0, "call_abc123", "memory_search");
    // One fragment per character, as some providers send them.
    for character in arguments.chars() {
        script = script.tool_call_arguments(0, &character.to_string());
    }
    server.push(
        script
            .finish("tool_calls")
            .usage(usage(50, 20, Some(0.0001)))
            .done()
            .into_reply(),
    );
    let client = client(&server, &[PRIMARY]);

    let (events, error) = collect(client.stream(ask("tea?")).await.unwrap()).await;

    assert!(error.is_none(), "{error:?}");
    let calls: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            StreamEvent::ToolCall(call) => Some(call),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 1, "{events:?}");
    assert_eq!(calls[0].id, "call_abc123");
    assert_eq!(calls[0].name, "memory_search");
    assert_eq!(calls[0].arguments, arguments);
    let parsed: serde_json::Value = serde_json::from_str(&calls[0].arguments).unwrap();
    assert_eq!(parsed["limit"], 5);
    assert!(matches!(
        events.last(),
        Some(StreamEvent::Finish(finish)) if finish.reason == FinishReason::ToolCalls
    ));
}

#[tokio::test]
async fn two_parallel_tool_calls_are_told_apart_by_index() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(
        StreamScript::new(PRIMARY)
            .tool_call_start(0, "call_search", "memory_search")
            .tool_call_start(1, "call_save", "memory_save")
            .tool_call_arguments(1, "{\"content\": \"likes ")
            .tool_call_arguments(0, "{\"query\"")
            .tool_call_arguments(1, "green tea\", \"tags\": [\"tea\"]}")
            .tool_call_arguments(0, ": \"tea\"}")
            .finish("tool_calls")
            .usage(usage(30, 12, None))
            .done()
            .into_reply(),
    );
    let client = client(&server, &[PRIMARY]);

    let (events, error) = collect(client.stream(ask("remember my tea")).await.unwrap()).await;

    assert!(error.is_none(), "{error:?}");
    let calls: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            StreamEvent::ToolCall(call) => Some((
                call.id.as_str(),
                call.name.as_str(),
                call.arguments.as_str(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls,
        vec![
            ("call_search", "memory_search", "{\"query\": \"tea\"}"),
            (
                "call_save",
                "memory_save",
                "{\"content\": \"likes green tea\", \"tags\": [\"tea\"]}"
            ),
        ]
    );
}

#[tokio::test]
async fn an_error_after_the_first_token_ends_the_stream_without_a_retry() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(
        StreamScript::new(PRIMARY)
            .text("Once upon")
            .text(" a time")
            .error(json!("server_error"), "Provider disconnected unexpectedly")
            .into_reply(),
    );
    // Would answer a (wrong) retry; must stay unused.
    server.push(ScriptedReply::completion(PRIMARY, "duplicate", None));
    let client = client(&server, &[PRIMARY]);

    let (events, error) = collect(client.stream(ask("a story")).await.unwrap()).await;

    assert_eq!(text_of(&events), "Once upon a time");
    match error {
        Some(ProviderError::StreamFailed {
            model,
            code,
            message,
        }) => {
            assert_eq!(model, PRIMARY);
            assert_eq!(code.as_deref(), Some("server_error"));
            assert!(message.contains("Provider disconnected"));
        }
        other => panic!("expected a mid-stream failure, got {other:?}"),
    }
    assert_eq!(
        server.request_count(),
        1,
        "no retry once tokens reached the caller"
    );
}

#[tokio::test]
async fn an_error_before_the_first_token_is_retried() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(
        StreamScript::new(PRIMARY)
            .processing_comment()
            .error(json!(502), "Upstream overloaded")
            .into_reply(),
    );
    server.push(StreamScript::answer(PRIMARY, &["fine"], usage(3, 1, Some(0.00001))).into_reply());
    let client = client(&server, &[PRIMARY]);

    let (events, error) = collect(client.stream(ask("hi")).await.unwrap()).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(text_of(&events), "fine");
    assert_eq!(server.request_count(), 2);
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_upstream_request() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(
        StreamScript::new(PRIMARY)
            .text("first")
            .pause(Duration::from_secs(30))
            .text("never read")
            .finish("stop")
            .done()
            .into_reply(),
    );
    let client = client(&server, &[PRIMARY]);

    let mut stream = client.stream(ask("long answer")).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first, StreamEvent::TextDelta("first".into()));
    assert_eq!(server.disconnects(), 0);
    drop(stream);

    assert!(
        server.wait_for_disconnects(1, Duration::from_secs(5)).await,
        "the server must see the client go away"
    );
}

#[tokio::test]
async fn a_stream_cut_off_before_it_finished_is_malformed() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(StreamScript::new(PRIMARY).text("half an ans").into_reply());
    let client = client(&server, &[PRIMARY]);

    let (events, error) = collect(client.stream(ask("hi")).await.unwrap()).await;

    assert_eq!(text_of(&events), "half an ans");
    assert!(
        matches!(error, Some(ProviderError::MalformedStream { .. })),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_that_ignores_stream_true_is_replayed_as_events() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(ScriptedReply::completion(
        PRIMARY,
        "whole answer",
        Some(usage(4, 2, Some(0.00001))),
    ));
    server.push(ScriptedReply::Json {
        status: 200,
        headers: vec![],
        body: json!({"error": {"code": 429, "message": "Provider rate limited"}}),
    });
    server.push(ScriptedReply::completion(PRIMARY, "after the 429", None));
    let client = client(&server, &[PRIMARY]);

    let (events, error) = collect(client.stream(ask("hi")).await.unwrap()).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(text_of(&events), "whole answer");
    assert!(
        matches!(events.last(), Some(StreamEvent::Finish(finish)) if finish.cost_usd == Some(0.00001))
    );

    // An error object in a 200 body is classified like the status it names, and retried.
    let (events, error) = collect(client.stream(ask("hi")).await.unwrap()).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(text_of(&events), "after the 429");
    assert_eq!(server.request_count(), 3);
}

#[tokio::test]
async fn garbage_instead_of_json_is_a_malformed_stream_error() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(
        StreamScript::new(PRIMARY)
            .data("{\"choices\": [")
            .done()
            .into_reply(),
    );
    let client = client(&server, &[PRIMARY]);

    let error = client.stream(ask("hi")).await.err().unwrap();

    assert_eq!(error.code().as_str(), "malformed_stream");
    assert_eq!(
        server.request_count(),
        1,
        "a malformed stream is not retried"
    );
}
