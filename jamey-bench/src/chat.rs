//! `jamey-bench chat`: what the runtime adds to a chat turn. A scripted OpenAI-compatible server
//! on 127.0.0.1 (real SSE framing, paced chunks) stands in for the model; a real
//! `jamey-runtime` process is started against it and driven over mTLS with streamed
//! `POST /v1/chat` turns, with N memories in its store.
//!
//! - turn overhead = (request sent -> the upstream request arrives at the model: session,
//!   the user's message stored, context retrieval by hybrid search, prompt) + (the model's last
//!   frame written -> the client has `done`: the reply and the ledger entry stored; the turn is
//!   remembered as a memory after `done`, in the background).
//! - relay per chunk = the model writes a chunk -> the client holds the matching `token` event.
//! - concurrency: many streamed turns at once; all must end with `done`.

use crate::stats::{round, Latencies};
use anyhow::{bail, Context};
use futures::StreamExt;
use jamey_core::home::JameyHome;
use jamey_protocol::SystemInfo;
use jamey_providers::scripted::{ScriptedServer, StreamScript};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MODEL: &str = "bench/model";

#[derive(clap::Args)]
pub(crate) struct ChatArgs {
    /// The runtime binary.
    #[arg(long, default_value = "target/release/jamey-runtime")]
    runtime: PathBuf,
    /// JAMEY_HOME of the runtime, prepared by `jamey init`.
    #[arg(long, env = "JAMEY_HOME")]
    home: PathBuf,
    /// Address the runtime listens on.
    #[arg(long, default_value = "127.0.0.1:3998")]
    listen: String,
    /// PostgreSQL for the runtime's store (else the embedded store); memories are preloaded
    /// straight into it.
    #[arg(long, env = "JAMEY_BENCH_DATABASE_URL")]
    database_url: Option<String>,
    /// Redis for the runtime's cache (else in-process only).
    #[arg(long, env = "JAMEY_BENCH_REDIS_URL")]
    redis_url: Option<String>,
    /// Memories in the store before measuring (PostgreSQL: inserted directly with synthetic
    /// vectors; embedded: through the batch route, embedded by the runtime).
    #[arg(long, default_value_t = 10_000)]
    memories: usize,
    /// Turns measured one after another.
    #[arg(long, default_value_t = 200)]
    turns: usize,
    /// Text chunks per answer.
    #[arg(long, default_value_t = 20)]
    chunks: usize,
    /// Pause between two chunks, in microseconds.
    #[arg(long, default_value_t = 1000)]
    chunk_interval_us: u64,
    /// Streamed turns held open at the same time in the concurrency run.
    #[arg(long, default_value_t = 100)]
    concurrent: usize,
}

pub(crate) fn run(args: ChatArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(measure(args))
}

fn script(chunks: usize, interval: Duration) -> StreamScript {
    crate::llm::paced_answer(MODEL, "word", chunks, interval, 200)
}

/// One streamed turn as the client saw it.
struct Turn {
    sent: Instant,
    /// When each `token` event arrived.
    tokens: Vec<Instant>,
    done: Option<Instant>,
    error: Option<String>,
}

async fn measure(args: ChatArgs) -> anyhow::Result<()> {
    if args.turns == 0 || args.chunks == 0 {
        bail!("--turns and --chunks must be at least 1");
    }
    let server = ScriptedServer::start().await?;
    let interval = Duration::from_micros(args.chunk_interval_us);
    let home = JameyHome::new(&args.home);
    let http = crate::http::client(&home)?;
    let base = format!("https://{}", args.listen);
    let mut child = spawn(&args, &server.base_url())?;
    let outcome = drive(&args, &server, &http, &base, &mut child, interval).await;
    crate::startup::stop(&mut child);
    outcome
}

