//! `jamey-bench startup`: how long the runtime takes from exec to answering `/ready` over mTLS,
//! and how much resident memory it holds once idle after a few requests (VmRSS from
//! `/proc/PID/status`, Linux only). By default the runtime starts on the embedded default: the
//! database, Redis and embedding-model settings are removed from its environment.

use crate::stats::round;
use anyhow::{bail, Context};
use jamey_core::home::JameyHome;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Settings that would take the runtime off its embedded default.
const BACKEND_VARIABLES: &[&str] = &[
    "JAMEY_DATABASE_URL",
    "JAMEY_REDIS_URL",
    "JAMEY_EMBEDDING_MODEL_DIR",
    "JAMEY_EMBEDDING_BASE_URL",
];

#[derive(clap::Args)]
pub(crate) struct StartupArgs {
    /// The runtime binary.
    #[arg(long, default_value = "target/release/jamey-runtime")]
    runtime: PathBuf,
    /// JAMEY_HOME of the runtime, prepared by `jamey init`.
    #[arg(long, env = "JAMEY_HOME")]
    home: PathBuf,
    /// Address the runtime listens on.
    #[arg(long, default_value = "127.0.0.1:3999")]
    listen: String,
    /// Starts measured (the first one on a fresh home also creates the store).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Keep JAMEY_DATABASE_URL, JAMEY_REDIS_URL and the embedder settings of this environment.
    #[arg(long)]
    inherit_backend: bool,
    /// Seconds the runtime idles after the requests before its memory is read.
    #[arg(long, default_value_t = 3)]
    idle_secs: u64,
}

pub(crate) fn run(args: StartupArgs) -> anyhow::Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let home = JameyHome::new(&args.home);
    let http = crate::http::client(&home)?;
    let base = format!("https://{}", args.listen);
    let mut starts = Vec::new();
    let mut rss = Vec::new();
    for run in 0..args.runs {
        let started = Instant::now();
        let mut child = spawn(&args)?;
        let outcome = runtime.block_on(async {
            wait_ready(&http, &base, &mut child).await?;
            let ready_ms = started.elapsed().as_secs_f64() * 1000.0;
            exercise(&http, &base, run).await?;
            tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
            anyhow::Ok((ready_ms, resident_kb(child.id())?))
        });
        stop(&mut child);
        let (ready_ms, (rss_kb, peak_kb)) = outcome?;
        eprintln!(
            "run {}: ready after {ready_ms:.0} ms; idle VmRSS {:.1} MB (peak {:.1} MB)",
            run + 1,
            rss_kb as f64 / 1024.0,
            peak_kb as f64 / 1024.0
        );
        starts.push(ready_ms);
        rss.push(rss_kb as f64 / 1024.0);
    }
    let median = |values: &[f64]| {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    };
    let backend = if args.inherit_backend {
        "inherited"
    } else {
        "embedded default"
    };
    eprintln!(
        "{backend}: start to /ready median {:.0} ms (max {:.0}); idle RSS median {:.1} MB over {} runs",
        median(&starts),
        starts.iter().copied().fold(0.0, f64::max),
        median(&rss),
        args.runs
    );
    println!(
        "{}",
        serde_json::json!({
            "backend": backend,
            "runs": args.runs,
            "start_to_ready_ms": round(median(&starts), 1),
            "start_to_ready_max_ms": round(starts.iter().copied().fold(0.0, f64::max), 1),
            "idle_rss_mb": round(median(&rss), 1),
        })
    );
    Ok(())
}

fn spawn(args: &StartupArgs) -> anyhow::Result<Child> {
    let mut command = Command::new(&args.runtime);
    command
        .env("JAMEY_HOME", &args.home)
        .env("JAMEY_LISTEN", &args.listen)
        .env("JAMEY_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if !args.inherit_backend {
        for variable in BACKEND_VARIABLES {
            command.env_remove(variable);
        }
    }
    command
        .spawn()
        .with_context(|| format!("starting {}", args.runtime.display()))
}

pub(crate) async fn wait_ready(
    http: &reqwest::Client,
    base: &str,
    child: &mut Child,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(response) = http.get(format!("{base}/ready")).send().await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        if let Some(status) = child.try_wait()? {
            bail!("the runtime exited before it was ready: {status}");
        }
        if Instant::now() > deadline {
            bail!("the runtime was not ready within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A few requests of each kind, so the idle figure includes what serving them allocates.
async fn exercise(http: &reqwest::Client, base: &str, run: usize) -> anyhow::Result<()> {
    for i in 0..10 {
        let body = serde_json::json!({"content": format!("startup bench {run}/{i}: the bins go out on Tuesday")});
        let response = http
            .post(format!("{base}/v1/memories"))
            .json(&body)
            .send()
            .await?;
        if response.status().as_u16() != 201 {
            bail!("create answered {}", response.status());
        }
        let memory: serde_json::Value = response.json().await?;
        let id = memory["id"].as_str().context("no id")?;
        http.get(format!("{base}/v1/memories/{id}"))
            .send()
            .await?
            .error_for_status()?;
        http.post(format!("{base}/v1/memories/search"))
            .json(&serde_json::json!({"query": format!("when do the bins go out {i}")}))
            .send()
            .await?
            .error_for_status()?;
    }
    Ok(())
}

/// (VmRSS, VmHWM) in kB.
fn resident_kb(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading /proc/PID/status (Linux only)")?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .with_context(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// SIGTERM (a graceful stop), then SIGKILL if it lingers.
pub(crate) fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
