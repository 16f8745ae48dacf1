//! The orchestrator: one conversation turn, the seed's LLM Processing Flow. The user's message is
//! stored first; the prompt gets the persona, relevant memories and the session window; the
//! model's answer streams to the client; its tool calls run (concurrently) and their results go
//! back to the model for up to `chat.max_tool_rounds` rounds; the reply, calls and results are
//! stored, and the turn becomes a memory. A turn cut off by the client or the provider is stored
//! marked incomplete.

mod context;
mod error;
mod events;
mod metrics;
mod turn;

pub use crate::config::{key_required, LlmState, UNCONFIGURED_MESSAGE};
pub use error::ChatError;
pub use metrics::LlmMetrics;
pub use turn::{ExternalHistory, TurnOutcome, TurnRequest};

use crate::config::{LlmConfig, Settings};
use jamey_core::conversation::{ConversationStore, UsageRecord};
use jamey_core::secrets::Secret;
use jamey_core::Memories;
use jamey_providers::{
    ApiKey, LlmProvider, ModelPrice, OpenAiCompatClient, OpenAiCompatConfig, PriceTable,
};
use jamey_tools::ToolRunner;
use parking_lot::RwLock;
use std::sync::Arc;
use tokio_util::task::TaskTracker;

/// Everything a turn needs; shared by the chat and OpenAI-compatible endpoints.
#[derive(Debug)]
pub struct Orchestrator {
    provider: RwLock<Arc<dyn LlmProvider>>,
    api_key: Option<Secret>,
    conversations: Arc<dyn ConversationStore>,
    memories: Memories,
    tools: Arc<ToolRunner>,
    settings: Arc<Settings>,
    llm_metrics: LlmMetrics,
    /// Work a turn leaves behind after its answer (remembering the turn).
    background: TaskTracker,
}

impl Orchestrator {
    pub fn new(
        provider: Arc<dyn LlmProvider>,
        api_key: Option<Secret>,
        conversations: Arc<dyn ConversationStore>,
        memories: Memories,
        tools: Arc<ToolRunner>,
        settings: Arc<Settings>,
        llm_metrics: LlmMetrics,
    ) -> Self {
        Self {
            provider: RwLock::new(provider),
            api_key,
            conversations,
            memories,
            tools,
            settings,
            llm_metrics,
            background: TaskTracker::new(),
        }
    }

    /// Waits up to `deadline` for the work turns left behind; called at shutdown so no
    /// remembered turn is cut off. Returns whether all of it finished.
    pub async fn finish_background(&self, deadline: std::time::Duration) -> bool {
        self.background.close();
        let pending = self.background.len();
        if pending > 0 {
            tracing::info!(pending, "finishing remembered turns");
        }
        tokio::time::timeout(deadline, self.background.wait())
            .await
            .is_ok()
    }

    pub fn provider(&self) -> Arc<dyn LlmProvider> {
        self.provider.read().clone()
    }

    pub fn conversations(&self) -> &Arc<dyn ConversationStore> {
        &self.conversations
    }

    pub fn tools(&self) -> &Arc<ToolRunner> {
        &self.tools
    }

    /// The configured models: the default first, then the fallbacks.
    pub fn models(&self) -> Vec<String> {
        self.provider().models().to_vec()
    }

    /// Whether a turn can reach the model: `Unconfigured` when `[llm] api_key_required` and
    /// there is no key (the key is read at start; `[llm]` reloads live).
    pub fn llm_state(&self) -> LlmState {
        LlmState::of(
            self.settings.current().llm.api_key_required,
            self.api_key.is_some(),
        )
    }

    /// Rebuilds the provider client after `[llm]` changed (a configuration reload).
    pub fn reconfigure(&self, llm: &LlmConfig) -> Result<(), jamey_providers::ProviderError> {
        let provider = build_provider(llm, self.api_key.as_ref())?;
        *self.provider.write() = provider;
        Ok(())
    }

    /// Adds one paid call to the ledger; a failure is logged, the turn goes on.
    pub(crate) async fn record_usage(
        &self,
        session_id: Option<&str>,
        finish: &jamey_providers::Finish,
    ) {
        let record = UsageRecord {
            session_id: session_id.map(str::to_string),
            model: finish.model.clone(),
            prompt_tokens: finish.usage.prompt_tokens,
            completion_tokens: finish.usage.completion_tokens,
            cost_usd: finish.cost_usd.unwrap_or(0.0),
        };
        if let Err(error) = self.conversations.record_usage(&record).await {
            tracing::error!(%error, model = %record.model, cost_usd = record.cost_usd, "cannot record LLM usage in the ledger");
        }
    }
}

/// The OpenAI-compatible client for `[llm]`: OpenRouter or any compatible server.
pub fn build_provider(
    llm: &LlmConfig,
    api_key: Option<&Secret>,
) -> Result<Arc<dyn LlmProvider>, jamey_providers::ProviderError> {
    let mut models = vec![llm.model.clone()];
    models.extend(llm.fallback_models.iter().cloned());
    let key = api_key.map(|k| ApiKey::new(k.expose().to_string()));
    let mut config = OpenAiCompatConfig::new(llm.base_url.clone(), key, models);
    config.timeouts.request = std::time::Duration::from_secs(llm.request_timeout_secs);
    config.retry.max_attempts = llm.max_retries + 1;
    config.rate_limits.default = jamey_providers::ModelRateLimit {
        requests_per_minute: std::num::NonZeroU32::new(llm.requests_per_minute),
        tokens_per_minute: std::num::NonZeroU32::new(llm.tokens_per_minute),
    };
    let mut prices = PriceTable::default();
    for (model, price) in &llm.prices {
        prices.insert(
            model.clone(),
            ModelPrice {
                prompt_usd_per_million: price.prompt_per_million,
                completion_usd_per_million: price.completion_per_million,
            },
        );
    }
    config.prices = prices;
    Ok(Arc::new(OpenAiCompatClient::new(config)?))
}
