//! Prometheus metrics served at `/metrics`, named after the seed's `SystemMetrics`.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

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
        Ok(Self {
            registry,
            requests_total,
            request_duration,
            errors_total,
            memory_operations_total,
            memory_operation_duration,
            active_connections,
        })
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
