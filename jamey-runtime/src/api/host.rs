//! The machine the runtime runs on: `GET /v1/system/info`, `GET /v1/processes` and
//! `POST /v1/processes/{pid}/kill`. The work and its rules are `jamey_tools::host`'s; these
//! handlers only translate HTTP.

use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use jamey_protocol::{ErrorBody, KilledProcess, ProcessList, SystemInfo};
use jamey_tools::host::{self, ProcessQuery, RuntimeFacts};

/// The host (OS, CPUs and load, memory) and the runtime (version, PID, uptime, RSS, store and
/// embedder).
#[utoipa::path(get, path = "/v1/system/info", tag = "host",
    responses((status = 200, description = "The host and the runtime", body = SystemInfo)))]
pub(crate) async fn system_info(State(app): State<AppState>) -> Result<Json<SystemInfo>, ApiError> {
    let facts = RuntimeFacts {
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_secs: app.started_at.elapsed().as_secs(),
        store: app.memories.store().backend().to_string(),
        embedder: app.memories.embedder().identity().to_string(),
    };
    Ok(Json(host::system_info(facts).await?))
}

/// The host's processes (thread group leaders), busiest first.
#[utoipa::path(get, path = "/v1/processes", tag = "host",
    responses((status = 200, description = "Processes by CPU, then memory", body = ProcessList)))]
pub(crate) async fn list_processes() -> Result<Json<ProcessList>, ApiError> {
    Ok(Json(host::list_processes(ProcessQuery::default()).await?))
}

/// Sends SIGTERM to `pid`. Only the owner may; PID 1 and the runtime itself are refused.
#[utoipa::path(post, path = "/v1/processes/{pid}/kill", tag = "host",
    params(("pid" = u32, Path, description = "Process id")),
    responses(
        (status = 200, description = "SIGTERM sent", body = KilledProcess),
        (status = 400, description = "The PID is not a number", body = ErrorBody),
        (status = 403, description = "Not the owner's certificate, PID 1, the runtime itself, or not permitted", body = ErrorBody),
        (status = 404, description = "No such process", body = ErrorBody),
        (status = 422, description = "PID 0", body = ErrorBody)))]
pub(crate) async fn kill_process(
    Extension(caller): Extension<Caller>,
    pid: Result<Path<u32>, axum::extract::rejection::PathRejection>,
) -> Result<Json<KilledProcess>, ApiError> {
    let Path(pid) = pid?;
    Ok(Json(host::kill_process(&caller, pid).await?))
}
