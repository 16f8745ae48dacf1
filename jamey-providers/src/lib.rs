//! Jamey's LLM providers: the [`LlmProvider`] trait the orchestrator talks to, and
//! [`OpenAiCompatClient`], one client for OpenRouter and any other OpenAI-compatible server
//! (Ollama, vLLM, llama.cpp, LM Studio) with streaming, retries, a circuit breaker per model,
//! model fallback, rate limits and cost.
//!
//! With the `scripted` feature, [`scripted::ScriptedServer`] replays OpenRouter's wire format on
//! 127.0.0.1 for tests and benchmarks.

mod api_key;
mod circuit_breaker;
mod client;
mod config;
mod error;
mod pricing;
mod provider;
mod rate_limit;
mod request;
mod response;
mod retry;
mod sse;
mod stream_decoder;
mod tool_call_assembler;
mod wire;

#[cfg(feature = "scripted")]
pub mod scripted;

pub use api_key::ApiKey;
pub use client::OpenAiCompatClient;
pub use config::{
    Attribution, CircuitBreakerConfig, ModelRateLimit, OpenAiCompatConfig, RateLimitConfig,
    RetryConfig, TimeoutConfig, OPENROUTER_BASE_URL,
};
pub use error::{ProviderError, ProviderErrorCode};
pub use pricing::{ModelPrice, PriceTable};
pub use provider::LlmProvider;
pub use request::{ChatRequest, ToolDefinition};
pub use response::{ChatResponse, ChatStream, CostSource, Finish, FinishReason, StreamEvent};
