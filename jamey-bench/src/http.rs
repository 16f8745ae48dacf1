//! `jamey-bench http`: drives a running runtime over keep-alive mTLS connections with the owner's
//! certificate from JAMEY_HOME, and reports requests/s and latency per kind of request: cached
//! and uncached GETs, single and batched writes, searches. `--preload` fills the runtime's
//! PostgreSQL directly first, so a 100k store is reached without embedding 100k texts.

use crate::stats::{round, Latencies};
use crate::synthetic::Corpus;
use anyhow::{bail, Context};
use jamey_core::embedding::EmbedderIdentity;
use jamey_core::home::JameyHome;
use jamey_core::memory::{MemoryRecord, PgMemoryStore, PgStoreConfig};
use jamey_core::MemoryStore;
use jamey_protocol::{MemoryId, SystemInfo};
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
    /// Memories to create through the batch route (embedded by the runtime); their rate is the
    /// batched-write figure.
    #[arg(long, default_value_t = 2_000)]
    memories: usize,
    /// Memories per batch request.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Memories inserted straight into the runtime's PostgreSQL (synthetic vectors, the model is
    /// not what is timed) before measuring, to reach a large store quickly. The runtime's cache
    /// has never seen them, so reading each once measures uncached GETs.
    #[arg(long, default_value_t = 0)]
    preload: usize,
    /// The runtime's database, needed for --preload.
    #[arg(long, env = "JAMEY_BENCH_DATABASE_URL")]
    database_url: Option<String>,
    /// Requests per measurement.
    #[arg(long, default_value_t = 5_000)]
    requests: usize,
    /// Concurrent requests in flight.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// The measurements to run, comma-separated (default: all). `get-cold` needs --preload.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Option<Vec<Measurement>>,
}

/// One kind of request the benchmark can measure.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Measurement {
    /// Batched writes through `/v1/memories/batch` (--memories of them).
    Batch,
    /// The same memory read over and over (answered by the cache).
    GetHot,
    /// Each preloaded memory read once (cache misses answered by the store).
    GetCold,
    /// Single writes.
    Create,
    /// Searches, a new query each time.
    Search,
}

pub(crate) fn run(args: HttpArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(measure(args))
}

