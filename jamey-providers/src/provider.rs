//! The `LlmProvider` trait: what the orchestrator needs from a language model.

use async_trait::async_trait;

use crate::{ChatRequest, ChatResponse, ChatStream, ProviderError};

/// A chat model behind some API. Implementations retry, fall back and rate-limit internally;
/// an error returned here is final for this request.
#[async_trait]
pub trait LlmProvider: Send + Sync + std::fmt::Debug {
    /// The whole answer at once.
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse, ProviderError>;

    /// The answer as it is generated. Returns once the first event is ready (failures before
    /// that are retried or fall back); later failures arrive as an `Err` item and end the
    /// stream. Dropping the stream aborts the upstream request.
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, ProviderError>;

    /// The configured models, first the default, then the fallbacks in order.
    fn models(&self) -> &[String];
}
