//! The machine the runtime runs on, read with `sysinfo`: system information, the process list
//! (CPU measured over a short window, filtered, sorted and limited) and killing a process under
//! the host rules (never PID 1, never the runtime itself, never another user's process). The HTTP handlers and
//! the host tools call these same functions.

mod info;
mod kill;
mod processes;
mod tools;

pub use info::{system_info, RuntimeFacts};
pub use kill::{check_kill, kill_process, KillRules};
pub use processes::{list_processes, ProcessQuery, ProcessSort};
pub use tools::{
    ConfigGetTool, ConfigSource, FactsSource, ProcessKillTool, ProcessListTool, SystemInfoTool,
};

/// CPU usage is a difference between two readings; this is the window between them.
pub const CPU_WINDOW: std::time::Duration = sysinfo::MINIMUM_CPU_UPDATE_INTERVAL;

/// Why a host operation did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The process belongs to another user, and the rules do not allow that.
    #[error("refusing to kill PID {pid} ({name}): it belongs to another user ([tools] kill_other_users is off)")]
    OtherUser { pid: u32, name: String },
    /// PID 0 names no process (to `kill(2)` it means the whole process group).
    #[error("pid: must be a process id above 0")]
    InvalidPid,
    /// PID 1, the init process: signalling it would take the host down.
    #[error("refusing to kill PID 1 (the init process)")]
    InitProcess,
    /// The runtime's own process, which `jamey stop` stops cleanly.
    #[error("refusing to kill PID {0}: it is the runtime itself; use `jamey stop`")]
    RuntimeProcess(u32),
    /// No process (thread group leader) has this PID, or it exited before the signal.
    #[error("no process with PID {0}")]
    NotFound(u32),
    /// The operating system refused the signal: the process belongs to another user.
    #[error("cannot signal PID {pid} ({name}): not permitted")]
    PermissionDenied { pid: u32, name: String },
    /// The signal failed for another reason the operating system gave.
    #[error("cannot signal PID {pid}: {reason}")]
    Signal { pid: u32, reason: String },
    /// The blocking task reading the host failed (panicked or was cancelled).
    #[error("the host task failed: {0}")]
    Task(String),
}

impl HostError {
    /// Whether a host rule refused the operation (rather than the OS or a missing process).
    pub fn is_rule(&self) -> bool {
        matches!(
            self,
            Self::InvalidPid | Self::InitProcess | Self::RuntimeProcess(_) | Self::OtherUser { .. }
        )
    }
}

/// Runs `work` (sysinfo reads `/proc`, which blocks) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HostError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| HostError::Task(e.to_string()))
}

/// The PID of the process these functions run in: the runtime.
fn own_pid() -> u32 {
    std::process::id()
}
