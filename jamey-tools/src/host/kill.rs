//! `kill_process`: SIGTERM to one process, under the host rules checked first: never PID 0 or
//! 1, never the runtime itself, never a process of another user unless the runtime runs as
//! root and `KillRules::allow_other_users` says so. Who may ask (the caller's tool scope and the
//! approval of an `ask` call) is the tool runner's to decide, before this runs.

use super::{blocking, own_pid, HostError};
use jamey_protocol::KilledProcess;
use rustix::io::Errno;
use rustix::process::{Pid as RawPid, Signal};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

/// The configurable part of the host rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KillRules {
    /// A runtime running as root may signal other users' processes only with this set
    /// (`[tools] kill_other_users`). Without root the operating system refuses anyway.
    pub allow_other_users: bool,
}

/// The rules that hold whatever the configuration: which PIDs are never signalled.
pub fn check_kill(pid: u32) -> Result<(), HostError> {
    match pid {
        0 => Err(HostError::InvalidPid),
        1 => Err(HostError::InitProcess),
        pid if pid == own_pid() => Err(HostError::RuntimeProcess(pid)),
        _ => Ok(()),
    }
}

/// Sends SIGTERM to `pid`, once the host rules allow it.
pub async fn kill_process(pid: u32, rules: KillRules) -> Result<KilledProcess, HostError> {
    check_kill(pid)?;
    let killed = blocking(move || {
        let target = Pid::from_u32(pid);
        let mut system = System::new();
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[target]),
            false,
            ProcessRefreshKind::nothing().with_user(UpdateKind::Always),
        );
        let process = system
            .process(target)
            .filter(|process| process.thread_kind().is_none())
            .ok_or(HostError::NotFound(pid))?;
        let name = process.name().to_string_lossy().into_owned();
        let own_uid = rustix::process::getuid();
        let target_uid = process.user_id().map(|uid| **uid);
        if target_uid != Some(own_uid.as_raw()) && !(own_uid.is_root() && rules.allow_other_users) {
            return Err(HostError::OtherUser { pid, name });
        }
        let raw = i32::try_from(pid)
            .ok()
            .and_then(RawPid::from_raw)
            .ok_or(HostError::NotFound(pid))?;
        match rustix::process::kill_process(raw, Signal::TERM) {
            Ok(()) => Ok(KilledProcess {
                pid,
                name,
                signal: "SIGTERM".into(),
            }),
            Err(Errno::SRCH) => Err(HostError::NotFound(pid)),
            Err(Errno::PERM) => Err(HostError::PermissionDenied { pid, name }),
            Err(errno) => Err(HostError::Signal {
                pid,
                reason: errno.to_string(),
            }),
        }
    })
    .await??;
    tracing::warn!(pid, name = %killed.name, "process sent SIGTERM");
    Ok(killed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Child, Command};
    use std::time::{Duration, Instant};

    fn sleeper() -> Child {
        Command::new("sleep").arg("30").spawn().unwrap()
    }

    fn still_running(child: &mut Child) -> bool {
        child.try_wait().unwrap().is_none()
    }

    #[tokio::test]
    async fn pid_1_and_the_runtime_itself_are_refused_even_to_the_owner() {
        assert_eq!(
            kill_process(1, KillRules::default()).await,
            Err(HostError::InitProcess)
        );
        let own = std::process::id();
        assert_eq!(
            kill_process(own, KillRules::default()).await,
            Err(HostError::RuntimeProcess(own))
        );
        assert_eq!(
            kill_process(0, KillRules::default()).await,
            Err(HostError::InvalidPid)
        );
    }

    #[tokio::test]
    async fn another_users_process_is_refused_without_the_rule() {
        // `sleep` as the user `nobody` needs root; as another user the OS refuses anyway.
        if !rustix::process::getuid().is_root() {
            return;
        }
        let mut child = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "sleep",
                "30",
            ])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let refused = kill_process(child.id(), KillRules::default()).await;
        assert!(
            matches!(refused, Err(HostError::OtherUser { .. })),
            "{refused:?}"
        );
        assert!(still_running(&mut child), "the child must still run");
        let allowed = KillRules {
            allow_other_users: true,
        };
        kill_process(child.id(), allowed).await.unwrap();
        child.wait().unwrap();
    }

    #[tokio::test]
    async fn an_unknown_pid_is_not_found() {
        assert_eq!(
            kill_process(2_147_483_647, KillRules::default()).await,
            Err(HostError::NotFound(2_147_483_647))
        );
        assert_eq!(
            kill_process(u32::MAX, KillRules::default()).await,
            Err(HostError::NotFound(u32::MAX))
        );
    }

    #[tokio::test]
    async fn the_owner_sends_sigterm() {
        let mut child = sleeper();
        let killed = kill_process(child.id(), KillRules::default())
            .await
            .unwrap();
        assert_eq!(
            (killed.pid, killed.name.as_str(), killed.signal.as_str()),
            (child.id(), "sleep", "SIGTERM")
        );
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(started.elapsed() < Duration::from_secs(5), "sleep must end");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.signal(), Some(15));
    }
}
