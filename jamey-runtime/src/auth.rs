//! Authentication middleware: the caller is the owner or a tool holding a client certificate
//! from our CA (verified by rustls during the handshake), or a bearer token from
//! `jamey token create`. A request with a valid certificate ignores any `Authorization` header.
//! Revocations in `credentials.json` apply without a restart (`CredentialsCache`). The rate
//! limit is checked here too, once the caller is known, and the caller's tool scope is attached
//! beside it.

use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use jamey_tools::ToolScope;
use std::sync::Arc;

/// The transport's facts about a connection, which authentication reads.
pub use crate::caller::{ClientCert, ConnectionInfo};

/// Middleware: authenticates the request or answers 401.
pub async fn authenticate(
    State(app): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (caller, scope) = identify(&app, &request)?;
    tracing::Span::current().record("caller", tracing::field::display(&caller));
    check_rate(&app, &caller)?;
    request.extensions_mut().insert(caller);
    request.extensions_mut().insert(scope);
    Ok(next.run(request).await)
}

/// Answers 429 with `Retry-After` when `caller` is over its rate.
fn check_rate(app: &AppState, caller: &Caller) -> Result<(), ApiError> {
    app.rate_limits
        .read()
        .check(caller)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })
}

/// The tools a token or tool certificate may use: those it was created for (`--tools`), else
/// the `allow` ones.
fn scope_of(tools: Option<Vec<String>>) -> ToolScope {
    match tools {
        Some(tools) => ToolScope::Only(Arc::new(tools.into_iter().collect())),
        None => ToolScope::AllowedOnly,
    }
}

/// The caller and the tools it may use (every tool for the owner).
fn identify(app: &AppState, request: &Request) -> Result<(Caller, ToolScope), ApiError> {
    let credentials = app.credentials.current();
    if let Some(cert) = request
        .extensions()
        .get::<ConnectionInfo>()
        .and_then(|c| c.client_cert.as_ref())
    {
        if credentials.is_cert_revoked(&cert.fingerprint) {
            return Err(ApiError::Unauthenticated(format!(
                "client certificate `{}` has been revoked",
                cert.name
            )));
        }
        if cert.name == jamey_core::pki::OWNER_CLIENT_NAME {
            return Ok((Caller::Owner, ToolScope::All));
        }
        // A certificate signed by our CA but not in the file (issued by hand) gets the
        // `allow` tools only.
        let tools = credentials
            .verify_cert(&cert.fingerprint)
            .and_then(|verified| verified.tools);
        return Ok((Caller::Certificate(cert.name.clone()), scope_of(tools)));
    }
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(header) = header else {
        return Err(ApiError::Unauthenticated(
            "a client certificate from `jamey init` / `jamey cert issue` or a bearer token from `jamey token create` is required".into(),
        ));
    };
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or_else(|| {
            ApiError::Unauthenticated("the Authorization header must be `Bearer <token>`".into())
        })?;
    credentials
        .verify_scoped_token(token.trim())
        .map(|verified| (Caller::Token(verified.name), scope_of(verified.tools)))
        .ok_or_else(|| ApiError::Unauthenticated("the bearer token is unknown or revoked".into()))
}
