//! The cache as the runtime wires it: `JAMEY_REDIS_URL` set means two tiers, unset in-process
//! only; `/ready` reports Redis and stays 200 when it is down; `/metrics` carries the cache's
//! counters; cache lifetimes change live.

use crate::support::{call, As, TestHome};
use axum::http::StatusCode;
use jamey_runtime::api::router;
use jamey_runtime::config::Config;
use jamey_runtime::state::AppState;
use serde_json::json;
use std::time::Duration;

async fn state_with(home: &TestHome, config_toml: &str, vars: &[(&str, &str)]) -> AppState {
    std::fs::write(home.home.config_file(), config_toml).unwrap();
    let env = home.env(vars);
    let (config, raw) = Config::load(&env.home.config_file(), &env.vars, true).unwrap();
    jamey_runtime::build_state(&env, raw, config, None)
        .await
        .unwrap()
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_degraded_in_ready_yet_200_and_requests_succeed() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let home = TestHome::new();
    let url = format!("redis://127.0.0.1:{port}");
    let app = state_with(
        &home,
        "[cache]\nredis_timeout_ms = 50",
        &[("JAMEY_REDIS_URL", &url)],
    )
    .await;
    let router = router(app);
    let (status, _, ready) = call(&router, &As::Nobody, "GET", "/ready", None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["status"], "ready");
    assert_eq!(
        ready["dependencies"]["redis"]["status"], "degraded",
        "{ready}"
    );

    let (status, _, created) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/memories",
        Some(json!({"content": "Redis is down, the memory is not lost."})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let uri = format!("/v1/memories/{}", created["id"].as_str().unwrap());
    for _ in 0..3 {
        let (status, _, got) = call(&router, &As::Owner, "GET", &uri, None).await;
        assert_eq!(
            (status, &got["content"]),
            (StatusCode::OK, &created["content"])
        );
    }
    let (_, _, metrics) = call(&router, &As::Owner, "GET", "/metrics", None).await;
    let text = metrics.as_str().unwrap();
    assert_eq!(metric(text, "jamey_cache_hits_total{tier=\"l1\"}"), 3.0);
    assert_eq!(metric(text, "jamey_cache_hit_rate"), 1.0);
    assert!(metric(text, "jamey_cache_redis_errors_total") >= 0.0);
    assert!(
        text.contains("jamey_cache_invalidations_sent_total"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jamey_redis_url_means_two_tiers_and_unset_means_in_process_only() {
    let home = TestHome::new();
    let router_one = router(state_with(&home, "", &[]).await);
    let (status, _, ready) = call(&router_one, &As::Nobody, "GET", "/ready", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["dependencies"]["redis"]["status"], "disabled");
    drop(router_one);

    let Ok(url) = std::env::var("JAMEY_TEST_REDIS_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "JAMEY_TEST_REDIS_URL must be set in CI"
        );
        return;
    };
    let home = TestHome::new();
    let prefix = format!("jamey-rt-{}", uuid::Uuid::new_v4().simple());
    let app = state_with(
        &home,
        &format!("[cache]\nredis_key_prefix = \"{prefix}\""),
        &[("JAMEY_REDIS_URL", &url)],
    )
    .await;
    let cache = app.memories.cache().unwrap().clone();
    let router = router(app);
    let (status, _, ready) = call(&router, &As::Nobody, "GET", "/ready", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["dependencies"]["redis"]["status"], "ok", "{ready}");
    let (_, _, created) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/memories",
        Some(json!({"content": "Shared through Redis."})),
    )
    .await;
    cache.clear_local();
    let uri = format!("/v1/memories/{}", created["id"].as_str().unwrap());
    let (status, _, _) = call(&router, &As::Owner, "GET", &uri, None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, metrics) = call(&router, &As::Owner, "GET", "/metrics", None).await;
    let text = metrics.as_str().unwrap();
    assert_eq!(
        metric(text, "jamey_cache_hits_total{tier=\"l2\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(metric(text, "jamey_cache_misses_total{tier=\"l1\"}"), 1.0);
    assert_eq!(metric(text, "jamey_cache_invalidations_sent_total"), 1.0);

    // Cache lifetimes are safe keys: a runtime override changes the running cache.
    let (status, _, patched) = call(
        &router,
        &As::Owner,
        "PATCH",
        "/v1/config",
        Some(json!({"cache_ttl_secs": 5, "cache_redis_ttl_secs": 9})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["cache"]["ttl_secs"], 5);
    assert_eq!(cache.times().ttl(), Duration::from_secs(5));
    assert_eq!(cache.times().redis_ttl(), Duration::from_secs(9));
}
