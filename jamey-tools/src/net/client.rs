//! `GuardedClient`: the one outbound HTTP client for URLs a tool takes from its arguments.
//! Every hop (the first request and each redirect) goes through the `NetworkGuard`; the
//! connection goes to the addresses the guard checked (a client per hop pinned to them, with
//! any other lookup refused), so DNS rebinding cannot switch it. Redirects are followed here,
//! capped; time, wire bytes and decoded bytes are limited, and a body cut at a limit says so.

use super::body::{read_body, Cut};
use super::guard::origin;
use super::{GuardError, NetworkGuard, NetworkPolicy};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use url::Url;

/// A request a tool makes.
#[derive(Debug, Clone)]
pub struct WebRequest {
    pub method: Method,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Option<Vec<u8>>,
}

/// The final response, after redirects.
#[derive(Debug, Clone)]
pub struct WebResponse {
    /// Where the body came from (the last hop).
    pub url: Url,
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body, decoded (gzip), up to the limits.
    pub body: Vec<u8>,
    /// Set when the body was cut at a limit.
    pub cut: Option<Cut>,
    /// Redirects followed.
    pub redirects: usize,
}

/// Why a guarded request did not produce a response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WebError {
    /// The guard refused the URL or a redirect, or the URL did not parse or resolve.
    #[error(transparent)]
    Guard(#[from] GuardError),
    /// More redirects than `max_redirects`.
    #[error("{origin}: stopped after {limit} redirects ([tools.network] max_redirects)")]
    TooManyRedirects { origin: String, limit: usize },
    /// A redirect without a usable `Location`.
    #[error("{origin}: redirect with an invalid Location ({reason})")]
    BadRedirect { origin: String, reason: String },
    /// The time limit passed.
    #[error("no complete answer within {seconds} s")]
    Timeout { seconds: u64 },
    /// Whoever asked is gone; the request was dropped.
    #[error("cancelled")]
    Cancelled,
    /// The connection or the exchange failed.
    #[error("{0}")]
    Http(String),
}

/// The guarded client. Cheap to clone; the tools share one.
#[derive(Debug, Clone)]
pub struct GuardedClient {
    guard: NetworkGuard,
    /// Built once; `None` only if rustls refused its defaults, and then reqwest builds its own.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl GuardedClient {
    /// A client resolving through the operating system.
    pub fn new(policy: NetworkPolicy) -> Self {
        Self::with_guard(NetworkGuard::new(policy))
    }

    /// A client whose guard resolves as `guard` does (tests pass a `MapResolver`).
    pub fn with_guard(guard: NetworkGuard) -> Self {
        Self {
            guard,
            tls: tls_config().map(Arc::new),
        }
    }

    pub fn guard(&self) -> &NetworkGuard {
        &self.guard
    }

    /// Sends `request`, following redirects, until `deadline` or the policy's timeout,
    /// whichever comes first; stops (dropping the connection) when `cancel` fires.
    pub async fn send(
        &self,
        request: WebRequest,
        cancel: &CancellationToken,
        deadline: Instant,
    ) -> Result<WebResponse, WebError> {
        let timeout = self.guard.policy().limits.timeout;
        let until = deadline.min(Instant::now() + timeout);
        let seconds = until
            .saturating_duration_since(Instant::now())
            .as_secs_f64();
        tokio::select! {
            biased;
            () = cancel.cancelled() => Err(WebError::Cancelled),
            () = tokio::time::sleep_until(until) => Err(WebError::Timeout {
                seconds: seconds.ceil() as u64,
            }),
            result = self.follow(request) => result,
        }
    }

