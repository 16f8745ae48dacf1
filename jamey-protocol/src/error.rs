//! The one error shape every API response uses: `{"error": {"code": "...", "message": "..."}}`.

use serde::{Deserialize, Serialize};

/// Stable, machine-readable error codes. Clients branch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request body or query string could not be parsed.
    Malformed,
    /// A field was present and parseable but not acceptable.
    InvalidField,
    /// No credentials, or credentials that are not valid.
    Unauthenticated,
    /// Valid credentials without the right to do this.
    Forbidden,
    NotFound,
    /// The route exists but not with this HTTP method.
    MethodNotAllowed,
    /// The request body is larger than the configured limit.
    PayloadTooLarge,
    UnsupportedMediaType,
    /// Too many requests; the response carries `Retry-After`.
    RateLimited,
    /// The stored data was written by a different embedding model.
    EmbedderMismatch,
    /// A dependency (store, model provider) is down.
    Unavailable,
    /// The upstream model provider failed.
    UpstreamError,
    /// The upstream model provider rejected the configured API key.
    UpstreamAuth,
    /// The upstream model provider did not answer in time.
    UpstreamTimeout,
    /// The conversation does not fit the model's context window.
    ContextLengthExceeded,
    /// The model named is not configured.
    UnknownModel,
    /// A configured spending limit would be exceeded.
    BudgetExceeded,
    /// The model provider needs an API key and none is configured; nothing was sent upstream.
    LlmUnconfigured,
    /// A tool call was denied: by the permission policy, by the user, or because nobody
    /// decided in time.
    ToolDenied,
    /// The request conflicts with the current state (an approval decided twice).
    Conflict,
    /// A failure on our side; details are in the server log, not the response.
    Internal,
}

impl ErrorCode {
    /// The snake_case name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::InvalidField => "invalid_field",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited => "rate_limited",
            Self::EmbedderMismatch => "embedder_mismatch",
            Self::Unavailable => "unavailable",
            Self::UpstreamError => "upstream_error",
            Self::UpstreamAuth => "upstream_auth",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::ContextLengthExceeded => "context_length_exceeded",
            Self::UnknownModel => "unknown_model",
            Self::BudgetExceeded => "budget_exceeded",
            Self::LlmUnconfigured => "llm_unconfigured",
            Self::ToolDenied => "tool_denied",
            Self::Conflict => "conflict",
            Self::Internal => "internal",
        }
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, for a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// The request field at fault, for `invalid_field`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The id of the request (its `x-request-id`), under which the server log has the details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
                field: None,
                request_id: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_the_documented_shape() {
        let body = ErrorBody::new(ErrorCode::NotFound, "memory not found");
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "not_found", "message": "memory not found"}})
        );
        assert_eq!(
            serde_json::to_value(ErrorCode::InvalidField).unwrap(),
            serde_json::json!(ErrorCode::InvalidField.as_str())
        );
    }
}
