//! `ToolRunner`: the one path every tool call takes, from a model's turn, a client's direct
//! request, a host route or a job: find the tool, check the caller's scope, validate the
//! arguments, apply the permission (an `ask` waits for a decision), run it within its deadline
//! and cancellation, cap its output, and record the call in the audit trail with its secrets
//! masked.

use crate::approvals::{fingerprint, ApprovalGate, ApprovalRequest};
use crate::audit_trail::AuditTrail;
use crate::mask::mask_arguments;
use crate::{CallContext, Permission, ToolError, ToolRegistry};
use jamey_core::audit::ToolCallLog;
use jamey_protocol::{CallDecision, ToolCall, ToolCallEntry};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// The result of one call, as the model, the client and the audit trail see it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallResult {
    /// The audit row's id.
    pub call_id: uuid::Uuid,
    pub tool: String,
    pub output: String,
    pub is_error: bool,
    pub decision: CallDecision,
    pub duration: Duration,
    /// Why it failed, for a caller that maps failures to its own answers (the HTTP routes).
    pub error: Option<ToolError>,
}

/// Sees every finished call (the runtime counts them for Prometheus).
pub trait CallObserver: Send + Sync + std::fmt::Debug {
    fn finished(&self, result: &CallResult);
}

/// Runs calls through the registry, the approval gate and the audit trail.
#[derive(Debug, Clone)]
pub struct ToolRunner {
    registry: Arc<ToolRegistry>,
    gate: Arc<dyn ApprovalGate>,
    log: AuditTrail,
    observer: Option<Arc<dyn CallObserver>>,
    /// The runtime instance named in audit rows.
    instance: String,
}

impl ToolRunner {
    /// A runner writing its audit rows to `log` from a background task (started on the
    /// current tokio runtime).
    pub fn new(
        registry: Arc<ToolRegistry>,
        gate: Arc<dyn ApprovalGate>,
        log: Arc<dyn ToolCallLog>,
        instance: impl Into<String>,
    ) -> Self {
        Self {
            registry,
            gate,
            log: AuditTrail::spawn(log),
            observer: None,
            instance: instance.into(),
        }
    }

    pub fn with_observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn registry(&self) -> &Arc<ToolRegistry> {
        &self.registry
    }

    /// The audit trail: pages of it, and the flush the runtime waits for at shutdown.
    pub fn audit(&self) -> &AuditTrail {
        &self.log
    }

    /// A model's call: its arguments are JSON text ("" for none).
    pub async fn execute_model_call(&self, call: &ToolCall, context: &CallContext) -> CallResult {
        let text = call.arguments.trim();
        let arguments = if text.is_empty() {
            Ok(serde_json::Value::Object(serde_json::Map::new()))
        } else {
            serde_json::from_str::<serde_json::Value>(text)
        };
        match arguments {
            Ok(arguments) => self.execute(&call.name, arguments, context).await,
            Err(error) => {
                let refused = ToolError::invalid(
                    call.name.clone(),
                    format!("the arguments are not JSON: {error}"),
                );
                let raw = serde_json::json!({ "unparsed": call.arguments });
                let own = with_new_call_id(context);
                self.finish(&call.name, &raw, &own, Instant::now(), Err(refused), None)
                    .await
            }
        }
    }

    /// The model's calls of one round, concurrently; results in the order of `calls`.
    pub async fn execute_all(&self, calls: &[ToolCall], context: &CallContext) -> Vec<CallResult> {
        futures::future::join_all(
            calls
                .iter()
                .map(|call| self.execute_model_call(call, context)),
        )
        .await
    }

    /// Runs one call; never fails: a problem becomes an error result, recorded like any call.
    /// Every call gets its own id (its audit row), whatever `context` held.
    pub async fn execute(
        &self,
        tool: &str,
        arguments: serde_json::Value,
        context: &CallContext,
    ) -> CallResult {
        let own = with_new_call_id(context);
        let context = &own;
        let span = tracing::info_span!(
            "tool",
            name = %tool,
            call_id = %context.call_id,
            caller = %context.caller,
            session = context.session.as_deref().unwrap_or_default(),
        );
        async {
            let started = Instant::now();
            let (decision, outcome) = self.decide_and_run(tool, &arguments, context).await;
            self.finish(tool, &arguments, context, started, outcome, decision)
                .await
        }
        .instrument(span)
        .await
    }

