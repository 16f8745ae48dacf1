//! `jamey-bench tools`: what the tool path adds to a call. A no-op tool is called directly
//! (the baseline) and through `ToolRunner` (registry lookup, scope, schema validation,
//! permission, output cap, audit row with masked arguments), on the embedded store and, with
//! `--database-url`, on PostgreSQL. The figure is the difference of the percentiles. Audit rows
//! are written by a background writer, so the run also says how long after the last call the
//! last row was in the store (the writer keeping up, or not).
//! Target: p99 <= 0.5 ms added on the embedded store, <= 2 ms on PostgreSQL.

use crate::stats::{round, Latencies};
use anyhow::Context;
use async_trait::async_trait;
use jamey_core::approvals::{ApprovalStore, PgApprovalStore, SqliteApprovalStore};
use jamey_core::audit::{PgToolCallLog, SqliteToolCallLog, ToolCallLog};
use jamey_core::db::{PgDatabase, PgDatabaseConfig};
use jamey_tools::{
    CallContext, CallOrigin, Caller, Permission, StoreApprovalGate, Tool, ToolError, ToolLimits,
    ToolRegistry, ToolRunner,
};
use schemars::JsonSchema;
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub(crate) struct ToolsArgs {
    /// Calls measured per store (after 200 warm-up calls).
    #[arg(long, default_value_t = 5_000)]
    calls: usize,
    /// Also measure on this PostgreSQL database (it gets the migrations).
    #[arg(long, env = "JAMEY_BENCH_DATABASE_URL")]
    database_url: Option<String>,
}

/// Does nothing with its arguments.
#[derive(Debug)]
struct Noop;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NoopArgs {
    #[allow(dead_code)]
    text: String,
    #[serde(default)]
    #[allow(dead_code)]
    count: Option<u32>,
}

#[async_trait]
impl Tool for Noop {
    type Args = NoopArgs;
    fn name(&self) -> &'static str {
        "noop"
    }
    fn description(&self) -> &'static str {
        "Does nothing"
    }
    fn default_permission(&self) -> Permission {
        Permission::Allow
    }
    async fn call(&self, _args: NoopArgs, _context: &CallContext) -> Result<String, ToolError> {
        Ok("ok".into())
    }
}

pub(crate) fn run(args: ToolsArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let approvals: Arc<dyn ApprovalStore> = Arc::new(SqliteApprovalStore::open(dir.path())?);
        let log: Arc<dyn ToolCallLog> = Arc::new(SqliteToolCallLog::open(dir.path())?);
        let mut results = vec![measure("embedded", approvals, log, args.calls).await?];
        if let Some(url) = &args.database_url {
            let db = PgDatabase::connect(&PgDatabaseConfig::new(url.clone()))
                .await
                .context("the benchmark database")?;
            let approvals: Arc<dyn ApprovalStore> = Arc::new(PgApprovalStore::new(db.clone()));
            let log: Arc<dyn ToolCallLog> = Arc::new(PgToolCallLog::new(db));
            results.push(measure("postgres", approvals, log, args.calls).await?);
        }
        println!(
            "{}",
            serde_json::json!({"bench": "tools", "results": results})
        );
        anyhow::Ok(())
    })
}

async fn measure(
    store: &str,
    approvals: Arc<dyn ApprovalStore>,
    log: Arc<dyn ToolCallLog>,
    calls: usize,
) -> anyhow::Result<serde_json::Value> {
    let registry = Arc::new(ToolRegistry::new(ToolLimits::default()));
    registry.register(Noop)?;
    let gate = Arc::new(StoreApprovalGate::new(approvals, Duration::from_secs(60)));
    let runner = ToolRunner::new(registry, gate, log, "bench");
    let arguments = serde_json::json!({"text": "hello there", "count": 3});
    let context = CallContext::new(Caller::Owner, CallOrigin::Turn, Duration::from_secs(30));
    let mut direct = Latencies::new()?;
    let mut through = Latencies::new()?;
    for i in 0..calls + 200 {
        let started = Instant::now();
        let args: NoopArgs = serde_json::from_value(arguments.clone())?;
        Noop.call(args, &context).await?;
        let direct_elapsed = started.elapsed();
        let started = Instant::now();
        let result = runner.execute("noop", arguments.clone(), &context).await;
        let through_elapsed = started.elapsed();
        anyhow::ensure!(!result.is_error, "the no-op call failed: {}", result.output);
        if i >= 200 {
            direct.record(direct_elapsed);
            through.record(through_elapsed);
        }
    }
    // The rows are written behind the calls: how long until the last one is in the store.
    let started = Instant::now();
    runner.audit().flush().await;
    let drained_ms = started.elapsed().as_secs_f64() * 1000.0;
    let added_p50 = through.percentile_ms(50.0) - direct.percentile_ms(50.0);
    let added_p99 = through.percentile_ms(99.0) - direct.percentile_ms(99.0);
    let target = if store == "embedded" { 0.5 } else { 2.0 };
    println!(
        "{store:>9}: direct p50 {:.4} ms p99 {:.4} ms | through the runner p50 {:.4} ms p99 {:.4} ms | added p99 {:.4} ms (target <= {target} ms: {}) | audit rows written {drained_ms:.1} ms after the last call",
        direct.percentile_ms(50.0),
        direct.percentile_ms(99.0),
        through.percentile_ms(50.0),
        through.percentile_ms(99.0),
        added_p99,
        if added_p99 <= target { "met" } else { "MISSED" }
    );
    Ok(serde_json::json!({
        "store": store,
        "calls": calls,
        "direct_p99_ms": round(direct.percentile_ms(99.0), 4),
        "runner_p50_ms": round(through.percentile_ms(50.0), 4),
        "runner_p99_ms": round(through.percentile_ms(99.0), 4),
        "added_p50_ms": round(added_p50, 4),
        "added_p99_ms": round(added_p99, 4),
        "audit_drained_ms": round(drained_ms, 1),
        "target_p99_ms": target,
        "met": added_p99 <= target,
    }))
}
