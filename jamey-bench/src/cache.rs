//! `jamey-bench cache`: the hybrid cache's hit paths and coherence. L1 hits (ns per get, one and
//! two threads), L2 hits (an instance whose L1 is cold reads what another wrote), and how long an
//! update on one instance takes to show on another (pub/sub invalidation, end to end). Also the
//! size and decode time of the Redis encoding next to plain JSON. The invalidation watcher polls
//! instance B every ~20 µs (plus the OS's sleep granularity, typically ~60 µs), which bounds the
//! resolution of that figure.

use crate::stats::{round, Latencies};
use anyhow::{bail, Context};
use chrono::Utc;
use jamey_core::cache::{
    decode_memory, encode_memory, CacheConfig, CacheTimes, HybridCache, MemoryLookup,
    RedisCacheConfig, RedisState,
};
use jamey_protocol::Memory;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Memories in the small working set of the second L1 figure.
const HOT_SET: usize = 100;

#[derive(clap::Args)]
pub(crate) struct CacheArgs {
    /// Redis shared by the two cache instances.
    #[arg(
        long,
        env = "JAMEY_BENCH_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    redis_url: String,
    /// Memories cached.
    #[arg(long, default_value_t = 10_000)]
    memories: usize,
    /// L1 gets per thread.
    #[arg(long, default_value_t = 2_000_000)]
    l1_gets: usize,
    /// Cross-instance invalidations measured.
    #[arg(long, default_value_t = 1_000)]
    invalidations: usize,
    /// Bytes of content per memory.
    #[arg(long, default_value_t = 300)]
    content_bytes: usize,
}

pub(crate) fn run(args: CacheArgs) -> anyhow::Result<()> {
    if args.memories == 0 || args.l1_gets == 0 || args.invalidations == 0 {
        bail!("--memories, --l1-gets and --invalidations must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let prefix = format!("jamey-bench-{}", uuid::Uuid::new_v4().simple());
    let config = |prefix: &str| {
        let mut redis = RedisCacheConfig::new(args.redis_url.clone());
        redis.key_prefix = prefix.into();
        CacheConfig {
            max_entries: (args.memories as u64) * 2,
            // The bench's keys age out of Redis by themselves.
            times: CacheTimes::new(
                Duration::from_secs(3600),
                Duration::from_secs(600),
                Duration::from_secs(300),
            ),
            redis: Some(redis),
            ..CacheConfig::default()
        }
    };
    let (a, b) = runtime.block_on(async {
        let a = HybridCache::open(config(&prefix)).await?;
        let b = HybridCache::open(config(&prefix)).await?;
        anyhow::Ok((Arc::new(a), Arc::new(b)))
    })?;
    for cache in [&a, &b] {
        if runtime.block_on(cache.check_redis()) != RedisState::Ok {
            bail!(
                "Redis at {} does not answer: start it or pass --redis-url",
                jamey_core::memory::redact_url(&args.redis_url)
            );
        }
    }
    let memories: Vec<Memory> = (0..args.memories)
        .map(|i| synthetic_memory(i, args.content_bytes))
        .collect();
    eprintln!("writing {} memories through instance A…", memories.len());
    runtime.block_on(async {
        for memory in &memories {
            a.stored(memory).await;
        }
    });
    let ids: Arc<Vec<uuid::Uuid>> = Arc::new(memories.iter().map(|m| m.id).collect());

    // 1. L1 hits on A, one thread then two.
    let l1_one = l1_ns_per_get(&a, &ids, args.l1_gets, 1)?;
    let l1_two = l1_ns_per_get(&a, &ids, args.l1_gets, 2)?;
    eprintln!(
        "L1 hit over {} memories: {l1_one:.0} ns/get on one thread, {l1_two:.0} ns/get on each of two",
        ids.len()
    );
    // The same path over a working set that stays in the CPU's caches: the code's own cost,
    // without the memory latency of a large, cold working set.
    let hot_ids = Arc::new(ids[..ids.len().min(HOT_SET)].to_vec());
    let l1_hot = l1_ns_per_get(&a, &hot_ids, args.l1_gets, 1)?;
    eprintln!(
        "L1 hit over {} memories: {l1_hot:.0} ns/get on one thread",
        hot_ids.len()
    );

    // 2. L2 hits: B has never read these, so each get misses L1 and is answered by Redis.
    let mut l2 = Latencies::new()?;
    let l2_misses_before = b.stats().l2_misses;
    runtime.block_on(async {
        for id in ids.iter() {
            let started = Instant::now();
            let found = b.memory(*id).await;
            l2.record(started.elapsed());
            if !matches!(found, MemoryLookup::Hit(_)) {
                bail!("memory {id} was not in Redis");
            }
        }
        anyhow::Ok(())
    })?;
    if b.stats().l2_misses != l2_misses_before {
        bail!("some L2 reads missed");
    }
    eprintln!(
        "L2 hit: p50 {:.3} ms, p99 {:.3} ms over {} gets",
        l2.percentile_ms(50.0),
        l2.percentile_ms(99.0),
        l2.count()
    );

    // 3. Invalidation: A updates a memory B holds in L1; a thread spins on B until it shows.
    let mut propagation = Latencies::new()?;
    for round_no in 0..args.invalidations {
        let mut memory = memories[round_no % memories.len()].clone();
        let id = memory.id;
        // B holds the current value in L1.
        runtime.block_on(b.memory(id));
        memory.importance = (round_no % 997) as f32 / 1000.0 + 0.001;
        memory.updated_at = Utc::now();
        let wanted = memory.importance;
        let watcher = {
            let b = b.clone();
            let handle = runtime.handle().clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                loop {
                    if let MemoryLookup::Hit(seen) = handle.block_on(b.memory(id)) {
                        if seen.importance == wanted {
                            return Some(Instant::now());
                        }
                    }
                    if started.elapsed() > Duration::from_secs(5) {
                        return None;
                    }
                    // Poll, don't spin: on two cores a busy watcher would starve the very
                    // subscriber task whose latency is being measured.
                    std::thread::sleep(Duration::from_micros(20));
                }
            })
        };
        let started = Instant::now();
        runtime.block_on(a.updated(&memory));
        let seen_at = watcher
            .join()
            .map_err(|_| anyhow::anyhow!("watcher thread panicked"))?
            .context("an update did not reach instance B within 5 s")?;
        propagation.record(seen_at.saturating_duration_since(started));
    }
    eprintln!(
        "invalidation A -> B: p50 {:.3} ms, p99 {:.3} ms over {} updates",
        propagation.percentile_ms(50.0),
        propagation.percentile_ms(99.0),
        propagation.count()
    );

    // 4. The Redis encoding against plain JSON.
    let (postcard_bytes, json_bytes, postcard_ns, json_ns) = encoding_figures(&memories)?;
    eprintln!(
        "encoding: {postcard_bytes:.0} B postcard vs {json_bytes:.0} B JSON per memory; decode {postcard_ns:.0} ns vs {json_ns:.0} ns"
    );

    let stats = a.stats();
    let summary = serde_json::json!({
        "memories": args.memories,
        "l1_get_ns": round(l1_one, 1),
        "l1_get_ns_two_threads": round(l1_two, 1),
        "l1_get_ns_hot_set": round(l1_hot, 1),
        "l1_hot_set": hot_ids.len(),
        "l2_get_p50_ms": round(l2.percentile_ms(50.0), 3),
        "l2_get_p99_ms": round(l2.percentile_ms(99.0), 3),
        "invalidation_p50_ms": round(propagation.percentile_ms(50.0), 3),
        "invalidation_p99_ms": round(propagation.percentile_ms(99.0), 3),
        "invalidations": propagation.count(),
        "encoded_bytes_postcard": round(postcard_bytes, 0),
        "encoded_bytes_json": round(json_bytes, 0),
        "decode_ns_postcard": round(postcard_ns, 0),
        "decode_ns_json": round(json_ns, 0),
        "redis_errors": stats.redis_errors + b.stats().redis_errors,
    });
    println!("{summary}");
    Ok(())
}

