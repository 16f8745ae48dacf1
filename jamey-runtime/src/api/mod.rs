//! The HTTP API: routes, the middleware every request passes through (request id, tracing span,
//! security headers, timeout, concurrency and body limits, authentication, metrics) and the JSON
//! extractor whose rejections become the stable error body.

mod approvals;
mod chat;
mod host;
mod memories;
mod openai;
mod openapi;
mod sessions;
mod system;
mod tools;

use crate::auth;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::time::{Duration, Instant};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// JSON in, with rejections mapped to `ApiError` (400 malformed, 415, 413, 422 naming the field).
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// The whole application; tests drive it with `oneshot`, the server with real connections.
pub fn router(app: AppState) -> Router {
    let config = app.settings.current();
    let limits = config.limits.clone();
    let v1 = Router::new()
        .route("/memories", post(memories::create).get(memories::list))
        .route(
            "/memories/batch",
            post(memories::create_batch).layer(DefaultBodyLimit::max(limits.max_batch_body_bytes)),
        )
        .route("/memories/search", post(memories::search))
        .route(
            "/memories/{id}",
            get(memories::get)
                .patch(memories::patch)
                .delete(memories::delete),
        )
        .route(
            "/config",
            get(system::get_config).patch(system::patch_config),
        )
        .route("/models", get(openai::models))
        .route("/sessions", get(sessions::list))
        .route("/sessions/{id}/messages", get(sessions::messages))
        .route("/tools", get(tools::list))
        .route("/tool-calls", get(tools::calls))
        .route("/approvals", get(approvals::pending))
        .route("/approvals/{id}", post(approvals::decide))
        .route("/system/info", get(host::system_info))
        .route("/processes", get(host::list_processes))
        .route("/processes/{pid}/kill", post(host::kill_process))
        .route("/chat", post(chat::chat))
        .route("/chat/completions", post(openai::completions))
        .route("/tools/{name}/invoke", post(tools::invoke));
    let authenticated = Router::new()
        .nest("/v1", v1)
        .route("/metrics", get(system::metrics))
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            auth::authenticate,
        ));

    let timeout = Duration::from_secs(limits.request_timeout_secs);
    let guard = ServiceBuilder::new().concurrency_limit(limits.max_concurrent_requests);

    let router = Router::new()
        .route("/health", get(system::health))
        .route("/ready", get(system::ready))
        .route("/openapi.json", get(openapi::serve))
        .merge(authenticated)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(app.clone(), record_metrics))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            (app.clone(), timeout),
            bounded,
        ))
        .layer(guard);
    with_security_headers(router)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let request_id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id,
                        caller = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(
                    |response: &Response, latency: Duration, _span: &tracing::Span| {
                        tracing::info!(
                            status = response.status().as_u16(),
                            latency_ms = latency.as_secs_f64() * 1000.0,
                            "answered"
                        );
                    },
                )
                .on_failure(()),
        )
        .layer(crate::request_scope::RequestIdScopeLayer)
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(app)
}

/// HSTS and the usual hardening headers, on every response including errors.
fn with_security_headers(router: Router<AppState>) -> Router<AppState> {
    let headers: [(HeaderName, &'static str); 6] = [
        (
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
        (header::CACHE_CONTROL, "no-store"),
    ];
    headers.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

/// Routes whose call may wait for a tool approval: that wait does not count against the
/// request timeout (the approval timeout bounds it).
fn may_wait_for_approval(path: &str) -> bool {
    matches!(path, "/v1/chat" | "/v1/chat/completions")
        || (path.starts_with("/v1/tools/") && path.ends_with("/invoke"))
        || (path.starts_with("/v1/processes/") && path.ends_with("/kill"))
}

/// The request timeout, extended by the approval timeout on routes that may wait for one.
async fn bounded(
    State((app, timeout)): State<(AppState, Duration)>,
    request: Request,
    next: Next,
) -> Response {
    use axum::response::IntoResponse;
    let bound = if may_wait_for_approval(request.uri().path()) {
        timeout + Duration::from_secs(app.settings.current().tools.approval_timeout_secs)
    } else {
        timeout
    };
    match tokio::time::timeout(bound, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable(format!(
            "the request took longer than {} s",
            bound.as_secs()
        ))
        .into_response(),
    }
}

async fn record_metrics(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    app.metrics
        .requests_total
        .with_label_values(&[&method, &route, status.as_str()])
        .inc();
    app.metrics
        .request_duration
        .with_label_values(&[&route])
        .observe(started.elapsed().as_secs_f64());
    if status.is_client_error() || status.is_server_error() {
        app.metrics
            .errors_total
            .with_label_values(&[status.as_str()])
            .inc();
    }
    response
}

async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound(format!(
        "no route for {} {}",
        request.method(),
        request.uri().path()
    ))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        request.method(),
        request.uri().path()
    ))
}
