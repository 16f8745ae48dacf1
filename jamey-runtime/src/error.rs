//! `ApiError`: the one place errors become HTTP statuses and the stable JSON error body. Each
//! error is logged once here, inside the request span: 5xx at error, 4xx at warn. Clients never
//! see internals of a 5xx or upstream text: a store failure answers a fixed message naming the
//! store, a model provider failure a fixed message per cause, and every error body (also the
//! `error` event ending a stream) carries the request id under which the log has the details.

use crate::request_scope::current_request_id;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use jamey_core::conversation::ConversationError;
use jamey_core::db::DbError;
use jamey_core::{EmbedError, StoreError};
use jamey_protocol::{ErrorBody, ErrorCode};
use std::time::Duration;

/// How long a client is told to wait before retrying a request a store could not serve.
const STORE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The body of every 500.
const INTERNAL_MESSAGE: &str =
    "internal error; the server log has the details under this request id";

// What a client is told when the model provider failed, by cause; never the provider's text.
const PROVIDER_KEY_REJECTED: &str = "the model provider rejected the API key: \
    check OPENROUTER_API_KEY or `jamey secret set llm_api_key`";
const PROVIDER_NO_CREDITS: &str = "the model provider has no credits left for this API key: \
    add credits to the account or use another key";
const PROVIDER_TIMEOUT: &str = "the model provider did not answer in time; retry later";
const PROVIDER_REFUSED: &str = "the model provider refused the request (its content or the \
    key's permissions); the server log has the details under this request id";
const PROVIDER_REJECTED_REQUEST: &str = "the model provider did not accept the request; \
    the server log has the details under this request id";
const PROVIDER_FAILED: &str = "the model provider failed; retry later";

/// An error answered to a client.
#[derive(Debug)]
pub enum ApiError {
    /// The request could not be parsed (bad JSON, bad query string, bad id).
    Malformed(String),
    /// A field is not acceptable; names the field.
    InvalidField {
        field: String,
        message: String,
    },
    NotFound(String),
    MethodNotAllowed(String),
    Unauthenticated(String),
    /// Authenticated, but not allowed to do this.
    Forbidden(String),
    PayloadTooLarge(String),
    UnsupportedMediaType(String),
    RateLimited {
        retry_after: Duration,
    },
    /// The request could not be served in time, or the client left; the client may retry.
    Unavailable(String),
    /// A store (or the embedder in front of one) is down, restarting or lost a race; the client
    /// may retry. `detail` is logged, never sent: the client is told only which dependency.
    DependencyUnavailable {
        dependency: &'static str,
        detail: String,
    },
    /// The data conflicts with what is stored (a unique constraint); names the field.
    Conflict {
        field: String,
        message: String,
    },
    /// The model could not answer: the provider failed (502, 504, or 422 for a conversation
    /// too long), the model is unknown (404) or no key is configured (503). `message` is ours,
    /// fixed per cause; `detail` may hold the provider's text and is logged, never sent.
    Upstream {
        status: StatusCode,
        code: ErrorCode,
        message: String,
        detail: String,
    },
    /// A spending limit would be exceeded.
    BudgetExceeded(String),
    /// A tool call was denied (policy, user, expiry).
    ToolDenied(String),
    /// The state changed already (an approval decided before).
    StateConflict(String),
    /// Our fault. The detail is logged, never sent.
    Internal(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, ErrorCode, String, Option<String>) {
        match self {
            Self::Malformed(m) => (
                StatusCode::BAD_REQUEST,
                ErrorCode::Malformed,
                m.clone(),
                None,
            ),
            Self::InvalidField { field, message } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidField,
                message.clone(),
                Some(field.clone()),
            ),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, ErrorCode::NotFound, m.clone(), None),
            Self::MethodNotAllowed(m) => (
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                m.clone(),
                None,
            ),
            Self::Unauthenticated(m) => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthenticated,
                m.clone(),
                None,
            ),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden, m.clone(), None),
            Self::PayloadTooLarge(m) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                m.clone(),
                None,
            ),
            Self::UnsupportedMediaType(m) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                m.clone(),
                None,
            ),
            Self::RateLimited { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                format!(
                    "too many requests: retry after {} s",
                    retry_after.as_secs().max(1)
                ),
                None,
            ),
            Self::Unavailable(m) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                m.clone(),
                None,
            ),
            Self::DependencyUnavailable { dependency, .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                format!("the {dependency} is unavailable; retry later"),
                None,
            ),
            Self::Conflict { field, message } => (
                StatusCode::CONFLICT,
                ErrorCode::InvalidField,
                message.clone(),
                Some(field.clone()),
            ),
            Self::Upstream {
                status,
                code,
                message,
                ..
            } => (*status, *code, message.clone(), None),
            Self::BudgetExceeded(m) => (
                StatusCode::PAYMENT_REQUIRED,
                ErrorCode::BudgetExceeded,
                m.clone(),
                None,
            ),
            Self::ToolDenied(m) => (
                StatusCode::FORBIDDEN,
                ErrorCode::ToolDenied,
                m.clone(),
                None,
            ),
            Self::StateConflict(m) => (StatusCode::CONFLICT, ErrorCode::Conflict, m.clone(), None),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                INTERNAL_MESSAGE.into(),
                None,
            ),
        }
    }
}

