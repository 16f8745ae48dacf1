//! Prometheus metrics served at `/metrics`, named after the seed's `SystemMetrics`, and the
//! cache's counters (hits and misses per tier, evictions, invalidations, `cache_hit_rate`).

use jamey_core::cache::CacheStatsSnapshot;
use parking_lot::Mutex;
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};
use std::sync::Arc;

/// Every metric the runtime exports.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    pub requests_total: IntCounterVec,
    pub request_duration: HistogramVec,
    pub errors_total: IntCounterVec,
    pub memory_operations_total: IntCounterVec,
    pub memory_operation_duration: HistogramVec,
    pub active_connections: IntGauge,
    cache: CacheMetrics,
}

/// The cache's counters as Prometheus metrics, advanced from its snapshots.
#[derive(Debug, Clone)]
struct CacheMetrics {
    hits: IntCounterVec,
    misses: IntCounterVec,
    evictions: IntCounter,
    invalidations_sent: IntCounter,
    invalidations_received: IntCounter,
    redis_errors: IntCounter,
    resets: IntCounter,
    hit_rate: Gauge,
    last: Arc<Mutex<CacheStatsSnapshot>>,
}

impl CacheMetrics {
    fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let hits = IntCounterVec::new(
            Opts::new("cache_hits_total", "Cache hits by tier (l1, l2, search)"),
            &["tier"],
        )?;
        let misses = IntCounterVec::new(
            Opts::new(
                "cache_misses_total",
                "Cache misses by tier (l1, l2, search)",
            ),
            &["tier"],
        )?;
        let evictions = IntCounter::new(
            "cache_evictions_total",
            "In-process entries dropped for size or age",
        )?;
        let invalidations_sent = IntCounter::new(
            "cache_invalidations_sent_total",
            "Invalidation messages published to other instances",
        )?;
        let invalidations_received = IntCounter::new(
            "cache_invalidations_received_total",
            "Invalidation messages received from other instances",
        )?;
        let redis_errors = IntCounter::new(
            "cache_redis_errors_total",
            "Redis commands that failed or timed out",
        )?;
        let resets = IntCounter::new(
            "cache_resets_total",
            "Times the in-process cache was dropped (Redis reconnects)",
        )?;
        let hit_rate = Gauge::new(
            "cache_hit_rate",
            "Share of memory reads answered by a cache tier since start",
        )?;
        registry.register(Box::new(hits.clone()))?;
        registry.register(Box::new(misses.clone()))?;
        registry.register(Box::new(evictions.clone()))?;
        registry.register(Box::new(invalidations_sent.clone()))?;
        registry.register(Box::new(invalidations_received.clone()))?;
        registry.register(Box::new(redis_errors.clone()))?;
        registry.register(Box::new(resets.clone()))?;
        registry.register(Box::new(hit_rate.clone()))?;
        for tier in ["l1", "l2", "search"] {
            hits.with_label_values(&[tier]);
            misses.with_label_values(&[tier]);
        }
        Ok(Self {
            hits,
            misses,
            evictions,
            invalidations_sent,
            invalidations_received,
            redis_errors,
            resets,
            hit_rate,
            last: Arc::new(Mutex::new(CacheStatsSnapshot::default())),
        })
    }

    fn observe(&self, now: CacheStatsSnapshot) {
        let mut last = self.last.lock();
        let delta = |new: u64, old: u64| new.saturating_sub(old);
        for (tier, hits, misses) in [
            (
                "l1",
                delta(now.l1_hits, last.l1_hits),
                delta(now.l1_misses, last.l1_misses),
            ),
            (
                "l2",
                delta(now.l2_hits, last.l2_hits),
                delta(now.l2_misses, last.l2_misses),
            ),
            (
                "search",
                delta(now.search_hits, last.search_hits),
                delta(now.search_misses, last.search_misses),
            ),
        ] {
            self.hits.with_label_values(&[tier]).inc_by(hits);
            self.misses.with_label_values(&[tier]).inc_by(misses);
        }
        self.evictions.inc_by(delta(now.evictions, last.evictions));
        self.invalidations_sent
            .inc_by(delta(now.invalidations_sent, last.invalidations_sent));
        self.invalidations_received.inc_by(delta(
            now.invalidations_received,
            last.invalidations_received,
        ));
        self.redis_errors
            .inc_by(delta(now.redis_errors, last.redis_errors));
        self.resets.inc_by(delta(now.resets, last.resets));
        self.hit_rate.set(now.hit_rate());
        *last = now;
    }
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("jamey".into()), None)?;
        let requests_total = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route and status",
            ),
            &["method", "route", "status"],
        )?;
        let request_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
                ],
            ),
            &["route"],
        )?;
        let errors_total = IntCounterVec::new(
            Opts::new("http_errors_total", "Error responses by status"),
            &["status"],
        )?;
        let memory_operations_total = IntCounterVec::new(
            Opts::new("memory_operations_total", "Memory store operations"),
            &["operation"],
        )?;
        let memory_operation_duration = HistogramVec::new(
            HistogramOpts::new(
                "memory_operation_duration_seconds",
                "Memory store operation latency",
            )
            .buckets(vec![
                0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5,
            ]),
            &["operation"],
        )?;
        let active_connections = IntGauge::new("active_connections", "Open client connections")?;
        registry.register(Box::new(requests_total.clone()))?;
        registry.register(Box::new(request_duration.clone()))?;
        registry.register(Box::new(errors_total.clone()))?;
        registry.register(Box::new(memory_operations_total.clone()))?;
        registry.register(Box::new(memory_operation_duration.clone()))?;
        registry.register(Box::new(active_connections.clone()))?;
        let cache = CacheMetrics::new(&registry)?;
        Ok(Self {
            registry,
            requests_total,
            request_duration,
            errors_total,
            memory_operations_total,
            memory_operation_duration,
            active_connections,
            cache,
        })
    }

    /// Brings the cache metrics up to `snapshot` (called before each scrape).
    pub fn observe_cache(&self, snapshot: CacheStatsSnapshot) {
        self.cache.observe(snapshot);
    }

    /// Counts one memory operation and its latency.
    pub fn memory_operation(&self, operation: &str, elapsed: std::time::Duration) {
        self.memory_operations_total
            .with_label_values(&[operation])
            .inc();
        self.memory_operation_duration
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
    }

    /// The registry, for metrics owned by other parts (the orchestrator's).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(%error, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}
