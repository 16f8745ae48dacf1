//! Liveness, readiness, metrics and the configuration endpoints.

use crate::api::ApiJson;
use crate::config::ConfigOverrides;
use crate::error::ApiError;
use crate::orchestrator::{LlmState, UNCONFIGURED_MESSAGE};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use jamey_core::cache::RedisState;
use jamey_protocol::ErrorBody;
use serde_json::json;
use std::time::Duration;

/// How long `/ready` waits for the store.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Alive: version and uptime. Needs no credentials.
#[utoipa::path(get, path = "/health", tag = "system", security(()), responses((status = 200, description = "Alive", body = Object)))]
pub(crate) async fn health(State(app): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": app.started_at.elapsed().as_secs(),
    }))
}

/// 200 while the store answers, with each dependency's state; 503 only when the store does not.
/// Each dependency's state, never its error text (that goes to the log). Needs no credentials.
#[utoipa::path(get, path = "/ready", tag = "system", security(()),
    responses((status = 200, description = "The store answers", body = Object), (status = 503, description = "The store does not answer", body = Object)))]
pub(crate) async fn ready(State(app): State<AppState>) -> impl IntoResponse {
    let store = app.memories.store();
    let ping = tokio::time::timeout(READY_TIMEOUT, store.ping()).await;
    let (store_ok, store_detail) = match ping {
        Ok(Ok(())) => (true, json!({"backend": store.backend(), "status": "up"})),
        Ok(Err(error)) => {
            tracing::warn!(%error, backend = store.backend(), "store not ready");
            (false, json!({"backend": store.backend(), "status": "down"}))
        }
        Err(_) => {
            tracing::warn!(
                backend = store.backend(),
                timeout_ms = READY_TIMEOUT.as_millis() as u64,
                "store not ready: no answer in time"
            );
            (false, json!({"backend": store.backend(), "status": "down"}))
        }
    };
    // Redis is a cache: its state is reported, never a reason for 503.
    let redis = match app.memories.cache() {
        Some(cache) => {
            let state = tokio::time::timeout(READY_TIMEOUT, cache.check_redis())
                .await
                .unwrap_or(RedisState::Degraded);
            let status = cache.status();
            json!({
                "status": state.as_str(),
                "strategy": status.strategy,
                "policy": status.policy,
                "l1_entries": status.l1_entries,
                "pending_repairs": status.pending_repairs,
            })
        }
        None => json!({"status": RedisState::Disabled.as_str()}),
    };
    let body = json!({
        "status": if store_ok { "ready" } else { "unavailable" },
        "dependencies": {
            "store": store_detail,
            "embedder": {"model": app.memories.embedder().identity().model, "dimensions": app.memories.embedder().identity().dimensions, "status": "up"},
            "redis": redis,
            "llm": llm_detail(&app),
        }
    });
    let status = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// The model's state: a chat is refused while it is `unconfigured`. Never a reason for 503.
fn llm_detail(app: &AppState) -> serde_json::Value {
    let state = app.orchestrator.llm_state();
    match state {
        LlmState::Configured => {
            json!({"status": state.as_str(), "model": app.orchestrator.models().first()})
        }
        LlmState::Unconfigured => {
            json!({"status": state.as_str(), "message": UNCONFIGURED_MESSAGE})
        }
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub(crate) async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    if let Some(cache) = app.memories.cache() {
        app.metrics.observe_cache(cache.stats());
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
}

/// The effective configuration, secrets masked, with the runtime overrides.
#[utoipa::path(get, path = "/v1/config", tag = "system", responses((status = 200, body = Object)))]
pub(crate) async fn get_config(State(app): State<AppState>) -> Json<serde_json::Value> {
    let mut body = app.settings.current().masked();
    body["overrides"] = serde_json::to_value(app.settings.overrides()).unwrap_or_default();
    Json(body)
}

/// Runtime overrides of the safe keys: log_level, token_requests_per_second,
/// owner_requests_per_second, keyword_weight, cache_ttl_secs, cache_idle_secs,
/// cache_redis_ttl_secs.
#[utoipa::path(patch, path = "/v1/config", tag = "system", request_body = ConfigOverrides,
    responses((status = 200, description = "The new effective configuration", body = Object), (status = 422, description = "A value is invalid; the message names the key", body = ErrorBody)))]
pub(crate) async fn patch_config(
    State(app): State<AppState>,
    ApiJson(patch): ApiJson<ConfigOverrides>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (old, new) = app.settings.apply_overrides(&patch).map_err(|e| match e {
        crate::config::ConfigError::Invalid { ref key, .. } => ApiError::InvalidField {
            field: key.clone(),
            message: e.to_string(),
        },
        other => ApiError::Internal(other.to_string()),
    })?;
    app.apply_live_settings(&old, &new);
    let mut body = new.masked();
    body["overrides"] = serde_json::to_value(app.settings.overrides()).unwrap_or_default();
    Ok(Json(body))
}
