#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

//! The tool runner on the embedded store's real approval and audit tables: permissions,
//! scopes, approvals decided, denied, expired and abandoned, deadlines and a cancellation that
//! kills the child process a tool started, and the audit row of every call, secrets masked.

use async_trait::async_trait;
use jamey_core::approvals::{ApprovalStore, SqliteApprovalStore};
use jamey_core::audit::{SqliteToolCallLog, ToolCallLog, ToolCallQuery};
use jamey_protocol::{Approval, ApprovalResolved, CallDecision, Decision, Remember};
use jamey_tools::{
    CallContext, CallEvents, CallOrigin, Caller, Permission, StoreApprovalGate, Tool, ToolError,
    ToolLimits, ToolRegistry, ToolRunner, ToolScope,
};
use parking_lot::Mutex;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs `sleep SECONDS` as a child process and waits for it; writes its PID to `pid_file`.
#[derive(Debug)]
struct Sleep {
    pid: Arc<Mutex<Option<u32>>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SleepArgs {
    seconds: u32,
    /// A secret the call carries: masked in the approval and the audit row.
    #[serde(default)]
    #[allow(dead_code)]
    token: Option<String>,
}

#[async_trait]
impl Tool for Sleep {
    type Args = SleepArgs;
    fn name(&self) -> &'static str {
        "sleep"
    }
    fn description(&self) -> &'static str {
        "Sleeps in a child process"
    }
    fn default_permission(&self) -> Permission {
        Permission::Ask
    }
    async fn call(&self, args: SleepArgs, context: &CallContext) -> Result<String, ToolError> {
        let mut child = tokio::process::Command::new("sleep")
            .arg(args.seconds.to_string())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ToolError::Failed(e.to_string()))?;
        *self.pid.lock() = child.id();
        tokio::select! {
            status = child.wait() => Ok(format!("slept: {status:?}")),
            () = context.cancel.cancelled() => Err(ToolError::Cancelled("sleep".into())),
        }
    }
}

/// Answers at once.
#[derive(Debug)]
struct Quick;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct QuickArgs {
    text: String,
}

#[async_trait]
impl Tool for Quick {
    type Args = QuickArgs;
    fn name(&self) -> &'static str {
        "quick"
    }
    fn description(&self) -> &'static str {
        "Echoes"
    }
    fn default_permission(&self) -> Permission {
        Permission::Allow
    }
    async fn call(&self, args: QuickArgs, _context: &CallContext) -> Result<String, ToolError> {
        Ok(args.text)
    }
}

/// Collects approval events.
#[derive(Debug, Default)]
struct Seen {
    required: Mutex<Vec<Approval>>,
    resolved: Mutex<Vec<ApprovalResolved>>,
}

#[async_trait]
impl CallEvents for Seen {
    async fn approval_required(&self, approval: &Approval) {
        self.required.lock().push(approval.clone());
    }
    async fn approval_resolved(&self, resolved: &ApprovalResolved) {
        self.resolved.lock().push(resolved.clone());
    }
}

struct Bench {
    _dir: tempfile::TempDir,
    runner: Arc<ToolRunner>,
    gate: Arc<StoreApprovalGate>,
    approvals: Arc<dyn ApprovalStore>,
    pid: Arc<Mutex<Option<u32>>>,
}

fn bench(timeout: Duration, approval_timeout: Duration) -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let approvals: Arc<dyn ApprovalStore> =
        Arc::new(SqliteApprovalStore::open(dir.path()).unwrap());
    let log: Arc<dyn ToolCallLog> = Arc::new(SqliteToolCallLog::open(dir.path()).unwrap());
    let registry = ToolRegistry::new(ToolLimits {
        timeout,
        max_output_bytes: 1024,
    });
    let pid = Arc::new(Mutex::new(None));
    registry.register(Sleep { pid: pid.clone() }).unwrap();
    registry.register(Quick).unwrap();
    let gate = Arc::new(StoreApprovalGate::new(approvals.clone(), approval_timeout));
    let runner = ToolRunner::new(Arc::new(registry), gate.clone(), log, "test:1");
    Bench {
        _dir: dir,
        runner: Arc::new(runner),
        gate,
        approvals,
        pid,
    }
}

fn turn(session: &str) -> CallContext {
    let mut context = CallContext::new(Caller::Owner, CallOrigin::Turn, Duration::from_secs(30));
    context.session = Some(session.into());
    context
}

