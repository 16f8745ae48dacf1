//! One HTTP exchange with the server: the client with its fixed headers, and the translation of
//! HTTP statuses, error bodies and transport failures into `ProviderError`s. No message built
//! here contains the API key.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, RETRY_AFTER};

use crate::retry::parse_retry_after;
use crate::wire::{WireErrorBody, WireRequest};
use crate::{OpenAiCompatConfig, ProviderError};

use super::ClientInner;

/// The longest upstream error message passed on.
const MAX_MESSAGE_CHARS: usize = 500;

/// `{base_url}/chat/completions`, validated.
pub(super) fn chat_completions_url(base_url: &str) -> Result<reqwest::Url, ProviderError> {
    let url = format!("{}/chat/completions", base_url.trim().trim_end_matches('/'));
    let parsed = reqwest::Url::parse(&url).map_err(|error| {
        ProviderError::InvalidConfig(format!(
            "the LLM base URL `{base_url}` is not a URL: {error}"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ProviderError::InvalidConfig(format!(
            "the LLM base URL `{base_url}` must be http or https"
        )));
    }
    Ok(parsed)
}

/// The reqwest client with the bearer token and OpenRouter's attribution headers on every
/// request.
pub(super) fn build_http_client(
    config: &OpenAiCompatConfig,
) -> Result<reqwest::Client, ProviderError> {
    let mut headers = HeaderMap::new();
    if let Some(key) = config.api_key.as_ref().filter(|key| !key.is_empty()) {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                ProviderError::InvalidConfig(
                    "the API key contains characters not allowed in an HTTP header".to_owned(),
                )
            })?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    let attribution = [
        (
            HeaderName::from_static("http-referer"),
            &config.attribution.referer,
            "attribution.referer",
        ),
        (
            HeaderName::from_static("x-title"),
            &config.attribution.title,
            "attribution.title",
        ),
    ];
    for (name, value, field) in attribution {
        let value = HeaderValue::from_str(value).map_err(|_| {
            ProviderError::InvalidConfig(format!("{field} is not a valid HTTP header value"))
        })?;
        headers.insert(name, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .connect_timeout(config.timeouts.connect)
        .build()
        .map_err(|error| {
            ProviderError::InvalidConfig(format!(
                "cannot build the HTTP client: {}",
                describe(&error)
            ))
        })
}

impl ClientInner {
    /// Sends one request; `Ok` only for a 2xx status.
    pub(super) async fn send(
        &self,
        body: &WireRequest<'_>,
        model: &str,
        stream: bool,
    ) -> Result<reqwest::Response, ProviderError> {
        let mut builder = self.http.post(self.endpoint.clone()).json(body);
        if stream {
            builder = builder.header(ACCEPT, "text/event-stream");
        }
        let response = builder
            .send()
            .await
            .map_err(|error| self.transport_error(model, error))?;
        tracing::Span::current().record("status", response.status().as_u16());
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.error_from_response(model, response).await)
    }

    /// The error an unsuccessful response stands for.
    async fn error_from_response(&self, model: &str, response: reqwest::Response) -> ProviderError {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let body = tokio::time::timeout(self.config.timeouts.stream_idle, response.text())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let (code, message) = serde_json::from_str::<WireErrorBody>(&body)
            .map(WireErrorBody::into_parts)
            .unwrap_or((None, None));
        let message = message.unwrap_or_else(|| {
            if body.trim().is_empty() {
                format!("HTTP {status}")
            } else {
                body.clone()
            }
        });
        self.classify(model, status, code.as_deref(), &message, retry_after)
    }

    /// Classifies an HTTP status (or an OpenRouter error code that mirrors one) with its error
    /// code and message.
    pub(super) fn classify(
        &self,
        model: &str,
        status: u16,
        code: Option<&str>,
        message: &str,
        retry_after: Option<Duration>,
    ) -> ProviderError {
        let message = self.scrub(message);
        let lowered = format!("{} {}", code.unwrap_or_default(), message).to_lowercase();
        let model = model.to_owned();
        match status {
            401 => ProviderError::InvalidApiKey { message },
            402 => ProviderError::InsufficientCredits { message },
            403 => ProviderError::Refused { message },
            404 => ProviderError::UnknownModel { model, message },
            408 => ProviderError::Timeout {
                model,
                after: self.config.timeouts.request,
            },
            429 => ProviderError::RateLimited {
                model,
                retry_after,
                local: false,
            },
            _ if mentions_context_length(&lowered) => {
                ProviderError::ContextLengthExceeded { model, message }
            }
            400..=499 if mentions_unknown_model(&lowered) => {
                ProviderError::UnknownModel { model, message }
            }
            400..=499 => ProviderError::BadRequest { status, message },
            _ => ProviderError::Unavailable {
                model,
                status: Some(status),
                message,
            },
        }
    }

    /// A failure below HTTP: connecting, timing out, a broken connection. The text keeps the
    /// cause (refused, DNS, TLS) but not the URL, whose host, port or query string may be
    /// internal.
    pub(super) fn transport_error(&self, model: &str, error: reqwest::Error) -> ProviderError {
        let error = error.without_url();
        if error.is_timeout() {
            return ProviderError::Timeout {
                model: model.to_owned(),
                after: self.config.timeouts.request,
            };
        }
        let what = if error.is_connect() {
            "cannot connect"
        } else {
            "the connection failed"
        };
        ProviderError::Unavailable {
            model: model.to_owned(),
            status: None,
            message: self.scrub(&format!("{what}: {}", describe(&error))),
        }
    }

    /// Bounds an upstream message and removes the API key should a server echo it.
    pub(super) fn scrub(&self, text: &str) -> String {
        let mut text: String = text.trim().chars().take(MAX_MESSAGE_CHARS).collect();
        if let Some(key) = self.config.api_key.as_ref().filter(|key| !key.is_empty()) {
            text = text.replace(key.expose(), "[redacted]");
        }
        text
    }
}

/// The error and its sources, one after the other.
pub(super) fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn mentions_context_length(text: &str) -> bool {
    [
        "context_length_exceeded",
        "context length",
        "context window",
        "maximum context",
        "prompt is too long",
        "too many tokens",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

fn mentions_unknown_model(text: &str) -> bool {
    [
        "model_not_found",
        "not a valid model",
        "model not found",
        "no endpoints found",
        "unknown model",
        "invalid model",
    ]
    .iter()
    .any(|needle| text.contains(needle))
        || (text.contains("model") && text.contains("does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_validated() {
        assert_eq!(
            chat_completions_url("https://openrouter.ai/api/v1/")
                .unwrap()
                .as_str(),
            "https://openrouter.ai/api/v1/chat/completions"
        );
        assert!(chat_completions_url("not a url").is_err());
        assert!(chat_completions_url("ftp://example.com").is_err());
    }

    #[test]
    fn error_texts_are_recognised() {
        assert!(mentions_context_length(
            "400 this model's maximum context length is 8192 tokens"
        ));
        assert!(mentions_unknown_model(
            "400 foo/bar is not a valid model id"
        ));
        assert!(mentions_unknown_model("the model `x` does not exist"));
        assert!(!mentions_unknown_model("400 temperature must be below 2"));
    }
}
