//! The machine the runtime runs on: `GET /v1/system/info`, `GET /v1/processes` and
//! `POST /v1/processes/{pid}/kill`.

use serde::{Deserialize, Serialize};

/// `GET /v1/system/info`: the host, its operating system and load, and the runtime's versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SystemInfo {
    pub hostname: Option<String>,
    pub os: OsInfo,
    pub cpu: CpuInfo,
    pub memory: MemoryUsage,
    /// Seconds since the host booted.
    pub host_uptime_secs: u64,
    pub runtime: RuntimeInfo,
}

/// The operating system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OsInfo {
    /// e.g. "Debian GNU/Linux".
    pub name: Option<String>,
    /// e.g. "12".
    pub version: Option<String>,
    pub kernel_version: Option<String>,
    /// e.g. "x86_64".
    pub arch: String,
}

/// The processors and how busy they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CpuInfo {
    /// Logical processors.
    pub logical_cores: usize,
    /// Physical cores, when the OS says.
    pub physical_cores: Option<usize>,
    pub brand: Option<String>,
    /// Load averages over 1, 5 and 15 minutes.
    pub load_average: [f64; 3],
    /// Busy share of all processors over the measuring window, 0 to 100.
    pub usage_percent: f32,
}

/// Memory and swap in bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryUsage {
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub available_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_used_bytes: u64,
}

/// The runtime process itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuntimeInfo {
    pub version: String,
    pub pid: u32,
    pub uptime_secs: u64,
    /// Resident memory of the runtime in bytes.
    pub rss_bytes: u64,
    /// The memory store backend ("postgres" or "embedded").
    pub store: String,
    /// The embedding model.
    pub embedder: String,
}

/// `GET /v1/processes`: every process the runtime can see, busiest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessList {
    pub processes: Vec<ProcessInfo>,
}

/// One process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessInfo {
    pub pid: u32,
    pub parent_pid: Option<u32>,
    pub name: String,
    /// Share of one processor over the measuring window; above 100 on several cores.
    pub cpu_percent: f32,
    /// Resident memory in bytes.
    pub memory_bytes: u64,
    /// e.g. "running", "sleeping".
    pub status: String,
    /// The owning user's id, when known.
    pub user_id: Option<String>,
    /// Seconds since the process started.
    pub run_time_secs: u64,
}

/// `POST /v1/processes/{pid}/kill` response: the process was sent SIGTERM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KilledProcess {
    pub pid: u32,
    pub name: String,
    /// The signal sent: "SIGTERM".
    pub signal: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn killed_process_has_the_documented_shape() {
        let killed = KilledProcess {
            pid: 42,
            name: "sleep".into(),
            signal: "SIGTERM".into(),
        };
        assert_eq!(
            serde_json::to_value(&killed).unwrap(),
            serde_json::json!({"pid": 42, "name": "sleep", "signal": "SIGTERM"})
        );
    }
}