impl ApiError {
    /// Logs the error once and returns the JSON error body, for an error sent inside a stream
    /// rather than as a response; `request_id` is the one the stream captured.
    pub(crate) fn into_stream_body(self, request_id: Option<String>) -> ErrorBody {
        self.log();
        self.body(request_id)
    }

    fn body(&self, request_id: Option<String>) -> ErrorBody {
        let (_, code, message, field) = self.parts();
        let mut body = ErrorBody::new(code, message);
        body.error.field = field;
        body.error.request_id = request_id;
        body
    }

    /// The one log line of this error: 5xx at error, 4xx at warn, with the detail clients
    /// never see.
    fn log(&self) {
        let (status, code, message, _) = self.parts();
        let detail = match self {
            Self::Internal(detail)
            | Self::Unavailable(detail)
            | Self::DependencyUnavailable { detail, .. }
            | Self::Upstream { detail, .. } => detail.as_str(),
            _ => message.as_str(),
        };
        if status.is_server_error() {
            tracing::error!(
                status = status.as_u16(),
                code = code.as_str(),
                error = detail,
                "request failed"
            );
        } else {
            tracing::warn!(
                status = status.as_u16(),
                code = code.as_str(),
                error = detail,
                "request rejected"
            );
        }
    }

    /// How long the client should wait before retrying, for the `Retry-After` header.
    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => Some(*retry_after),
            Self::DependencyUnavailable { .. } | Self::Unavailable(_) => Some(STORE_RETRY_AFTER),
            _ => None,
        }
    }

    /// The answer to a database failure of `store`: retry later, fix the named field, or ours.
    fn from_database(store: &'static str, error: &DbError) -> Self {
        let field = error.field().unwrap_or("body").to_string();
        match error.kind() {
            _ if error.is_retryable() => Self::DependencyUnavailable {
                dependency: store,
                detail: error.to_string(),
            },
            jamey_core::db::DbErrorKind::UniqueViolation => Self::Conflict {
                message: format!("{field}: the {store} already holds this value"),
                field,
            },
            jamey_core::db::DbErrorKind::CheckViolation => Self::InvalidField {
                message: format!("{field}: the {store} does not accept this value"),
                field,
            },
            _ => Self::Internal(format!("{store}: {error}")),
        }
    }

    /// The answer to a model provider failure: the status and code of its cause and a fixed
    /// message saying what happened and what to do. The provider's text (an upstream page, a
    /// traceback, an internal host, part of a key) goes only to the log; a model named is the
    /// one we asked for.
    fn from_provider(error: &jamey_providers::ProviderError) -> Self {
        use jamey_providers::{ProviderError, ProviderErrorCode as Cause};
        let (status, code, message) = match (error.code(), error) {
            (Cause::InvalidApiKey, _) => (
                StatusCode::BAD_GATEWAY,
                ErrorCode::UpstreamAuth,
                PROVIDER_KEY_REJECTED.into(),
            ),
            (Cause::InsufficientCredits, _) => (
                StatusCode::BAD_GATEWAY,
                ErrorCode::UpstreamAuth,
                PROVIDER_NO_CREDITS.into(),
            ),
            (_, ProviderError::UnknownModel { model, .. }) => (
                StatusCode::BAD_GATEWAY,
                ErrorCode::UnknownModel,
                format!(
                    "the model provider does not know the model `{model}`: \
                     check llm.model and llm.fallback_models"
                ),
            ),
            (_, ProviderError::ContextLengthExceeded { model, .. }) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ContextLengthExceeded,
                format!(
                    "the conversation does not fit the context window of the model `{model}`: \
                     start a new session or choose a model with a larger window"
                ),
            ),
            (Cause::Timeout, _) => (
                StatusCode::GATEWAY_TIMEOUT,
                ErrorCode::UpstreamTimeout,
                PROVIDER_TIMEOUT.into(),
            ),
            (Cause::Refused, _) => (
                StatusCode::BAD_GATEWAY,
                ErrorCode::UpstreamError,
                PROVIDER_REFUSED.into(),
            ),
            (Cause::BadRequest | Cause::InvalidConfig, _) => (
                StatusCode::BAD_GATEWAY,
                ErrorCode::UpstreamError,
                PROVIDER_REJECTED_REQUEST.into(),
            ),
            _ => (
                StatusCode::BAD_GATEWAY,
                ErrorCode::UpstreamError,
                PROVIDER_FAILED.into(),
            ),
        };
        Self::Upstream {
            status,
            code,
            message,
            detail: error.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.parts().0;
        let body = self.body(current_request_id());
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(retry_after) = self.retry_after() {
            let seconds = retry_after.as_secs().max(1).to_string();
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Invalid {
                field,
                reason,
                index,
            } => Self::InvalidField {
                field: match index {
                    Some(i) => format!("items[{i}].{field}"),
                    None => field.to_string(),
                },
                message: match index {
                    Some(i) => format!("item {i}: {field}: {reason}"),
                    None => format!("{field}: {reason}"),
                },
            },
            StoreError::NotFound(id) => Self::NotFound(format!("memory {id} not found")),
            StoreError::InvalidCursor(reason) => Self::InvalidField {
                field: "cursor".into(),
                message: format!("cursor: {reason}"),
            },
            e @ (StoreError::Dimension { .. } | StoreError::NonFiniteVector { .. }) => {
                Self::InvalidField {
                    field: "embedding".into(),
                    message: e.to_string(),
                }
            }
            StoreError::Embedding(EmbedError::Input(reason)) => Self::InvalidField {
                field: "content".into(),
                message: format!("content: {reason}"),
            },
            StoreError::Postgres(e) => Self::from_database("memory store", &e),
            StoreError::Embedding(e) if e.is_retryable() => Self::DependencyUnavailable {
                dependency: "embedder",
                detail: e.to_string(),
            },
            e => Self::Internal(e.to_string()),
        }
    }
}

