//! Name resolution for the network guard: the `Resolver` trait, the system's resolver, and a
//! `MapResolver` that answers from a table (tests and the benchmark control what a name
//! resolves to). The guard resolves once and connects to exactly the addresses it checked.

use async_trait::async_trait;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

/// Why a name did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot resolve {host}: {reason}")]
pub struct ResolveError {
    pub host: String,
    pub reason: String,
}

/// Turns a host name into the addresses to connect to.
#[async_trait]
pub trait Resolver: Send + Sync + std::fmt::Debug + 'static {
    /// Every address of `host` (an ASCII name, no trailing dot). `port` is passed through for
    /// resolvers that need one.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, ResolveError>;
}

/// The operating system's resolver (`getaddrinfo` on a blocking thread, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl Resolver for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, ResolveError> {
        let addrs = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| ResolveError {
                host: host.into(),
                reason: e.to_string(),
            })?;
        let mut ips: Vec<IpAddr> = Vec::new();
        for addr in addrs {
            if !ips.contains(&addr.ip()) {
                ips.push(addr.ip());
            }
        }
        Ok(ips)
    }
}

/// Answers from a table; a name not in it does not resolve. Counts the lookups it answered,
/// so a test can show that a request resolved its host exactly once.
#[derive(Debug, Default)]
pub struct MapResolver {
    names: RwLock<HashMap<String, Vec<IpAddr>>>,
    lookups: AtomicU64,
}

impl MapResolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `host` resolve to `addrs` (replacing what it resolved to before).
    pub fn set(&self, host: &str, addrs: Vec<IpAddr>) {
        if let Ok(mut names) = self.names.write() {
            names.insert(host.to_ascii_lowercase(), addrs);
        }
    }

    /// `set`, for building one in an expression.
    pub fn with(self, host: &str, addrs: Vec<IpAddr>) -> Self {
        self.set(host, addrs);
        self
    }

    /// How many lookups it answered (found or not).
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl Resolver for MapResolver {
    async fn resolve(&self, host: &str, _port: u16) -> Result<Vec<IpAddr>, ResolveError> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let found = self
            .names
            .read()
            .ok()
            .and_then(|names| names.get(&host.to_ascii_lowercase()).cloned());
        match found {
            Some(addrs) if !addrs.is_empty() => Ok(addrs),
            _ => Err(ResolveError {
                host: host.into(),
                reason: "no such host".into(),
            }),
        }
    }
}
