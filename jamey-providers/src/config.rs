//! `OpenAiCompatConfig`: everything the client needs, passed in typed (this crate reads no
//! environment variable).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use crate::{ApiKey, PriceTable};

/// OpenRouter's API root, the default base URL.
pub const OPENROUTER_BASE_URL: &str = "https://openrouter.ai/api/v1";

/// Configuration of an [`crate::OpenAiCompatClient`].
#[derive(Debug, Clone)]
pub struct OpenAiCompatConfig {
    /// The API root; `/chat/completions` is appended.
    pub base_url: String,
    /// Sent as `Authorization: Bearer ...`; local servers may need none.
    pub api_key: Option<ApiKey>,
    /// The default model first, then the fallbacks in the order they are tried.
    pub models: Vec<String>,
    /// Send OpenRouter's extensions: `usage: {include: true}` and the `models` fallback list.
    /// On by default when the base URL is OpenRouter's.
    pub openrouter_extensions: bool,
    pub attribution: Attribution,
    pub timeouts: TimeoutConfig,
    pub retry: RetryConfig,
    pub circuit_breaker: CircuitBreakerConfig,
    pub rate_limits: RateLimitConfig,
    /// Prices used when the provider reports no cost.
    pub prices: PriceTable,
}

impl OpenAiCompatConfig {
    /// A configuration for `base_url` with defaults for everything else.
    pub fn new(base_url: impl Into<String>, api_key: Option<ApiKey>, models: Vec<String>) -> Self {
        let base_url = base_url.into();
        Self {
            openrouter_extensions: base_url.contains("openrouter.ai"),
            base_url,
            api_key,
            models,
            attribution: Attribution::default(),
            timeouts: TimeoutConfig::default(),
            retry: RetryConfig::default(),
            circuit_breaker: CircuitBreakerConfig::default(),
            rate_limits: RateLimitConfig::default(),
            prices: PriceTable::default(),
        }
    }

    /// OpenRouter with its extensions on.
    pub fn openrouter(api_key: ApiKey, models: Vec<String>) -> Self {
        Self::new(OPENROUTER_BASE_URL, Some(api_key), models)
    }
}

/// OpenRouter's app attribution headers, sent on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// `HTTP-Referer`: the app's URL.
    pub referer: String,
    /// `X-Title`: the app's name.
    pub title: String,
}

impl Default for Attribution {
    fn default() -> Self {
        Self {
            referer: "https://github.com/jamey-ai/jamey".to_owned(),
            title: "Jamey".to_owned(),
        }
    }
}

/// How long to wait for each phase of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutConfig {
    /// Establishing the TCP (and TLS) connection.
    pub connect: Duration,
    /// A whole non-streamed answer; for a stream, the response headers.
    pub request: Duration,
    /// The longest silence between two chunks of a stream (OpenRouter's keep-alive comments
    /// count as activity).
    pub stream_idle: Duration,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(120),
            stream_idle: Duration::from_secs(60),
        }
    }
}

/// Retries of one model before falling back to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts per model, the first included.
    pub max_attempts: u32,
    /// The backoff cap of the first retry; it doubles per retry (full jitter below the cap).
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the model counts as failed and the
    /// next one is tried.
    pub max_retry_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

/// When a failing model is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitBreakerConfig {
    /// Consecutive failed calls (after their retries) that open the circuit.
    pub failure_threshold: u32,
    /// How long an open circuit skips the model before one trial call is let through.
    pub open_for: Duration,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_for: Duration::from_secs(30),
        }
    }
}

/// Local rate limits, per model.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RateLimitConfig {
    /// Limits of models without an entry in `per_model`.
    pub default: ModelRateLimit,
    pub per_model: HashMap<String, ModelRateLimit>,
    /// The longest a request waits for the limiter before failing with a local `RateLimited`.
    pub max_wait: Duration,
}

/// Requests and tokens per minute for one model; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModelRateLimit {
    pub requests_per_minute: Option<NonZeroU32>,
    /// Counted as the prompt's estimated tokens before the call and the completion's tokens
    /// after it.
    pub tokens_per_minute: Option<NonZeroU32>,
}
