//! The call policy: retries honouring Retry-After, fallback to the next model, the circuit
//! breaker and the local rate limiter.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use jamey_providers::scripted::{ScriptedReply, ScriptedServer, StreamScript};
use jamey_providers::{
    CircuitBreakerConfig, LlmProvider, ModelRateLimit, OpenAiCompatClient, ProviderError,
    StreamEvent,
};

use crate::common::*;

#[tokio::test]
async fn a_429_is_retried_after_the_retry_after_delay() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(ScriptedReply::rate_limited("1"));
    server.push(
        StreamScript::answer(PRIMARY, &["after ", "the wait"], usage(5, 3, Some(0.00001)))
            .into_reply(),
    );
    let client = client(&server, &[PRIMARY, FALLBACK]);

    let (events, error) = collect(client.stream(ask("hi")).await.unwrap()).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(text_of(&events), "after the wait");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let gap = requests[1].received_at - requests[0].received_at;
    assert!(
        gap >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured ({gap:?})"
    );
    assert_eq!(
        requested_models(&server),
        vec![PRIMARY, PRIMARY],
        "same model retried"
    );
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let server = ScriptedServer::start().await.unwrap();
    let in_two_seconds = httpdate_in(Duration::from_secs(2));
    server.push(ScriptedReply::rate_limited(&in_two_seconds));
    server.push(ScriptedReply::completion(PRIMARY, "ok", None));
    let client = client(&server, &[PRIMARY]);

    client.complete(ask("hi")).await.unwrap();

    let requests = server.requests();
    // HTTP dates have whole-second resolution.
    assert!(requests[1].received_at - requests[0].received_at >= Duration::from_millis(900));
}

fn httpdate_in(delay: Duration) -> String {
    httpdate::fmt_http_date(std::time::SystemTime::now() + delay)
}

#[tokio::test]
async fn three_500s_then_the_fallback_model_answers_and_says_so() {
    let server = ScriptedServer::start().await.unwrap();
    for _ in 0..3 {
        server.push(ScriptedReply::error(500, "Internal Server Error"));
    }
    server.push(
        StreamScript::answer(
            FALLBACK,
            &["from the ", "fallback"],
            usage(9, 4, Some(0.00002)),
        )
        .into_reply(),
    );
    let client = client(&server, &[PRIMARY, FALLBACK]);

    let (events, error) = collect(client.stream(ask("hi")).await.unwrap()).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(text_of(&events), "from the fallback");
    let Some(StreamEvent::Finish(finish)) = events.last() else {
        panic!("no finish: {events:?}");
    };
    assert_eq!(finish.model, FALLBACK);
    assert_eq!(finish.requested_model, PRIMARY);
    assert!(finish.fell_back);
    assert_eq!(
        requested_models(&server),
        vec![PRIMARY, PRIMARY, PRIMARY, FALLBACK]
    );
    assert!(
        server.requests()[3].body.get("models").is_none(),
        "the last model of the chain has no OpenRouter fallback list"
    );
}

#[tokio::test]
async fn when_every_model_fails_the_last_error_is_returned() {
    let server = ScriptedServer::start().await.unwrap();
    for _ in 0..6 {
        server.push(ScriptedReply::error(503, "No available provider"));
    }
    let client = client(&server, &[PRIMARY, FALLBACK]);

    let error = client.complete(ask("hi")).await.unwrap_err();

    match error {
        ProviderError::Unavailable { model, status, .. } => {
            assert_eq!((model.as_str(), status), (FALLBACK, Some(503)));
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
    assert_eq!(server.request_count(), 6);
}

#[tokio::test]
async fn an_open_circuit_skips_the_failing_model() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(ScriptedReply::error(502, "Bad gateway"));
    server.push(ScriptedReply::completion(FALLBACK, "one", None));
    server.push(ScriptedReply::completion(FALLBACK, "two", None));
    let mut config = config(&server, &[PRIMARY, FALLBACK]);
    config.retry.max_attempts = 1;
    config.circuit_breaker = CircuitBreakerConfig {
        failure_threshold: 1,
        open_for: Duration::from_secs(60),
    };
    let client = OpenAiCompatClient::new(config).unwrap();

    let first = client.complete(ask("hi")).await.unwrap();
    let second = client.complete(ask("hi")).await.unwrap();

    assert_eq!(
        (first.content.as_str(), second.content.as_str()),
        ("one", "two")
    );
    assert!(second.finish.fell_back);
    assert_eq!(
        requested_models(&server),
        vec![PRIMARY, FALLBACK, FALLBACK],
        "the open circuit kept the second call away from the primary"
    );
}

#[tokio::test]
async fn the_token_rate_limit_queues_a_request_briefly() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(ScriptedReply::completion(PRIMARY, "one", None));
    server.push(ScriptedReply::completion(PRIMARY, "two", None));
    let mut config = config(&server, &[PRIMARY]);
    // 6000 tokens a minute: 100 a second once the bucket is empty.
    config.rate_limits.default = ModelRateLimit {
        requests_per_minute: None,
        tokens_per_minute: NonZeroU32::new(6_000),
    };
    config.rate_limits.max_wait = Duration::from_secs(5);
    let client = OpenAiCompatClient::new(config).unwrap();
    // About 6000 tokens at four bytes each: empties the bucket.
    let big = "x".repeat(24_000);

    client.complete(ask(&big)).await.unwrap();
    let started = Instant::now();
    client.complete(ask(&"y".repeat(200))).await.unwrap();
    let waited = started.elapsed();

    assert!(
        waited >= Duration::from_millis(300),
        "the second request must have queued for ~50 tokens at 100/s, waited {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(3),
        "but only briefly: {waited:?}"
    );
    assert_eq!(server.request_count(), 2);
}

#[tokio::test]
async fn beyond_the_bounded_wait_the_limiter_refuses_without_calling() {
    let server = ScriptedServer::start().await.unwrap();
    server.push(ScriptedReply::completion(PRIMARY, "one", None));
    let mut config = config(&server, &[PRIMARY]);
    config.rate_limits.default = ModelRateLimit {
        requests_per_minute: NonZeroU32::new(1),
        tokens_per_minute: None,
    };
    config.rate_limits.max_wait = Duration::from_millis(100);
    let client = OpenAiCompatClient::new(config).unwrap();

    client.complete(ask("hi")).await.unwrap();
    let error = client.complete(ask("hi")).await.unwrap_err();

    assert!(
        matches!(error, ProviderError::RateLimited { local: true, .. }),
        "{error:?}"
    );
    assert!(error.retry_after().unwrap() > Duration::from_secs(30));
    assert_eq!(server.request_count(), 1, "the refused request never left");
}
