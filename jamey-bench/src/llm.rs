//! `jamey-bench llm`: the LLM client's own cost, against the scripted OpenRouter server on
//! 127.0.0.1: per-chunk relay latency (server write to `StreamEvent` in the caller's hands),
//! request overhead (call to request arrival at the server) and whether many concurrent streams
//! all complete.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::StreamExt;
use jamey_protocol::{ChatMessage, Role};
use jamey_providers::scripted::{ScriptedServer, ScriptedUsage, StreamScript};
use jamey_providers::{
    ApiKey, ChatRequest, LlmProvider, OpenAiCompatClient, OpenAiCompatConfig, StreamEvent,
};

use crate::stats::{round, Latencies};

const MODEL: &str = "bench/model";

#[derive(clap::Args)]
pub(crate) struct LlmArgs {
    /// Streams measured one after another for relay latency.
    #[arg(long, default_value_t = 200)]
    streams: usize,
    /// Text chunks per stream.
    #[arg(long, default_value_t = 50)]
    chunks: usize,
    /// Pause between two chunks, in microseconds (a model emitting ~200 tokens/s is 5000).
    #[arg(long, default_value_t = 1000)]
    chunk_interval_us: u64,
    /// Streams held open at the same time in the concurrency run.
    #[arg(long, default_value_t = 100)]
    concurrent: usize,
}

pub(crate) fn run(args: LlmArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(measure(args))
}

/// A streamed answer of `chunks` text chunks (`{word}0 `, `{word}1 `, …) `interval` apart, then
/// the finish, usage with a cost, and `[DONE]`: what a model sends, at a chosen pace.
pub(crate) fn paced_answer(
    model: &str,
    word: &str,
    chunks: usize,
    interval: Duration,
    prompt_tokens: u64,
) -> StreamScript {
    let mut script = StreamScript::new(model);
    for index in 0..chunks {
        if index > 0 {
            script = script.pause(interval);
        }
        script = script.text(&format!("{word}{index} "));
    }
    script
        .finish("stop")
        .usage(ScriptedUsage {
            prompt_tokens,
            completion_tokens: chunks as u64,
            cost: Some(0.0001),
        })
        .done()
}

fn script(chunks: usize, interval: Duration) -> StreamScript {
    paced_answer(MODEL, "token", chunks, interval, 100)
}

fn client(server: &ScriptedServer) -> anyhow::Result<OpenAiCompatClient> {
    let mut config = OpenAiCompatConfig::new(
        server.base_url(),
        Some(ApiKey::new("sk-bench")),
        vec![MODEL.to_owned()],
    );
    config.openrouter_extensions = true;
    Ok(OpenAiCompatClient::new(config)?)
}

fn request() -> ChatRequest {
    ChatRequest::new(vec![ChatMessage {
        role: Role::User,
        content: "Tell me a long story.".to_owned(),
        tool_calls: vec![],
        tool_result: None,
        created_at: None,
    }])
}

async fn measure(args: LlmArgs) -> anyhow::Result<()> {
    let server = ScriptedServer::start().await?;
    let client = client(&server)?;
    let interval = Duration::from_micros(args.chunk_interval_us);
    let mut relay = Latencies::new()?;
    let mut request_overhead = Latencies::new()?;

    for index in 0..args.streams {
        server.push(script(args.chunks, interval).into_reply());
        let called = Instant::now();
        let mut stream = client.stream(request()).await?;
        let mut received = Vec::with_capacity(args.chunks);
        while let Some(event) = stream.next().await {
            match event? {
                StreamEvent::TextDelta(_) => received.push(Instant::now()),
                StreamEvent::ToolCall(_) | StreamEvent::Finish(_) => {}
            }
        }
        if !server
            .wait_for_sent_streams(index + 1, Duration::from_secs(5))
            .await
        {
            bail!("the scripted server did not log stream {index}");
        }
        let sent = server
            .sent_streams()
            .into_iter()
            .find(|sent| sent.request_index == index)
            .context("no write log for the stream")?;
        if received.len() != args.chunks {
            bail!(
                "stream {index}: {} of {} chunks arrived",
                received.len(),
                args.chunks
            );
        }
        for (written, read) in sent.frame_times.iter().zip(&received) {
            relay.record(read.saturating_duration_since(*written));
        }
        let arrived = server.requests()[index].received_at;
        request_overhead.record(arrived.saturating_duration_since(called));
    }

    let (completed, errors, wall) = concurrent_streams(&server, &client, &args, interval).await?;

    println!(
        "relay per chunk over {} chunks: p50 {:.3} ms, p99 {:.3} ms",
        relay.count(),
        relay.percentile_ms(50.0),
        relay.percentile_ms(99.0)
    );
    println!(
        "request overhead (call to arrival at the server): p50 {:.3} ms, p99 {:.3} ms",
        request_overhead.percentile_ms(50.0),
        request_overhead.percentile_ms(99.0)
    );
    println!(
        "{} concurrent streams of {} chunks: {completed} completed, {errors} failed, {:.0} ms wall",
        args.concurrent,
        args.chunks,
        wall.as_secs_f64() * 1000.0
    );
    println!(
        "{}",
        serde_json::json!({
            "relay_chunk_p50_ms": round(relay.percentile_ms(50.0), 3),
            "relay_chunk_p99_ms": round(relay.percentile_ms(99.0), 3),
            "request_overhead_p50_ms": round(request_overhead.percentile_ms(50.0), 3),
            "request_overhead_p99_ms": round(request_overhead.percentile_ms(99.0), 3),
            "chunks_measured": relay.count(),
            "concurrent_streams": args.concurrent,
            "concurrent_completed": completed,
            "concurrent_errors": errors,
        })
    );
    Ok(())
}

/// Opens `args.concurrent` streams at once and reads them all to the end.
async fn concurrent_streams(
    server: &ScriptedServer,
    client: &OpenAiCompatClient,
    args: &LlmArgs,
    interval: Duration,
) -> anyhow::Result<(usize, usize, Duration)> {
    for _ in 0..args.concurrent {
        server.push(script(args.chunks, interval).into_reply());
    }
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrent)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut stream = client.stream(request()).await?;
                let mut finished = false;
                while let Some(event) = stream.next().await {
                    finished |= matches!(event?, StreamEvent::Finish(_));
                }
                anyhow::ensure!(finished, "the stream ended without a finish");
                anyhow::Ok(())
            })
        })
        .collect();
    let (mut completed, mut errors) = (0, 0);
    for task in tasks {
        match task.await {
            Ok(Ok(())) => completed += 1,
            Ok(Err(error)) => {
                errors += 1;
                eprintln!("concurrent stream failed: {error:#}");
            }
            Err(error) => {
                errors += 1;
                eprintln!("concurrent stream task failed: {error}");
            }
        }
    }
    Ok((completed, errors, started.elapsed()))
}
