//! Latency summaries.

use hdrhistogram::Histogram;
use std::time::Duration;

/// Recorded latencies, in microseconds.
pub(crate) struct Latencies(Histogram<u64>);

impl Latencies {
    pub(crate) fn new() -> anyhow::Result<Self> {
        // Three significant digits from 1 µs to 60 s.
        Ok(Self(Histogram::new_with_bounds(1, 60_000_000, 3)?))
    }

    pub(crate) fn record(&mut self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, 60_000_000);
        self.0.saturating_record(micros);
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        let _ = self.0.add(&other.0);
    }

    pub(crate) fn percentile_ms(&self, p: f64) -> f64 {
        self.0.value_at_quantile(p / 100.0) as f64 / 1000.0
    }

    pub(crate) fn count(&self) -> u64 {
        self.0.len()
    }
}

/// Rounds for printing.
pub(crate) fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}