    async fn follow(&self, request: WebRequest) -> Result<WebResponse, WebError> {
        let limits = self.guard.policy().limits;
        let WebRequest {
            mut method,
            url,
            mut headers,
            mut body,
        } = request;
        let mut url = Url::parse(url.trim()).map_err(|e| GuardError::InvalidUrl(e.to_string()))?;
        if !headers.contains_key(header::ACCEPT_ENCODING) {
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        }
        let mut redirects = 0;
        loop {
            let target = self.guard.check(url).await?;
            let span = tracing::info_span!("web_request", %method, origin = %origin(&target.url));
            let response = self
                .exchange(&target, &method, &headers, body.as_ref())
                .instrument(span.clone())
                .await?;
            let status = response.status();
            let location = response.headers().get(header::LOCATION).cloned();
            let from = target.url;
            let redirect = matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308);
            match location {
                Some(location) if redirect => {
                    if redirects == limits.max_redirects {
                        return Err(WebError::TooManyRedirects {
                            origin: origin(&from),
                            limit: limits.max_redirects,
                        });
                    }
                    redirects += 1;
                    let next = location
                        .to_str()
                        .map_err(|e| e.to_string())
                        .and_then(|text| from.join(text).map_err(|e| e.to_string()))
                        .map_err(|reason| WebError::BadRedirect {
                            origin: origin(&from),
                            reason,
                        })?;
                    span.in_scope(|| tracing::debug!(status = status.as_u16(), to = %origin(&next), "redirect"));
                    let to_get = status == StatusCode::SEE_OTHER
                        || (matches!(status.as_u16(), 301 | 302) && method == Method::POST);
                    if to_get && method != Method::HEAD {
                        method = Method::GET;
                        body = None;
                        headers.remove(header::CONTENT_TYPE);
                    }
                    if next.host_str() != from.host_str()
                        || next.port_or_known_default() != from.port_or_known_default()
                    {
                        for name in [
                            header::AUTHORIZATION,
                            header::COOKIE,
                            header::PROXY_AUTHORIZATION,
                        ] {
                            headers.remove(name);
                        }
                    }
                    url = next;
                }
                _ => {
                    let headers = response.headers().clone();
                    let (body, cut) = read_body(response, limits)
                        .instrument(span)
                        .await
                        .map_err(|e| WebError::Http(format!("{}: {e}", origin(&from))))?;
                    return Ok(WebResponse {
                        url: from,
                        status,
                        headers,
                        body,
                        cut,
                        redirects,
                    });
                }
            }
        }
    }

    /// One request to the checked addresses.
    async fn exchange(
        &self,
        target: &super::CheckedTarget,
        method: &Method,
        headers: &HeaderMap,
        body: Option<&Vec<u8>>,
    ) -> Result<reqwest::Response, WebError> {
        let limits = self.guard.policy().limits;
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .http1_only()
            .connect_timeout(limits.timeout)
            .pool_max_idle_per_host(0)
            .user_agent(concat!("jamey/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(NoLookup));
        if let Some(tls) = &self.tls {
            builder = builder.use_preconfigured_tls((**tls).clone());
        }
        if target.is_name {
            let pinned: Vec<SocketAddr> = target
                .addrs
                .iter()
                .map(|ip| SocketAddr::new(*ip, target.port))
                .collect();
            builder = builder.resolve_to_addrs(&target.host, &pinned);
        }
        let client = builder
            .build()
            .map_err(|e| WebError::Http(format!("cannot build the HTTP client: {}", chain(&e))))?;
        let mut request = client
            .request(method.clone(), target.url.clone())
            .headers(headers.clone());
        if let Some(body) = body {
            request = request.body(body.clone());
        }
        let response = request.send().await.map_err(|e| {
            WebError::Http(format!("{method} {}: {}", origin(&target.url), chain(&e)))
        })?;
        tracing::debug!(status = response.status().as_u16(), "response");
        Ok(response)
    }
}

/// The error and its causes, without the URL (which may carry userinfo or a secret query).
fn chain(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The resolver behind the pinned addresses: every host the client connects to is either an
/// IP literal or pinned, so a lookup reaching here would be a second one, and fails.
#[derive(Debug)]
struct NoLookup;

impl reqwest::dns::Resolve for NoLookup {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let message = format!("{} was not checked by the network guard", name.as_str());
        Box::pin(std::future::ready(Err(message.into())))
    }
}

/// rustls with the ring provider and the system's roots, built once per client.
fn tls_config() -> Option<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let loaded = rustls_native_certs::load_native_certs();
    let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
    tracing::debug!(added, ignored, "system root certificates");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?;
    Some(builder.with_root_certificates(roots).with_no_client_auth())
}
