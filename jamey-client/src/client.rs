//! `JameyClient`: one method per runtime route the CLI and TUI use, over mTLS with the owner's
//! certificate (or a bearer token on a plain-HTTP loopback runtime).

use crate::chat::ChatStream;
use crate::endpoint::{Endpoint, TlsFiles};
use crate::error::ClientError;
use crate::status::{Health, Readiness};
use jamey_protocol::{
    ApprovalList, ApprovalResolved, CallDecision, ChatReply, ChatRequest, DecisionRequest,
    ErrorBody, ErrorCode, InvokeRequest, InvokeResponse, KilledProcess, Memory, MemoryId,
    MemoryPage, MessagePage, NewMemory, NewMemoryIds, ProcessList, SearchRequest, SearchResponse,
    SessionPage, SystemInfo, ToolCallPage, ToolList,
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

/// One page request of `GET /v1/tool-calls` (the audit trail, newest first), with its filters.
#[derive(Debug, Clone, Default)]
pub struct ToolCallQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    /// Only calls of this tool.
    pub tool: Option<String>,
    /// Only calls made in this session.
    pub session_id: Option<String>,
    /// Only calls that ended so.
    pub decision: Option<CallDecision>,
}

/// How long a direct invocation may wait: a tool certificate's or token's `ask` call waits for
/// a decision up to the runtime's approval timeout (default 300 s).
const INVOKE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

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

    /// `POST /v1/tools/{name}/invoke`: runs one tool outside a chat. A tool that ran and failed
    /// is `Ok` with `is_error`; a refusal (403 `tool_denied`, 404 unknown tool, 422 naming the
    /// argument at fault) is an `Err`.
    pub async fn invoke_tool(
        &self,
        name: &str,
        arguments: &serde_json::Value,
    ) -> Result<InvokeResponse, ClientError> {
        let path = format!("/v1/tools/{}/invoke", encode_segment(name));
        let body = InvokeRequest {
            arguments: arguments.clone(),
        };
        self.send(
            self.request(Method::POST, &path)
                .timeout(INVOKE_TIMEOUT)
                .json(&body),
        )
        .await
    }

    /// `GET /v1/approvals`: the pending approvals, oldest first.
    pub async fn approvals(&self) -> Result<ApprovalList, ClientError> {
        self.send(self.request(Method::GET, "/v1/approvals")).await
    }

    /// `POST /v1/approvals/{id}`: approves or denies a pending call; 409 when it was already
    /// decided or has expired, 404 when there is no such approval.
    pub async fn decide_approval(
        &self,
        id: uuid::Uuid,
        decision: &DecisionRequest,
    ) -> Result<ApprovalResolved, ClientError> {
        self.send(
            self.request(Method::POST, &format!("/v1/approvals/{id}"))
                .json(decision),
        )
        .await
    }

    /// `GET /v1/tool-calls`: one page of the audit trail, newest first.
    pub async fn tool_calls(&self, query: &ToolCallQuery) -> Result<ToolCallPage, ClientError> {
        self.send(
            self.request(Method::GET, "/v1/tool-calls")
                .query(&tool_call_query(query)),
        )
        .await
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

fn tool_call_query(query: &ToolCallQuery) -> Vec<(&'static str, String)> {
    let mut pairs = page_query(&PageRequest {
        limit: query.limit,
        cursor: query.cursor.clone(),
    });
    if let Some(tool) = &query.tool {
        pairs.push(("tool", tool.clone()));
    }
    if let Some(session) = &query.session_id {
        pairs.push(("session_id", session.clone()));
    }
    if let Some(decision) = query.decision {
        pairs.push(("decision", decision.as_str().to_string()));
    }
    pairs
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
    let detail = match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => Some((
            body.error.code,
            body.error.message,
            body.error.field,
            body.error.request_id,
        )),
        Err(_) => serde_json::from_slice::<LooseErrorBody>(bytes)
            .ok()
            .map(|body| {
                (
                    code_for_status(status),
                    body.error.message,
                    body.error.field,
                    body.error.request_id,
                )
            }),
    };
    match detail {
        Some((code, message, field, request_id)) => ClientError::Api {
            status: status.as_u16(),
            code,
            message,
            field,
            retry_after_secs,
            request_id,
        },
        None => ClientError::UnexpectedResponse {
            status: status.as_u16(),
            reason: String::from_utf8_lossy(bytes).chars().take(200).collect(),
        },
    }
}

/// The error body of a runtime newer than this client, whose `code` this build does not know
/// (e.g. `tool_denied`): its message is still the answer.
#[derive(Debug, serde::Deserialize)]
struct LooseErrorBody {
    error: LooseErrorDetail,
}

#[derive(Debug, serde::Deserialize)]
struct LooseErrorDetail {
    message: String,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    request_id: Option<String>,
}

/// The code a status stands for, for an error code this build does not know.
fn code_for_status(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthenticated,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::InvalidField,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Unavailable,
        status if status.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_error_code_is_read_by_its_status_and_keeps_the_message() {
        let body = br#"{"error": {"code": "a_code_from_a_newer_runtime", "message": "process_kill is denied"}}"#;
        let error = error_from_body(StatusCode::FORBIDDEN, None, body);
        assert!(
            matches!(
                &error,
                ClientError::Api { status: 403, code: ErrorCode::Forbidden, message, .. }
                    if message == "process_kill is denied"
            ),
            "{error:?}"
        );
        assert_eq!(error.to_string(), "process_kill is denied");
        let conflict = br#"{"error": {"code": "conflict", "message": "already decided"}}"#;
        let error = error_from_body(StatusCode::CONFLICT, None, conflict);
        assert!(matches!(error, ClientError::Api { status: 409, .. }));
        let known = br#"{"error": {"code": "not_found", "message": "no tool x"}}"#;
        assert_eq!(
            error_from_body(StatusCode::NOT_FOUND, None, known).code(),
            Some(ErrorCode::NotFound)
        );
        let html = b"<html>bad gateway</html>";
        assert!(matches!(
            error_from_body(StatusCode::BAD_GATEWAY, None, html),
            ClientError::UnexpectedResponse { status: 502, .. }
        ));
    }

    #[test]
    fn tool_call_filters_become_the_query_string() {
        let query = ToolCallQuery {
            limit: Some(20),
            cursor: Some("c1".into()),
            tool: Some("process_kill".into()),
            session_id: Some("s 1".into()),
            decision: Some(CallDecision::Denied),
        };
        assert_eq!(
            tool_call_query(&query),
            vec![
                ("limit", "20".to_string()),
                ("cursor", "c1".to_string()),
                ("tool", "process_kill".to_string()),
                ("session_id", "s 1".to_string()),
                ("decision", "denied".to_string()),
            ]
        );
        assert!(tool_call_query(&ToolCallQuery::default()).is_empty());
    }
}
