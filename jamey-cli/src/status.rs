//! `jamey status`: exit 0 when the runtime runs and is ready, 3 when it is not running (or the
//! home was never initialised), 1 when it runs but a required dependency is down.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::process::ExitCode;

use jamey_client::{ClientError, DependencyState};
use serde::Serialize;

use crate::connect::Target;
use crate::daemon::{self, RuntimeProcess};
use crate::report::{self, Report};

/// `jamey status`'s exit code when no runtime is running, as LSB init scripts use.
pub(crate) const NOT_RUNNING: u8 = 3;

/// What `jamey status` found.
#[derive(Debug, Serialize)]
struct Status {
    running: bool,
    /// True when the runtime answers `/ready` with 200.
    ready: bool,
    url: Option<String>,
    /// The pid from `jamey.pid`, when `jamey start` started the runtime.
    pid: Option<u32>,
    version: Option<String>,
    uptime_secs: Option<u64>,
    dependencies: BTreeMap<String, DependencyState>,
    /// Why it is not running, and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

impl Report for Status {
    fn write_text(&self, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()> {
        if !self.running {
            writeln!(out, "Not running")?;
            if let Some(reason) = &self.reason {
                writeln!(notes, "{reason}")?;
            }
            return Ok(());
        }
        let state = if self.ready { "ready" } else { "NOT READY" };
        writeln!(
            out,
            "Running, {state}: {} (version {}, pid {}, up {})",
            self.url.as_deref().unwrap_or("?"),
            self.version.as_deref().unwrap_or("?"),
            self.pid
                .map(|pid| pid.to_string())
                .unwrap_or_else(|| "unknown".into()),
            self.uptime_secs
                .map(format_duration)
                .unwrap_or_else(|| "?".into())
        )?;
        for (name, dependency) in &self.dependencies {
            let details: Vec<String> = dependency
                .details
                .iter()
                .map(|(key, value)| match value {
                    serde_json::Value::String(text) => format!("{key} {text}"),
                    other => format!("{key} {other}"),
                })
                .collect();
            writeln!(
                out,
                "  {name:<10} {:<15} {}",
                dependency.status,
                details.join(", ")
            )?;
        }
        Ok(())
    }
}

pub(crate) fn run(target: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let not_running = |reason: String, url: Option<String>| Status {
        running: false,
        ready: false,
        url,
        pid: None,
        version: None,
        uptime_secs: None,
        dependencies: BTreeMap::new(),
        reason: Some(reason),
    };
    if !crate::is_initialised(&target.home) {
        let reason = ClientError::NotInitialised {
            home: target.home.root().to_owned(),
        }
        .to_string();
        report::print(&not_running(reason, None), json)?;
        return Ok(ExitCode::from(NOT_RUNNING));
    }
    let remote = target.connect()?;
    let client = &remote.client;
    let url = Some(client.base_url().to_owned());
    let pid = match daemon::probe(&target.home.pid_file())? {
        RuntimeProcess::Running(pid) => pid,
        RuntimeProcess::NotRunning => None,
    };
    let answers = remote.call(async { Ok((client.health().await?, client.ready().await?)) });
    let (health, readiness) = match answers {
        Ok(answers) => answers,
        Err(error) if error.is_not_running() => {
            report::print(&not_running(error.to_string(), url), json)?;
            return Ok(ExitCode::from(NOT_RUNNING));
        }
        Err(error) => return Err(error.into()),
    };
    let ready = readiness.is_ready();
    report::print(
        &Status {
            running: true,
            ready,
            url,
            pid,
            version: Some(health.version),
            uptime_secs: Some(health.uptime_secs),
            dependencies: readiness.dependencies,
            reason: None,
        },
        json,
    )?;
    Ok(if ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn format_duration(secs: u64) -> String {
    let (days, hours, minutes, seconds) =
        (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, _) => format!("{minutes}m {seconds}s"),
        (0, _, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(format_duration(5), "5s");
        assert_eq!(format_duration(65), "1m 5s");
        assert_eq!(format_duration(3_600 * 5 + 120), "5h 2m");
        assert_eq!(format_duration(86_400 * 2 + 3_600), "2d 1h");
    }
}
