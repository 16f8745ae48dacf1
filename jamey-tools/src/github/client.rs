//! `GithubClient`: GitHub's REST API at the configured `api_url` (trusted as written: the
//! operator chose it). It sends the token as a bearer, waits out short rate limits and turns
//! every other unsuccessful answer into a `GithubError` that says what happened.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jamey_core::secrets::Secret;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, USER_AGENT};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tracing::Instrument;

use super::error::{GithubError, RateLimitKind};
use super::rate_limit::classify;
use super::scope::{RepoName, RepoScope};
use crate::CallContext;

/// GitHub.com's API; GitHub Enterprise Server answers at `https://HOST/api/v3`.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// The REST API version the connector speaks.
const API_VERSION: &str = "2022-11-28";
/// The most of one answer the client reads (a file's contents are at most 1 MB, base64).
const MAX_RESPONSE_BYTES: usize = 8 << 20;
/// The most of GitHub's error message quoted back.
const MAX_MESSAGE_CHARS: usize = 500;

/// How the connector talks to GitHub.
#[derive(Debug, Clone, PartialEq)]
pub struct GithubClientConfig {
    /// The REST API root, e.g. `https://api.github.com` or `https://ghe.example/api/v3`.
    pub api_url: String,
    /// The repositories the tools may touch.
    pub repositories: RepoScope,
    /// The longest one request may take (the call's deadline may cut it shorter).
    pub timeout: Duration,
    /// A rate limit asking to wait at most this long is waited out inside the call.
    pub max_rate_limit_wait: Duration,
    /// How many times one request is retried after such waits.
    pub max_rate_limit_retries: u32,
    pub user_agent: String,
}

