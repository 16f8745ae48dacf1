//! The `[llm]` and `[chat]` sections: which model answers and how, and what a turn may spend.
//! Raw (as written) and validated forms.

use super::{range as int, ConfigError};
use serde::Deserialize;
use std::collections::BTreeMap;

/// OpenRouter's OpenAI-compatible API, the default upstream.
pub const DEFAULT_LLM_BASE_URL: &str = "https://openrouter.ai/api/v1";
/// The model asked when none is configured.
pub const DEFAULT_LLM_MODEL: &str = "openai/gpt-4o-mini";
/// The persona when none is configured.
pub const DEFAULT_PERSONA: &str = "You are Jamey, the user's digital twin: a personal assistant \
that remembers what the user tells you. Use the memories given to you and the memory tools; cite \
a memory by its id in square brackets when you rely on it. Save lasting facts the user tells you \
with memory_save. Be brief and concrete.";

/// Where answers come from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LlmConfig {
    pub base_url: String,
    /// Refuse chat before any request while no API key is configured. Default: true for
    /// OpenRouter, false for any other server (a local one may need no key).
    pub api_key_required: bool,
    /// First the default model, then fallbacks in order.
    pub model: String,
    pub fallback_models: Vec<String>,
    pub request_timeout_secs: u64,
    pub max_retries: u32,
    /// Per model; 0 means no limit.
    pub requests_per_minute: u32,
    pub tokens_per_minute: u32,
    /// USD per million tokens, by model, for providers that report no cost.
    pub prices: BTreeMap<String, Price>,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub prompt_per_million: f64,
    pub completion_per_million: f64,
}

/// How a conversation turn is put together.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChatConfig {
    pub persona: String,
    /// Memories retrieved as context for each turn.
    pub context_memories: u32,
    /// Token budget for the session's messages in the prompt; older ones are summarized.
    pub context_tokens: u32,
    pub max_tool_rounds: u32,
    /// Store each finished turn as a memory.
    pub remember_turns: bool,
    /// 0 means no budget.
    pub daily_budget_usd: f64,
    pub session_budget_usd: f64,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_LLM_BASE_URL.into(),
            api_key_required: true,
            model: DEFAULT_LLM_MODEL.into(),
            fallback_models: Vec::new(),
            request_timeout_secs: 120,
            max_retries: 3,
            requests_per_minute: 0,
            tokens_per_minute: 0,
            prices: BTreeMap::new(),
        }
    }
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            persona: DEFAULT_PERSONA.into(),
            context_memories: 5,
            context_tokens: 8000,
            max_tool_rounds: 4,
            remember_turns: true,
            daily_budget_usd: 0.0,
            session_budget_usd: 0.0,
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawLlm {
    pub base_url: Option<String>,
    pub api_key_required: Option<bool>,
    pub model: Option<String>,
    pub fallback_models: Option<Vec<String>>,
    pub request_timeout_secs: Option<i64>,
    pub max_retries: Option<i64>,
    pub requests_per_minute: Option<i64>,
    pub tokens_per_minute: Option<i64>,
    pub prices: Option<BTreeMap<String, Price>>,
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawChat {
    pub persona: Option<String>,
    pub context_memories: Option<i64>,
    pub context_tokens: Option<i64>,
    pub max_tool_rounds: Option<i64>,
    pub remember_turns: Option<bool>,
    pub daily_budget_usd: Option<f64>,
    pub session_budget_usd: Option<f64>,
}

fn usd(key: &str, value: Option<f64>) -> Result<f64, ConfigError> {
    match value {
        None => Ok(0.0),
        Some(v) if v.is_finite() && v >= 0.0 => Ok(v),
        Some(v) => Err(ConfigError::Invalid {
            key: key.into(),
            value: v.to_string(),
            allowed: "a number of US dollars, 0 or more (0 = no budget)".into(),
        }),
    }
}

fn model_name(key: &str, name: &str) -> Result<String, ConfigError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_whitespace) {
        return Err(ConfigError::Invalid {
            key: key.into(),
            value: name.into(),
            allowed: "a model name such as \"openai/gpt-4o-mini\" (no spaces)".into(),
        });
    }
    Ok(name.to_string())
}

impl RawLlm {
    pub fn validate(&self) -> Result<LlmConfig, ConfigError> {
        let d = LlmConfig::default();
        let base_url = self
            .base_url
            .clone()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or(d.base_url);
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                key: "llm.base_url".into(),
                value: jamey_core::db::redact_url(&base_url),
                allowed: "an http:// or https:// URL of an OpenAI-compatible API".into(),
            });
        }
        let model = match &self.model {
            Some(m) if !m.trim().is_empty() => model_name("llm.model", m)?,
            _ => d.model,
        };
        let fallback_models = self
            .fallback_models
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|m| model_name("llm.fallback_models", m))
            .collect::<Result<Vec<_>, _>>()?;
        for (name, price) in self.prices.iter().flatten() {
            let ok = |v: f64| v.is_finite() && v >= 0.0;
            if !(ok(price.prompt_per_million) && ok(price.completion_per_million)) {
                return Err(ConfigError::Invalid {
                    key: format!("llm.prices.\"{name}\""),
                    value: format!("{price:?}"),
                    allowed: "prices in USD per million tokens, 0 or more".into(),
                });
            }
        }
        let api_key_required = self
            .api_key_required
            .unwrap_or_else(|| super::key_required(&base_url));
        Ok(LlmConfig {
            base_url,
            api_key_required,
            model,
            fallback_models,
            request_timeout_secs: int(
                "llm.request_timeout_secs",
                self.request_timeout_secs,
                1,
                3600,
                120,
            )? as u64,
            max_retries: int("llm.max_retries", self.max_retries, 0, 10, 3)? as u32,
            requests_per_minute: int(
                "llm.requests_per_minute",
                self.requests_per_minute,
                0,
                1_000_000,
                0,
            )? as u32,
            tokens_per_minute: int(
                "llm.tokens_per_minute",
                self.tokens_per_minute,
                0,
                1_000_000_000,
                0,
            )? as u32,
            prices: self.prices.clone().unwrap_or_default(),
        })
    }
}

impl RawChat {
    pub fn validate(&self) -> Result<ChatConfig, ConfigError> {
        let d = ChatConfig::default();
        let persona = self
            .persona
            .clone()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or(d.persona);
        Ok(ChatConfig {
            persona,
            context_memories: int("chat.context_memories", self.context_memories, 0, 50, 5)? as u32,
            context_tokens: int(
                "chat.context_tokens",
                self.context_tokens,
                500,
                1_000_000,
                8000,
            )? as u32,
            max_tool_rounds: int("chat.max_tool_rounds", self.max_tool_rounds, 0, 20, 4)? as u32,
            remember_turns: self.remember_turns.unwrap_or(d.remember_turns),
            daily_budget_usd: usd("chat.daily_budget_usd", self.daily_budget_usd)?,
            session_budget_usd: usd("chat.session_budget_usd", self.session_budget_usd)?,
        })
    }
}
