//! The machine the runtime runs on, read with `sysinfo`: `GET /v1/system/info`,
//! `GET /v1/processes` and `POST /v1/processes/{pid}/kill` (owner only; never PID 1 or the
//! runtime itself).

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use jamey_protocol::{
    CpuInfo, ErrorBody, KilledProcess, MemoryUsage, OsInfo, ProcessInfo, ProcessList, RuntimeInfo,
    SystemInfo,
};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, Signal, System, UpdateKind};
use tokio::task::spawn_blocking;

/// CPU usage is a difference between two readings; this is the window between them.
const CPU_WINDOW: std::time::Duration = sysinfo::MINIMUM_CPU_UPDATE_INTERVAL;

/// The host (OS, CPUs and load, memory) and the runtime (version, PID, uptime, RSS, store and
/// embedder).
#[utoipa::path(get, path = "/v1/system/info", tag = "host",
    responses((status = 200, description = "The host and the runtime", body = SystemInfo)))]
pub(crate) async fn system_info(State(app): State<AppState>) -> Result<Json<SystemInfo>, ApiError> {
    let store = app.memories.store().backend().to_string();
    let embedder = app.memories.embedder().identity().to_string();
    let uptime_secs = app.started_at.elapsed().as_secs();
    let mut system = System::new();
    system.refresh_cpu_all();
    tokio::time::sleep(CPU_WINDOW).await;
    let info = spawn_blocking(move || {
        system.refresh_cpu_all();
        system.refresh_memory();
        let own = own_pid();
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[own]),
            false,
            ProcessRefreshKind::nothing().with_memory(),
        );
        let load = System::load_average();
        SystemInfo {
            hostname: System::host_name(),
            os: OsInfo {
                name: System::name(),
                version: System::os_version(),
                kernel_version: System::kernel_version(),
                arch: System::cpu_arch(),
            },
            cpu: CpuInfo {
                logical_cores: system.cpus().len(),
                physical_cores: System::physical_core_count(),
                brand: system
                    .cpus()
                    .first()
                    .map(|cpu| cpu.brand().trim().to_string())
                    .filter(|brand| !brand.is_empty()),
                load_average: [load.one, load.five, load.fifteen],
                usage_percent: system.global_cpu_usage(),
            },
            memory: MemoryUsage {
                total_bytes: system.total_memory(),
                used_bytes: system.used_memory(),
                available_bytes: system.available_memory(),
                swap_total_bytes: system.total_swap(),
                swap_used_bytes: system.used_swap(),
            },
            host_uptime_secs: System::uptime(),
            runtime: RuntimeInfo {
                version: env!("CARGO_PKG_VERSION").to_string(),
                pid: std::process::id(),
                uptime_secs,
                rss_bytes: system.process(own).map_or(0, sysinfo::Process::memory),
                store,
                embedder,
            },
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("system info task failed: {e}")))?;
    Ok(Json(info))
}

/// The host's processes (thread group leaders), busiest first.
#[utoipa::path(get, path = "/v1/processes", tag = "host",
    responses((status = 200, description = "Processes by CPU, then memory", body = ProcessList)))]
pub(crate) async fn list_processes() -> Result<Json<ProcessList>, ApiError> {
    let kind = ProcessRefreshKind::nothing()
        .with_cpu()
        .with_memory()
        .with_user(UpdateKind::OnlyIfNotSet);
    let mut system = System::new();
    system.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    tokio::time::sleep(CPU_WINDOW).await;
    let processes = spawn_blocking(move || {
        system.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
        let mut processes: Vec<ProcessInfo> = system
            .processes()
            .values()
            // Threads show up as processes on Linux; a list of processes wants only the leaders.
            .filter(|process| process.thread_kind().is_none())
            .map(|process| ProcessInfo {
                pid: process.pid().as_u32(),
                parent_pid: process.parent().map(Pid::as_u32),
                name: process.name().to_string_lossy().into_owned(),
                cpu_percent: process.cpu_usage(),
                memory_bytes: process.memory(),
                status: process.status().to_string().to_lowercase(),
                user_id: process.user_id().map(|uid| uid.to_string()),
                run_time_secs: process.run_time(),
            })
            .collect();
        processes.sort_by(|a, b| {
            b.cpu_percent
                .total_cmp(&a.cpu_percent)
                .then(b.memory_bytes.cmp(&a.memory_bytes))
                .then(a.pid.cmp(&b.pid))
        });
        processes
    })
    .await
    .map_err(|e| ApiError::Internal(format!("process list task failed: {e}")))?;
    Ok(Json(ProcessList { processes }))
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
    if caller != Caller::Owner {
        return Err(ApiError::Forbidden(
            "only the owner's client certificate may kill processes".into(),
        ));
    }
    if pid == 0 {
        return Err(ApiError::InvalidField {
            field: "pid".into(),
            message: "pid: must be a process id above 0".into(),
        });
    }
    if pid == 1 {
        return Err(ApiError::Forbidden(
            "refusing to kill PID 1 (the init process)".into(),
        ));
    }
    if pid == std::process::id() {
        return Err(ApiError::Forbidden(format!(
            "refusing to kill PID {pid}: it is the runtime itself; use `jamey stop`"
        )));
    }
    let killed = spawn_blocking(move || {
        let target = Pid::from_u32(pid);
        let mut system = System::new();
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[target]),
            false,
            ProcessRefreshKind::nothing(),
        );
        let process = system
            .process(target)
            .filter(|process| process.thread_kind().is_none())
            .ok_or_else(|| ApiError::NotFound(format!("no process with PID {pid}")))?;
        let name = process.name().to_string_lossy().into_owned();
        match process.kill_with(Signal::Term) {
            Some(true) => {
                tracing::warn!(pid, name = %name, "process sent SIGTERM on the owner's request");
                Ok(KilledProcess {
                    pid,
                    name,
                    signal: "SIGTERM".into(),
                })
            }
            Some(false) => Err(ApiError::Forbidden(format!(
                "cannot signal PID {pid} ({name}): not permitted, or it has exited"
            ))),
            None => Err(ApiError::Internal(
                "SIGTERM is not supported on this platform".into(),
            )),
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("kill task failed: {e}")))??;
    Ok(Json(killed))
}

fn own_pid() -> Pid {
    Pid::from_u32(std::process::id())
}
