//! Every endpoint and error status through the real router (`oneshot`), on both stores.

use crate::support::{call, error_code, raw, state, As, Backend, TestHome};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use jamey_runtime::api::router;
use serde_json::json;

async fn memory_lifecycle(backend: Backend) {
    let home = TestHome::new();
    let Some(app) = state(&home, backend, "").await else {
        return;
    };
    let router = router(app);
    let owner = As::Owner;

    let (status, _, created) = call(&router, &owner, "POST", "/v1/memories",
        Some(json!({"content": "Anna's birthday is on 3 May", "tags": ["family"], "kind": "fact", "importance": 0.9}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert!(created["created_at"].is_string());

    let (status, _, got) = call(&router, &owner, "GET", &format!("/v1/memories/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, created);

    let (status, _, batch) = call(&router, &owner, "POST", "/v1/memories/batch",
        Some(json!({"items": [{"content": "The boiler was serviced in October"}, {"content": "Marek recommends the Okonkwo bakery"}]}))).await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    assert_eq!(batch["ids"].as_array().unwrap().len(), 2);

    let (status, _, patched) = call(
        &router,
        &owner,
        "PATCH",
        &format!("/v1/memories/{id}"),
        Some(json!({"content": "Anna's birthday is on 4 May"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["content"], "Anna's birthday is on 4 May");

    let (status, _, found) = call(
        &router,
        &owner,
        "POST",
        "/v1/memories/search",
        Some(json!({"query": "when is Anna's birthday?", "limit": 2})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["results"][0]["memory"]["id"], id.as_str());
    assert!(found["results"][0]["score"].is_number());
    let (_, _, keyword) = call(
        &router,
        &owner,
        "POST",
        "/v1/memories/search",
        Some(json!({"query": "Okonkwo", "mode": "keyword"})),
    )
    .await;
    assert_eq!(keyword["results"].as_array().unwrap().len(), 1, "{keyword}");
    let (_, _, filtered) = call(
        &router,
        &owner,
        "POST",
        "/v1/memories/search",
        Some(json!({"query": "birthday", "mode": "vector", "filter": {"tags": ["family"]}})),
    )
    .await;
    assert_eq!(
        filtered["results"].as_array().unwrap().len(),
        1,
        "{filtered}"
    );

    let (status, _, page) = call(&router, &owner, "GET", "/v1/memories?limit=2", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (_, _, rest) = call(
        &router,
        &owner,
        "GET",
        &format!("/v1/memories?limit=2&cursor={cursor}"),
        None,
    )
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest.get("next_cursor").is_none());
    let (_, _, offset) = call(
        &router,
        &owner,
        "GET",
        "/v1/memories?limit=5&offset=1",
        None,
    )
    .await;
    assert_eq!(offset["items"].as_array().unwrap().len(), 2);

    let (status, _, _) = call(
        &router,
        &owner,
        "DELETE",
        &format!("/v1/memories/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, body) = call(&router, &owner, "GET", &format!("/v1/memories/{id}"), None).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, _, _) = call(
        &router,
        &owner,
        "DELETE",
        &format!("/v1/memories/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_lifecycle_embedded() {
    memory_lifecycle(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_lifecycle_postgres() {
    memory_lifecycle(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_right_status_and_a_json_error() {
    let home = TestHome::new();
    let app = state(
        &home,
        Backend::Embedded,
        "[limits]\nmax_body_bytes = 2048\nmax_content_bytes = 100\n",
    )
    .await
    .unwrap();
    let router = router(app.clone());
    let owner = As::Owner;
    app.memories
        .add(jamey_protocol::NewMemory::from_content("kept"))
        .await
        .unwrap();

    let send = |body: &'static str, content_type: Option<&'static str>| {
        let mut request = Request::builder().method("POST").uri("/v1/memories");
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let mut request = request.body(Body::from(body)).unwrap();
        request
            .extensions_mut()
            .insert(jamey_runtime::auth::ConnectionInfo {
                client_cert: Some(jamey_runtime::auth::ClientCert {
                    name: "owner".into(),
                    fingerprint: "x".into(),
                }),
            });
        request
    };
    let (status, _, body) = raw(&router, send("{\"content\": ", Some("application/json"))).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "malformed")
    );
    let (status, _, body) = raw(&router, send("{\"content\": \"x\"}", None)).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let (status, _, body) = raw(
        &router,
        send(
            "{\"content\": \"x\", \"colour\": 1}",
            Some("application/json"),
        ),
    )
    .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field")
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{body}"
    );
    let (status, _, body) = raw(&router, send("{\"content\": 5}", Some("application/json"))).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field")
    );

    let big = json!({"content": "x".repeat(4000)});
    let (status, _, body) = call(&router, &owner, "POST", "/v1/memories", Some(big)).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let (status, _, body) = call(
        &router,
        &owner,
        "POST",
        "/v1/memories",
        Some(json!({"content": "y".repeat(101)})),
    )
    .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field")
    );
    assert_eq!(body["error"]["field"], "content");
    let (status, _, body) = call(
        &router,
        &owner,
        "POST",
        "/v1/memories",
        Some(json!({"content": "  "})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("content"))
    );
    let (status, _, body) = call(
        &router,
        &owner,
        "POST",
        "/v1/memories/batch",
        Some(json!({"items": [{"content": "fine"}, {"content": "bad", "importance": 3}]})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("items[1].importance")
        )
    );

    let (status, _, body) = call(&router, &owner, "GET", "/v1/memories/not-a-uuid", None).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "malformed")
    );
    let (status, _, body) = call(
        &router,
        &owner,
        "GET",
        &format!("/v1/memories/{}", uuid::Uuid::new_v4()),
        None,
    )
    .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, _, body) =
        call(&router, &owner, "GET", "/v1/memories?cursor=tampered", None).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("cursor"))
    );
    let (status, _, body) = call(&router, &owner, "GET", "/v1/memories?limit=abc", None).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "malformed")
    );
    let (status, _, body) = call(
        &router,
        &owner,
        "POST",
        "/v1/memories/search",
        Some(json!({"query": "x", "mode": "fuzzy"})),
    )
    .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field")
    );
    let (status, _, body) = call(&router, &owner, "GET", "/v2/nothing", None).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, _, body) = call(&router, &owner, "PUT", "/v1/memories", None).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );

    assert_eq!(
        app.memories.count().await.unwrap(),
        1,
        "no bad request changed the store"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_and_rate_limits() {
    let home = TestHome::new();
    let token = home.token("ci-tool");
    let app = state(
        &home,
        Backend::Embedded,
        "[limits]\ntoken_requests_per_second = 2\n",
    )
    .await
    .unwrap();
    let router = router(app);

    let (status, _, body) = call(&router, &As::Nobody, "GET", "/v1/memories", None).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    let (status, _, _) = call(
        &router,
        &As::Token("jmy_wrong".into()),
        "GET",
        "/v1/memories",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call(&router, &As::Nobody, "GET", "/metrics", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call(&router, &As::Nobody, "GET", "/health", None).await;
    assert_eq!(status, StatusCode::OK, "liveness needs no credentials");

    let tool = As::Token(token);
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..6 {
        let (status, headers, _) = call(&router, &tool, "GET", "/v1/memories", None).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            retry_after = headers
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
        }
        statuses.push(status);
    }
    assert_eq!(statuses[0], StatusCode::OK);
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert!(retry_after.is_some_and(|s| s.parse::<u64>().unwrap() >= 1));
    for _ in 0..20 {
        let (status, _, _) = call(&router, &As::Owner, "GET", "/v1/memories", None).await;
        assert_eq!(status, StatusCode::OK, "the owner has no limit by default");
    }

    home.revoke_token("ci-tool");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _, _) = call(&router, &tool, "GET", "/v1/memories", None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "revocation applies without a restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_has_a_request_id_and_security_headers() {
    let home = TestHome::new();
    let router = router(state(&home, Backend::Embedded, "").await.unwrap());
    let (_, headers, _) = call(&router, &As::Owner, "GET", "/v1/memories", None).await;
    let generated = headers.get("x-request-id").unwrap().to_str().unwrap();
    assert_eq!(generated.len(), 36);
    for name in [
        "strict-transport-security",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
        "content-security-policy",
    ] {
        assert!(headers.contains_key(name), "missing {name}");
    }
    let request = Request::builder()
        .uri("/health")
        .header("x-request-id", "trace-me-42")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = raw(&router, request).await;
    assert_eq!(headers.get("x-request-id").unwrap(), "trace-me-42");
    let (_, headers, _) = call(&router, &As::Nobody, "GET", "/v1/memories", None).await;
    assert!(
        headers.contains_key("x-request-id") && headers.contains_key("strict-transport-security"),
        "errors too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_metrics_and_config() {
    let home = TestHome::new();
    let router = router(state(&home, Backend::Embedded, "").await.unwrap());
    let (status, _, ready) = call(&router, &As::Nobody, "GET", "/ready", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["dependencies"]["store"]["status"], "up");
    assert_eq!(ready["dependencies"]["store"]["backend"], "embedded");
    assert!(ready["dependencies"]["redis"].is_object());

    call(&router, &As::Owner, "GET", "/v1/memories", None).await;
    let (status, headers, metrics) = call(&router, &As::Owner, "GET", "/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = metrics.as_str().unwrap();
    assert!(
        text.contains("jamey_http_requests_total")
            && text.contains("jamey_memory_operations_total"),
        "{text}"
    );

    let (status, _, config) = call(&router, &As::Owner, "GET", "/v1/config", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["listen"], "127.0.0.1:3000");
    let (status, _, patched) = call(
        &router,
        &As::Owner,
        "PATCH",
        "/v1/config",
        Some(json!({"keyword_weight": 0.3, "token_requests_per_second": 7})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["limits"]["token_requests_per_second"], 7);
    assert_eq!(patched["overrides"]["keyword_weight"], 0.3);
    let (status, _, body) = call(
        &router,
        &As::Owner,
        "PATCH",
        "/v1/config",
        Some(json!({"keyword_weight": 9})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("search.keyword_weight")
        )
    );
    let (status, _, body) = call(
        &router,
        &As::Owner,
        "PATCH",
        "/v1/config",
        Some(json!({"listen": "0.0.0.0:1"})),
    )
    .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_shows_no_secrets() {
    let home = TestHome::new();
    let Some(app) = state(&home, Backend::Postgres, "").await else {
        return;
    };
    let router = router(app);
    let (_, _, config) = call(&router, &As::Owner, "GET", "/v1/config", None).await;
    let url = config["database"]["url"].as_str().unwrap();
    assert!(url.starts_with("postgres://"), "{url}");
    let text = config.to_string();
    assert!(
        !text.contains("pw-never-shown") && url.contains("[redacted]"),
        "{text}"
    );
}

/// `/openapi.json` is public, describes the memory API with its schemas, and every path and
/// method it documents is really routed (none falls through to the 404/405 fallbacks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_matches_the_routes() {
    let home = TestHome::new();
    let router = router(state(&home, Backend::Embedded, "").await.unwrap());
    let (status, _, doc) = call(&router, &As::Nobody, "GET", "/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    for schema in [
        "Memory",
        "NewMemory",
        "SearchRequest",
        "ErrorBody",
        "MemoryPage",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
    assert!(doc["components"]["securitySchemes"]["client_certificate"].is_object());
    let paths = doc["paths"].as_object().unwrap();
    for required in [
        "/v1/memories",
        "/v1/memories/{id}",
        "/v1/memories/search",
        "/ready",
        "/v1/system/info",
        "/v1/processes",
        "/v1/processes/{pid}/kill",
    ] {
        assert!(paths.contains_key(required), "{required} missing");
    }
    for schema in ["SystemInfo", "ProcessList", "KilledProcess"] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
    let some_id = "00000000-0000-4000-8000-000000000000";
    for (path, operations) in paths {
        for method in operations.as_object().unwrap().keys() {
            // PID 0 is refused before anything is signalled.
            let concrete = path.replace("{id}", some_id).replace("{pid}", "0");
            let (status, _, body) = call(
                &router,
                &As::Owner,
                &method.to_uppercase(),
                &concrete,
                Some(json!({})),
            )
            .await;
            let fell_through = status == StatusCode::METHOD_NOT_ALLOWED
                || (status == StatusCode::NOT_FOUND
                    && body["error"]["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("no route")));
            assert!(
                !fell_through,
                "{method} {path} is documented but not routed: {body}"
            );
        }
    }
}