impl Default for GithubClientConfig {
    fn default() -> Self {
        Self {
            api_url: DEFAULT_API_URL.into(),
            repositories: RepoScope::All,
            timeout: Duration::from_secs(20),
            max_rate_limit_wait: Duration::from_secs(60),
            max_rate_limit_retries: 2,
            user_agent: concat!("jamey/", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

/// A GitHub REST client, cheap to clone (the tools share one).
#[derive(Debug, Clone)]
pub struct GithubClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base: Url,
    /// `None`: unauthenticated (public repositories, 60 requests an hour).
    token: Option<Secret>,
    config: GithubClientConfig,
}

/// One answer, read in full.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl GithubClient {
    /// A client for `config.api_url`, authenticated by `token` when given (the secret
    /// `github_token`; an empty one counts as none).
    pub fn new(config: GithubClientConfig, token: Option<Secret>) -> Result<Self, GithubError> {
        let base = parse_api_url(&config.api_url)?;
        let token = token.filter(|token| !token.expose().trim().is_empty());
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            "x-github-api-version",
            HeaderValue::from_static(API_VERSION),
        );
        let agent = HeaderValue::from_str(&config.user_agent).map_err(|_| {
            GithubError::InvalidConfig("the user agent is not a valid header value".into())
        })?;
        headers.insert(USER_AGENT, agent);
        if let Some(token) = &token {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose().trim()))
                .map_err(|_| {
                    GithubError::InvalidConfig(
                        "the secret github_token holds characters not allowed in an HTTP header"
                            .into(),
                    )
                })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            // reqwest drops the token on a redirect to another host.
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|error| {
                GithubError::InvalidConfig(format!(
                    "cannot build the HTTP client: {}",
                    describe(&error)
                ))
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                token,
                config,
            }),
        })
    }

    pub fn config(&self) -> &GithubClientConfig {
        &self.inner.config
    }

    /// Whether requests carry a token.
    pub fn is_authenticated(&self) -> bool {
        self.inner.token.is_some()
    }

    /// `text` as a repository name inside the scope, before any request.
    pub(crate) fn repo(&self, text: &str) -> Result<RepoName, GithubError> {
        let repo: RepoName =
            text.parse()
                .map_err(|reason: String| GithubError::InvalidArgument {
                    field: "repo",
                    reason: format!("{reason}, got {text:?}"),
                })?;
        self.check_scope(&repo)?;
        Ok(repo)
    }

    pub(crate) fn check_scope(&self, repo: &RepoName) -> Result<(), GithubError> {
        let scope = &self.inner.config.repositories;
        if scope.allows(repo) {
            Ok(())
        } else {
            Err(GithubError::OutOfScope {
                repo: repo.to_string(),
                allowed: scope.describe(),
            })
        }
    }

    /// Fails unless a token is configured; `action` says what needed it.
    pub(crate) fn require_token(&self, action: &str) -> Result<(), GithubError> {
        if self.is_authenticated() {
            Ok(())
        } else {
            Err(GithubError::TokenRequired {
                action: action.into(),
            })
        }
    }

    /// The API URL of `segments` under `api_url`, each segment percent-encoded.
    pub(crate) fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Whether `url` is on the configured server (a `Link` to elsewhere is not followed).
    pub(crate) fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.inner.base.origin()
    }

    /// GETs `url` and decodes the JSON answer.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        url: Url,
        what: &str,
        context: &CallContext,
    ) -> Result<T, GithubError> {
        let reply = self.request(Method::GET, url, None, what, context).await?;
        decode(&reply, what)
    }

    /// Sends `body` with `method` and decodes the JSON answer.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: &serde_json::Value,
        what: &str,
        context: &CallContext,
    ) -> Result<T, GithubError> {
        let reply = self.request(method, url, Some(body), what, context).await?;
        decode(&reply, what)
    }

    /// One request with its rate-limit retries; `Ok` only for a 2xx answer. `what` names the
    /// resource for messages ("repository octo/app").
    pub(crate) async fn request(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        what: &str,
        context: &CallContext,
    ) -> Result<Reply, GithubError> {
        let span = tracing::info_span!(
            "github.request",
            method = %method,
            path = %url.path(),
            status = tracing::field::Empty,
            retries = tracing::field::Empty,
        );
        let config = &self.inner.config;
        let mut retries = 0;
        async {
            loop {
                let reply = self.attempt(&method, &url, body, context).await?;
                tracing::Span::current().record("status", reply.status);
                if (200..300).contains(&reply.status) {
                    return Ok(reply);
                }
                let message = self.message(&reply);
                let now = SystemTime::now();
                let Some(limit) = classify(reply.status, &reply.headers, &message, now) else {
                    return Err(self.status_error(reply.status, what, message));
                };
                let fits_deadline = Instant::now() + limit.wait < context.deadline;
                if limit.kind != RateLimitKind::Primary
                    && limit.wait <= config.max_rate_limit_wait
                    && retries < config.max_rate_limit_retries
                    && fits_deadline
                {
                    retries += 1;
                    tracing::Span::current().record("retries", retries);
                    tracing::info!(
                        wait_ms = limit.wait.as_millis() as u64,
                        "GitHub rate limit; waiting"
                    );
                    tokio::select! {
                        biased;
                        () = context.cancel.cancelled() => return Err(GithubError::Cancelled),
                        () = tokio::time::sleep(limit.wait) => continue,
                    }
                }
                tracing::info!(
                    wait_s = limit.wait.as_secs(),
                    "GitHub rate limit; not waiting"
                );
                return Err(GithubError::RateLimited {
                    kind: limit.kind,
                    retry_at: now + limit.wait,
                    wait: limit.wait,
                    authenticated: self.is_authenticated(),
                });
            }
        }
        .instrument(span)
        .await
    }

    /// Sends once and reads the answer, stopped by the call's cancellation and deadline.
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&serde_json::Value>,
        context: &CallContext,
    ) -> Result<Reply, GithubError> {
        let started = Instant::now();
        let deadline = context.deadline.min(started + self.inner.config.timeout);
        let mut builder = self.inner.http.request(method.clone(), url.clone());
        if let Some(body) = body {
            builder = builder.json(body);
        }
        let work = async {
            let response = builder
                .send()
                .await
                .map_err(|error| self.transport(&ReadError::Http(error)))?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = read_capped(response)
                .await
                .map_err(|error| self.transport(&error))?;
            Ok(Reply {
                status,
                headers,
                body,
            })
        };
        tokio::select! {
            biased;
            () = context.cancel.cancelled() => Err(GithubError::Cancelled),
            result = tokio::time::timeout_at(deadline, work) => result.unwrap_or_else(|_| {
                Err(GithubError::Timeout { seconds: deadline.saturating_duration_since(started).as_secs().max(1) })
            }),
        }
    }

    fn transport(&self, error: &ReadError) -> GithubError {
        GithubError::Transport {
            api_url: self.inner.config.api_url.clone(),
            reason: match error {
                ReadError::Http(error) => describe(error),
                ReadError::TooLarge => {
                    format!("the answer is larger than {MAX_RESPONSE_BYTES} bytes")
                }
            },
        }
    }

    /// GitHub's `message` (with the `errors` of a 422), or the start of a non-JSON body; the
    /// token is scrubbed from it, whatever the server echoed.
    fn message(&self, reply: &Reply) -> String {
        let text = match serde_json::from_slice::<WireError>(&reply.body) {
            Ok(error) => error.describe(),
            Err(_) => String::from_utf8_lossy(&reply.body).trim().to_owned(),
        };
        let text = if text.is_empty() {
            reqwest::StatusCode::from_u16(reply.status)
                .ok()
                .and_then(|status| status.canonical_reason())
                .unwrap_or("no message")
                .to_owned()
        } else {
            text
        };
        let text = match &self.inner.token {
            Some(token) => text.replace(token.expose().trim(), jamey_core::secrets::REDACTED),
            None => text,
        };
        cut_chars(&text, MAX_MESSAGE_CHARS)
    }

    fn status_error(&self, status: u16, what: &str, message: String) -> GithubError {
        match status {
            404 => GithubError::NotFound { what: what.into() },
            401 if self.is_authenticated() => GithubError::BadToken { message },
            401 => GithubError::AuthenticationRequired { message },
            403 => GithubError::Forbidden {
                what: what.into(),
                message,
            },
            422 => GithubError::Validation { message },
            _ => GithubError::Status {
                status,
                what: what.into(),
                message,
            },
        }
    }
}

