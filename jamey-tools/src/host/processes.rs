//! `list_processes`: the host's processes (thread group leaders) with CPU measured over
//! `CPU_WINDOW`, filtered by name and user, sorted by CPU or memory, and limited.

use super::{blocking, HostError, CPU_WINDOW};
use jamey_protocol::{ProcessInfo, ProcessList};
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::HashMap;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind, Users};

/// Which processes to list and in what order (the `process_list` tool's arguments).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessQuery {
    /// Only processes whose name contains this text (case-insensitive).
    #[serde(default)]
    pub name: Option<String>,
    /// Only processes of this user, by name or numeric id.
    #[serde(default)]
    pub user: Option<String>,
    /// Busiest first by "cpu" (the default) or by "memory".
    #[serde(default)]
    pub sort_by: ProcessSort,
    /// At most this many processes.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// The order of the process list; ties go to the other measure, then to the lower PID.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProcessSort {
    #[default]
    Cpu,
    Memory,
}

/// Reads every process twice, `CPU_WINDOW` apart, and answers `query`.
pub async fn list_processes(query: ProcessQuery) -> Result<ProcessList, HostError> {
    let kind = ProcessRefreshKind::nothing()
        .with_cpu()
        .with_memory()
        .with_user(UpdateKind::OnlyIfNotSet);
    let mut system = System::new();
    system.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    tokio::time::sleep(CPU_WINDOW).await;
    blocking(move || {
        system.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
        let processes = system
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
        let user_names = if query.user.is_some() {
            Users::new_with_refreshed_list()
                .iter()
                .map(|user| (user.id().to_string(), user.name().to_string()))
                .collect()
        } else {
            HashMap::new()
        };
        ProcessList {
            processes: select(processes, &query, &user_names),
        }
    })
    .await
}

/// Filters, sorts and limits `processes`; `user_names` maps user ids to names.
fn select(
    mut processes: Vec<ProcessInfo>,
    query: &ProcessQuery,
    user_names: &HashMap<String, String>,
) -> Vec<ProcessInfo> {
    if let Some(name) = &query.name {
        let name = name.to_lowercase();
        processes.retain(|p| p.name.to_lowercase().contains(&name));
    }
    if let Some(user) = &query.user {
        processes.retain(|p| {
            p.user_id.as_ref().is_some_and(|id| {
                id == user || user_names.get(id).is_some_and(|known| known == user)
            })
        });
    }
    processes.sort_by(|a, b| {
        let cpu = b.cpu_percent.total_cmp(&a.cpu_percent);
        let memory = b.memory_bytes.cmp(&a.memory_bytes);
        match query.sort_by {
            ProcessSort::Cpu => cpu.then(memory),
            ProcessSort::Memory => memory.then(cpu),
        }
        .then(a.pid.cmp(&b.pid))
    });
    if let Some(limit) = query.limit {
        processes.truncate(limit);
    }
    processes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(pid: u32, name: &str, cpu: f32, memory: u64, uid: &str) -> ProcessInfo {
        ProcessInfo {
            pid,
            parent_pid: None,
            name: name.into(),
            cpu_percent: cpu,
            memory_bytes: memory,
            status: "running".into(),
            user_id: Some(uid.into()),
            run_time_secs: 1,
        }
    }

    fn sample() -> Vec<ProcessInfo> {
        vec![
            process(10, "postgres", 5.0, 900, "999"),
            process(11, "Postgres-worker", 50.0, 100, "999"),
            process(12, "bash", 50.0, 300, "1000"),
            process(13, "sleep", 0.0, 300, "1000"),
        ]
    }

    fn pids(list: &[ProcessInfo]) -> Vec<u32> {
        list.iter().map(|p| p.pid).collect()
    }

    #[test]
    fn the_default_order_is_cpu_then_memory_then_pid() {
        let list = select(sample(), &ProcessQuery::default(), &HashMap::new());
        assert_eq!(pids(&list), [12, 11, 10, 13]);
    }

    #[test]
    fn sort_by_memory_puts_the_largest_first() {
        let query = ProcessQuery {
            sort_by: ProcessSort::Memory,
            ..ProcessQuery::default()
        };
        assert_eq!(
            pids(&select(sample(), &query, &HashMap::new())),
            [10, 12, 13, 11]
        );
    }

    #[test]
    fn name_and_user_filter_and_limit_truncates() {
        let names = HashMap::from([("999".to_string(), "postgres".to_string())]);
        let query = ProcessQuery {
            name: Some("POSTGRES".into()),
            ..ProcessQuery::default()
        };
        assert_eq!(pids(&select(sample(), &query, &names)), [11, 10]);
        let by_name = ProcessQuery {
            user: Some("postgres".into()),
            limit: Some(1),
            ..ProcessQuery::default()
        };
        assert_eq!(pids(&select(sample(), &by_name, &names)), [11]);
        let by_id = ProcessQuery {
            user: Some("1000".into()),
            ..ProcessQuery::default()
        };
        assert_eq!(pids(&select(sample(), &by_id, &names)), [12, 13]);
        let nobody = ProcessQuery {
            user: Some("nobody".into()),
            ..ProcessQuery::default()
        };
        assert!(select(sample(), &nobody, &names).is_empty());
    }

    #[test]
    fn the_query_parses_the_tool_arguments_strictly() {
        let query: ProcessQuery =
            serde_json::from_value(serde_json::json!({"sort_by": "memory", "limit": 3})).unwrap();
        assert_eq!((query.sort_by, query.limit), (ProcessSort::Memory, Some(3)));
        assert!(
            serde_json::from_value::<ProcessQuery>(serde_json::json!({"sort_by": "io"})).is_err()
        );
        assert!(serde_json::from_value::<ProcessQuery>(serde_json::json!({"pid": 1})).is_err());
    }

    #[tokio::test]
    async fn the_list_shows_this_process_and_its_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let query = ProcessQuery {
            name: Some("sleep".into()),
            ..ProcessQuery::default()
        };
        let list = list_processes(query).await.unwrap();
        let found = list.processes.iter().find(|p| p.pid == child.id()).cloned();
        child.kill().unwrap();
        child.wait().unwrap();
        let found = found.expect("the child is listed");
        assert_eq!(found.parent_pid, Some(std::process::id()));
        assert!(list.processes.iter().all(|p| p.name.contains("sleep")));
        let all = list_processes(ProcessQuery::default()).await.unwrap();
        let me = all.processes.iter().find(|p| p.pid == std::process::id());
        assert!(me.is_some_and(|p| p.memory_bytes > 0));
    }
}
