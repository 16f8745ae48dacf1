//! `ChatError`: why a turn did not finish. Each maps to a stable error code and status.

use jamey_core::conversation::ConversationError;
use jamey_core::StoreError;
use jamey_providers::ProviderError;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// A field of the request is not acceptable.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A spending limit would be exceeded; nothing was sent upstream.
    #[error("{0}")]
    BudgetExceeded(String),
    /// The model server needs an API key and none is configured; nothing was sent upstream.
    #[error("{}", crate::config::UNCONFIGURED_MESSAGE)]
    LlmUnconfigured,
    /// The model the client named is not configured.
    #[error("unknown model `{0}`: GET /v1/models lists the configured ones")]
    UnknownModel(String),
    /// The upstream model failed for good (after retries and fallbacks).
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Sessions or messages could not be stored or read.
    #[error(transparent)]
    Conversation(#[from] ConversationError),
    /// Memory failed in a way the turn cannot work around.
    #[error(transparent)]
    Memory(#[from] StoreError),
    /// The client went away; what was said so far is stored, marked incomplete.
    #[error("the client disconnected")]
    Cancelled,
}

impl ChatError {
    /// The stable code for error bodies and SSE `error` events.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_field",
            Self::BudgetExceeded(_) => "budget_exceeded",
            Self::LlmUnconfigured => "llm_unconfigured",
            Self::UnknownModel(_) => "unknown_model",
            Self::Provider(e) => e.code().as_str(),
            Self::Conversation(e) if e.is_client_error() => match e {
                ConversationError::SessionNotFound(_) => "not_found",
                _ => "invalid_field",
            },
            Self::Conversation(_) | Self::Memory(_) => "unavailable",
            Self::Cancelled => "cancelled",
        }
    }
}
