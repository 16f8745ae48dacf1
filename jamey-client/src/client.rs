//! `JameyClient`: one method per runtime route the CLI and TUI use, over mTLS with the owner's
//! certificate (or a bearer token on a plain-HTTP loopback runtime).

use crate::chat::ChatStream;
use crate::endpoint::{Endpoint, TlsFiles};
use crate::error::ClientError;
use crate::status::{Health, Readiness};
use jamey_protocol::{
    ChatReply, ChatRequest, ErrorBody, KilledProcess, Memory, MemoryId, MemoryPage, MessagePage,
    NewMemory, NewMemoryIds, ProcessList, SearchRequest, SearchResponse, SessionPage, SystemInfo,
    ToolDescription,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use std::time::Duration;
use tracing::Instrument;

/// How long to wait for a TCP connection and TLS handshake on the local machine.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a whole request may take; above the runtime's default 30 s request timeout so that
/// its own 503 arrives first.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(45);
/// How long a chat turn may take in all: a model may think, call tools and write at length.
const CHAT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// `NewMemoryBatch` borrowing its items, so a caller can retry a batch without copying it.
#[derive(Debug, Serialize)]
struct BatchRef<'a> {
    items: &'a [NewMemory],
}

/// One page request of `GET /v1/memories` (keyset pagination).
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// One page request of `GET /v1/sessions` or `GET /v1/sessions/{id}/messages`.
pub type PageRequest = ListRequest;

/// `GET /v1/tools` response.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ToolList {
    pub tools: Vec<ToolDescription>,
}

