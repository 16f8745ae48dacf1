//! `ProviderError`: every way a model call can fail, classified so callers can decide what to
//! tell the user and whether another attempt could help. Messages never contain the API key.

use std::time::Duration;

/// A failed model call.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The server rejected the API key (HTTP 401).
    #[error("the LLM provider rejected the API key: {message}")]
    InvalidApiKey { message: String },
    /// The account behind the key has no credits left (HTTP 402).
    #[error("the LLM provider account has insufficient credits: {message}")]
    InsufficientCredits { message: String },
    /// The server refused the content or the permission (HTTP 403, moderation).
    #[error("the LLM provider refused the request: {message}")]
    Refused { message: String },
    /// The server does not know the model (HTTP 404, or a 400 naming the model).
    #[error("unknown model `{model}`: {message}")]
    UnknownModel { model: String, message: String },
    /// The conversation does not fit the model's context window.
    #[error("the conversation exceeds the context window of model `{model}`: {message}")]
    ContextLengthExceeded { model: String, message: String },
    /// Too many requests: the server answered 429, or the local limiter could not admit the
    /// request within its bounded wait (`local`).
    #[error("rate limited on model `{model}`{}", retry_hint(.retry_after))]
    RateLimited {
        model: String,
        retry_after: Option<Duration>,
        local: bool,
    },
    /// No answer (or no next chunk of a stream) in time.
    #[error("model `{model}` did not answer within {after:?}")]
    Timeout { model: String, after: Duration },
    /// The server could not be reached or failed (connection error, HTTP 5xx).
    #[error("model `{model}` is unavailable{}: {message}", status_hint(.status))]
    Unavailable {
        model: String,
        status: Option<u16>,
        message: String,
    },
    /// Recent calls to this model failed repeatedly; it is skipped until `retry_after` passes.
    #[error("model `{model}` is failing; circuit open for another {retry_after:?}")]
    CircuitOpen {
        model: String,
        retry_after: Duration,
    },
    /// Any other 4xx: the request itself is wrong, so retrying cannot help.
    #[error("the LLM provider rejected the request (HTTP {status}): {message}")]
    BadRequest { status: u16, message: String },
    /// The server reported an error inside a stream that had already started.
    #[error("model `{model}` failed mid-stream: {message}")]
    StreamFailed {
        model: String,
        code: Option<String>,
        message: String,
    },
    /// The stream could not be parsed (bad SSE framing, bad JSON, cut off before finishing).
    #[error("malformed stream from model `{model}`: {detail}")]
    MalformedStream { model: String, detail: String },
    /// A non-streamed answer could not be parsed.
    #[error("malformed response from model `{model}`: {detail}")]
    MalformedResponse { model: String, detail: String },
    /// The client configuration is unusable (no model, bad base URL, bad header value).
    #[error("invalid LLM provider configuration: {0}")]
    InvalidConfig(String),
}

/// Stable, machine-readable codes for [`ProviderError`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderErrorCode {
    InvalidApiKey,
    InsufficientCredits,
    Refused,
    UnknownModel,
    ContextLengthExceeded,
    RateLimited,
    Timeout,
    Unavailable,
    CircuitOpen,
    BadRequest,
    StreamFailed,
    MalformedStream,
    MalformedResponse,
    InvalidConfig,
}

impl ProviderErrorCode {
    /// The snake_case name, for logs and API error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidApiKey => "invalid_api_key",
            Self::InsufficientCredits => "insufficient_credits",
            Self::Refused => "refused",
            Self::UnknownModel => "unknown_model",
            Self::ContextLengthExceeded => "context_length_exceeded",
            Self::RateLimited => "rate_limited",
            Self::Timeout => "timeout",
            Self::Unavailable => "upstream_unavailable",
            Self::CircuitOpen => "circuit_open",
            Self::BadRequest => "bad_request",
            Self::StreamFailed => "stream_failed",
            Self::MalformedStream => "malformed_stream",
            Self::MalformedResponse => "malformed_response",
            Self::InvalidConfig => "invalid_config",
        }
    }
}

