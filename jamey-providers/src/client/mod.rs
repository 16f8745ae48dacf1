//! `OpenAiCompatClient`: the one client for OpenRouter and every OpenAI-compatible server.
//! This module holds the call policy (model chain, retries, circuit breakers, rate limits);
//! `http.rs` sends one attempt and classifies its failure, `complete.rs` and `stream.rs` read
//! the two kinds of answer.

mod complete;
mod http;
mod stream;

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use jamey_protocol::TokenUsage;

use crate::circuit_breaker::CircuitBreakers;
use crate::rate_limit::RateLimits;
use crate::retry::backoff_delay;
use crate::stream_decoder::StreamEnd;
use crate::{
    ChatRequest, ChatResponse, ChatStream, CostSource, Finish, LlmProvider, OpenAiCompatConfig,
    ProviderError,
};

/// A chat client for any server speaking OpenAI's `/chat/completions` (OpenRouter by default).
/// Cheap to clone; clones share connections, breakers and limiters.
#[derive(Debug, Clone)]
pub struct OpenAiCompatClient {
    inner: Arc<ClientInner>,
}

#[derive(Debug)]
pub(crate) struct ClientInner {
    config: OpenAiCompatConfig,
    http: reqwest::Client,
    endpoint: reqwest::Url,
    breakers: CircuitBreakers,
    rate_limits: RateLimits,
}

/// One model of the chain, as a single attempt sees it.
#[derive(Debug, Clone)]
pub(crate) struct CallTarget {
    pub(crate) model: String,
    /// This model and the ones after it: OpenRouter's `models` list.
    pub(crate) chain_from_here: Vec<String>,
    pub(crate) requested_model: String,
    /// Whether this is not the first model of the chain.
    pub(crate) fell_back: bool,
    pub(crate) attempt: u32,
}

impl OpenAiCompatClient {
    /// Builds the client; fails on an unusable base URL, header value or empty model list.
    pub fn new(config: OpenAiCompatConfig) -> Result<Self, ProviderError> {
        if config.models.iter().all(|model| model.trim().is_empty()) {
            return Err(ProviderError::InvalidConfig(
                "at least one model must be configured".to_owned(),
            ));
        }
        let endpoint = http::chat_completions_url(&config.base_url)?;
        let http = http::build_http_client(&config)?;
        Ok(Self {
            inner: Arc::new(ClientInner {
                breakers: CircuitBreakers::new(config.circuit_breaker),
                rate_limits: RateLimits::new(config.rate_limits.clone()),
                config,
                http,
                endpoint,
            }),
        })
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &OpenAiCompatConfig {
        &self.inner.config
    }
}

#[async_trait]
impl LlmProvider for OpenAiCompatClient {
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let inner = &self.inner;
        inner
            .with_policy(&request, |target| inner.attempt_complete(&request, target))
            .await
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, ProviderError> {
        let inner = &self.inner;
        inner
            .with_policy(&request, |target| inner.attempt_stream(&request, target))
            .await
    }

    fn models(&self) -> &[String] {
        &self.inner.config.models
    }
}

impl ClientInner {
    /// The models to try in order: the request's model (if any), then the configured ones.
    fn chain(&self, request: &ChatRequest) -> Vec<String> {
        let mut chain: Vec<String> = Vec::with_capacity(self.config.models.len() + 1);
        let requested = request.model.iter().map(String::as_str);
        for model in requested.chain(self.config.models.iter().map(String::as_str)) {
            let model = model.trim();
            if !model.is_empty() && !chain.iter().any(|known| known == model) {
                chain.push(model.to_owned());
            }
        }
        chain
    }