async fn drive(
    args: &ChatArgs,
    server: &ScriptedServer,
    http: &reqwest::Client,
    base: &str,
    child: &mut Child,
    interval: Duration,
) -> anyhow::Result<()> {
    crate::startup::wait_ready(http, base, child).await?;
    let info: SystemInfo = http
        .get(format!("{base}/v1/system/info"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    eprintln!(
        "runtime on {} with {}; model server {}",
        info.runtime.store,
        info.runtime.embedder,
        server.base_url()
    );
    let in_store = fill_store(args, http, base, &info.runtime.embedder).await?;

    // Warm-up: connections, caches and the model's first runs are not measured.
    for i in 0..5 {
        server.push(script(args.chunks, interval).into_reply());
        let turn = chat_turn(http, base, &format!("warm-up {i}: what is on today?")).await?;
        if let Some(error) = turn.error {
            bail!("warm-up turn failed: {error}");
        }
    }
    let warm_requests = server.request_count();

    // Sequential turns: overhead before and after the model, and relay per chunk.
    let (mut before, mut after, mut overhead) =
        (Latencies::new()?, Latencies::new()?, Latencies::new()?);
    let mut relay = Latencies::new()?;
    eprintln!(
        "{} turns of {} chunks, {} µs apart…",
        args.turns, args.chunks, args.chunk_interval_us
    );
    for i in 0..args.turns {
        server.push(script(args.chunks, interval).into_reply());
        let turn = chat_turn(
            http,
            base,
            &format!("turn {i}: when is the dentist appointment and what did Anna say about the invoice?"),
        )
        .await?;
        if let Some(error) = turn.error {
            bail!("turn {i} failed: {error}");
        }
        let index = warm_requests + i;
        if !server
            .wait_for_sent_streams(index + 1, Duration::from_secs(5))
            .await
        {
            bail!("the model server did not log the stream of turn {i}");
        }
        let requests = server.requests();
        if requests.len() != index + 1 {
            bail!(
                "turn {i} made {} model requests, expected one (a retry or a compaction?)",
                requests.len() - index
            );
        }
        let sent = server
            .sent_streams()
            .into_iter()
            .find(|s| s.request_index == index)
            .context("no write log for the stream")?;
        // Frames: the text chunks, then finish, usage and [DONE].
        if turn.tokens.len() != args.chunks || sent.frame_times.len() != args.chunks + 3 {
            bail!(
                "turn {i}: {} tokens for {} chunks ({} frames written)",
                turn.tokens.len(),
                args.chunks,
                sent.frame_times.len()
            );
        }
        for (written, read) in sent.frame_times.iter().zip(&turn.tokens) {
            relay.record(read.saturating_duration_since(*written));
        }
        let pre = requests[index]
            .received_at
            .saturating_duration_since(turn.sent);
        let last_frame = *sent.frame_times.last().context("no frames")?;
        let done = turn.done.context("no done event")?;
        let post = done.saturating_duration_since(last_frame);
        before.record(pre);
        after.record(post);
        overhead.record(pre + post);
    }
    eprintln!(
        "turn overhead: p50 {:.3} ms, p99 {:.3} ms (before the model p50 {:.3} / p99 {:.3}; after it p50 {:.3} / p99 {:.3})",
        overhead.percentile_ms(50.0),
        overhead.percentile_ms(99.0),
        before.percentile_ms(50.0),
        before.percentile_ms(99.0),
        after.percentile_ms(50.0),
        after.percentile_ms(99.0)
    );
    eprintln!(
        "relay per chunk over {} chunks: p50 {:.3} ms, p99 {:.3} ms",
        relay.count(),
        relay.percentile_ms(50.0),
        relay.percentile_ms(99.0)
    );

    // Concurrency: every turn streams at once.
    server.set_default_reply(script(args.chunks, interval).into_reply());
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrent)
        .map(|i| {
            let (http, base) = (http.clone(), base.to_string());
            tokio::spawn(async move {
                chat_turn(
                    &http,
                    &base,
                    &format!("concurrent {i}: remind me about the plumber"),
                )
                .await
            })
        })
        .collect();
    let (mut completed, mut errors) = (0usize, 0usize);
    let (mut whole, mut first_token) = (Latencies::new()?, Latencies::new()?);
    for task in tasks {
        match task.await {
            Ok(Ok(turn)) if turn.error.is_none() && turn.done.is_some() => {
                completed += 1;
                if let Some(done) = turn.done {
                    whole.record(done.saturating_duration_since(turn.sent));
                }
                if let Some(first) = turn.tokens.first() {
                    first_token.record(first.saturating_duration_since(turn.sent));
                }
            }
            Ok(Ok(turn)) => {
                errors += 1;
                eprintln!(
                    "concurrent turn failed: {}",
                    turn.error.unwrap_or_else(|| "no done event".into())
                );
            }
            Ok(Err(error)) => {
                errors += 1;
                eprintln!("concurrent turn failed: {error:#}");
            }
            Err(error) => {
                errors += 1;
                eprintln!("concurrent turn task failed: {error}");
            }
        }
    }
    let wall = started.elapsed();
    eprintln!(
        "{} concurrent streamed turns: {completed} completed, {errors} failed in {:.0} ms; first token p99 {:.1} ms, whole turn p50 {:.1} / p99 {:.1} ms",
        args.concurrent,
        wall.as_secs_f64() * 1000.0,
        first_token.percentile_ms(99.0),
        whole.percentile_ms(50.0),
        whole.percentile_ms(99.0)
    );

    println!(
        "{}",
        serde_json::json!({
            "store": info.runtime.store,
            "memories_in_store": in_store,
            "turns": args.turns,
            "chunks_per_turn": args.chunks,
            "turn_overhead_p50_ms": round(overhead.percentile_ms(50.0), 3),
            "turn_overhead_p99_ms": round(overhead.percentile_ms(99.0), 3),
            "before_model_p99_ms": round(before.percentile_ms(99.0), 3),
            "after_model_p99_ms": round(after.percentile_ms(99.0), 3),
            "relay_chunk_p50_ms": round(relay.percentile_ms(50.0), 3),
            "relay_chunk_p99_ms": round(relay.percentile_ms(99.0), 3),
            "concurrent_chats": args.concurrent,
            "concurrent_completed": completed,
            "concurrent_errors": errors,
            "concurrent_first_token_p99_ms": round(first_token.percentile_ms(99.0), 3),
            "concurrent_turn_p99_ms": round(whole.percentile_ms(99.0), 3),
        })
    );
    if errors > 0 {
        bail!("{errors} of {} concurrent turns failed", args.concurrent);
    }
    Ok(())
}

/// Puts `args.memories` memories in the store; returns how many it holds (when known).
async fn fill_store(
    args: &ChatArgs,
    http: &reqwest::Client,
    base: &str,
    embedder: &str,
) -> anyhow::Result<Option<u64>> {
    if args.memories == 0 {
        return Ok(None);
    }
    if let Some(url) = &args.database_url {
        let (_, total) = crate::http::preload(url, embedder, args.memories).await?;
        return Ok(Some(total));
    }
    eprintln!(
        "storing {} memories through the batch route…",
        args.memories
    );
    let mut corpus = crate::synthetic::Corpus::new(8, 8, 9);
    for start in (0..args.memories).step_by(200) {
        let items: Vec<_> = (start..(start + 200).min(args.memories))
            .map(|i| serde_json::json!({"content": corpus.text(i)}))
            .collect();
        http.post(format!("{base}/v1/memories/batch"))
            .json(&serde_json::json!({"items": items}))
            .send()
            .await?
            .error_for_status()?;
    }
    Ok(None)
}

/// Sends one streamed turn (a new session) and reads its events to the end.
async fn chat_turn(http: &reqwest::Client, base: &str, message: &str) -> anyhow::Result<Turn> {
    let sent = Instant::now();
    let response = http
        .post(format!("{base}/v1/chat"))
        .json(&serde_json::json!({"message": message, "stream": true}))
        .send()
        .await?;
    let mut turn = Turn {
        sent,
        tokens: Vec::new(),
        done: None,
        error: None,
    };
    if !response.status().is_success() {
        let status = response.status();
        turn.error = Some(format!(
            "{status}: {}",
            response.text().await.unwrap_or_default()
        ));
        return Ok(turn);
    }
    let mut body = response.bytes_stream();
    let mut pending: Vec<u8> = Vec::new();
    while let Some(bytes) = body.next().await {
        let bytes = bytes?;
        let arrived = Instant::now();
        pending.extend_from_slice(&bytes);
        while let Some(end) = find_event_end(&pending) {
            let event: Vec<u8> = pending.drain(..end).collect();
            match event_name(&event) {
                Some("token") => turn.tokens.push(arrived),
                Some("done") => turn.done = Some(arrived),
                Some("error") => turn.error = Some(String::from_utf8_lossy(&event).into_owned()),
                _ => {}
            }
        }
    }
    Ok(turn)
}

/// The end (past the blank line) of the first complete SSE event in `buffer`.
fn find_event_end(buffer: &[u8]) -> Option<usize> {
    buffer
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|at| at + 2)
}

fn event_name(event: &[u8]) -> Option<&str> {
    std::str::from_utf8(event)
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("event:"))
        .map(str::trim)
}

fn spawn(args: &ChatArgs, model_url: &str) -> anyhow::Result<Child> {
    let mut command = Command::new(&args.runtime);
    command
        .env("JAMEY_HOME", &args.home)
        .env("JAMEY_LISTEN", &args.listen)
        .env("JAMEY_LOG", "warn")
        .env("JAMEY_LLM_BASE_URL", model_url)
        .env("JAMEY_LLM_MODEL", MODEL)
        .env("OPENROUTER_API_KEY", "sk-bench")
        .env_remove("JAMEY_DATABASE_URL")
        .env_remove("JAMEY_REDIS_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(url) = &args.database_url {
        command.env("JAMEY_DATABASE_URL", url);
    }
    if let Some(url) = &args.redis_url {
        command.env("JAMEY_REDIS_URL", url);
    }
    command
        .spawn()
        .with_context(|| format!("starting {}", args.runtime.display()))
}