impl From<crate::orchestrator::ChatError> for ApiError {
    fn from(error: crate::orchestrator::ChatError) -> Self {
        use crate::orchestrator::ChatError;
        use jamey_providers::ProviderError;
        match error {
            ChatError::Invalid { field, reason } => Self::InvalidField {
                field: field.into(),
                message: format!("{field}: {reason}"),
            },
            ChatError::BudgetExceeded(m) => Self::BudgetExceeded(m),
            // A fixed message that names what to set; no upstream was asked.
            e @ ChatError::LlmUnconfigured => Self::Upstream {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: ErrorCode::LlmUnconfigured,
                message: e.to_string(),
                detail: e.to_string(),
            },
            // The client named a model we do not configure; no upstream was asked.
            e @ ChatError::UnknownModel(_) => Self::Upstream {
                status: StatusCode::NOT_FOUND,
                code: ErrorCode::UnknownModel,
                message: e.to_string(),
                detail: e.to_string(),
            },
            ChatError::Provider(ProviderError::RateLimited { retry_after, .. }) => {
                Self::RateLimited {
                    retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
                }
            }
            ChatError::Provider(e) => Self::from_provider(&e),
            ChatError::Conversation(e) => match e {
                ConversationError::SessionNotFound(id) => {
                    Self::NotFound(format!("session {id} not found"))
                }
                ConversationError::InvalidCursor(reason) => Self::InvalidField {
                    field: "cursor".into(),
                    message: format!("cursor: {reason}"),
                },
                ConversationError::Invalid { field, reason } => Self::InvalidField {
                    field: field.into(),
                    message: format!("{field}: {reason}"),
                },
                ConversationError::Postgres(e) => Self::from_database("conversation store", &e),
                other => Self::Internal(other.to_string()),
            },
            ChatError::Memory(e) => e.into(),
            ChatError::Cancelled => Self::Unavailable("the client disconnected".into()),
        }
    }
}