/// `GET /v1/models` response, as OpenAI lists models.
#[derive(Debug, Clone, serde::Deserialize)]
struct ModelList {
    data: Vec<ModelEntry>,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct ModelEntry {
    id: String,
}

/// A connection to one runtime; cheap to clone, reuses connections.
#[derive(Debug, Clone)]
pub struct JameyClient {
    http: reqwest::Client,
    base_url: String,
    token: Option<String>,
}

impl JameyClient {
    /// A client for `endpoint`, with its certificate files loaded. No request is sent yet.
    pub fn new(endpoint: &Endpoint) -> Result<Self, ClientError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("jamey-client/", env!("CARGO_PKG_VERSION")));
        if let Some(files) = &endpoint.tls {
            builder = with_certificates(builder, files)?;
        }
        let http = builder.build().map_err(|e| ClientError::Transport {
            url: endpoint.base_url.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            http,
            base_url: endpoint.base_url.clone(),
            token: endpoint.token.clone(),
        })
    }

    /// The runtime's base URL, e.g. `https://127.0.0.1:3000`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `GET /health`.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.send(self.request(Method::GET, "/health")).await
    }

    /// `GET /ready`: a 503 with the readiness body is an answer too (the store is down).
    pub async fn ready(&self) -> Result<Readiness, ClientError> {
        let response = self.execute(self.request(Method::GET, "/ready")).await?;
        let status = response.status();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let bytes = response
                .bytes()
                .await
                .map_err(|e| ClientError::from_transport(&self.base_url, &e))?;
            if let Ok(readiness) = serde_json::from_slice::<Readiness>(&bytes) {
                return Ok(readiness);
            }
            return Err(error_from_body(status, None, &bytes));
        }
        decode(response, &self.base_url).await
    }

    /// `POST /v1/memories`.
    pub async fn add_memory(&self, memory: &NewMemory) -> Result<Memory, ClientError> {
        self.send(self.request(Method::POST, "/v1/memories").json(memory))
            .await
    }

    /// `POST /v1/memories/batch`: all or nothing; a bad item is named `items[i]` in the error.
    pub async fn add_memories(&self, items: &[NewMemory]) -> Result<NewMemoryIds, ClientError> {
        let batch = BatchRef { items };
        self.send(
            self.request(Method::POST, "/v1/memories/batch")
                .json(&batch),
        )
        .await
    }

    /// `GET /v1/memories/{id}`.
    pub async fn memory(&self, id: MemoryId) -> Result<Memory, ClientError> {
        self.send(self.request(Method::GET, &format!("/v1/memories/{id}")))
            .await
    }

    /// `DELETE /v1/memories/{id}`.
    pub async fn delete_memory(&self, id: MemoryId) -> Result<(), ClientError> {
        let response = self
            .execute(self.request(Method::DELETE, &format!("/v1/memories/{id}")))
            .await?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(error_response(response, &self.base_url).await)
    }

    /// `GET /v1/memories?limit=&cursor=`: one page, newest first.
    pub async fn list_memories(&self, page: &ListRequest) -> Result<MemoryPage, ClientError> {
        self.send(
            self.request(Method::GET, "/v1/memories")
                .query(&page_query(page)),
        )
        .await
    }

    /// `POST /v1/memories/search`.
    pub async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, ClientError> {
        self.send(
            self.request(Method::POST, "/v1/memories/search")
                .json(request),
        )
        .await
    }

    /// `GET /v1/config`: the effective settings, secrets masked by the runtime.
    pub async fn config(&self) -> Result<serde_json::Value, ClientError> {
        self.send(self.request(Method::GET, "/v1/config")).await
    }

    /// `GET /v1/system/info`.
    pub async fn system_info(&self) -> Result<SystemInfo, ClientError> {
        self.send(self.request(Method::GET, "/v1/system/info"))
            .await
    }

    /// `GET /v1/processes`.
    pub async fn processes(&self) -> Result<ProcessList, ClientError> {
        self.send(self.request(Method::GET, "/v1/processes")).await
    }

    /// `POST /v1/processes/{pid}/kill`: SIGTERM; the runtime refuses PID 1 and itself.
    pub async fn kill_process(&self, pid: u32) -> Result<KilledProcess, ClientError> {
        self.send(self.request(Method::POST, &format!("/v1/processes/{pid}/kill")))
            .await
    }

    /// `POST /v1/chat`: one whole turn as one reply.
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatReply, ClientError> {
        let request = ChatRequest {
            stream: false,
            ..request.clone()
        };
        self.send(
            self.request(Method::POST, "/v1/chat")
                .timeout(CHAT_TIMEOUT)
                .json(&request),
        )
        .await
    }

    /// `POST /v1/chat` with `stream: true`: the turn's events as they happen. A refusal before
    /// the turn starts (unknown model, budget, bad input) is an `Err` here; a failure after it is
    /// the stream's final `error` event. Dropping the stream cancels the turn's upstream request.
    pub async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, ClientError> {
        let request = ChatRequest {
            stream: true,
            ..request.clone()
        };
        let response = self
            .execute(
                self.request(Method::POST, "/v1/chat")
                    .timeout(CHAT_TIMEOUT)
                    .header(reqwest::header::ACCEPT, "text/event-stream")
                    .json(&request),
            )
            .await?;
        if !response.status().is_success() {
            return Err(error_response(response, &self.base_url).await);
        }
        Ok(ChatStream::new(response, &self.base_url))
    }

    /// `GET /v1/sessions`: one page, most recently active first.
    pub async fn sessions(&self, page: &PageRequest) -> Result<SessionPage, ClientError> {
        self.send(
            self.request(Method::GET, "/v1/sessions")
                .query(&page_query(page)),
        )
        .await
    }

    /// `GET /v1/sessions/{id}/messages`: one page, oldest first.
    pub async fn session_messages(
        &self,
        session_id: &str,
        page: &PageRequest,
    ) -> Result<MessagePage, ClientError> {
        let path = format!("/v1/sessions/{}/messages", encode_segment(session_id));
        self.send(self.request(Method::GET, &path).query(&page_query(page)))
            .await
    }

    /// `GET /v1/models`: the names a chat may use, `jamey` (the twin) first.
    pub async fn models(&self) -> Result<Vec<String>, ClientError> {
        let list: ModelList = self.send(self.request(Method::GET, "/v1/models")).await?;
        Ok(list.data.into_iter().map(|m| m.id).collect())
    }

    /// `GET /v1/tools`.
    pub async fn tools(&self) -> Result<ToolList, ClientError> {
        self.send(self.request(Method::GET, "/v1/tools")).await
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, ClientError> {
        let response = self.execute(request).await?;
        decode(response, &self.base_url).await
    }

    async fn execute(&self, request: RequestBuilder) -> Result<Response, ClientError> {
        let request = request
            .build()
            .map_err(|e| ClientError::from_transport(&self.base_url, &e))?;
        let span = tracing::debug_span!(
            "runtime_request",
            method = %request.method(),
            path = request.url().path(),
            status = tracing::field::Empty,
        );
        async {
            let response = self
                .http
                .execute(request)
                .await
                .map_err(|e| ClientError::from_transport(&self.base_url, &e))?;
            tracing::Span::current().record("status", response.status().as_u16());
            Ok(response)
        }
        .instrument(span)
        .await
    }
}

