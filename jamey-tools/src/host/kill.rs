//! `kill_process`: SIGTERM to one process, under the host rules checked first by `check_kill`:
//! the owner only, never PID 0 or 1, never the runtime itself.

use super::{blocking, own_pid, HostError};
use crate::Caller;
use jamey_protocol::KilledProcess;
use rustix::io::Errno;
use rustix::process::{Pid as RawPid, Signal};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// The host rules for killing: who may, and which processes never.
pub fn check_kill(caller: &Caller, pid: u32) -> Result<(), HostError> {
    if !caller.is_owner() {
        return Err(HostError::NotOwner);
    }
    match pid {
        0 => Err(HostError::InvalidPid),
        1 => Err(HostError::InitProcess),
        pid if pid == own_pid() => Err(HostError::RuntimeProcess(pid)),
        _ => Ok(()),
    }
}

/// Sends SIGTERM to `pid` on `caller`'s behalf, once `check_kill` allows it.
pub async fn kill_process(caller: &Caller, pid: u32) -> Result<KilledProcess, HostError> {
    check_kill(caller, pid)?;
    let killed = blocking(move || {
        let target = Pid::from_u32(pid);
        let mut system = System::new();
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[target]),
            false,
            ProcessRefreshKind::nothing(),
        );
        let name = system
            .process(target)
            .filter(|process| process.thread_kind().is_none())
            .map(|process| process.name().to_string_lossy().into_owned())
            .ok_or(HostError::NotFound(pid))?;
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
    tracing::warn!(pid, name = %killed.name, caller = %caller, "process sent SIGTERM");
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
            kill_process(&Caller::Owner, 1).await,
            Err(HostError::InitProcess)
        );
        let own = std::process::id();
        assert_eq!(
            kill_process(&Caller::Owner, own).await,
            Err(HostError::RuntimeProcess(own))
        );
        assert_eq!(
            kill_process(&Caller::Owner, 0).await,
            Err(HostError::InvalidPid)
        );
    }

    #[tokio::test]
    async fn only_the_owner_may_kill() {
        let mut child = sleeper();
        for caller in [Caller::Token("ci".into()), Caller::Certificate("ci".into())] {
            assert_eq!(
                kill_process(&caller, child.id()).await,
                Err(HostError::NotOwner)
            );
        }
        assert!(still_running(&mut child), "the child must still run");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[tokio::test]
    async fn an_unknown_pid_is_not_found() {
        assert_eq!(
            kill_process(&Caller::Owner, 2_147_483_647).await,
            Err(HostError::NotFound(2_147_483_647))
        );
        assert_eq!(
            kill_process(&Caller::Owner, u32::MAX).await,
            Err(HostError::NotFound(u32::MAX))
        );
    }

    #[tokio::test]
    async fn the_owner_sends_sigterm() {
        let mut child = sleeper();
        let killed = kill_process(&Caller::Owner, child.id()).await.unwrap();
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
