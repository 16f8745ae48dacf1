//! `jamey-bench http`: drives a running runtime over keep-alive mTLS connections with the owner's
//! certificate from JAMEY_HOME, and reports requests/s and latency per kind of request.

use crate::stats::{round, Latencies};
use crate::synthetic::Corpus;
use anyhow::{bail, Context};
use jamey_core::home::JameyHome;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub(crate) struct HttpArgs {
    /// The runtime's base URL, e.g. https://localhost:3000
    #[arg(long)]
    url: String,
    /// The JAMEY_HOME whose tls/ holds the CA and the owner's client certificate.
    #[arg(long, env = "JAMEY_HOME")]
    home: PathBuf,
    /// Memories to create before measuring (through the batch route, embedded by the runtime).
    #[arg(long, default_value_t = 10_000)]
    memories: usize,
    /// Requests per measurement.
    #[arg(long, default_value_t = 5_000)]
    requests: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

pub(crate) fn run(args: HttpArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(measure(args))
}

fn client(home: &JameyHome) -> anyhow::Result<reqwest::Client> {
    let read = |path: PathBuf| {
        std::fs::read(&path)
            .with_context(|| format!("reading {} (run `jamey init`)", path.display()))
    };
    let ca = reqwest::Certificate::from_pem(&read(home.ca_cert())?)?;
    let mut identity = read(home.client_cert())?;
    identity.extend(read(home.client_key())?);
    Ok(reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .identity(reqwest::Identity::from_pem(&identity)?)
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// Runs `total` requests from `concurrency` tasks; `make(i)` sends request `i`.
async fn drive<F, Fut>(
    total: usize,
    concurrency: usize,
    make: F,
) -> anyhow::Result<(f64, Latencies)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let make = Arc::new(make);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (make, next) = (make.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::new()?;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = Instant::now();
                make(i).await?;
                latencies.record(t.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Latencies::new()?;
    for task in tasks {
        all.merge(&task.await??);
    }
    Ok((total as f64 / started.elapsed().as_secs_f64(), all))
}

async fn expect(response: reqwest::Response, status: u16) -> anyhow::Result<reqwest::Response> {
    if response.status().as_u16() != status {
        let got = response.status();
        let body = response.text().await.unwrap_or_default();
        bail!("expected {status}, got {got}: {body}");
    }
    Ok(response)
}

async fn measure(args: HttpArgs) -> anyhow::Result<()> {
    let home = JameyHome::new(&args.home);
    let http = client(&home)?;
    let base = args.url.trim_end_matches('/').to_string();
    expect(http.get(format!("{base}/ready")).send().await?, 200)
        .await
        .context("runtime not ready")?;

    eprintln!(
        "creating {} memories through {base}/v1/memories/batch…",
        args.memories
    );
    let mut corpus = Corpus::new(8, 8, 3);
    let mut ids: Vec<String> = Vec::with_capacity(args.memories);
    let texts: Vec<String> = (0..args.memories).map(|i| corpus.text(i)).collect();
    for chunk in texts.chunks(500) {
        let items: Vec<_> = chunk
            .iter()
            .map(|t| serde_json::json!({"content": t}))
            .collect();
        let response = expect(
            http.post(format!("{base}/v1/memories/batch"))
                .json(&serde_json::json!({"items": items}))
                .send()
                .await?,
            201,
        )
        .await?;
        let body: serde_json::Value = response.json().await?;
        for id in body["ids"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            ids.push(id.as_str().unwrap_or_default().to_string());
        }
    }
    if ids.is_empty() {
        bail!("no memories were created");
    }
    let ids = Arc::new(ids);

    let hot = ids[0].clone();
    let (client, b) = (http.clone(), base.clone());
    let (get_hot_rps, get_hot) = drive(args.requests, args.concurrency, move |_| {
        let (client, url) = (client.clone(), format!("{b}/v1/memories/{hot}"));
        async move {
            expect(client.get(url).send().await?, 200)
                .await?
                .bytes()
                .await
                .map(|_| ())
                .map_err(Into::into)
        }
    })
    .await?;

    let (client, b, all) = (http.clone(), base.clone(), ids.clone());
    let (_, get_cold) = drive(args.requests, args.concurrency, move |i| {
        let id = &all[StdRng::seed_from_u64(i as u64).random_range(0..all.len())];
        let (client, url) = (client.clone(), format!("{b}/v1/memories/{id}"));
        async move {
            expect(client.get(url).send().await?, 200)
                .await?
                .bytes()
                .await
                .map(|_| ())
                .map_err(Into::into)
        }
    })
    .await?;

    let writes = (args.requests / 5).max(1);
    let (client, b) = (http.clone(), base.clone());
    let (_, creates) = drive(writes, args.concurrency, move |i| {
        let (client, url) = (client.clone(), format!("{b}/v1/memories"));
        let body = serde_json::json!({"content": format!("benchmark note {i}: call the plumber about the kitchen tap")});
        async move { expect(client.post(url).json(&body).send().await?, 201).await.map(|_| ()) }
    })
    .await?;

    let (client, b) = (http.clone(), base.clone());
    let (search_rps, searches) = drive(writes, args.concurrency, move |i| {
        let (client, url) = (client.clone(), format!("{b}/v1/memories/search"));
        let body = serde_json::json!({"query": format!("what about the dentist and zq{:x}k", i * 7), "limit": 10});
        async move { expect(client.post(url).json(&body).send().await?, 200).await?.bytes().await.map(|_| ()).map_err(Into::into) }
    })
    .await?;

    eprintln!(
        "GET hot {:.0} req/s p99 {:.3} ms | GET cold p99 {:.3} ms | create p99 {:.3} ms | search {:.0} req/s p99 {:.3} ms ({} connections)",
        get_hot_rps, get_hot.percentile_ms(99.0), get_cold.percentile_ms(99.0), creates.percentile_ms(99.0),
        search_rps, searches.percentile_ms(99.0), args.concurrency
    );
    println!(
        "{}",
        serde_json::json!({
            "get_hot_rps": round(get_hot_rps, 1),
            "get_hot_p99_ms": round(get_hot.percentile_ms(99.0), 3),
            "get_cold_p99_ms": round(get_cold.percentile_ms(99.0), 3),
            "create_p99_ms": round(creates.percentile_ms(99.0), 3),
            "search_p99_ms": round(searches.percentile_ms(99.0), 3),
            "search_rps": round(search_rps, 1),
        })
    );
    Ok(())
}
