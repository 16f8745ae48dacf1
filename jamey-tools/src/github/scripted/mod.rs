//! `ScriptedGithub`: a GitHub REST server on 127.0.0.1 for tests. It keeps repositories, files,
//! issues, comments and pull requests in memory and answers the connector's routes in GitHub's
//! JSON, pages with `Link` headers (at a page size that may be smaller than asked), checks the
//! bearer token, answers rate limits and errors the way GitHub does when a fault is queued, and
//! records every request. Nothing here is used in production.

mod routes;
mod state;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::Router;
use parking_lot::Mutex;

use state::{Data, FileData, IssueData, PullData};

/// The path GitHub Enterprise Server serves its API under.
pub const ENTERPRISE_PREFIX: &str = "/api/v3";

/// A running scripted GitHub; stopped when dropped.
#[derive(Debug)]
pub struct ScriptedGithub {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// The path as sent (percent-encoded), prefix included.
    pub path: String,
    /// The query's pairs, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Header names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The JSON body (`Null` when empty, `Value::String` holding the text when not JSON).
    pub body: serde_json::Value,
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

    /// The first value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// An answer queued for the next request, in place of the normal one.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 Too Many Requests with `retry-after`.
    TooManyRequests { retry_after_secs: u64 },
    /// 403 naming a secondary rate limit, with `retry-after` when given.
    SecondaryLimit { retry_after_secs: Option<u64> },
    /// 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` this far ahead.
    PrimaryLimit { reset_in_secs: u64 },
    /// Any status with a JSON body.
    Status {
        status: u16,
        body: serde_json::Value,
    },
}

#[derive(Debug)]
struct Shared {
    /// `""`, or [`ENTERPRISE_PREFIX`].
    prefix: String,
    /// `http://127.0.0.1:PORT`, for `Link` headers and URLs in bodies.
    origin: String,
    data: Mutex<Data>,
    faults: Mutex<VecDeque<Fault>>,
    requests: Mutex<Vec<RecordedRequest>>,
    /// The most items a page holds, whatever `per_page` asks (GitHub's own cap is 100).
    page_size: AtomicUsize,
    /// The token that authenticates; `None`: any `Authorization` does.
    token: Mutex<Option<String>>,
}

impl ScriptedGithub {
    /// A server like api.github.com: the API at the root.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_at("").await
    }

    /// A server like GitHub Enterprise Server: the API under `/api/v3`.
    pub async fn start_enterprise() -> std::io::Result<Self> {
        Self::start_at(ENTERPRISE_PREFIX).await
    }

    async fn start_at(prefix: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            prefix: prefix.to_owned(),
            origin: format!("http://{addr}"),
            data: Mutex::new(Data::default()),
            faults: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            page_size: AtomicUsize::new(100),
            token: Mutex::new(None),
        });
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "scripted GitHub stopped");
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// The `api_url` to configure the client with.
    pub fn api_url(&self) -> String {
        format!("{}{}", self.shared.origin, self.shared.prefix)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Only this token authenticates; a request with another gets 401 Bad credentials.
    pub fn set_token(&self, token: &str) {
        *self.shared.token.lock() = Some(token.to_owned());
    }

    /// Pages hold at most `size` items, even when `per_page` asks for more.
    pub fn set_page_size(&self, size: usize) {
        self.shared.page_size.store(size.max(1), Ordering::SeqCst);
    }

    /// The answer to the next request (queued after earlier faults).
    pub fn push_fault(&self, fault: Fault) {
        self.shared.faults.lock().push_back(fault);
    }

    /// Adds a repository `owner/name`; a private one is seen only with the token.
    pub fn add_repo(&self, full_name: &str, private: bool) {
        self.shared.data.lock().add_repo(full_name, private);
    }

    /// Adds (or replaces) a file on the default branch `main`.
    pub fn add_file(&self, repo: &str, path: &str, content: impl Into<Vec<u8>>) {
        self.shared.data.lock().with_repo(repo, |repo| {
            repo.files.insert(
                path.to_owned(),
                FileData {
                    content: content.into(),
                },
            );
        });
    }

    /// Opens an issue by `author`; returns its number.
    pub fn add_issue(&self, repo: &str, title: &str, body: &str, author: &str) -> u64 {
        let issue = IssueData::new(title, Some(body.to_owned()), author);
        self.shared.data.lock().add_issue(repo, issue)
    }

    /// Closes an issue or pull request as completed.
    pub fn close(&self, repo: &str, number: u64) {
        self.shared.data.lock().with_issue(repo, number, |issue| {
            issue.close();
        });
    }

    /// Comments on an issue; returns the comment's id.
    pub fn add_comment(&self, repo: &str, number: u64, body: &str, author: &str) -> u64 {
        self.shared
            .data
            .lock()
            .add_comment(repo, number, body, author)
    }

    /// Opens a pull request from `head` into `main` changing `files`, each `(path,
    /// additions, deletions)`; returns its number (shared with the issues, as on GitHub).
    pub fn add_pull(&self, repo: &str, title: &str, head: &str, files: &[(&str, u64, u64)]) -> u64 {
        let mut issue = IssueData::new(title, Some(format!("Changes from {head}.")), "octocat");
        issue.pull = Some(PullData {
            head: head.to_owned(),
            base: "main".into(),
            files: files
                .iter()
                .map(|(path, additions, deletions)| ((*path).to_owned(), *additions, *deletions))
                .collect(),
        });
        self.shared.data.lock().add_issue(repo, issue)
    }

    /// An issue as GitHub's JSON would show it now, to check what a write did.
    pub fn issue(&self, repo: &str, number: u64) -> Option<serde_json::Value> {
        let data = self.shared.data.lock();
        let (repo, issue) = data.find_issue(repo, number)?;
        Some(state::issue_json(
            &self.shared.origin,
            &self.shared.prefix,
            repo,
            issue,
        ))
    }

    /// The bodies of an issue's comments, oldest first.
    pub fn comments(&self, repo: &str, number: u64) -> Vec<String> {
        let data = self.shared.data.lock();
        data.repo(repo)
            .map(|repo| {
                repo.comments
                    .iter()
                    .filter(|comment| comment.issue == number)
                    .map(|comment| comment.body.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().clone()
    }

    pub fn request_count(&self) -> usize {
        self.shared.requests.lock().len()
    }
}

impl Drop for ScriptedGithub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: Vec<(String, String)> = uri.query().map(url_pairs).unwrap_or_default();
    let body = if body.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into()))
    };
    shared.requests.lock().push(RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: query.clone(),
        headers: headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.clone(),
    });
    let fault = shared.faults.lock().pop_front();
    if let Some(fault) = fault {
        return routes::fault_response(fault);
    }
    routes::dispatch(&shared, &method, uri.path(), &query, &headers, &body)
}

/// `a=1&b=x%20y` as decoded pairs (`+` is a space, as in forms and GitHub's `q`).
fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key, true), percent_decode(value, true))
        })
        .collect()
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`).
fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
