//! `jamey start` and `jamey stop`: the runtime as a detached process with a locked pid file.
//!
//! `start` locks `JAMEY_HOME/jamey.pid` and hands the locked file to the runtime, which holds
//! it for as long as it lives: the lock, not the pid written in the file, says whether a
//! runtime started from this home is running, so a stale file after a crash is harmless.
//! The runtime is started through `jamey __detach`, which starts a new session (no controlling
//! terminal, no Ctrl-C or hang-up from the shell) and then becomes `jamey-runtime` in place.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use jamey_client::{ClientError, Readiness};
use jamey_protocol::settings::HOME_VARIABLE;
use rustix::fs::{flock, FlockOperation};
use rustix::io::{fcntl_getfd, fcntl_setfd, Errno, FdFlags};
use rustix::process::{kill_process, test_kill_process, Pid, Signal};
use serde::Serialize;

use crate::connect::{Remote, Target};
use crate::report::{self, Report};

/// The runtime's executable name, looked up beside `jamey`, then on PATH.
const RUNTIME_BINARY: &str = "jamey-runtime";
/// How often `start` and `stop` look again.
const POLL: Duration = Duration::from_millis(100);
/// Lines of the log shown when the runtime fails to start.
const LOG_TAIL_LINES: usize = 15;

#[derive(Debug, clap::Args)]
pub(crate) struct StartArgs {
    /// Run in this terminal, logging to stderr, until Ctrl-C.
    #[arg(long)]
    foreground: bool,
    /// Seconds to wait for `/ready` before giving up.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    wait: u64,
}

#[derive(Debug, clap::Args)]
pub(crate) struct StopArgs {
    /// Seconds to wait after SIGTERM before sending SIGKILL.
    #[arg(long, default_value_t = 20, value_name = "SECS")]
    timeout: u64,
}

/// What `jamey start` did.
#[derive(Debug, Serialize)]
struct Started {
    pid: Option<u32>,
    url: String,
    log: PathBuf,
    /// True when a runtime from this home was already running.
    already_running: bool,
    /// Seconds from spawning to the first ready answer.
    ready_after_secs: f64,
    readiness: Readiness,
}

impl Report for Started {
    fn write_text(&self, out: &mut dyn Write, _notes: &mut dyn Write) -> io::Result<()> {
        let pid = self
            .pid
            .map(|pid| format!("pid {pid}"))
            .unwrap_or_else(|| "pid unknown".into());
        if self.already_running {
            writeln!(out, "Already running ({pid}) at {}", self.url)
        } else {
            writeln!(
                out,
                "Started jamey-runtime ({pid}) at {}, ready after {:.1} s; log: {}",
                self.url,
                self.ready_after_secs,
                self.log.display()
            )
        }
    }
}

/// What `jamey stop` did.
#[derive(Debug, Serialize)]
struct Stopped {
    /// False when no runtime from this home was running.
    was_running: bool,
    pid: Option<u32>,
    /// True when SIGTERM was not enough and SIGKILL was sent.
    forced: bool,
    seconds: f64,
}

impl Report for Stopped {
    fn write_text(&self, out: &mut dyn Write, _notes: &mut dyn Write) -> io::Result<()> {
        match (self.was_running, self.pid) {
            (false, _) => writeln!(out, "Not running"),
            (true, Some(pid)) if self.forced => writeln!(
                out,
                "Killed jamey-runtime (pid {pid}) after it ignored SIGTERM for {:.1} s",
                self.seconds
            ),
            (true, Some(pid)) => {
                writeln!(
                    out,
                    "Stopped jamey-runtime (pid {pid}) in {:.1} s",
                    self.seconds
                )
            }
            (true, None) => writeln!(out, "Stopped jamey-runtime in {:.1} s", self.seconds),
        }
    }
}

/// The pid file and whether a live runtime holds its lock.
#[derive(Debug)]
pub(crate) struct PidFile {
    file: File,
    path: PathBuf,
}

/// What the pid file says about the runtime of a home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuntimeProcess {
    /// No runtime started by `jamey start` holds the lock.
    NotRunning,
    /// A runtime holds the lock; the pid is unknown while it is being written.
    Running(Option<u32>),
}

