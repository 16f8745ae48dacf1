//! `jamey-bench store`: loads synthetic memories with precomputed vectors (the model is not what
//! is timed) and measures the store itself.

use crate::stats::{round, Latencies};
use crate::synthetic::{token, Corpus};
use anyhow::{bail, Context};
use jamey_core::embedding::EmbedderIdentity;
use jamey_core::memory::{
    EmbeddedMemoryStore, EmbeddedStoreConfig, HnswParams, MemoryRecord, PgMemoryStore,
    PgStoreConfig, StoreSearch,
};
use jamey_core::MemoryStore;
use jamey_protocol::{MemoryFilter, MemoryId, SearchMode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub(crate) struct StoreArgs {
    /// Which store to measure.
    #[arg(long, value_parser = ["postgres", "embedded"])]
    backend: String,
    /// Memories to load.
    #[arg(long, default_value_t = 100_000)]
    memories: usize,
    /// Vector dimension.
    #[arg(long, default_value_t = 384)]
    dim: usize,
    /// Queries per measurement.
    #[arg(long, default_value_t = 1_000)]
    queries: usize,
    /// PostgreSQL database to use as it is (migrations are applied; rows are added, not removed).
    #[arg(long, env = "JAMEY_BENCH_DATABASE_URL")]
    database_url: Option<String>,
    /// Directory of the embedded store (default: a temporary directory, removed afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Memories per batch insert.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Concurrent batch writers.
    #[arg(long, default_value_t = 2)]
    writers: usize,
    /// PostgreSQL HNSW `m` (used when the index is created, i.e. on an empty database).
    #[arg(long, default_value_t = HnswParams::default().m)]
    hnsw_m: u32,
    /// PostgreSQL HNSW `ef_construction` (used when the index is created).
    #[arg(long, default_value_t = HnswParams::default().ef_construction)]
    hnsw_ef_construction: u32,
    /// PostgreSQL `hnsw.ef_search`.
    #[arg(long, default_value_t = HnswParams::default().ef_search)]
    hnsw_ef_search: u32,
}

pub(crate) fn run(args: StoreArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(measure(args))
}

async fn measure(args: StoreArgs) -> anyhow::Result<()> {
    if args.memories == 0 || args.queries == 0 || args.dim == 0 {
        bail!("--memories, --queries and --dim must be at least 1");
    }
    let identity = EmbedderIdentity {
        model: "bench/synthetic".into(),
        dimensions: args.dim,
    };
    let temp = tempfile::tempdir()?;
    let store: Arc<dyn MemoryStore> = match args.backend.as_str() {
        "postgres" => {
            let url = args.database_url.clone().context(
                "--database-url (or JAMEY_BENCH_DATABASE_URL) is required for --backend postgres",
            )?;
            let mut config = PgStoreConfig::new(url);
            config.hnsw = HnswParams {
                m: args.hnsw_m,
                ef_construction: args.hnsw_ef_construction,
                ef_search: args.hnsw_ef_search,
            };
            Arc::new(PgMemoryStore::connect(&config, &identity).await?)
        }
        _ => {
            let dir = args
                .dir
                .clone()
                .unwrap_or_else(|| temp.path().to_path_buf());
            Arc::new(EmbeddedMemoryStore::open(
                &EmbeddedStoreConfig::new(dir),
                &identity,
            )?)
        }
    };
    let before = store.count().await?;

    // Data: clustered vectors, about one cluster per 100 memories.
    let mut corpus = Corpus::new(args.dim, (args.memories / 100).clamp(8, 1_000), 7);
    let vectors: Vec<Vec<f32>> = (0..args.memories).map(|_| corpus.vector()).collect();
    let texts: Vec<String> = (0..args.memories).map(|i| corpus.text(i)).collect();
    eprintln!(
        "loading {} memories ({} dims) into {} with {} writers…",
        args.memories,
        args.dim,
        store.backend(),
        args.writers
    );

    // 1. Batched inserts with every index in place, from concurrent writers.
    let started = Instant::now();
    let batches: Vec<Vec<usize>> = (0..args.memories)
        .collect::<Vec<_>>()
        .chunks(args.batch.max(1))
        .map(<[usize]>::to_vec)
        .collect();
    let queue = Arc::new(std::sync::Mutex::new(batches));
    let ids = Arc::new(std::sync::Mutex::new(vec![MemoryId::nil(); args.memories]));
    let vectors = Arc::new(vectors);
    let texts = Arc::new(texts);
    let mut writers = Vec::new();
    for _ in 0..args.writers.max(1) {
        let (queue, ids, vectors, texts, store) = (
            queue.clone(),
            ids.clone(),
            vectors.clone(),
            texts.clone(),
            store.clone(),
        );
        writers.push(tokio::spawn(async move {
            while let Some(batch) = queue.lock().ok().and_then(|mut q| q.pop()) {
                let records = batch
                    .iter()
                    .map(|&i| MemoryRecord {
                        content: texts[i].clone(),
                        kind: if i % 50 == 0 {
                            "fact".into()
                        } else {
                            "note".into()
                        },
                        tags: vec![format!("t{}", i % 20)],
                        metadata: serde_json::json!({"i": i}),
                        session_id: None,
                        importance: 0.5,
                        embedding: vectors[i].clone(),
                    })
                    .collect();
                let stored = store.insert_batch(records).await?;
                if let Ok(mut all) = ids.lock() {
                    for (slot, memory) in batch.iter().zip(stored) {
                        all[*slot] = memory.id;
                    }
                }
            }
            anyhow::Ok(())
        }));
    }
    for writer in writers {
        writer.await??;
    }
    let load = started.elapsed();
    let insert_per_s = args.memories as f64 / load.as_secs_f64();
    eprintln!(
        "inserted {} in {:.1} s: {:.0}/s",
        args.memories,
        load.as_secs_f64(),
        insert_per_s
    );
    let ids: Vec<MemoryId> = ids.lock().map(|ids| ids.clone()).unwrap_or_default();
    let total = store.count().await?;
    if total != before + args.memories as u64 {
        bail!(
            "store holds {total} memories after loading {} onto {before}",
            args.memories
        );
    }
    if before > 0 {
        eprintln!("note: the store already held {before} memories; recall is measured against this run's {} only", args.memories);
    }

    let mut rng = StdRng::seed_from_u64(11);
    // 2. Gets of random memories (uncached: the store itself).
    let mut gets = Latencies::new()?;
    for _ in 0..args.queries {
        let id = ids[rng.random_range(0..ids.len())];
        let t = Instant::now();
        let found = store.get(id).await?;
        gets.record(t.elapsed());
        if found.is_none() {
            bail!("memory {id} vanished");
        }
    }

    // 3. Vector search: one client, then two; recall@10 against an exact scan.
    let queries: Vec<Vec<f32>> = (0..args.queries).map(|_| corpus.vector()).collect();
    let search = |embedding: Vec<f32>| StoreSearch {
        text: String::new(),
        embedding,
        mode: SearchMode::Vector,
        filter: MemoryFilter::default(),
        limit: 10,
        keyword_weight: None,
    };
    let mut one_client = Latencies::new()?;
    let t = Instant::now();
    for q in &queries {
        let s = Instant::now();
        store.search(&search(q.clone())).await?;
        one_client.record(s.elapsed());
    }
    let qps_one = queries.len() as f64 / t.elapsed().as_secs_f64();
    let (qps_two, two_clients) = concurrent_searches(&store, &queries, 2).await?;

    let recall_queries = queries.len().min(200);
    let index_of: std::collections::HashMap<MemoryId, usize> =
        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut found = 0usize;
    for q in queries.iter().take(recall_queries) {
        let hits = store.search(&search(q.clone())).await?;
        let exact = exact_top(&vectors, q, 10);
        found += hits
            .iter()
            .filter(|h| {
                index_of
                    .get(&h.memory.id)
                    .is_some_and(|i| exact.contains(i))
            })
            .count();
    }
    let recall_at_10 = found as f64 / (recall_queries * 10) as f64;

    // 4. Hybrid search with a rare token and a topic word in every question.
    let mut hybrid = Latencies::new()?;
    // Questions whose memory (named by its rare token) hybrid search put in the top 10.
    let mut hybrid_hits = 0usize;
    for q in queries.iter().take(args.queries) {
        // A question about one memory: its vector blended with an unrelated one, plus its token.
        let target = rng.random_range(0..args.memories);
        let mut embedding: Vec<f32> = vectors[target].iter().zip(q).map(|(a, b)| a + b).collect();
        let norm = embedding
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            .sqrt()
            .max(1e-6);
        embedding.iter_mut().for_each(|x| *x /= norm);
        let request = StoreSearch {
            text: corpus.question(target),
            embedding,
            mode: SearchMode::Hybrid,
            filter: MemoryFilter::default(),
            limit: 10,
            keyword_weight: None,
        };
        let s = Instant::now();
        let hits = store.search(&request).await?;
        hybrid.record(s.elapsed());
        if hits
            .iter()
            .any(|h| h.memory.content.contains(&token(target)))
        {
            hybrid_hits += 1;
        }
    }

    eprintln!(
        "get p50 {:.3} ms p99 {:.3} ms | vector p50 {:.3} ms p99 {:.3} ms, {:.0} QPS (1 client), {:.0} QPS and p99 {:.3} ms (2 clients) | hybrid p50 {:.3} ms p99 {:.3} ms | recall@10 {:.3}",
        gets.percentile_ms(50.0), gets.percentile_ms(99.0),
        one_client.percentile_ms(50.0), one_client.percentile_ms(99.0), qps_one,
        qps_two, two_clients.percentile_ms(99.0),
        hybrid.percentile_ms(50.0), hybrid.percentile_ms(99.0), recall_at_10
    );
    println!(
        "{}",
        serde_json::json!({
            "backend": store.backend(),
            "memories": args.memories,
            "dim": args.dim,
            "insert_per_s": round(insert_per_s, 1),
            "get_p50_ms": round(gets.percentile_ms(50.0), 3),
            "get_p99_ms": round(gets.percentile_ms(99.0), 3),
            "search_p50_ms": round(one_client.percentile_ms(50.0), 3),
            "search_p99_ms": round(one_client.percentile_ms(99.0), 3),
            "search_qps": round(qps_two, 1),
            "search_qps_one_client": round(qps_one, 1),
            "search_p99_ms_two_clients": round(two_clients.percentile_ms(99.0), 3),
            "hybrid_p50_ms": round(hybrid.percentile_ms(50.0), 3),
            "hybrid_p99_ms": round(hybrid.percentile_ms(99.0), 3),
            "recall_at_10": round(recall_at_10, 4),
            "hybrid_token_hit_rate": round(hybrid_hits as f64 / args.queries as f64, 4),
        })
    );
    Ok(())
}

async fn concurrent_searches(
    store: &Arc<dyn MemoryStore>,
    queries: &[Vec<f32>],
    clients: usize,
) -> anyhow::Result<(f64, Latencies)> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let store = store.clone();
        let mine: Vec<Vec<f32>> = queries.iter().skip(c).step_by(clients).cloned().collect();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::new()?;
            for embedding in mine {
                let request = StoreSearch {
                    text: String::new(),
                    embedding,
                    mode: SearchMode::Vector,
                    filter: MemoryFilter::default(),
                    limit: 10,
                    keyword_weight: None,
                };
                let s = Instant::now();
                store.search(&request).await?;
                latencies.record(s.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Latencies::new()?;
    for task in tasks {
        all.merge(&task.await??);
    }
    let elapsed = started.elapsed().max(Duration::from_micros(1));
    Ok((all.count() as f64 / elapsed.as_secs_f64(), all))
}

/// Indices of the `k` vectors closest to `query` by exact cosine.
fn exact_top(vectors: &[Vec<f32>], query: &[f32], k: usize) -> HashSet<usize> {
    let mut scored: Vec<(usize, f32)> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| (i, v.iter().zip(query).map(|(a, b)| a * b).sum()))
        .collect();
    let nth = k.min(scored.len().saturating_sub(1));
    scored.select_nth_unstable_by(nth, |a, b| b.1.total_cmp(&a.1));
    scored.truncate(k);
    scored.into_iter().map(|(i, _)| i).collect()
}
