//! `jamey system info`, `jamey process list` and `jamey process kill PID`: the runtime's host,
//! through the runtime's `/v1/system/info` and `/v1/processes` endpoints.

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;
use jamey_protocol::{KilledProcess, ProcessList, SystemInfo};
use serde::Serialize;

use crate::connect::Target;
use crate::report::{self, Report};
use crate::table::{bytes, Table};

#[derive(Debug, Subcommand)]
pub(crate) enum SystemCommand {
    /// Host, OS, CPU, memory, uptime and the runtime's versions.
    Info,
}

#[derive(Debug, Subcommand)]
#[command(after_help = "\
Examples:
  jamey process list --limit 10        the ten busiest processes
  jamey process kill 4242              asks before sending SIGTERM
  jamey process kill 4242 --yes        no question (scripts)")]
pub(crate) enum ProcessCommand {
    /// Processes on the runtime's host, busiest first.
    List {
        /// Show at most this many.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Send SIGTERM to a process. PID 1 and the runtime itself are refused.
    Kill {
        pid: u32,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Info(SystemInfo);

impl Report for Info {
    fn write_text(&self, out: &mut dyn Write, _notes: &mut dyn Write) -> io::Result<()> {
        let info = &self.0;
        let unknown = || "unknown".to_string();
        writeln!(
            out,
            "host      {}",
            info.hostname.clone().unwrap_or_else(unknown)
        )?;
        writeln!(
            out,
            "os        {} {} (kernel {}, {})",
            info.os.name.clone().unwrap_or_else(unknown),
            info.os.version.clone().unwrap_or_default(),
            info.os.kernel_version.clone().unwrap_or_else(unknown),
            info.os.arch
        )?;
        writeln!(
            out,
            "cpu       {} logical cores{}{}, {:.0}% busy, load {:.2} {:.2} {:.2}",
            info.cpu.logical_cores,
            info.cpu
                .physical_cores
                .map(|n| format!(" ({n} physical)"))
                .unwrap_or_default(),
            info.cpu
                .brand
                .as_ref()
                .map(|brand| format!(", {brand}"))
                .unwrap_or_default(),
            info.cpu.usage_percent,
            info.cpu.load_average[0],
            info.cpu.load_average[1],
            info.cpu.load_average[2]
        )?;
        writeln!(
            out,
            "memory    {} used of {} ({} available), swap {} of {}",
            bytes(info.memory.used_bytes),
            bytes(info.memory.total_bytes),
            bytes(info.memory.available_bytes),
            bytes(info.memory.swap_used_bytes),
            bytes(info.memory.swap_total_bytes)
        )?;
        writeln!(out, "uptime    {} s", info.host_uptime_secs)?;
        let rt = &info.runtime;
        writeln!(
            out,
            "runtime   jamey-runtime {} (pid {}, up {} s, {} resident), store {}, embedder {}",
            rt.version,
            rt.pid,
            rt.uptime_secs,
            bytes(rt.rss_bytes),
            rt.store,
            rt.embedder
        )?;
        writeln!(out, "cli       jamey {}", env!("CARGO_PKG_VERSION"))
    }
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Processes(ProcessList);

impl Report for Processes {
    fn write_text(&self, out: &mut dyn Write, _notes: &mut dyn Write) -> io::Result<()> {
        let mut table = Table::new(vec!["PID", "PPID", "CPU%", "MEMORY", "STATUS", "NAME"]);
        for p in &self.0.processes {
            table.row(vec![
                p.pid.to_string(),
                p.parent_pid.map(|pid| pid.to_string()).unwrap_or_default(),
                format!("{:.1}", p.cpu_percent),
                bytes(p.memory_bytes),
                p.status.clone(),
                p.name.clone(),
            ]);
        }
        table.write(out)
    }
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Killed(KilledProcess);

impl Report for Killed {
    fn write_text(&self, out: &mut dyn Write, _notes: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "Sent {} to {} (pid {})",
            self.0.signal, self.0.name, self.0.pid
        )
    }
}

pub(crate) fn run_system(
    target: &Target,
    command: &SystemCommand,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let SystemCommand::Info = command;
    let remote = target.connect()?;
    let info = remote.call(remote.client.system_info())?;
    report::print(&Info(info), json)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run_process(
    target: &Target,
    command: &ProcessCommand,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let remote = target.connect()?;
    match *command {
        ProcessCommand::List { limit } => {
            let mut list = remote.call(remote.client.processes())?;
            if let Some(limit) = limit {
                list.processes.truncate(limit);
            }
            report::print(&Processes(list), json)?;
        }
        ProcessCommand::Kill { pid, yes } => {
            if !yes {
                let list = remote.call(remote.client.processes())?;
                let Some(process) = list.processes.iter().find(|p| p.pid == pid) else {
                    bail!("no process with PID {pid} on the runtime's host");
                };
                if !confirm(&format!("Send SIGTERM to {} (pid {pid})?", process.name))? {
                    bail!("not confirmed: nothing was killed (pass --yes to skip the question)");
                }
            }
            let killed = remote.call(remote.client.kill_process(pid))?;
            report::print(&Killed(killed), json)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks on the terminal; without one, refuses rather than guessing.
fn confirm(question: &str) -> anyhow::Result<bool> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        bail!("refusing to kill without confirmation: stdin is not a terminal; pass --yes");
    }
    eprint!("{question} [y/N] ");
    io::stderr().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}