    /// Runs `attempt` under the call policy: per model, admission by its circuit breaker and
    /// rate limiter, retries of retryable failures (honouring `Retry-After`, else exponential
    /// backoff with full jitter), then the next model when the failure is the model's.
    async fn with_policy<T, F, Fut>(
        &self,
        request: &ChatRequest,
        mut attempt: F,
    ) -> Result<T, ProviderError>
    where
        F: FnMut(CallTarget) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let chain = self.chain(request);
        let Some(requested_model) = chain.first().cloned() else {
            return Err(ProviderError::InvalidConfig("no model to ask".to_owned()));
        };
        let estimated_tokens = estimate_prompt_tokens(request);
        let retry = self.config.retry;
        let mut last_error = None;
        for (index, model) in chain.iter().enumerate() {
            if let Err(retry_after) = self.breakers.admit(model) {
                tracing::warn!(model = %model, ?retry_after, "circuit open, skipping model");
                last_error = Some(ProviderError::CircuitOpen {
                    model: model.clone(),
                    retry_after,
                });
                continue;
            }
            let mut attempt_number = 0;
            let error = loop {
                attempt_number += 1;
                if let Err(error) = self.rate_limits.acquire(model, estimated_tokens).await {
                    break error;
                }
                let target = CallTarget {
                    model: model.clone(),
                    chain_from_here: chain[index..].to_vec(),
                    requested_model: requested_model.clone(),
                    fell_back: index > 0,
                    attempt: attempt_number,
                };
                let error = match attempt(target).await {
                    Ok(value) => {
                        self.breakers.record_success(model);
                        return Ok(value);
                    }
                    Err(error) => error,
                };
                if !error.is_retryable() || attempt_number >= retry.max_attempts {
                    break error;
                }
                let delay = match error.retry_after() {
                    Some(after) if after > retry.max_retry_after => break error,
                    Some(after) => after,
                    None => backoff_delay(&retry, attempt_number),
                };
                tracing::warn!(
                    model = %model,
                    attempt = attempt_number,
                    code = error.code().as_str(),
                    delay_ms = delay.as_millis() as u64,
                    "model call failed, retrying"
                );
                tokio::time::sleep(delay).await;
            };
            if error.counts_against_breaker() {
                if self.breakers.record_failure(model) {
                    tracing::warn!(model = %model, "circuit opened");
                }
            } else {
                self.breakers.record_neutral(model);
            }
            if !error.allows_fallback() {
                return Err(error);
            }
            if index + 1 < chain.len() {
                tracing::warn!(
                    model = %model,
                    next = %chain[index + 1],
                    code = error.code().as_str(),
                    "model failed, falling back"
                );
            }
            last_error = Some(error);
        }
        Err(last_error
            .unwrap_or_else(|| ProviderError::InvalidConfig("no model to ask".to_owned())))
    }

    /// The `Finish` of an answer: usage, cost (the provider's, else the price table's) and
    /// which model answered.
    fn finish(&self, end: StreamEnd, target: &CallTarget) -> Finish {
        let usage = end
            .usage
            .map_or_else(TokenUsage::default, |usage| TokenUsage {
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
                total_tokens: usage.total_tokens,
            });
        let model = end.model.unwrap_or_else(|| target.model.clone());
        let (cost_usd, cost_source) = match end.usage.and_then(|usage| usage.cost) {
            Some(cost) => (Some(cost), Some(CostSource::Provider)),
            None => self
                .config
                .prices
                .get(&model)
                .or_else(|| self.config.prices.get(&target.model))
                .map_or((None, None), |price| {
                    (Some(price.cost_usd(usage)), Some(CostSource::PriceTable))
                }),
        };
        // OpenRouter's own fallback (the `models` list) shows as another of our models
        // answering; a dated variant of the requested model is not a fallback.
        let server_fell_back = model != target.requested_model
            && target.chain_from_here.iter().skip(1).any(|m| *m == model);
        self.rate_limits
            .charge_tokens(&target.model, usage.completion_tokens);
        Finish {
            reason: end.reason,
            usage,
            cost_usd,
            cost_source,
            model,
            requested_model: target.requested_model.clone(),
            fell_back: target.fell_back || server_fell_back,
            generation_id: end.generation_id,
        }
    }
}

/// A rough prompt size for the token limiter: four bytes per token.
fn estimate_prompt_tokens(request: &ChatRequest) -> u64 {
    let message_bytes: usize = request
        .messages
        .iter()
        .map(|message| {
            message.content.len()
                + message
                    .tool_calls
                    .iter()
                    .map(|call| call.name.len() + call.arguments.len())
                    .sum::<usize>()
                + message
                    .tool_result
                    .as_ref()
                    .map_or(0, |result| result.content.len())
        })
        .sum();
    let tool_bytes: usize = request
        .tools
        .iter()
        .map(|tool| tool.name.len() + tool.description.len() + tool.parameters.to_string().len())
        .sum();
    ((message_bytes + tool_bytes) / 4 + 1) as u64
}