/// The audit rows, newest first, once every finished call's row is written.
async fn rows(runner: &ToolRunner) -> Vec<jamey_protocol::ToolCallEntry> {
    let query = ToolCallQuery {
        limit: 100,
        cursor: None,
        tool: None,
        session_id: None,
        decision: None,
    };
    runner.audit().page(&query).await.unwrap().items
}

async fn wait_pending(approvals: &Arc<dyn ApprovalStore>) -> Approval {
    let started = Instant::now();
    loop {
        if let Some(first) = approvals.pending(chrono::Utc::now()).await.unwrap().pop() {
            return first;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no pending approval"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_scopes_and_arguments_decide_before_anything_runs() {
    let b = bench(Duration::from_secs(5), Duration::from_secs(5));
    let ok = b
        .runner
        .execute("quick", json!({"text": "hi"}), &turn("s"))
        .await;
    assert_eq!(
        (ok.output.as_str(), ok.is_error, ok.decision),
        ("hi", false, CallDecision::Allowed)
    );

    let unknown = b.runner.execute("nothing", json!({}), &turn("s")).await;
    assert_eq!(unknown.decision, CallDecision::Refused);
    let invalid = b
        .runner
        .execute("quick", json!({"text": 3}), &turn("s"))
        .await;
    assert!(matches!(
        invalid.error,
        Some(ToolError::InvalidArguments { .. })
    ));
    assert_eq!(invalid.decision, CallDecision::Refused);

    b.runner
        .registry()
        .set_permission("quick", Permission::Deny);
    let denied = b
        .runner
        .execute("quick", json!({"text": "hi"}), &turn("s"))
        .await;
    assert_eq!(denied.decision, CallDecision::Denied);
    b.runner
        .registry()
        .set_permission("quick", Permission::Allow);

    let mut token = turn("s");
    token.caller = Caller::Token("ci".into());
    token.scope = ToolScope::AllowedOnly;
    let out = b
        .runner
        .execute("sleep", json!({"seconds": 1}), &token)
        .await;
    assert!(
        matches!(out.error, Some(ToolError::OutOfScope { .. })),
        "{out:?}"
    );
    token.scope = ToolScope::Only(Arc::new(["sleep".to_string()].into()));
    let out = b
        .runner
        .execute("quick", json!({"text": "x"}), &token)
        .await;
    assert!(
        matches!(out.error, Some(ToolError::OutOfScope { .. })),
        "{out:?}"
    );

    let all = rows(&b.runner).await;
    assert_eq!(all.len(), 6);
    assert_eq!(all.last().unwrap().decision, CallDecision::Allowed);
    assert_eq!(all.last().unwrap().instance.as_deref(), Some("test:1"));
    assert!(b.pid.lock().is_none(), "sleep never started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ask_call_waits_for_its_decision_and_a_session_grant_binds_to_the_exact_call() {
    let b = bench(Duration::from_secs(5), Duration::from_secs(5));
    let seen = Arc::new(Seen::default());
    let mut context = turn("ops");
    context.events = Some(seen.clone());
    let running = {
        let (runner, context) = (b.runner.clone(), context.clone());
        tokio::spawn(async move {
            runner
                .execute(
                    "sleep",
                    json!({"seconds": 0, "token": "ghp_abcdefghijklmnop"}),
                    &context,
                )
                .await
        })
    };
    let pending = wait_pending(&b.approvals).await;
    assert_eq!(pending.tool, "sleep");
    assert_eq!(pending.session_id.as_deref(), Some("ops"));
    assert_eq!(
        pending.arguments["token"], "[redacted]",
        "the user never sees the secret"
    );
    b.gate
        .decide(pending.id, Decision::Approve, Remember::Session)
        .await
        .unwrap();
    let done = running.await.unwrap();
    assert_eq!(done.decision, CallDecision::Approved, "{done:?}");
    assert!(!done.is_error, "{done:?}");
    assert_eq!(seen.required.lock().len(), 1);
    assert_eq!(seen.resolved.lock()[0].decision, "approve");
    let row = rows(&b.runner).await.remove(0);
    assert_eq!(
        row.arguments["token"], "[redacted]",
        "nor does the audit trail"
    );
    assert_eq!(row.decision, CallDecision::Approved);

    // The same call in the session: approved by the grant. Other arguments: asked again.
    let again = b
        .runner
        .execute(
            "sleep",
            json!({"token": "ghp_abcdefghijklmnop", "seconds": 0}),
            &context,
        )
        .await;
    assert_eq!(again.decision, CallDecision::Approved);
    assert_eq!(seen.required.lock().len(), 1, "not asked again");
    let other = {
        let (runner, context) = (b.runner.clone(), context.clone());
        tokio::spawn(async move {
            runner
                .execute("sleep", json!({"seconds": 1}), &context)
                .await
        })
    };
    let pending = wait_pending(&b.approvals).await;
    b.gate
        .decide(pending.id, Decision::Deny, Remember::Once)
        .await
        .unwrap();
    let refused = other.await.unwrap();
    assert_eq!(refused.decision, CallDecision::Denied);
    assert!(refused.output.contains("denied"), "{}", refused.output);
    // Another session has no grant.
    let elsewhere = {
        let runner = b.runner.clone();
        tokio::spawn(async move {
            runner
                .execute(
                    "sleep",
                    json!({"seconds": 0, "token": "ghp_abcdefghijklmnop"}),
                    &turn("other"),
                )
                .await
        })
    };
    let pending = wait_pending(&b.approvals).await;
    assert_eq!(pending.session_id.as_deref(), Some("other"));
    b.gate
        .decide(pending.id, Decision::Deny, Remember::Once)
        .await
        .unwrap();
    assert_eq!(elsewhere.await.unwrap().decision, CallDecision::Denied);
    // The owner asking directly is its own approval.
    let mut direct = CallContext::new(Caller::Owner, CallOrigin::Direct, Duration::from_secs(5));
    direct.session = None;
    let ran = b
        .runner
        .execute("sleep", json!({"seconds": 0}), &direct)
        .await;
    assert_eq!(ran.decision, CallDecision::Approved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecided_approval_expires_and_an_abandoned_one_cannot_be_approved_later() {
    let b = bench(Duration::from_secs(5), Duration::from_millis(600));
    let started = Instant::now();
    let expired = b
        .runner
        .execute("sleep", json!({"seconds": 5}), &turn("s"))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(expired.decision, CallDecision::Denied);
    assert!(
        expired.output.contains("nobody decided"),
        "{}",
        expired.output
    );
    assert!(b.pid.lock().is_none(), "never ran");

    let context = turn("s");
    let cancel = context.cancel.clone();
    let waiting = {
        let runner = b.runner.clone();
        tokio::spawn(async move {
            runner
                .execute("sleep", json!({"seconds": 5}), &context)
                .await
        })
    };
    let pending = wait_pending(&b.approvals).await;
    cancel.cancel();
    let abandoned = waiting.await.unwrap();
    assert!(
        matches!(abandoned.error, Some(ToolError::Cancelled(_))),
        "{abandoned:?}"
    );
    let late = b
        .gate
        .decide(pending.id, Decision::Approve, Remember::Once)
        .await;
    assert!(late.is_err(), "an abandoned approval is closed");
    assert!(b.pid.lock().is_none(), "never ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_or_a_cancellation_kills_the_child_process_the_tool_started() {
    let b = bench(Duration::from_millis(400), Duration::from_secs(5));
    let direct = || CallContext::new(Caller::Owner, CallOrigin::Direct, Duration::from_secs(5));
    let timed_out = b
        .runner
        .execute("sleep", json!({"seconds": 30}), &direct())
        .await;
    assert!(
        matches!(timed_out.error, Some(ToolError::Timeout { .. })),
        "{timed_out:?}"
    );
    let pid = b.pid.lock().take().expect("sleep started");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !process_exists(pid),
        "the child {pid} must be killed at the deadline"
    );

    b.runner.registry().set_limits(ToolLimits {
        timeout: Duration::from_secs(30),
        max_output_bytes: 1024,
    });
    let context = direct();
    let cancel = context.cancel.clone();
    let running = {
        let runner = b.runner.clone();
        tokio::spawn(async move {
            runner
                .execute("sleep", json!({"seconds": 30}), &context)
                .await
        })
    };
    let started = Instant::now();
    while b.pid.lock().is_none() {
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = b.pid.lock().unwrap();
    cancel.cancel();
    let cancelled = running.await.unwrap();
    assert!(
        matches!(cancelled.error, Some(ToolError::Cancelled(_))),
        "{cancelled:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !process_exists(pid),
        "the child {pid} must be killed on cancel"
    );
    let log = rows(&b.runner).await;
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|row| row.is_error));
}
