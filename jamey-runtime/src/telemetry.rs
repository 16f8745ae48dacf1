//! Logging: `tracing` to stderr, JSON in production and pretty in a terminal, with a filter that
//! can be changed while running. Secrets never reach the log: handlers log ids and sizes, the
//! `Authorization` header is never recorded, and database URLs are redacted before they are.

use crate::config::{LogConfig, LogFormat};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Changes the log filter of the installed subscriber.
#[derive(Debug, Clone)]
pub struct LogReload(reload::Handle<EnvFilter, Registry>);

impl LogReload {
    /// Installs `level` (EnvFilter syntax) as the new filter.
    pub fn apply(&self, level: &str) -> Result<(), String> {
        let filter = EnvFilter::try_new(level).map_err(|e| e.to_string())?;
        self.0.reload(filter).map_err(|e| e.to_string())
    }
}

/// Installs the global subscriber; returns the handle that changes its filter.
pub fn install(config: &LogConfig) -> anyhow::Result<LogReload> {
    let filter = EnvFilter::try_new(&config.level)?;
    let (filter, handle) = reload::Layer::<EnvFilter, Registry>::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    match config.format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init()?,
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init()?,
    }
    Ok(LogReload(handle))
}
