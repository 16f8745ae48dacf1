//! The twin's tools as this runtime assembles them: every built-in tool (memory, host, web,
//! GitHub) registered under `[tools]`, `[tools.network]` and `[github]`, the approval gate on the store's approval rows, the audit trail, and the
//! Prometheus counters every call passes (`tool_calls_total`, `tool_call_errors_total`,
//! `tool_call_duration_seconds`, per tool).

use crate::config::Config;
use anyhow::Context;
use jamey_core::approvals::ApprovalStore;
use jamey_core::audit::ToolCallLog;
use jamey_core::Memories;
use jamey_tools::github::{self as gh, GithubClient};
use jamey_tools::host::{
    ConfigGetTool, ConfigSource, FactsSource, KillRules, ProcessKillTool, ProcessListTool,
    SystemInfoTool,
};
use jamey_tools::{
    CallObserver, CallResult, HttpFetch, HttpRequest, MemorySave, MemorySearch, StoreApprovalGate,
    ToolLimits, ToolRegistry, ToolRunner, WebRead,
};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use std::sync::Arc;
use std::time::Duration;

/// What the tools are built from.
#[allow(missing_debug_implementations)] // Holds closures.
pub struct ToolSources {
    pub memories: Memories,
    pub approvals: Arc<dyn ApprovalStore>,
    pub tool_calls: Arc<dyn ToolCallLog>,
    /// What `system_info` says about the runtime.
    pub facts: FactsSource,
    /// What `config_get` shows (secrets masked).
    pub config: ConfigSource,
    /// This runtime's name in audit rows.
    pub instance: String,
    /// The secret `github_token`, read at start.
    pub github_token: Option<jamey_core::secrets::Secret>,
}

/// The assembled tools: the runner every call goes through, and the gate that decisions go to.
#[derive(Debug, Clone)]
pub struct Toolbox {
    pub runner: Arc<ToolRunner>,
    pub approvals: Arc<StoreApprovalGate>,
}

/// The registry's limits from `[tools]`.
pub fn limits(config: &Config) -> ToolLimits {
    ToolLimits {
        timeout: Duration::from_secs(config.tools.timeout_secs),
        max_output_bytes: config.tools.max_output_bytes,
    }
}

/// Registers every built-in tool and wires the runner.
pub fn build(config: &Config, sources: ToolSources, metrics: &Registry) -> anyhow::Result<Toolbox> {
    let registry = ToolRegistry::new(limits(config));
    let kill_rules = KillRules {
        allow_other_users: config.tools.kill_other_users,
    };
    registry
        .register(MemorySearch::new(sources.memories.clone()))?
        .register(MemorySave::new(sources.memories.clone()))?
        .register(SystemInfoTool::new(sources.facts))?
        .register(ProcessListTool)?
        .register(ProcessKillTool::new(kill_rules))?
        .register(ConfigGetTool::new(sources.config))?;
    let web = jamey_tools::net::GuardedClient::new(config.tools.network.to_policy());
    registry
        .register(HttpFetch::new(web.clone()))?
        .register(HttpRequest::new(web.clone()))?
        .register(WebRead::new(web))?;
    let github = GithubClient::new(config.github.client_config(), sources.github_token)
        .context("the [github] settings")?;
    registry
        .register(gh::GithubListRepos::new(github.clone()))?
        .register(gh::GithubGetFile::new(github.clone()))?
        .register(gh::GithubSearchCode::new(github.clone()))?
        .register(gh::GithubListIssues::new(github.clone()))?
        .register(gh::GithubGetIssue::new(github.clone()))?
        .register(gh::GithubCreateIssue::new(github.clone()))?
        .register(gh::GithubCommentIssue::new(github.clone()))?
        .register(gh::GithubCloseIssue::new(github.clone()))?
        .register(gh::GithubListPulls::new(github.clone()))?
        .register(gh::GithubGetPull::new(github))?;
    registry.set_permissions(config.tools.permission_overrides());
    let approvals = Arc::new(StoreApprovalGate::new(
        sources.approvals,
        Duration::from_secs(config.tools.approval_timeout_secs),
    ));
    let observer = ToolMetrics::register(metrics)?;
    let runner = ToolRunner::new(
        Arc::new(registry),
        approvals.clone(),
        sources.tool_calls,
        sources.instance,
    )
    .with_observer(Arc::new(observer));
    Ok(Toolbox {
        runner: Arc::new(runner),
        approvals,
    })
}

/// Puts a new `[tools]` section into effect: permissions, limits, the approval timeout.
pub fn apply(toolbox: &Toolbox, config: &Config) {
    let registry = toolbox.runner.registry();
    registry.set_permissions(config.tools.permission_overrides());
    registry.set_limits(limits(config));
    toolbox
        .approvals
        .set_timeout(Duration::from_secs(config.tools.approval_timeout_secs));
}

/// Calls, errors and latency per tool.
#[derive(Debug, Clone)]
struct ToolMetrics {
    calls: IntCounterVec,
    errors: IntCounterVec,
    duration: HistogramVec,
}

impl ToolMetrics {
    fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let calls = IntCounterVec::new(
            Opts::new("tool_calls_total", "Tool calls, by tool and decision"),
            &["tool", "decision"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "tool_call_errors_total",
                "Tool calls that ended in an error",
            ),
            &["tool"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "tool_call_duration_seconds",
                "Tool call latency, approval waits included",
            )
            .buckets(vec![
                0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0,
            ]),
            &["tool"],
        )?;
        registry.register(Box::new(calls.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self {
            calls,
            errors,
            duration,
        })
    }
}

impl CallObserver for ToolMetrics {
    fn finished(&self, result: &CallResult) {
        // Names the model made up are counted together: a label per typo would grow forever.
        let tool = if result
            .error
            .as_ref()
            .is_some_and(|e| matches!(e, jamey_tools::ToolError::UnknownTool(_)))
        {
            "unknown"
        } else {
            result.tool.as_str()
        };
        self.calls
            .with_label_values(&[tool, result.decision.as_str()])
            .inc();
        if result.is_error {
            self.errors.with_label_values(&[tool]).inc();
        }
        self.duration
            .with_label_values(&[tool])
            .observe(result.duration.as_secs_f64());
    }
}
