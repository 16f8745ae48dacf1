//! `ScriptedServer`: an OpenAI-compatible server on 127.0.0.1 that answers each
//! `POST /api/v1/chat/completions` with the next scripted reply (a JSON completion, an SSE
//! stream in OpenRouter's framing with chosen timings, an error status with headers, a non-JSON
//! error page, or a hang)
//! and records every request it receives. Tests and benchmarks point the production client at
//! it; nothing here is used in production.

mod reply;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::serve::ListenerExt;
use axum::Router;
use parking_lot::Mutex;

pub use reply::{ScriptedReply, ScriptedUsage, SseFrame, StreamScript};

/// The path prefix the server answers under, like OpenRouter's `/api/v1`.
pub const API_PREFIX: &str = "/api/v1";

/// A running scripted server; stopped when dropped.
#[derive(Debug)]
pub struct ScriptedServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Header names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The JSON body (`Value::String` holding the raw text when it was not JSON).
    pub body: serde_json::Value,
    pub received_at: Instant,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// When each write of a streamed reply was handed to the connection, for relay-latency
/// measurements.
#[derive(Debug, Clone)]
pub struct SentStream {
    /// Index into [`ScriptedServer::requests`] of the request this stream answered.
    pub request_index: usize,
    /// One instant per `SseFrame::Bytes`, in order.
    pub frame_times: Vec<Instant>,
    /// Whether every frame was written (false: the client went away).
    pub complete: bool,
}

#[derive(Debug, Default)]
struct Shared {
    replies: Mutex<VecDeque<ScriptedReply>>,
    /// Served when the queue is empty (benchmarks); without it an empty queue is a 500.
    default_reply: Mutex<Option<ScriptedReply>>,
    requests: Mutex<Vec<RecordedRequest>>,
    /// Streams and hangs whose client went away before the reply was complete.
    disconnects: AtomicUsize,
    /// Streams that ended (completely or not), in the order they ended.
    sent_streams: Mutex<Vec<SentStream>>,
}

impl ScriptedServer {
    /// Starts a server on 127.0.0.1 on a free port.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let router = Router::new()
            .route(
                &format!("{API_PREFIX}/chat/completions"),
                axum::routing::post(chat_completions),
            )
            .fallback(unknown_route)
            .with_state(Arc::clone(&shared));
        // Frames go out as they are written, as from a real API server: without TCP_NODELAY,
        // Nagle's algorithm holds a frame until the previous one is acknowledged, and with the
        // client's delayed ACKs chunks a millisecond apart arrive in 20-40 ms bursts.
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::warn!(%error, "scripted server: cannot set TCP_NODELAY");
            }
        });
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "scripted server stopped");
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// The base URL to configure the client with (`http://127.0.0.1:PORT/api/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}{API_PREFIX}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues the reply for the next request.
    pub fn push(&self, reply: ScriptedReply) {
        self.shared.replies.lock().push_back(reply);
    }

    /// The reply for every request once the queue is empty.
    pub fn set_default_reply(&self, reply: ScriptedReply) {
        *self.shared.default_reply.lock() = Some(reply);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().clone()
    }

    pub fn request_count(&self) -> usize {
        self.shared.requests.lock().len()
    }

    /// Replies still queued.
    pub fn queued(&self) -> usize {
        self.shared.replies.lock().len()
    }

    /// How many streamed or hanging replies lost their client before they were complete.
    pub fn disconnects(&self) -> usize {
        self.shared.disconnects.load(Ordering::SeqCst)
    }

    /// The streams served so far, in the order they ended.
    pub fn sent_streams(&self) -> Vec<SentStream> {
        self.shared.sent_streams.lock().clone()
    }

    /// Waits until at least `count` streams have ended; `false` on timeout.
    pub async fn wait_for_sent_streams(&self, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.shared.sent_streams.lock().len() < count {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        true
    }

    /// Waits until at least `count` disconnects were seen; `false` on timeout.
    pub async fn wait_for_disconnects(&self, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.disconnects() < count {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counts a disconnect when dropped before the reply was complete, and logs a stream's write
/// times when it ends.
struct DisconnectGuard {
    shared: Arc<Shared>,
    complete: bool,
    /// `Some` for streams.
    sent: Option<SentStream>,
}

impl DisconnectGuard {
    fn mark_complete(&mut self) {
        self.complete = true;
    }

    fn frame_written(&mut self) {
        if let Some(sent) = &mut self.sent {
            sent.frame_times.push(Instant::now());
        }
    }
}

impl Drop for DisconnectGuard {
    fn drop(&mut self) {
        if !self.complete {
            self.shared.disconnects.fetch_add(1, Ordering::SeqCst);
        }
        if let Some(mut sent) = self.sent.take() {
            sent.complete = self.complete;
            self.shared.sent_streams.lock().push(sent);
        }
    }
}

async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_index = record(&shared, &method, &uri, &headers, &body);
    let reply = shared
        .replies
        .lock()
        .pop_front()
        .or_else(|| shared.default_reply.lock().clone());
    match reply {
        Some(reply) => serve(shared, reply, request_index).await,
        None => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &[],
            &serde_json::json!({"error": {"code": 500, "message": "scripted server: no reply queued"}}),
        ),
    }
}

async fn unknown_route(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared, &method, &uri, &headers, &body);
    json_response(
        StatusCode::NOT_FOUND,
        &[],
        &serde_json::json!({"error": {"code": 404, "message": "scripted server: unknown route"}}),
    )
}