/// Checks an `api_url`: an http(s) URL with a host and neither user, password, query nor
/// fragment. The reason says what is wrong, without repeating the value.
pub fn check_api_url(text: &str) -> Result<(), String> {
    parse_url(text).map(|_| ())
}

fn parse_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|error| error.to_string())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("an http:// or https:// URL with a host is needed".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "no user or password in the URL: the token comes from the secret github_token".into(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("no query or fragment".into());
    }
    Ok(url)
}

fn parse_api_url(text: &str) -> Result<Url, GithubError> {
    parse_url(text).map_err(|reason| {
        GithubError::InvalidConfig(format!(
            "api_url {:?} is not usable: {reason}",
            jamey_core::db::redact_url(text)
        ))
    })
}

fn decode<T: DeserializeOwned>(reply: &Reply, what: &str) -> Result<T, GithubError> {
    serde_json::from_slice(&reply.body).map_err(|error| GithubError::Decode {
        what: what.into(),
        reason: error.to_string(),
    })
}

enum ReadError {
    Http(reqwest::Error),
    TooLarge,
}

impl From<reqwest::Error> for ReadError {
    fn from(error: reqwest::Error) -> Self {
        Self::Http(error)
    }
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A reqwest error with its causes, without the URL (which names nothing secret, but is noise).
fn describe(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The first `max` characters of `text`, with `…` when cut.
pub(crate) fn cut_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// GitHub's error body: `{"message", "errors"?, "documentation_url"}`.
#[derive(serde::Deserialize)]
struct WireError {
    message: String,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

impl WireError {
    /// `Validation Failed: title missing_field; ...`.
    fn describe(self) -> String {
        let details: Vec<String> = self
            .errors
            .iter()
            .map(|error| match error {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Object(fields) => {
                    let field = |name: &str| fields.get(name).and_then(|v| v.as_str());
                    match field("message") {
                        Some(message) => message.to_owned(),
                        None => [field("resource"), field("field"), field("code")]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(" "),
                    }
                }
                other => other.to_string(),
            })
            .filter(|detail| !detail.is_empty())
            .collect();
        if details.is_empty() {
            self.message
        } else {
            format!("{}: {}", self.message, details.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn client(api_url: &str) -> GithubClient {
        GithubClient::new(
            GithubClientConfig {
                api_url: api_url.into(),
                ..Default::default()
            },
            None,
        )
        .unwrap()
    }

    #[test]
    fn endpoints_keep_an_enterprise_prefix_and_encode_each_segment() {
        let ghe = client("https://ghe.example/api/v3/");
        let url = ghe.endpoint(&["repos", "octo", "app", "contents", "a b", "c#d"]);
        assert_eq!(
            url.as_str(),
            "https://ghe.example/api/v3/repos/octo/app/contents/a%20b/c%23d"
        );
        let dotcom = client(DEFAULT_API_URL);
        assert_eq!(
            dotcom.endpoint(&["user", "repos"]).as_str(),
            "https://api.github.com/user/repos"
        );
        assert!(dotcom.same_origin(&Url::parse("https://api.github.com/x?page=2").unwrap()));
        assert!(!dotcom.same_origin(&Url::parse("https://evil.example/x").unwrap()));
    }

    #[test]
    fn bad_api_urls_are_refused() {
        for bad in [
            "ftp://x",
            "not a url",
            "https://user:pw@ghe.example",
            "https://x/?a=1",
        ] {
            let result = GithubClient::new(
                GithubClientConfig {
                    api_url: bad.into(),
                    ..Default::default()
                },
                None,
            );
            assert!(
                matches!(result, Err(GithubError::InvalidConfig(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn validation_errors_list_their_details() {
        let error: WireError = serde_json::from_str(
            r#"{"message":"Validation Failed","errors":[{"resource":"Issue","code":"missing_field","field":"title"},"bad label"]}"#,
        )
        .unwrap();
        assert_eq!(
            error.describe(),
            "Validation Failed: Issue title missing_field; bad label"
        );
        assert_eq!(cut_chars("héllo", 2), "hé…");
        assert_eq!(cut_chars("hé", 2), "hé");
    }
}