impl From<ConversationError> for ApiError {
    fn from(error: ConversationError) -> Self {
        crate::orchestrator::ChatError::Conversation(error).into()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => {
                // serde names the field in its message: "items[2].importance: invalid type ..."
                let detail = std::error::Error::source(&e)
                    .map(ToString::to_string)
                    .unwrap_or_else(|| e.body_text());
                let field = detail
                    .split(':')
                    .next()
                    .unwrap_or("body")
                    .trim()
                    .to_string();
                let field = if field.contains(' ') {
                    "body".to_string()
                } else {
                    field
                };
                Self::InvalidField {
                    field,
                    message: detail,
                }
            }
            JsonRejection::JsonSyntaxError(e) => {
                let detail = std::error::Error::source(&e)
                    .map(ToString::to_string)
                    .unwrap_or_else(|| e.body_text());
                Self::Malformed(format!("the body is not valid JSON: {detail}"))
            }
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType(
                "send the body as JSON with `content-type: application/json`".into(),
            ),
            JsonRejection::BytesRejection(e) => {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Self::PayloadTooLarge(
                        "the request body is larger than this route accepts".into(),
                    )
                } else {
                    Self::Malformed(format!("cannot read the body: {}", e.body_text()))
                }
            }
            other => Self::Malformed(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::Malformed(format!(
            "invalid path: {} (memory ids are UUIDs)",
            rejection.body_text()
        ))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::Malformed(format!("invalid query string: {}", rejection.body_text()))
    }
}

