//! Approvals that can be answered: an `ask` call becomes a pending approval row in the store,
//! the call waits until someone decides (on any instance: the row is polled, and a decision
//! made here wakes the waiter at once) or the approval expires, which denies it. A decision
//! binds to the call's fingerprint; "always for this session" is a grant for that exact
//! fingerprint in that session, never for other arguments.

use crate::{CallContext, ToolError};
use async_trait::async_trait;
use chrono::Utc;
use jamey_core::approvals::{ApprovalError, ApprovalState, ApprovalStore, StoredApproval};
use jamey_protocol::{Approval, ApprovalResolved, Decision, Remember};
use parking_lot::{Mutex, RwLock};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How often a waiting call looks at its row: a decision made on another instance releases it
/// within this time.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// SHA-256 (hex) of the tool name and its arguments with object keys sorted: the same call
/// always has the same fingerprint, any other argument gives another.
pub fn fingerprint(tool: &str, arguments: &serde_json::Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(tool.as_bytes());
    hasher.update([0]);
    hasher.update(canonical(arguments).as_bytes());
    hex::encode(hasher.finalize())
}

/// JSON text with object keys in order, whatever order the map kept them in.
fn canonical(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|key| {
                    format!(
                        "{}:{}",
                        serde_json::Value::String(key.clone()),
                        canonical(&map[key])
                    )
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        serde_json::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

/// A call that needs a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRequest {
    pub tool: String,
    /// Secrets masked: this is what the user sees.
    pub masked_arguments: serde_json::Value,
    pub fingerprint: String,
}

/// Decides `ask` calls.
#[async_trait]
pub trait ApprovalGate: Send + Sync + std::fmt::Debug {
    /// Returns once the call is approved; a denial, an expiry or a cancellation is the error.
    async fn approve(
        &self,
        request: &ApprovalRequest,
        context: &CallContext,
    ) -> Result<(), ToolError>;
}

/// The gate on the store's approval rows.
#[derive(Debug)]
pub struct StoreApprovalGate {
    store: Arc<dyn ApprovalStore>,
    timeout: RwLock<Duration>,
    /// Calls waiting here, by approval id: a decision through this instance wakes them at once.
    waiting: Mutex<HashMap<uuid::Uuid, Arc<Notify>>>,
}

impl StoreApprovalGate {
    pub fn new(store: Arc<dyn ApprovalStore>, timeout: Duration) -> Self {
        Self {
            store,
            timeout: RwLock::new(timeout),
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// `[tools] approval_timeout_secs` changed.
    pub fn set_timeout(&self, timeout: Duration) {
        *self.timeout.write() = timeout;
    }

    pub fn timeout(&self) -> Duration {
        *self.timeout.read()
    }

    pub fn store(&self) -> &Arc<dyn ApprovalStore> {
        &self.store
    }

    /// The pending approvals, oldest first.
    pub async fn pending(&self) -> Result<Vec<Approval>, ApprovalError> {
        self.store.pending(Utc::now()).await
    }

    /// Records a decision (once; a second one is `AlreadyDecided`) and wakes a call waiting
    /// on it here; calls on other instances see it at their next look.
    pub async fn decide(
        &self,
        id: uuid::Uuid,
        decision: Decision,
        remember: Remember,
    ) -> Result<StoredApproval, ApprovalError> {
        let decided = self
            .store
            .decide(id, decision, remember, Utc::now())
            .await?;
        if let Some(waiter) = self.waiting.lock().get(&id) {
            waiter.notify_one();
        }
        tracing::info!(approval = %id, decision = decision.as_str(), tool = %decided.approval.tool, "approval decided");
        Ok(decided)
    }

    /// Waits until the approval is decided, expires, or the caller leaves.
    async fn wait(
        &self,
        approval: &Approval,
        context: &CallContext,
        wake: &Notify,
    ) -> Result<StoredApproval, ToolError> {
        let expires_in = (approval.expires_at - Utc::now())
            .to_std()
            .unwrap_or_default();
        let expiry = tokio::time::Instant::now() + expires_in;
        loop {
            let stored = self.store.get(approval.id).await.map_err(store_failed)?;
            match stored {
                Some(stored) if stored.state != ApprovalState::Pending => return Ok(stored),
                Some(_) => {}
                None => {
                    return Err(ToolError::Failed(format!(
                        "the approval {} disappeared from the store",
                        approval.id
                    )))
                }
            }
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL_INTERVAL) => {}
                () = tokio::time::sleep_until(expiry) => {
                    return self.store.expire(approval.id, Utc::now()).await.map_err(store_failed);
                }
                () = context.cancel.cancelled() => {
                    // Nobody is left to run the call: it can no longer be approved.
                    let _ = self.store.expire(approval.id, Utc::now()).await;
                    return Err(ToolError::Cancelled(approval.tool.clone()));
                }
            }
        }
    }
}

fn store_failed(error: ApprovalError) -> ToolError {
    tracing::error!(%error, "approval store failed");
    ToolError::Failed(format!("cannot reach the approval store: {error}"))
}

#[async_trait]
impl ApprovalGate for StoreApprovalGate {
    async fn approve(
        &self,
        request: &ApprovalRequest,
        context: &CallContext,
    ) -> Result<(), ToolError> {
        if let Some(session) = &context.session {
            let granted = self
                .store
                .session_grant(session, &request.fingerprint)
                .await
                .map_err(store_failed)?;
            if granted {
                return Ok(());
            }
        }
        let now = Utc::now();
        let timeout = self.timeout();
        let approval = Approval {
            id: uuid::Uuid::now_v7(),
            tool: request.tool.clone(),
            arguments: request.masked_arguments.clone(),
            fingerprint: request.fingerprint.clone(),
            session_id: context.session.clone(),
            job_id: context.job.clone(),
            caller: context.caller.to_string(),
            created_at: now,
            expires_at: now + chrono::Duration::from_std(timeout).unwrap_or_default(),
        };
        self.store.create(&approval).await.map_err(store_failed)?;
        tracing::info!(approval = %approval.id, tool = %approval.tool, "waiting for approval");
        let wake = Arc::new(Notify::new());
        self.waiting.lock().insert(approval.id, wake.clone());
        if let Some(events) = &context.events {
            events.approval_required(&approval).await;
        }
        let outcome = self.wait(&approval, context, &wake).await;
        self.waiting.lock().remove(&approval.id);
        let stored = outcome?;
        let decision = match stored.state {
            ApprovalState::Approved => "approve",
            ApprovalState::Denied => "deny",
            ApprovalState::Expired | ApprovalState::Pending => "expired",
        };
        if let Some(events) = &context.events {
            let resolved = ApprovalResolved {
                id: approval.id,
                decision: decision.into(),
            };
            events.approval_resolved(&resolved).await;
        }
        match stored.state {
            ApprovalState::Approved => Ok(()),
            ApprovalState::Denied => Err(ToolError::NotApproved {
                tool: request.tool.clone(),
                reason: "the user denied it".into(),
            }),
            ApprovalState::Expired | ApprovalState::Pending => Err(ToolError::NotApproved {
                tool: request.tool.clone(),
                reason: format!("nobody decided within {} s", timeout.as_secs()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_fingerprint_binds_to_the_tool_and_exactly_its_arguments() {
        let a = fingerprint("process_kill", &json!({"pid": 4242, "signal": "TERM"}));
        let same = fingerprint("process_kill", &json!({"signal": "TERM", "pid": 4242}));
        let other_pid = fingerprint("process_kill", &json!({"pid": 4243, "signal": "TERM"}));
        let other_tool = fingerprint("http_request", &json!({"pid": 4242, "signal": "TERM"}));
        assert_eq!(a, same);
        assert_ne!(a, other_pid);
        assert_ne!(a, other_tool);
        assert_eq!(a.len(), 64);
    }
}