impl ProviderError {
    /// The stable code of this error.
    pub fn code(&self) -> ProviderErrorCode {
        match self {
            Self::InvalidApiKey { .. } => ProviderErrorCode::InvalidApiKey,
            Self::InsufficientCredits { .. } => ProviderErrorCode::InsufficientCredits,
            Self::Refused { .. } => ProviderErrorCode::Refused,
            Self::UnknownModel { .. } => ProviderErrorCode::UnknownModel,
            Self::ContextLengthExceeded { .. } => ProviderErrorCode::ContextLengthExceeded,
            Self::RateLimited { .. } => ProviderErrorCode::RateLimited,
            Self::Timeout { .. } => ProviderErrorCode::Timeout,
            Self::Unavailable { .. } => ProviderErrorCode::Unavailable,
            Self::CircuitOpen { .. } => ProviderErrorCode::CircuitOpen,
            Self::BadRequest { .. } => ProviderErrorCode::BadRequest,
            Self::StreamFailed { .. } => ProviderErrorCode::StreamFailed,
            Self::MalformedStream { .. } => ProviderErrorCode::MalformedStream,
            Self::MalformedResponse { .. } => ProviderErrorCode::MalformedResponse,
            Self::InvalidConfig(_) => ProviderErrorCode::InvalidConfig,
        }
    }

    /// Whether the same request to the same model could succeed if tried again: connection
    /// errors, timeouts, 429 and 5xx, and an upstream error inside a stream.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { local, .. } => !local,
            Self::Timeout { .. } | Self::Unavailable { .. } | Self::StreamFailed { .. } => true,
            _ => false,
        }
    }

    /// How long the server (or the local limiter, or the circuit breaker) asked us to wait.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            Self::CircuitOpen { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Whether another model might answer where this one failed: the failure belongs to the
    /// model (down, overloaded, unknown, unparseable), not to the key, the account or the
    /// request.
    pub fn allows_fallback(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Timeout { .. }
                | Self::Unavailable { .. }
                | Self::CircuitOpen { .. }
                | Self::StreamFailed { .. }
                | Self::UnknownModel { .. }
                | Self::MalformedStream { .. }
                | Self::MalformedResponse { .. }
        )
    }

    /// Whether this failure counts against the model's circuit breaker: the model or its
    /// server misbehaved (not a rate limit, not a bad request).
    pub(crate) fn counts_against_breaker(&self) -> bool {
        matches!(
            self,
            Self::Timeout { .. }
                | Self::Unavailable { .. }
                | Self::StreamFailed { .. }
                | Self::MalformedStream { .. }
                | Self::MalformedResponse { .. }
        )
    }
}

fn retry_hint(retry_after: &Option<Duration>) -> String {
    retry_after.map_or_else(String::new, |after| format!("; retry after {after:?}"))
}

fn status_hint(status: &Option<u16>) -> String {
    status.map_or_else(String::new, |status| format!(" (HTTP {status})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_matches_the_retry_policy() {
        let unavailable = ProviderError::Unavailable {
            model: "m".into(),
            status: Some(503),
            message: "down".into(),
        };
        assert!(unavailable.is_retryable());
        assert!(unavailable.allows_fallback());
        assert_eq!(unavailable.code().as_str(), "upstream_unavailable");
        assert!(unavailable.to_string().contains("HTTP 503"));

        let key = ProviderError::InvalidApiKey {
            message: "no".into(),
        };
        assert!(!key.is_retryable());
        assert!(!key.allows_fallback());

        let local = ProviderError::RateLimited {
            model: "m".into(),
            retry_after: Some(Duration::from_secs(2)),
            local: true,
        };
        assert!(!local.is_retryable());
        assert_eq!(local.retry_after(), Some(Duration::from_secs(2)));
    }
}
