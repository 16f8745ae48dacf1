//! Failures that must not be retried, and how every fault is classified (never leaking the key).

use std::time::Duration;

use jamey_providers::scripted::{ScriptedReply, ScriptedServer};
use jamey_providers::{LlmProvider, OpenAiCompatClient, ProviderError, TimeoutConfig};

use crate::common::*;

#[tokio::test]
async fn an_invalid_api_key_is_not_retried_and_never_echoed() {
    let server = ScriptedServer::start().await.unwrap();
    // A server that quotes the key back must not get it into our error.
    server.push(ScriptedReply::error(401, &format!("Invalid key {KEY}")));
    let client = client(&server, &[PRIMARY, FALLBACK]);

    let error = client.complete(ask("hi")).await.unwrap_err();

    assert!(
        matches!(error, ProviderError::InvalidApiKey { .. }),
        "{error:?}"
    );
    assert_eq!(error.code().as_str(), "invalid_api_key");
    assert!(!error.is_retryable());
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(KEY), "the key leaked: {shown}");
    assert!(shown.contains("[redacted]"));
    assert_eq!(
        server.request_count(),
        1,
        "401 is neither retried nor sent to a fallback"
    );
}

#[tokio::test]
async fn a_bad_request_is_not_retried() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(ScriptedReply::error(
        400,
        "temperature: must be between 0 and 2",
    ));
    let client = client(&server, &[PRIMARY, FALLBACK]);

    let error = client.stream(ask("hi")).await.err().unwrap();

    assert!(
        matches!(&error, ProviderError::BadRequest { status: 400, message } if message.contains("temperature")),
        "{error:?}"
    );
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn insufficient_credits_and_moderation_are_final() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(ScriptedReply::error(402, "Insufficient credits"));
    server.push(ScriptedReply::error(403, "Input flagged by moderation"));
    let client = client(&server, &[PRIMARY, FALLBACK]);

    let credits = client.complete(ask("hi")).await.unwrap_err();
    let refused = client.complete(ask("hi")).await.unwrap_err();

    assert_eq!(credits.code().as_str(), "insufficient_credits");
    assert_eq!(refused.code().as_str(), "refused");
    assert_eq!(server.request_count(), 2);
}

#[tokio::test]
async fn an_unknown_model_is_reported_by_name() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(ScriptedReply::error(
        404,
        "No endpoints found for nobody/nothing.",
    ));
    server.push(ScriptedReply::error(
        400,
        "nobody/nothing is not a valid model ID",
    ));
    let client = client(&server, &["nobody/nothing"]);

    for _ in 0..2 {
        let error = client.complete(ask("hi")).await.unwrap_err();
        match error {
            ProviderError::UnknownModel { model, .. } => assert_eq!(model, "nobody/nothing"),
            other => panic!("expected unknown model, got {other:?}"),
        }
    }
    assert_eq!(server.request_count(), 2, "not retried");
}

#[tokio::test]
async fn an_unknown_model_falls_back_to_the_next_one() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(ScriptedReply::error(
        404,
        "No endpoints found for retired/model.",
    ));
    server.push(ScriptedReply::completion(FALLBACK, "still here", None));
    let client = client(&server, &["retired/model", FALLBACK]);

    let response = client.complete(ask("hi")).await.unwrap();

    assert_eq!(response.finish.model, FALLBACK);
    assert!(response.finish.fell_back);
}

#[tokio::test]
async fn a_context_length_error_is_classified() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(ScriptedReply::error(
        400,
        "This endpoint's maximum context length is 128000 tokens. However, you requested about 200000 tokens.",
    ));
    let client = client(&server, &[PRIMARY, FALLBACK]);

    let error = client
        .complete(ask("a very long conversation"))
        .await
        .unwrap_err();

    assert_eq!(error.code().as_str(), "context_length_exceeded");
    assert!(error.to_string().contains(PRIMARY));
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_and_is_disconnected() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(ScriptedReply::Hang);
    server.push(ScriptedReply::Hang);
    let mut config = config(&server, &[PRIMARY]);
    config.retry.max_attempts = 2;
    config.timeouts = TimeoutConfig {
        request: Duration::from_millis(300),
        ..TimeoutConfig::default()
    };
    let client = OpenAiCompatClient::new(config).unwrap();

    let error = client.stream(ask("hi")).await.err().unwrap();

    assert!(matches!(error, ProviderError::Timeout { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert_eq!(server.request_count(), 2, "a timeout is retried");
    assert!(server.wait_for_disconnects(2, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn a_stalled_stream_hits_the_idle_timeout() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(
        jamey_providers::scripted::StreamScript::new(PRIMARY)
            .text("thinking")
            .pause(Duration::from_secs(30))
            .done()
            .into_reply(),
    );
    let mut config = config(&server, &[PRIMARY]);
    config.timeouts.stream_idle = Duration::from_millis(200);
    let client = OpenAiCompatClient::new(config).unwrap();

    let (events, error) = collect(client.stream(ask("hi")).await.unwrap()).await;

    assert_eq!(text_of(&events), "thinking");
    assert!(
        matches!(error, Some(ProviderError::Timeout { .. })),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // Bind and drop a listener to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = jamey_providers::OpenAiCompatConfig::new(
        format!("http://127.0.0.1:{port}/api/v1"),
        Some(jamey_providers::ApiKey::new(KEY)),
        vec![PRIMARY.to_owned()],
    );
    config.retry.base_delay = Duration::from_millis(1);
    let client = OpenAiCompatClient::new(config).unwrap();

    let error = client.complete(ask("hi")).await.unwrap_err();

    assert!(
        matches!(error, ProviderError::Unavailable { status: None, .. }),
        "{error:?}"
    );
    assert!(!format!("{error:?}").contains(KEY));
}

#[tokio::test]
async fn a_connection_failure_names_its_cause_without_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = jamey_providers::OpenAiCompatConfig::new(
        format!("http://127.0.0.1:{port}/internal-route/api/v1"),
        None,
        vec![PRIMARY.to_owned()],
    );
    config.retry.base_delay = Duration::from_millis(1);
    let client = OpenAiCompatClient::new(config).unwrap();

    let error = client.complete(ask("hi")).await.unwrap_err();

    let shown = error.to_string();
    assert!(shown.contains("cannot connect"), "{shown}");
    assert!(
        !shown.contains(&port.to_string()) && !shown.contains("internal-route"),
        "the URL is in the error: {shown}"
    );
}

#[test]
fn an_unusable_configuration_is_refused() {
    let no_models = jamey_providers::OpenAiCompatConfig::new("http://127.0.0.1:1/v1", None, vec![]);
    assert_eq!(
        OpenAiCompatClient::new(no_models)
            .unwrap_err()
            .code()
            .as_str(),
        "invalid_config"
    );
    let bad_url = jamey_providers::OpenAiCompatConfig::new("openrouter", None, vec!["m".into()]);
    assert!(OpenAiCompatClient::new(bad_url).is_err());
}
