//! `jamey memory reembed`: after the embedder in `config.toml` (or `JAMEY_EMBEDDING_*`) changes,
//! the store no longer opens, because its vectors come from the old model. This runs
//! `jamey-runtime reembed`, which embeds every memory again with the configured model, and shows
//! its progress. The runtime must be stopped: it holds the store while it serves.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use jamey_protocol::settings::HOME_VARIABLE;
use serde::{Deserialize, Serialize};

use crate::connect::Target;
use crate::daemon::{self, RuntimeProcess};
use crate::report::{self, Report};

/// A progress line of `jamey-runtime reembed`.
#[derive(Debug, Deserialize)]
struct Progress {
    done: u64,
    total: u64,
}

/// An embedder as the store records it.
#[derive(Debug, Serialize, Deserialize)]
struct Embedder {
    model: String,
    dimensions: usize,
}

/// The last line of `jamey-runtime reembed`, and what this command reports.
#[derive(Debug, Serialize, Deserialize)]
struct Reembedded {
    from: Option<Embedder>,
    to: Embedder,
    reembedded: u64,
    resumed: u64,
    #[serde(default)]
    seconds: f64,
}

impl Report for Reembedded {
    fn write_text(&self, out: &mut dyn Write, _notes: &mut dyn Write) -> io::Result<()> {
        let to = format!("{} ({} dimensions)", self.to.model, self.to.dimensions);
        match &self.from {
            Some(from) if self.reembedded + self.resumed > 0 || from.model != self.to.model => {
                let rate = self.reembedded as f64 / self.seconds.max(0.001);
                writeln!(
                    out,
                    "Re-embedded {} memories with {to} (was {}) in {:.1} s, {rate:.0}/s",
                    self.reembedded + self.resumed,
                    from.model,
                    self.seconds
                )
            }
            _ => writeln!(
                out,
                "The memories are already embedded with {to}: nothing to do"
            ),
        }
    }
}

pub(crate) fn run(target: &Target, json: bool) -> anyhow::Result<()> {
    crate::require_initialised(&target.home)?;
    if let RuntimeProcess::Running(pid) = daemon::probe(&target.home.pid_file())? {
        let pid = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
        bail!("the runtime is running{pid} and holds the memory store: run `jamey stop`, then `jamey memory reembed`");
    }
    let runtime = daemon::find_runtime()?;
    let started = Instant::now();
    let mut child = Command::new(&runtime)
        .arg("reembed")
        .env(HOME_VARIABLE, target.home.root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", runtime.display()))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("cannot read the output of {}", runtime.display()))?;
    let mut stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow!("cannot read the errors of {}", runtime.display()))?;
    // Read stderr on its own thread so a chatty child never blocks on a full pipe.
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let bar = progress_bar(json);
    let mut report = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.context("cannot read the re-embedding's progress")?;
        if let Ok(step) = serde_json::from_str::<Progress>(&line) {
            bar.set_length(step.total);
            bar.set_position(step.done);
        } else if let Ok(done) = serde_json::from_str::<Reembedded>(&line) {
            report = Some(done);
        }
    }
    let status = child.wait().context("the re-embedding did not finish")?;
    bar.finish_and_clear();
    let errors = errors.join().unwrap_or_default();
    if !status.success() {
        let reason = errors
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim_start_matches("jamey-runtime: ").to_owned())
            .unwrap_or_else(|| format!("{} exited with {status}", runtime.display()));
        bail!("re-embedding failed: {reason}");
    }
    let mut report = report.ok_or_else(|| anyhow!("{} reported no result", runtime.display()))?;
    report.seconds = started.elapsed().as_secs_f64();
    report::print(&report, json)
}

fn progress_bar(json: bool) -> ProgressBar {
    if json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40.cyan/blue} {pos}/{len} memories ({per_sec}, {elapsed}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}