fn page_query(page: &PageRequest) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    if let Some(limit) = page.limit {
        query.push(("limit", limit.to_string()));
    }
    if let Some(cursor) = &page.cursor {
        query.push(("cursor", cursor.clone()));
    }
    query
}

/// A session id as one URL path segment: ids are the user's to choose, so `/`, `?`, `#`, `%`
/// and spaces must not change the route.
fn encode_segment(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn with_certificates(
    builder: reqwest::ClientBuilder,
    files: &TlsFiles,
) -> Result<reqwest::ClientBuilder, ClientError> {
    let ca_pem = read_pem(&files.ca_cert)?;
    let ca = reqwest::Certificate::from_pem(&ca_pem).map_err(|e| ClientError::Credentials {
        path: files.ca_cert.clone(),
        reason: e.to_string(),
    })?;
    let mut identity_pem = read_pem(&files.client_cert)?;
    identity_pem.push(b'\n');
    identity_pem.extend(read_pem(&files.client_key)?);
    let identity =
        reqwest::Identity::from_pem(&identity_pem).map_err(|e| ClientError::Credentials {
            path: files.client_cert.clone(),
            reason: e.to_string(),
        })?;
    Ok(builder.add_root_certificate(ca).identity(identity))
}

fn read_pem(path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            // `tls/` sits in the home: a missing file means the home was never initialised.
            match path.parent().and_then(Path::parent) {
                Some(home) => ClientError::NotInitialised {
                    home: home.to_path_buf(),
                },
                None => ClientError::Credentials {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                },
            }
        } else {
            ClientError::Credentials {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }
        }
    })
}

async fn decode<T: DeserializeOwned>(response: Response, base_url: &str) -> Result<T, ClientError> {
    let status = response.status();
    if !status.is_success() {
        return Err(error_response(response, base_url).await);
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| ClientError::from_transport(base_url, &e))?;
    serde_json::from_slice(&bytes).map_err(|e| ClientError::UnexpectedResponse {
        status: status.as_u16(),
        reason: e.to_string(),
    })
}

async fn error_response(response: Response, base_url: &str) -> ClientError {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match response.bytes().await {
        Ok(bytes) => error_from_body(status, retry_after, &bytes),
        Err(e) => ClientError::from_transport(base_url, &e),
    }
}

/// The SPEC's `{"error": {...}}` body as `ClientError::Api`; anything else is unexpected.
fn error_from_body(status: StatusCode, retry_after_secs: Option<u64>, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => ClientError::Api {
            status: status.as_u16(),
            code: body.error.code,
            message: body.error.message,
            field: body.error.field,
            retry_after_secs,
            request_id: body.error.request_id,
        },
        Err(_) => ClientError::UnexpectedResponse {
            status: status.as_u16(),
            reason: String::from_utf8_lossy(bytes).chars().take(200).collect(),
        },
    }
}
