//! `ApiError`: the one place errors become HTTP statuses and the stable JSON error body. Each
//! error is logged once here, inside the request span: 5xx at error, 4xx at warn. Clients never
//! see internals of a 5xx: a store failure answers a fixed message naming the store, and every
//! error body carries the request id under which the log has the details.

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
    /// The upstream model failed; `status` is 502, 504 or 422 (context too long).
    Upstream {
        status: StatusCode,
        code: ErrorCode,
        message: String,
    },
    /// A spending limit would be exceeded.
    BudgetExceeded(String),
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
            } => (*status, *code, message.clone(), None),
            Self::BudgetExceeded(m) => (
                StatusCode::PAYMENT_REQUIRED,
                ErrorCode::BudgetExceeded,
                m.clone(),
                None,
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                "internal error; the server log has the details under this request id".into(),
                None,
            ),
        }
    }
}

impl ApiError {
    /// The JSON error body, for errors sent inside a stream rather than as a response.
    pub fn body(&self) -> ErrorBody {
        let (_, code, message, field) = self.parts();
        let mut body = ErrorBody::new(code, message);
        body.error.field = field;
        body.error.request_id = current_request_id();
        body
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
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, field) = self.parts();
        if status.is_server_error() {
            let detail = match &self {
                Self::Internal(detail)
                | Self::Unavailable(detail)
                | Self::DependencyUnavailable { detail, .. } => detail.as_str(),
                Self::Upstream { message, .. } => message.as_str(),
                _ => message.as_str(),
            };
            tracing::error!(
                status = status.as_u16(),
                code = code.as_str(),
                error = detail,
                "request failed"
            );
        } else {
            tracing::warn!(status = status.as_u16(), code = code.as_str(), error = %message, "request rejected");
        }
        let mut body = ErrorBody::new(code, message);
        body.error.field = field;
        body.error.request_id = current_request_id();
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
        use jamey_providers::{ProviderError, ProviderErrorCode};
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
            },
            e @ ChatError::UnknownModel(_) => Self::Upstream {
                status: StatusCode::NOT_FOUND,
                code: ErrorCode::UnknownModel,
                message: e.to_string(),
            },
            ChatError::Provider(ProviderError::RateLimited { retry_after, .. }) => {
                Self::RateLimited {
                    retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
                }
            }
            ChatError::Provider(e) => {
                let (status, code) = match e.code() {
                    ProviderErrorCode::InvalidApiKey | ProviderErrorCode::InsufficientCredits => {
                        (StatusCode::BAD_GATEWAY, ErrorCode::UpstreamAuth)
                    }
                    ProviderErrorCode::UnknownModel => {
                        (StatusCode::BAD_GATEWAY, ErrorCode::UnknownModel)
                    }
                    ProviderErrorCode::ContextLengthExceeded => (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        ErrorCode::ContextLengthExceeded,
                    ),
                    ProviderErrorCode::Timeout => {
                        (StatusCode::GATEWAY_TIMEOUT, ErrorCode::UpstreamTimeout)
                    }
                    _ => (StatusCode::BAD_GATEWAY, ErrorCode::UpstreamError),
                };
                Self::Upstream {
                    status,
                    code,
                    message: e.to_string(),
                }
            }
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
            e @ (HostError::NotOwner
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
