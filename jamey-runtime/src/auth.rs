//! Who is calling: the owner or a tool holding a client certificate from our CA (verified by
//! rustls during the handshake), or a bearer token from `jamey token create`. A request with a
//! valid certificate ignores any `Authorization` header. Revocations in `credentials.json` apply
//! without a restart: the file is re-read when it changes.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use jamey_core::credentials::Credentials;
use parking_lot::RwLock;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// What the transport established about a connection, attached to each of its requests.
#[derive(Debug, Clone, Default)]
pub struct ConnectionInfo {
    /// The client certificate, when one was presented and verified against our CA.
    pub client_cert: Option<ClientCert>,
}

/// A verified client certificate.
#[derive(Debug, Clone)]
pub struct ClientCert {
    /// The certificate's common name (`owner` for the owner's own).
    pub name: String,
    /// SHA-256 of the DER, matched against revocations.
    pub fingerprint: String,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The owner's client certificate.
    Owner,
    /// A tool's client certificate (`jamey cert issue NAME`).
    Certificate(String),
    /// A bearer token (`jamey token create NAME`).
    Token(String),
}

impl Caller {
    /// The key rate limits are counted under.
    pub fn rate_key(&self) -> String {
        match self {
            Self::Owner => "owner".into(),
            Self::Certificate(name) => format!("cert:{name}"),
            Self::Token(name) => format!("token:{name}"),
        }
    }
}

/// `credentials.json`, re-read when its modification time changes (checked at most once a second).
#[derive(Debug)]
pub struct CredentialsCache {
    path: PathBuf,
    state: RwLock<Cached>,
}

#[derive(Debug)]
struct Cached {
    credentials: Arc<Credentials>,
    modified: Option<SystemTime>,
    checked: Instant,
}

const RECHECK: Duration = Duration::from_secs(1);

impl CredentialsCache {
    pub fn open(path: PathBuf) -> Result<Self, jamey_core::credentials::CredentialsError> {
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let credentials = Arc::new(Credentials::load(&path)?);
        Ok(Self {
            path,
            state: RwLock::new(Cached {
                credentials,
                modified,
                checked: Instant::now(),
            }),
        })
    }

    /// The current credentials, re-read if the file changed.
    pub fn current(&self) -> Arc<Credentials> {
        {
            let cached = self.state.read();
            if cached.checked.elapsed() < RECHECK {
                return cached.credentials.clone();
            }
        }
        let mut cached = self.state.write();
        cached.checked = Instant::now();
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        if modified != cached.modified {
            match Credentials::load(&self.path) {
                Ok(fresh) => {
                    tracing::info!(path = %self.path.display(), "credentials reloaded");
                    cached.credentials = Arc::new(fresh);
                    cached.modified = modified;
                }
                // Keep serving with what we had: a half-written file must not lock everyone out.
                Err(error) => {
                    tracing::warn!(%error, "cannot reload credentials; keeping the previous ones")
                }
            }
        }
        cached.credentials.clone()
    }
}

/// Middleware: authenticates the request or answers 401.
pub async fn authenticate(
    State(app): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let caller = identify(&app, &request)?;
    tracing::Span::current().record("caller", tracing::field::display(caller.rate_key()));
    crate::limits::check_rate(&app, &caller)?;
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

fn identify(app: &AppState, request: &Request) -> Result<Caller, ApiError> {
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
        return Ok(if cert.name == jamey_core::pki::OWNER_CLIENT_NAME {
            Caller::Owner
        } else {
            Caller::Certificate(cert.name.clone())
        });
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
        .verify_token(token.trim())
        .map(Caller::Token)
        .ok_or_else(|| ApiError::Unauthenticated("the bearer token is unknown or revoked".into()))
}