impl From<jamey_tools::HostError> for ApiError {
    fn from(error: jamey_tools::HostError) -> Self {
        use jamey_tools::HostError;
        match error {
            e @ HostError::InvalidPid => Self::InvalidField {
                field: "pid".into(),
                message: e.to_string(),
            },
            e @ HostError::NotFound(_) => Self::NotFound(e.to_string()),
            e @ (HostError::OtherUser { .. }
            | HostError::InitProcess
            | HostError::RuntimeProcess(_)
            | HostError::PermissionDenied { .. }) => Self::Forbidden(e.to_string()),
            e @ (HostError::Signal { .. } | HostError::Task(_)) => Self::Internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_statuses_and_name_fields() {
        let invalid = ApiError::from(StoreError::Invalid {
            field: "importance",
            reason: "too big".into(),
            index: Some(2),
        });
        let (status, code, message, field) = invalid.parts();
        assert_eq!(
            (status, code),
            (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField)
        );
        assert_eq!(field.as_deref(), Some("items[2].importance"));
        assert!(message.contains("item 2"));
        let down = ApiError::from(StoreError::Postgres(jamey_core::db::DbError::new(
            jamey_core::db::DbErrorKind::ConnectionLost,
            "connection refused",
        )));
        assert_eq!(down.parts().0, StatusCode::SERVICE_UNAVAILABLE);
        let internal = ApiError::from(StoreError::Sqlite("disk I/O error at /secret/path".into()));
        let (status, _, message, _) = internal.parts();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!message.contains("/secret/path"));
    }

    #[test]
    fn provider_failures_keep_their_status_and_code_and_send_no_upstream_text() {
        use crate::orchestrator::ChatError;
        use jamey_providers::ProviderError;
        let leak = "<html>Traceback at internal-host:8443 key sk-or-LEAKED-abcd</html>";
        let model = || "test/model".to_string();
        let cases = [
            (
                ProviderError::InvalidApiKey {
                    message: leak.into(),
                },
                StatusCode::BAD_GATEWAY,
                ErrorCode::UpstreamAuth,
            ),
            (
                ProviderError::InsufficientCredits {
                    message: leak.into(),
                },
                StatusCode::BAD_GATEWAY,
                ErrorCode::UpstreamAuth,
            ),
            (
                ProviderError::UnknownModel {
                    model: model(),
                    message: leak.into(),
                },
                StatusCode::BAD_GATEWAY,
                ErrorCode::UnknownModel,
            ),
            (
                ProviderError::ContextLengthExceeded {
                    model: model(),
                    message: leak.into(),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ContextLengthExceeded,
            ),
            (
                ProviderError::Timeout {
                    model: model(),
                    after: Duration::from_secs(60),
                },
                StatusCode::GATEWAY_TIMEOUT,
                ErrorCode::UpstreamTimeout,
            ),
            (
                ProviderError::Unavailable {
                    model: model(),
                    status: Some(500),
                    message: leak.into(),
                },
                StatusCode::BAD_GATEWAY,
                ErrorCode::UpstreamError,
            ),
            (
                ProviderError::Refused {
                    message: leak.into(),
                },
                StatusCode::BAD_GATEWAY,
                ErrorCode::UpstreamError,
            ),
            (
                ProviderError::BadRequest {
                    status: 400,
                    message: leak.into(),
                },
                StatusCode::BAD_GATEWAY,
                ErrorCode::UpstreamError,
            ),
            (
                ProviderError::StreamFailed {
                    model: model(),
                    code: None,
                    message: leak.into(),
                },
                StatusCode::BAD_GATEWAY,
                ErrorCode::UpstreamError,
            ),
            (
                ProviderError::MalformedResponse {
                    model: model(),
                    detail: leak.into(),
                },
                StatusCode::BAD_GATEWAY,
                ErrorCode::UpstreamError,
            ),
        ];
        for (provider, expected_status, expected_code) in cases {
            let shown = format!("{provider:?}");
            let error = ApiError::from(ChatError::Provider(provider));
            let (status, code, message, _) = error.parts();
            assert_eq!((status, code), (expected_status, expected_code), "{shown}");
            assert!(
                !message.contains("internal-host") && !message.contains("LEAKED"),
                "{message}"
            );
            // The detail stays for the log.
            assert!(
                matches!(&error, ApiError::Upstream { detail, .. }
                    if detail.contains("test/model") || detail.contains("LEAKED")),
                "{error:?}"
            );
        }
        let (_, _, message, _) = ApiError::from(ChatError::Provider(ProviderError::UnknownModel {
            model: model(),
            message: leak.into(),
        }))
        .parts();
        assert!(message.contains("`test/model`"), "{message}");
    }

    #[test]
    fn database_failures_map_by_class_and_keep_their_text_in_the_log() {
        use jamey_core::db::{DbError, DbErrorKind};
        let conflict = ApiError::from(ConversationError::Postgres(DbError::new(
            DbErrorKind::UniqueViolation,
            "23505: duplicate key",
        )));
        assert_eq!(conflict.parts().0, StatusCode::CONFLICT);
        for kind in [
            DbErrorKind::Shutdown,
            DbErrorKind::SerializationFailure,
            DbErrorKind::Deadlock,
        ] {
            let error = ApiError::from(ConversationError::Postgres(DbError::new(
                kind,
                "40001: could not serialize access",
            )));
            let (status, code, message, _) = error.parts();
            assert_eq!(
                (status, code),
                (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable)
            );
            assert_eq!(
                message,
                "the conversation store is unavailable; retry later"
            );
            assert_eq!(error.retry_after(), Some(STORE_RETRY_AFTER));
        }
        let internal = ApiError::from(StoreError::Postgres(DbError::new(
            DbErrorKind::Internal,
            "42P01: relation \"memories\" does not exist",
        )));
        let (status, _, message, _) = internal.parts();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!message.contains("42P01"), "{message}");
    }
}