impl PidFile {
    fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)?;
        Ok(Self {
            file,
            path: path.to_owned(),
        })
    }

    /// Takes the lock; false when another process holds it.
    fn try_lock(&self) -> io::Result<bool> {
        match flock(&self.file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(true),
            Err(Errno::WOULDBLOCK) => Ok(false),
            Err(errno) => Err(errno.into()),
        }
    }

    fn read_pid(&mut self) -> io::Result<Option<u32>> {
        let mut text = String::new();
        self.file.seek(SeekFrom::Start(0))?;
        self.file.read_to_string(&mut text)?;
        Ok(text.trim().parse().ok())
    }

    fn write_pid(&mut self, pid: u32) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        writeln!(self.file, "{pid}")?;
        self.file.sync_all()
    }

    /// Lets the next program this process starts inherit the file, and with it the lock.
    fn inherit_on_exec(&self) -> io::Result<()> {
        let flags = fcntl_getfd(&self.file)?;
        fcntl_setfd(&self.file, flags - FdFlags::CLOEXEC)?;
        Ok(())
    }
}

/// Whether a runtime started by `jamey start` from `home` is running, without disturbing it.
pub(crate) fn probe(pid_path: &Path) -> anyhow::Result<RuntimeProcess> {
    let mut pid_file = match OpenOptions::new().read(true).write(true).open(pid_path) {
        Ok(file) => PidFile {
            file,
            path: pid_path.to_owned(),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(RuntimeProcess::NotRunning),
        Err(e) => return Err(e).with_context(|| format!("cannot open {}", pid_path.display())),
    };
    if pid_file.try_lock()? {
        // Dropping the file releases the lock at once.
        return Ok(RuntimeProcess::NotRunning);
    }
    Ok(RuntimeProcess::Running(pid_file.read_pid()?))
}

pub(crate) fn start(target: &Target, args: &StartArgs, json: bool) -> anyhow::Result<()> {
    crate::require_initialised(&target.home)?;
    let remote = target.connect()?;
    let pid_path = target.home.pid_file();
    let mut pid_file =
        PidFile::open(&pid_path).with_context(|| format!("cannot open {}", pid_path.display()))?;
    let log_path = target.home.runtime_log();
    if !pid_file.try_lock()? {
        let pid = pid_file.read_pid()?;
        let started = Instant::now();
        let readiness = wait_until_ready(&remote, None, args.wait, &log_path, 0)?;
        return report::print(
            &Started {
                pid,
                url: remote.client.base_url().to_owned(),
                log: log_path,
                already_running: true,
                ready_after_secs: started.elapsed().as_secs_f64(),
                readiness,
            },
            json,
        );
    }
    let runtime = find_runtime()?;
    pid_file.inherit_on_exec()?;

    if args.foreground {
        pid_file.write_pid(std::process::id())?;
        let error = Command::new(&runtime)
            .env(HOME_VARIABLE, target.home.root())
            .exec();
        return Err(anyhow!(error).context(format!("cannot run {}", runtime.display())));
    }

    std::fs::create_dir_all(target.home.logs_dir())
        .with_context(|| format!("cannot create {}", target.home.logs_dir().display()))?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
    let me = std::env::current_exe().context("cannot find the jamey executable")?;
    let started = Instant::now();
    let mut child = Command::new(me)
        .arg("__detach")
        .arg(&runtime)
        .env(HOME_VARIABLE, target.home.root())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", runtime.display()))?;
    pid_file.write_pid(child.id())?;
    let readiness = wait_until_ready(&remote, Some(&mut child), args.wait, &log_path, log_start)
        .inspect_err(|_| {
            if !json {
                print_log_tail(&log_path, log_start);
            }
        })?;
    report::print(
        &Started {
            pid: Some(child.id()),
            url: remote.client.base_url().to_owned(),
            log: log_path,
            already_running: false,
            ready_after_secs: started.elapsed().as_secs_f64(),
            readiness,
        },
        json,
    )
}

/// `jamey __detach RUNTIME`: leaves the caller's session, then becomes the runtime.
pub(crate) fn detach(runtime: &Path) -> anyhow::Result<()> {
    rustix::process::setsid().context("cannot start a new session")?;
    let error = Command::new(runtime).exec();
    Err(anyhow!(error).context(format!("cannot run {}", runtime.display())))
}

/// `jamey-runtime` beside the `jamey` executable, else the first on PATH.
pub(crate) fn find_runtime() -> anyhow::Result<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|me| me.parent().map(|dir| dir.join(RUNTIME_BINARY)));
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(RUNTIME_BINARY))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    beside
        .into_iter()
        .chain(on_path)
        .find(|path| path.is_file())
        .ok_or_else(|| {
            anyhow!(
                "cannot find {RUNTIME_BINARY} beside jamey or on PATH: build it with `cargo build --release -p jamey-runtime`"
            )
        })
}