pub(crate) fn client(home: &JameyHome) -> anyhow::Result<reqwest::Client> {
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
    if args.requests == 0 || args.batch == 0 {
        bail!("--requests and --batch must be at least 1");
    }
    let home = JameyHome::new(&args.home);
    let http = client(&home)?;
    let base = args.url.trim_end_matches('/').to_string();
    let ready = expect(http.get(format!("{base}/ready")).send().await?, 200)
        .await
        .context("runtime not ready")?;
    let version = ready.version();
    let info: SystemInfo = expect(
        http.get(format!("{base}/v1/system/info")).send().await?,
        200,
    )
    .await?
    .json()
    .await?;
    eprintln!(
        "runtime {} on {} ({}), embedder {}, {version:?}",
        info.runtime.version, info.runtime.store, base, info.runtime.embedder
    );

    let (preloaded, total) = match args.preload {
        0 => (Vec::new(), None),
        n => {
            let url = args
                .database_url
                .clone()
                .context("--preload needs --database-url (or JAMEY_BENCH_DATABASE_URL)")?;
            let (ids, total) = preload(&url, &info.runtime.embedder, n).await?;
            (ids, Some(total))
        }
    };

    let wants = |m: Measurement| args.only.as_ref().is_none_or(|only| only.contains(&m));
    // Batched writes through the runtime: validation, embedding, one transaction, write-through.
    let (batch_rate, ids) = if wants(Measurement::Batch) {
        eprintln!(
            "creating {} memories through {base}/v1/memories/batch ({} per request)…",
            args.memories, args.batch
        );
        let mut corpus = Corpus::new(8, 8, 3);
        let texts: Vec<String> = (0..args.memories.max(1))
            .map(|i| corpus.text(1_000_000 + i))
            .collect();
        let batches: Arc<Vec<Vec<String>>> =
            Arc::new(texts.chunks(args.batch).map(<[String]>::to_vec).collect());
        let created = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let started = Instant::now();
        let (client, b, all, sink) = (http.clone(), base.clone(), batches.clone(), created.clone());
        let (_, batch_latency) = drive(batches.len(), 2, move |i| {
            let items: Vec<_> = all[i]
                .iter()
                .map(|t| serde_json::json!({"content": t}))
                .collect();
            let (client, url, sink) = (
                client.clone(),
                format!("{b}/v1/memories/batch"),
                sink.clone(),
            );
            async move {
                let response = client
                    .post(url)
                    .json(&serde_json::json!({"items": items}))
                    .send()
                    .await?;
                let body: serde_json::Value = expect(response, 201).await?.json().await?;
                let ids = body["ids"]
                    .as_array()
                    .context("no ids in the batch reply")?;
                if let Ok(mut sink) = sink.lock() {
                    sink.extend(ids.iter().filter_map(|id| id.as_str().map(str::to_string)));
                }
                anyhow::Ok(())
            }
        })
        .await?;
        let batch_rate = texts.len() as f64 / started.elapsed().as_secs_f64();
        let ids = created.lock().map(|ids| ids.clone()).unwrap_or_default();
        if ids.len() != texts.len() {
            bail!("{} memories sent, {} ids returned", texts.len(), ids.len());
        }
        eprintln!(
            "batched writes: {batch_rate:.0} memories/s, p99 {:.1} ms per request of {}",
            batch_latency.percentile_ms(99.0),
            args.batch
        );
        (Some(batch_rate), ids)
    } else {
        (None, Vec::new())
    };

    let get = |client: reqwest::Client, url: String| async move {
        expect(client.get(url).send().await?, 200)
            .await?
            .bytes()
            .await
            .map(|_| ())
            .map_err(anyhow::Error::from)
    };
    // Cached GET: one memory, read over and over (after a warm-up).
    let get_hot = if wants(Measurement::GetHot) {
        let hot = match ids.first() {
            Some(id) => id.clone(),
            None => create_one(&http, &base).await?,
        };
        let (client, url) = (http.clone(), format!("{base}/v1/memories/{hot}"));
        drive(500, args.concurrency, move |_| {
            get(client.clone(), url.clone())
        })
        .await?;
        let (client, url) = (http.clone(), format!("{base}/v1/memories/{hot}"));
        let (get_hot_rps, get_hot) = drive(args.requests, args.concurrency, move |_| {
            get(client.clone(), url.clone())
        })
        .await?;
        eprintln!(
            "GET cached: {get_hot_rps:.0} req/s, p50 {:.3} ms, p99 {:.3} ms",
            get_hot.percentile_ms(50.0),
            get_hot.percentile_ms(99.0)
        );
        Some((get_hot_rps, get_hot))
    } else {
        None
    };

    // Uncached GET: each preloaded memory read once (L1 miss, L2 miss, the store, fill).
    let cold = if !wants(Measurement::GetCold) {
        None
    } else if preloaded.is_empty() {
        eprintln!("GET uncached: skipped (needs --preload; batch-created memories are cached)");
        None
    } else {
        let count = args.requests.min(preloaded.len());
        let mut order: Vec<usize> = (0..preloaded.len()).collect();
        let mut rng = StdRng::seed_from_u64(11);
        for i in (1..order.len()).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        let picks: Arc<Vec<MemoryId>> =
            Arc::new(order[..count].iter().map(|&i| preloaded[i]).collect());
        let (client, b) = (http.clone(), base.clone());
        let (rps, latencies) = drive(count, args.concurrency, move |i| {
            get(client.clone(), format!("{b}/v1/memories/{}", picks[i]))
        })
        .await?;
        eprintln!(
            "GET uncached: {rps:.0} req/s, p50 {:.3} ms, p99 {:.3} ms over {count} distinct memories",
            latencies.percentile_ms(50.0),
            latencies.percentile_ms(99.0)
        );
        Some(latencies)
    };

    // Single writes.
    let writes = (args.requests / 5).max(1);
    let creates = if wants(Measurement::Create) {
        let (client, b) = (http.clone(), base.clone());
        let (create_rps, creates) = drive(writes, args.concurrency, move |i| {
        let (client, url) = (client.clone(), format!("{b}/v1/memories"));
        let body = serde_json::json!({"content": format!("benchmark note {i}: call the plumber about the kitchen tap")});
        async move { expect(client.post(url).json(&body).send().await?, 201).await.map(|_| ()) }
    })
    .await?;
        eprintln!(
            "POST single: {create_rps:.0} req/s, p50 {:.3} ms, p99 {:.3} ms",
            creates.percentile_ms(50.0),
            creates.percentile_ms(99.0)
        );
        Some(creates)
    } else {
        None
    };

    let searches = if wants(Measurement::Search) {
        // Searches, every query new (no cached result): embed the query, hybrid search, rank.
        let (client, b) = (http.clone(), base.clone());
        // Tokens of stored memories (the keyword path runs), and a word of this run's own: a
        // query an earlier run sent may still be in the cache.
        let run = format!("r{:08x}", rand::random::<u32>());
        let (search_rps, searches) = drive(writes, args.concurrency, move |i| {
        let (client, url) = (client.clone(), format!("{b}/v1/memories/search"));
        let body = serde_json::json!({"query": format!("what about the dentist and zq{:x}k {run}", i * 7), "limit": 10});
        async move { expect(client.post(url).json(&body).send().await?, 200).await?.bytes().await.map(|_| ()).map_err(Into::into) }
    })
    .await?;
        eprintln!(
            "search (uncached): {search_rps:.0} req/s, p50 {:.3} ms, p99 {:.3} ms",
            searches.percentile_ms(50.0),
            searches.percentile_ms(99.0)
        );
        Some((search_rps, searches))
    } else {
        None
    };

    let opt = |l: &Option<Latencies>, p: f64| l.as_ref().map(|l| round(l.percentile_ms(p), 3));
    println!(
        "{}",
        serde_json::json!({
            "store": info.runtime.store,
            "memories_in_store": total,
            "http_version": format!("{version:?}"),
            "concurrency": args.concurrency,
            "get_hot_rps": get_hot.as_ref().map(|(rps, _)| round(*rps, 1)),
            "get_hot_p50_ms": get_hot.as_ref().map(|(_, l)| round(l.percentile_ms(50.0), 3)),
            "get_hot_p99_ms": get_hot.as_ref().map(|(_, l)| round(l.percentile_ms(99.0), 3)),
            "get_cold_p50_ms": opt(&cold, 50.0),
            "get_cold_p99_ms": opt(&cold, 99.0),
            "create_p50_ms": opt(&creates, 50.0),
            "create_p99_ms": opt(&creates, 99.0),
            "batch_memories_per_s": batch_rate.map(|rate| round(rate, 1)),
            "search_p50_ms": searches.as_ref().map(|(_, l)| round(l.percentile_ms(50.0), 3)),
            "search_p99_ms": searches.as_ref().map(|(_, l)| round(l.percentile_ms(99.0), 3)),
            "search_rps": searches.as_ref().map(|(rps, _)| round(*rps, 1)),
        })
    );
    Ok(())
}