/// Mean nanoseconds per L1 hit, each of `threads` threads doing `gets` hits.
fn l1_ns_per_get(
    cache: &Arc<HybridCache>,
    ids: &Arc<Vec<uuid::Uuid>>,
    gets: usize,
    threads: usize,
) -> anyhow::Result<f64> {
    let hits_before = cache.stats().l1_hits;
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (cache, ids) = (cache.clone(), ids.clone());
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().build()?;
                let started = Instant::now();
                let mut found = 0usize;
                runtime.block_on(async {
                    for i in 0..gets {
                        let id = ids[(i * 7 + t * 13) % ids.len()];
                        if let MemoryLookup::Hit(memory) = cache.memory(id).await {
                            found += usize::from(memory.id == id);
                        }
                    }
                });
                anyhow::Ok((started.elapsed(), found))
            })
        })
        .collect();
    let mut total_ns = 0.0;
    for worker in workers {
        let (elapsed, found) = worker
            .join()
            .map_err(|_| anyhow::anyhow!("L1 thread panicked"))??;
        if found != gets {
            bail!("{} of {gets} L1 reads missed", gets - found);
        }
        total_ns += elapsed.as_nanos() as f64 / gets as f64;
    }
    if cache.stats().l1_hits - hits_before != (gets * threads) as u64 {
        bail!("not every read was an L1 hit");
    }
    Ok(total_ns / threads as f64)
}

/// (postcard bytes, JSON bytes, postcard decode ns, JSON decode ns), means per memory.
fn encoding_figures(memories: &[Memory]) -> anyhow::Result<(f64, f64, f64, f64)> {
    let sample = &memories[..memories.len().min(2_000)];
    let postcard: Vec<Vec<u8>> = sample.iter().map(encode_memory).collect();
    let json: Vec<Vec<u8>> = sample
        .iter()
        .map(serde_json::to_vec)
        .collect::<Result<_, _>>()?;
    let mean = |v: &[Vec<u8>]| v.iter().map(Vec::len).sum::<usize>() as f64 / v.len() as f64;
    let started = Instant::now();
    for bytes in &postcard {
        decode_memory(bytes)?.context("decoded a tombstone")?;
    }
    let postcard_ns = started.elapsed().as_nanos() as f64 / postcard.len() as f64;
    let started = Instant::now();
    for bytes in &json {
        serde_json::from_slice::<Memory>(bytes)?;
    }
    let json_ns = started.elapsed().as_nanos() as f64 / json.len() as f64;
    Ok((mean(&postcard), mean(&json), postcard_ns, json_ns))
}

fn synthetic_memory(i: usize, content_bytes: usize) -> Memory {
    let words = [
        "garden", "invoice", "sister", "boiler", "piano", "harbour", "ticket",
    ];
    let mut content = format!("Memory {i}:");
    while content.len() < content_bytes {
        content.push(' ');
        content.push_str(words[(content.len() + i) % words.len()]);
    }
    let now = Utc::now();
    Memory {
        id: uuid::Uuid::now_v7(),
        content,
        kind: "note".into(),
        tags: vec!["bench".into()],
        metadata: serde_json::json!({"source": "jamey-bench"}),
        session_id: None,
        importance: 0.5,
        created_at: now,
        updated_at: now,
    }
}
