//! OpenAI-compatible `/embeddings` client (OpenRouter, OpenAI, Ollama, vLLM, llama.cpp), batching
//! texts and retrying rate limits and server errors. Blocking: callers on an async runtime use
//! `spawn_blocking`.

use super::{normalize, EmbedError, Embedder, EmbedderIdentity};
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// Where and how to reach an embeddings server.
#[derive(Clone)]
pub struct RemoteEmbedderConfig {
    /// Base URL up to and excluding `/embeddings`, e.g. `https://openrouter.ai/api/v1`.
    pub base_url: String,
    pub model: String,
    /// Sent as a bearer token when present.
    pub api_key: Option<String>,
    /// Texts per request.
    pub batch_size: usize,
    pub timeout: Duration,
    /// Attempts per batch for retryable failures (429, 5xx, timeouts).
    pub max_attempts: u32,
}

impl fmt::Debug for RemoteEmbedderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteEmbedderConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

impl RemoteEmbedderConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            batch_size: 64,
            timeout: Duration::from_secs(30),
            max_attempts: 3,
        }
    }
}

/// An embeddings server speaking OpenAI's wire format.
pub struct RemoteEmbedder {
    config: RemoteEmbedderConfig,
    http: reqwest::blocking::Client,
    identity: EmbedderIdentity,
}

impl fmt::Debug for RemoteEmbedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteEmbedder")
            .field("config", &self.config)
            .field("identity", &self.identity)
            .finish()
    }
}

#[derive(Deserialize)]
struct EmbeddingsResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    index: usize,
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: ErrorObject,
}

#[derive(Deserialize)]
struct ErrorObject {
    message: String,
}

impl RemoteEmbedder {
    /// Connects and learns the model's dimension from one probe request.
    pub fn connect(config: RemoteEmbedderConfig) -> Result<Self, EmbedError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| EmbedError::Load(e.to_string()))?;
        let mut embedder = Self {
            identity: EmbedderIdentity {
                model: format!("remote/{}", config.model),
                dimensions: 0,
            },
            config,
            http,
        };
        let probe = embedder.request(&["dimension probe"])?;
        embedder.identity.dimensions = probe.first().map_or(0, Vec::len);
        if embedder.identity.dimensions == 0 {
            return Err(EmbedError::Remote {
                message: "the server returned an empty embedding".into(),
                retryable: false,
            });
        }
        Ok(embedder)
    }

    fn request(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let url = format!("{}/embeddings", self.config.base_url.trim_end_matches('/'));
        let body = serde_json::json!({"model": self.config.model, "input": texts});
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send_once(&url, &body, texts.len()) {
                Err((error, retry_after))
                    if error.is_retryable() && attempt < self.config.max_attempts =>
                {
                    let backoff = retry_after
                        .unwrap_or_else(|| Duration::from_millis(200 * 2u64.pow(attempt)));
                    tracing::warn!(attempt, ?backoff, %error, "embedding request failed, retrying");
                    std::thread::sleep(backoff.min(Duration::from_secs(10)));
                }
                Err((error, _)) => return Err(error),
                Ok(vectors) => return Ok(vectors),
            }
        }
    }

    fn send_once(
        &self,
        url: &str,
        body: &serde_json::Value,
        expected: usize,
    ) -> Result<Vec<Vec<f32>>, (EmbedError, Option<Duration>)> {
        let _span = tracing::debug_span!("embeddings_request", model = %self.config.model, texts = expected).entered();
        let mut request = self.http.post(url).json(body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().map_err(|e| {
            let retryable = e.is_timeout() || e.is_connect() || e.is_request();
            (
                EmbedError::Remote {
                    message: format!("cannot reach {url}: {}", without_url(&e)),
                    retryable,
                },
                None,
            )
        })?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = response.text().unwrap_or_default();
            let detail = serde_json::from_str::<ErrorResponse>(&text)
                .map(|e| e.error.message)
                .unwrap_or_else(|_| text.chars().take(200).collect());
            let retryable = status.as_u16() == 429 || status.is_server_error();
            return Err((
                EmbedError::Remote {
                    message: format!("{status} from {url}: {detail}"),
                    retryable,
                },
                retry_after,
            ));
        }
        let parsed: EmbeddingsResponse = response.json().map_err(|e| {
            (
                EmbedError::Remote {
                    message: format!("unreadable embeddings response: {}", without_url(&e)),
                    retryable: false,
                },
                None,
            )
        })?;
        if parsed.data.len() != expected {
            return Err((
                EmbedError::Remote {
                    message: format!("asked for {expected} embeddings, got {}", parsed.data.len()),
                    retryable: false,
                },
                None,
            ));
        }
        let mut items = parsed.data;
        items.sort_by_key(|item| item.index);
        items
            .into_iter()
            .map(|item| {
                let mut vector = item.embedding;
                normalize(&mut vector).map_err(|e| (e, None))?;
                Ok(vector)
            })
            .collect()
    }
}

fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "");
    }
    text
}

impl Embedder for RemoteEmbedder {
    fn identity(&self) -> &EmbedderIdentity {
        &self.identity
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.config.batch_size.max(1)) {
            let vectors = self.request(chunk)?;
            if let Some(bad) = vectors
                .iter()
                .position(|v| v.len() != self.identity.dimensions)
            {
                return Err(EmbedError::Remote {
                    message: format!(
                        "embedding {bad} has {} dimensions, expected {}",
                        vectors[bad].len(),
                        self.identity.dimensions
                    ),
                    retryable: false,
                });
            }
            out.extend(vectors);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    /// A scripted OpenAI-compatible server: answers each request with the next canned response
    /// and records the requests it saw.
    fn scripted_server(responses: Vec<String>) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for response in responses {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let mut reader = BufReader::new(stream);
                let mut head = String::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                log.lock()
                    .unwrap()
                    .push(format!("{head}\n{}", String::from_utf8_lossy(&body)));
                reader.get_mut().write_all(response.as_bytes()).unwrap();
            }
        });
        (url, seen)
    }

    fn http(status: &str, extra: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
            body.len()
        )
    }

    fn embeddings(vectors: &[[f32; 3]]) -> String {
        let data: Vec<_> = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| serde_json::json!({"object": "embedding", "index": i, "embedding": v}))
            .collect();
        serde_json::json!({"object": "list", "data": data, "model": "m"}).to_string()
    }

    #[test]
    fn retries_a_rate_limit_then_embeds_with_the_bearer_token() {
        let (url, seen) = scripted_server(vec![
            http("200 OK", "", &embeddings(&[[1.0, 0.0, 0.0]])),
            http(
                "429 Too Many Requests",
                "retry-after: 0\r\n",
                r#"{"error":{"message":"slow down","code":429}}"#,
            ),
            http(
                "200 OK",
                "",
                &embeddings(&[[0.0, 3.0, 4.0], [2.0, 0.0, 0.0]]),
            ),
        ]);
        let mut config = RemoteEmbedderConfig::new(url, "test-embed");
        config.api_key = Some("sk-test-secret".into());
        let embedder = RemoteEmbedder::connect(config).unwrap();
        assert_eq!(embedder.identity().dimensions, 3);
        assert!(format!("{embedder:?}").contains("[redacted]"));
        let vectors = embedder.embed(&["a", "b"]).unwrap();
        assert_eq!(vectors, vec![vec![0.0, 0.6, 0.8], vec![1.0, 0.0, 0.0]]);
        let requests = seen.lock().unwrap();
        assert_eq!(requests.len(), 3);
        assert!(requests[2]
            .to_ascii_lowercase()
            .contains("authorization: bearer sk-test-secret"));
        assert!(requests[2].contains(r#""input":["a","b"]"#));
    }

    #[test]
    fn a_client_error_is_not_retried_and_says_why() {
        let (url, seen) = scripted_server(vec![http(
            "401 Unauthorized",
            "",
            r#"{"error":{"message":"invalid api key","code":401}}"#,
        )]);
        let err = RemoteEmbedder::connect(RemoteEmbedderConfig::new(url, "m")).unwrap_err();
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("invalid api key"), "{err}");
        assert_eq!(seen.lock().unwrap().len(), 1);
    }
}