/// Stores one memory through the API and returns its id (the cached-GET target when no batch
/// was written).
async fn create_one(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let response = http
        .post(format!("{base}/v1/memories"))
        .json(&serde_json::json!({"content": "benchmark: the memory read over and over"}))
        .send()
        .await?;
    let body: serde_json::Value = expect(response, 201).await?.json().await?;
    body["id"]
        .as_str()
        .map(str::to_string)
        .context("no id in the create reply")
}

/// Inserts `count` synthetic memories into the runtime's database under the runtime's embedder
/// identity (`embedder` as `/v1/system/info` shows it: "model (N dimensions)"); returns their
/// ids and how many memories the store then holds.
pub(crate) async fn preload(
    url: &str,
    embedder: &str,
    count: usize,
) -> anyhow::Result<(Vec<MemoryId>, u64)> {
    let identity = parse_identity(embedder)
        .with_context(|| format!("cannot read the embedder identity from {embedder:?}"))?;
    let store = PgMemoryStore::connect(&PgStoreConfig::new(url), &identity)
        .await
        .context("opening the runtime's database for --preload")?;
    eprintln!(
        "preloading {count} memories ({} dims) into PostgreSQL…",
        identity.dimensions
    );
    let started = Instant::now();
    let mut corpus = Corpus::new(identity.dimensions, (count / 100).clamp(8, 1_000), 5);
    let mut ids = Vec::with_capacity(count);
    for chunk_start in (0..count).step_by(1_000) {
        let records: Vec<MemoryRecord> = (chunk_start..(chunk_start + 1_000).min(count))
            .map(|i| MemoryRecord {
                content: corpus.text(i),
                kind: "note".into(),
                tags: vec![format!("t{}", i % 20)],
                metadata: serde_json::json!({"i": i}),
                session_id: None,
                importance: 0.5,
                embedding: corpus.vector(),
            })
            .collect();
        ids.extend(store.insert_batch(records).await?.into_iter().map(|m| m.id));
    }
    let total = store.count().await?;
    eprintln!(
        "preloaded {count} in {:.1} s; the store holds {total}",
        started.elapsed().as_secs_f64()
    );
    Ok((ids, total))
}

/// "model (384 dimensions)" -> the identity.
fn parse_identity(text: &str) -> Option<EmbedderIdentity> {
    let (model, rest) = text.rsplit_once(" (")?;
    let dimensions = rest.strip_suffix(" dimensions)")?.parse().ok()?;
    Some(EmbedderIdentity {
        model: model.to_string(),
        dimensions,
    })
}
