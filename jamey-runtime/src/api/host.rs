//! The machine the runtime runs on: `GET /v1/system/info`, `GET /v1/processes` and
//! `POST /v1/processes/{pid}/kill`. Each is a call of the host tool of the same job
//! (`system_info`, `process_list`, `process_kill`) through the tool runner, so the caller's
//! scope, the permission and the audit trail apply exactly as to the model's calls.

use crate::api::tools::{refusal, run_direct};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use jamey_protocol::{ErrorBody, KilledProcess, ProcessList, SystemInfo};
use jamey_tools::{CallResult, ToolError, ToolScope};
use serde::de::DeserializeOwned;

/// The tool's JSON output as the route's body; a failed call as its HTTP error.
fn answer<T: DeserializeOwned>(result: CallResult) -> Result<Json<T>, ApiError> {
    refusal(&result)?;
    match result.error {
        None => serde_json::from_str(&result.output)
            .map(Json)
            .map_err(|e| ApiError::Internal(format!("{} output: {e}", result.tool))),
        Some(ToolError::Host(host)) => Err(host.into()),
        Some(ToolError::Timeout { .. }) => Err(ApiError::Unavailable(result.output)),
        Some(other) => Err(ApiError::Internal(other.to_string())),
    }
}

/// The host (OS, CPUs and load, memory) and the runtime (version, PID, uptime, RSS, store and
/// embedder).
#[utoipa::path(get, path = "/v1/system/info", tag = "host",
    responses((status = 200, description = "The host and the runtime", body = SystemInfo)))]
pub(crate) async fn system_info(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(scope): Extension<ToolScope>,
) -> Result<Json<SystemInfo>, ApiError> {
    let result = run_direct(&app, caller, scope, "system_info", serde_json::json!({})).await;
    answer(result)
}

/// `GET /v1/processes` query: the `process_list` tool's arguments.
#[derive(Debug, serde::Deserialize, serde::Serialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProcessesQuery {
    /// Only processes whose name contains this (case-insensitive).
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// Only processes of this user (name or uid).
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    /// `cpu` (default) or `memory`.
    #[serde(skip_serializing_if = "Option::is_none")]
    sort_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<usize>,
}

/// The host's processes (thread group leaders), busiest first.
#[utoipa::path(get, path = "/v1/processes", tag = "host", params(ProcessesQuery),
    responses((status = 200, description = "Processes by CPU, then memory", body = ProcessList),
        (status = 422, description = "A bad filter", body = ErrorBody)))]
pub(crate) async fn list_processes(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(scope): Extension<ToolScope>,
    query: Result<Query<ProcessesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ProcessList>, ApiError> {
    let Query(query) = query?;
    let arguments = serde_json::to_value(&query).unwrap_or_default();
    let result = run_direct(&app, caller, scope, "process_list", arguments).await;
    answer(result)
}

/// Sends SIGTERM to `pid`: the `process_kill` tool, which asks for approval unless the owner
/// asks. PID 1, the runtime itself and other users' processes are refused.
#[utoipa::path(post, path = "/v1/processes/{pid}/kill", tag = "host",
    params(("pid" = u32, Path, description = "Process id")),
    responses(
        (status = 200, description = "SIGTERM sent", body = KilledProcess),
        (status = 400, description = "The PID is not a number", body = ErrorBody),
        (status = 403, description = "Outside the caller's tools, denied, PID 1, the runtime itself, another user's process, or not permitted", body = ErrorBody),
        (status = 404, description = "No such process", body = ErrorBody),
        (status = 422, description = "PID 0", body = ErrorBody)))]
pub(crate) async fn kill_process(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(scope): Extension<ToolScope>,
    pid: Result<Path<u32>, axum::extract::rejection::PathRejection>,
) -> Result<Json<KilledProcess>, ApiError> {
    let Path(pid) = pid?;
    let arguments = serde_json::json!({ "pid": pid });
    let result = run_direct(&app, caller, scope, "process_kill", arguments).await;
    answer(result)
}