    /// The decision on a call and, if it ran, what it returned.
    async fn decide_and_run(
        &self,
        name: &str,
        arguments: &serde_json::Value,
        context: &CallContext,
    ) -> (Option<CallDecision>, Result<String, ToolError>) {
        let Some(tool) = self.registry.get(name) else {
            return (None, Err(ToolError::UnknownTool(name.to_string())));
        };
        let permission = self.registry.permission(name);
        if !context.scope.includes(name, permission) {
            let error = ToolError::OutOfScope {
                tool: name.to_string(),
                caller: context.caller.to_string(),
            };
            return (None, Err(error));
        }
        if let Err(error) = tool.validate(arguments) {
            return (None, Err(error));
        }
        let decision = match permission {
            Permission::Deny => return (None, Err(ToolError::Denied(name.to_string()))),
            Permission::Allow => CallDecision::Allowed,
            Permission::Ask if context.request_is_approval() => CallDecision::Approved,
            Permission::Ask => {
                let request = ApprovalRequest {
                    tool: name.to_string(),
                    masked_arguments: mask_arguments(arguments),
                    fingerprint: fingerprint(name, arguments),
                };
                if let Err(error) = self.gate.approve(&request, context).await {
                    return (None, Err(error));
                }
                CallDecision::Approved
            }
        };
        let limits = self.registry.limits();
        let mut running = context.clone();
        running.deadline = tokio::time::Instant::now() + limits.timeout;
        // This call's own signal: the caller leaving cancels it; its failure cancels nothing else.
        running.cancel = context.cancel.child_token();
        let outcome = tokio::select! {
            result = tool.call_json(arguments.clone(), &running) => result,
            () = tokio::time::sleep_until(running.deadline) => Err(ToolError::Timeout {
                tool: name.to_string(),
                seconds: limits.timeout.as_secs(),
            }),
            () = context.cancel.cancelled() => Err(ToolError::Cancelled(name.to_string())),
        };
        // Dropping the call's future above stops its work; the token tells any task it spawned.
        if outcome.is_err() {
            running.cancel.cancel();
        }
        (Some(decision), outcome)
    }

    /// Caps the output, records the audit row, tells the observer.
    async fn finish(
        &self,
        tool: &str,
        arguments: &serde_json::Value,
        context: &CallContext,
        started: Instant,
        outcome: Result<String, ToolError>,
        decision: Option<CallDecision>,
    ) -> CallResult {
        let duration = started.elapsed();
        let (output, error) = match outcome {
            Ok(output) => (cap(output, self.registry.limits().max_output_bytes), None),
            Err(error) => {
                tracing::info!(%error, "tool call failed");
                (error.to_string(), Some(error))
            }
        };
        // A rule that stopped the call overrides the permission it ran under.
        let decision = error
            .as_ref()
            .and_then(ToolError::decision)
            .or(decision)
            .unwrap_or(CallDecision::Refused);
        let result = CallResult {
            call_id: context.call_id,
            tool: tool.to_string(),
            output,
            is_error: error.is_some(),
            decision,
            duration,
            error,
        };
        let entry = ToolCallEntry {
            id: context.call_id,
            at: chrono::Utc::now(),
            caller: context.caller.to_string(),
            session_id: context.session.clone(),
            job_id: context.job.clone(),
            tool: tool.to_string(),
            arguments: mask_arguments(arguments),
            decision,
            is_error: result.is_error,
            output_bytes: result.output.len() as u64,
            duration_ms: duration.as_millis() as u64,
            instance: Some(self.instance.clone()),
        };
        let output_bytes = entry.output_bytes;
        let duration_ms = entry.duration_ms;
        self.log.record(entry).await;
        if let Some(observer) = &self.observer {
            observer.finished(&result);
        }
        tracing::info!(
            decision = decision.as_str(),
            is_error = result.is_error,
            output_bytes,
            duration_ms,
            "tool call finished"
        );
        result
    }
}

/// `context` for one more call: its own audit row id.
fn with_new_call_id(context: &CallContext) -> CallContext {
    let mut own = context.clone();
    own.call_id = uuid::Uuid::now_v7();
    own
}

/// `output` cut at `max` bytes (at a character boundary) and marked as cut.
fn cap(mut output: String, max: usize) -> String {
    if output.len() <= max {
        return output;
    }
    let mut end = max;
    while !output.is_char_boundary(end) {
        end -= 1;
    }
    let total = output.len();
    output.truncate(end);
    output.push_str(&format!("\n[output cut at {end} of {total} bytes]"));
    output
}
