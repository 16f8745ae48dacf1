//! `system_info`: the host (OS, CPUs and load, memory) and the runtime (version, PID, uptime,
//! RSS, store and embedder).

use super::{blocking, own_pid, HostError, CPU_WINDOW};
use jamey_protocol::{CpuInfo, MemoryUsage, OsInfo, RuntimeInfo, SystemInfo};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// What the runtime says about itself; sysinfo supplies the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeFacts {
    pub version: String,
    pub uptime_secs: u64,
    /// The memory store backend ("postgres" or "embedded").
    pub store: String,
    /// The embedding model.
    pub embedder: String,
}

/// Reads the host twice, `CPU_WINDOW` apart, so the CPU usage is a real measurement.
pub async fn system_info(runtime: RuntimeFacts) -> Result<SystemInfo, HostError> {
    let mut system = System::new();
    system.refresh_cpu_all();
    tokio::time::sleep(CPU_WINDOW).await;
    blocking(move || {
        system.refresh_cpu_all();
        system.refresh_memory();
        let own = Pid::from_u32(own_pid());
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
                version: runtime.version,
                pid: own_pid(),
                uptime_secs: runtime.uptime_secs,
                rss_bytes: system.process(own).map_or(0, sysinfo::Process::memory),
                store: runtime.store,
                embedder: runtime.embedder,
            },
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn system_info_measures_this_process_and_keeps_the_runtime_facts() {
        let facts = RuntimeFacts {
            version: "9.9.9".into(),
            uptime_secs: 42,
            store: "embedded".into(),
            embedder: "test-model".into(),
        };
        let info = system_info(facts).await.unwrap();
        assert_eq!(info.runtime.pid, std::process::id());
        assert_eq!(
            (info.runtime.version.as_str(), info.runtime.uptime_secs),
            ("9.9.9", 42)
        );
        assert_eq!(info.runtime.store, "embedded");
        assert!(info.runtime.rss_bytes > 0);
        assert!(info.cpu.logical_cores >= 1);
        assert!(info.memory.total_bytes >= info.memory.used_bytes);
        assert_eq!(info.os.arch, std::env::consts::ARCH);
    }
}