/// Polls `/ready` until it says ready; fails early when the runtime exits.
fn wait_until_ready(
    remote: &Remote,
    mut child: Option<&mut Child>,
    wait_secs: u64,
    log_path: &Path,
    log_start: u64,
) -> anyhow::Result<Readiness> {
    let deadline = Instant::now() + Duration::from_secs(wait_secs);
    let mut last: Option<String> = None;
    loop {
        if let Some(child) = child.as_deref_mut() {
            if let Some(status) = child.try_wait()? {
                let reason =
                    last_log_line(log_path, log_start).unwrap_or_else(|| "the log is empty".into());
                bail!(
                    "jamey-runtime exited ({status}) before it was ready: {reason} (log: {})",
                    log_path.display()
                );
            }
        }
        match remote.call(remote.client.ready()) {
            Ok(readiness) if readiness.is_ready() => return Ok(readiness),
            Ok(readiness) => last = Some(format!("not ready: {:?}", readiness.dependencies)),
            Err(ClientError::NotRunning { .. }) => {}
            Err(
                error @ (ClientError::CertificateRejected { .. }
                | ClientError::ServerNotTrusted { .. }
                | ClientError::NotInitialised { .. }
                | ClientError::Credentials { .. }),
            ) => return Err(error.into()),
            Err(error) => last = Some(error.to_string()),
        }
        if Instant::now() >= deadline {
            bail!(
                "jamey-runtime is not ready after {wait_secs} s ({}); see {} and `jamey status`",
                last.unwrap_or_else(|| "no answer".into()),
                log_path.display()
            );
        }
        std::thread::sleep(POLL);
    }
}

/// The runtime's log written since `from`, as lines.
fn log_lines_since(log_path: &Path, from: u64) -> Vec<String> {
    let Ok(mut file) = File::open(log_path) else {
        return Vec::new();
    };
    let mut text = String::new();
    if file.seek(SeekFrom::Start(from)).is_err() || file.read_to_string(&mut text).is_err() {
        return Vec::new();
    }
    text.lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

fn last_log_line(log_path: &Path, from: u64) -> Option<String> {
    log_lines_since(log_path, from).pop()
}

fn print_log_tail(log_path: &Path, from: u64) {
    let lines = log_lines_since(log_path, from);
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
    if tail.is_empty() {
        return;
    }
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "last lines of {}:", log_path.display());
    for line in tail {
        let _ = writeln!(err, "  {line}");
    }
}

pub(crate) fn stop(target: &Target, args: &StopArgs, json: bool) -> anyhow::Result<()> {
    let pid_path = target.home.pid_file();
    let started = Instant::now();
    let not_running = Stopped {
        was_running: false,
        pid: None,
        forced: false,
        seconds: 0.0,
    };
    let mut pid_file = match OpenOptions::new().read(true).write(true).open(&pid_path) {
        Ok(file) => PidFile {
            file,
            path: pid_path.clone(),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => return report::print(&not_running, json),
        Err(e) => return Err(e).with_context(|| format!("cannot open {}", pid_path.display())),
    };
    if pid_file.try_lock()? {
        remove_pid_file(&pid_file);
        return report::print(&not_running, json);
    }
    let pid = pid_file
        .read_pid()?
        .context("the runtime is starting: wait for `jamey start` to finish, then stop it")?;
    let raw = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .with_context(|| format!("{} holds an invalid pid {pid}", pid_path.display()))?;
    signal(raw, Signal::TERM)?;
    let term_deadline = Instant::now() + Duration::from_secs(args.timeout);
    let forced = if wait_for_exit(&pid_file, raw, term_deadline)? {
        false
    } else {
        signal(raw, Signal::KILL)?;
        if !wait_for_exit(&pid_file, raw, Instant::now() + Duration::from_secs(5))? {
            bail!("jamey-runtime (pid {pid}) is still running after SIGKILL");
        }
        true
    };
    remove_pid_file(&pid_file);
    report::print(
        &Stopped {
            was_running: true,
            pid: Some(pid),
            forced,
            seconds: started.elapsed().as_secs_f64(),
        },
        json,
    )
}

fn signal(pid: Pid, signal: Signal) -> anyhow::Result<()> {
    match kill_process(pid, signal) {
        Ok(()) | Err(Errno::SRCH) => Ok(()),
        Err(errno) => Err(io::Error::from(errno))
            .with_context(|| format!("cannot signal jamey-runtime (pid {})", pid.as_raw_nonzero())),
    }
}

/// Waits until the runtime has let go of the pid file's lock or is gone; false at the deadline.
fn wait_for_exit(pid_file: &PidFile, pid: Pid, deadline: Instant) -> anyhow::Result<bool> {
    loop {
        if pid_file.try_lock()? || test_kill_process(pid) == Err(Errno::SRCH) {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(POLL / 2);
    }
}

/// Removes the pid file of a stopped runtime; we hold its lock, so no `start` is writing it.
fn remove_pid_file(pid_file: &PidFile) {
    let _ = std::fs::remove_file(&pid_file.path);
}