/// Logs a request; returns its index.
fn record(shared: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> usize {
    let body = serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into_owned()));
    let mut requests = shared.requests.lock();
    requests.push(RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        received_at: Instant::now(),
    });
    requests.len() - 1
}

async fn serve(shared: Arc<Shared>, reply: ScriptedReply, request_index: usize) -> Response {
    match reply {
        ScriptedReply::Json {
            status,
            headers,
            body,
        } => json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &headers,
            &body,
        ),
        ScriptedReply::Stream { headers, frames } => {
            stream_response(shared, &headers, frames, request_index)
        }
        ScriptedReply::Text {
            status,
            headers,
            content_type,
            body,
        } => {
            let mut builder = Response::builder()
                .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
                .header(header::CONTENT_TYPE, content_type);
            for (name, value) in &headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            builder
                .body(Body::from(body))
                .unwrap_or_else(|error| plain_500(&error.to_string()))
        }
        ScriptedReply::Hang => {
            let _guard = DisconnectGuard {
                shared,
                complete: false,
                sent: None,
            };
            std::future::pending::<Response>().await
        }
    }
}

fn json_response(
    status: StatusCode,
    headers: &[(String, String)],
    body: &serde_json::Value,
) -> Response {
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|error| plain_500(&error.to_string()))
}

fn stream_response(
    shared: Arc<Shared>,
    headers: &[(String, String)],
    frames: Vec<SseFrame>,
    request_index: usize,
) -> Response {
    let guard = DisconnectGuard {
        shared,
        complete: false,
        sent: Some(SentStream {
            request_index,
            frame_times: Vec::with_capacity(frames.len()),
            complete: false,
        }),
    };
    let frames: VecDeque<SseFrame> = frames.into();
    let body = futures::stream::unfold((frames, guard), |(mut frames, mut guard)| async move {
        loop {
            match frames.pop_front() {
                None => {
                    guard.mark_complete();
                    return None;
                }
                Some(SseFrame::Pause(pause)) => tokio::time::sleep(pause).await,
                Some(SseFrame::Bytes(text)) => {
                    guard.frame_written();
                    if frames.is_empty() {
                        guard.mark_complete();
                    }
                    return Some((Ok::<_, Infallible>(Bytes::from(text)), (frames, guard)));
                }
            }
        }
    });
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache");
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(Body::from_stream(body))
        .unwrap_or_else(|error| plain_500(&error.to_string()))
}

fn plain_500(message: &str) -> Response {
    let mut response = Response::new(Body::from(format!("scripted server: bad reply: {message}")));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}
