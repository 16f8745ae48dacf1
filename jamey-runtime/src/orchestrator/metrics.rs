//! The orchestrator's Prometheus metrics: `llm_requests_total`, `llm_request_duration_seconds`,
//! `llm_tokens_used_total` and `llm_cost_usd_total`, registered beside the runtime's others.

use prometheus::{CounterVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct LlmMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    tokens: IntCounterVec,
    cost: CounterVec,
}

impl LlmMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let requests = IntCounterVec::new(
            Opts::new(
                "llm_requests_total",
                "Upstream model requests, by model and outcome",
            ),
            &["model", "outcome"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "llm_request_duration_seconds",
                "Upstream model request latency",
            )
            .buckets(vec![0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0]),
            &["model"],
        )?;
        let tokens = IntCounterVec::new(
            Opts::new("llm_tokens_used_total", "Tokens used, by model and kind"),
            &["model", "kind"],
        )?;
        let cost = CounterVec::new(
            Opts::new("llm_cost_usd_total", "Spending in US dollars, by model"),
            &["model"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(tokens.clone()))?;
        registry.register(Box::new(cost.clone()))?;
        Ok(Self {
            requests,
            duration,
            tokens,
            cost,
        })
    }

    pub fn succeeded(
        &self,
        model: &str,
        elapsed: Duration,
        usage: jamey_protocol::TokenUsage,
        cost_usd: f64,
    ) {
        self.requests.with_label_values(&[model, "ok"]).inc();
        self.duration
            .with_label_values(&[model])
            .observe(elapsed.as_secs_f64());
        self.tokens
            .with_label_values(&[model, "prompt"])
            .inc_by(usage.prompt_tokens);
        self.tokens
            .with_label_values(&[model, "completion"])
            .inc_by(usage.completion_tokens);
        if cost_usd > 0.0 {
            self.cost.with_label_values(&[model]).inc_by(cost_usd);
        }
    }

    pub fn failed(&self, model: &str, code: &str) {
        self.requests.with_label_values(&[model, code]).inc();
    }
}
