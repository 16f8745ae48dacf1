//! L2: Redis, shared by every runtime instance. Each command is bounded by a timeout and passes a
//! circuit breaker; the connection is a `ConnectionManager`, which reconnects by itself, created
//! in the background so the runtime starts (degraded) while Redis is down.

use super::breaker::{CircuitBreaker, Recovery};
use super::config::RedisCacheConfig;
use super::stats::CacheStats;
use super::CacheError;
use parking_lot::RwLock;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Why an L2 operation did not happen; callers fall back, never fail a request for it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum L2Error {
    /// The breaker is open or no connection exists yet.
    #[error("redis unavailable")]
    Unavailable,
    /// No answer within the command timeout.
    #[error("redis command timed out")]
    Timeout,
    /// Redis answered with an error or the connection broke.
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
}

/// The shared tier.
pub(crate) struct RedisTier {
    client: redis::Client,
    connection: RwLock<Option<ConnectionManager>>,
    connecting: AtomicBool,
    breaker: CircuitBreaker,
    config: RedisCacheConfig,
    stats: Arc<CacheStats>,
    /// Signalled when Redis answers again after the breaker had opened.
    pub(crate) healed: Notify,
}

impl std::fmt::Debug for RedisTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTier")
            .field("config", &self.config)
            .field("connected", &self.connection.read().is_some())
            .field("circuit_closed", &self.breaker.is_closed())
            .finish()
    }
}

impl RedisTier {
    /// Checks the URL and starts connecting; returns without waiting for Redis.
    pub(crate) fn open(
        config: RedisCacheConfig,
        stats: Arc<CacheStats>,
    ) -> Result<Arc<Self>, CacheError> {
        let client = redis::Client::open(config.url.as_str()).map_err(|e| {
            CacheError::InvalidRedisUrl(format!("{}: {e}", crate::memory::redact_url(&config.url)))
        })?;
        let tier = Arc::new(Self {
            client,
            connection: RwLock::new(None),
            connecting: AtomicBool::new(false),
            breaker: CircuitBreaker::new(config.breaker_failures, config.breaker_cooldown),
            config,
            stats,
            healed: Notify::new(),
        });
        Ok(tier)
    }

    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    pub(crate) fn config(&self) -> &RedisCacheConfig {
        &self.config
    }

    /// Tries to connect now, waiting at most the connect timeout.
    pub(crate) async fn connect_now(self: &Arc<Self>) -> bool {
        if self.connection.read().is_some() {
            return true;
        }
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.config.connect_timeout)
            .set_response_timeout(self.config.command_timeout)
            .set_number_of_retries(1)
            .set_max_delay(500);
        let attempt = tokio::time::timeout(
            self.config.connect_timeout * 2,
            ConnectionManager::new_with_config(self.client.clone(), manager_config),
        )
        .await;
        match attempt {
            Ok(Ok(manager)) => {
                *self.connection.write() = Some(manager);
                tracing::info!(redis = %crate::memory::redact_url(&self.config.url), "redis connected");
                true
            }
            Ok(Err(error)) => {
                tracing::debug!(%error, "redis connection failed");
                false
            }
            Err(_) => {
                tracing::debug!("redis connection timed out");
                false
            }
        }
    }

    /// Starts one background connection loop unless one runs or a connection exists.
    fn connect_in_background(self: &Arc<Self>) {
        if self.connecting.swap(true, Ordering::AcqRel) {
            return;
        }
        let tier = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(tier) = tier.upgrade() else { return };
                if tier.connect_now().await {
                    tier.connecting.store(false, Ordering::Release);
                    return;
                }
                let pause = tier.config.connect_timeout;
                drop(tier);
                tokio::time::sleep(pause).await;
            }
        });
    }

    /// Runs one command through the breaker and the timeout.
    async fn run<T, F, Fut>(self: &Arc<Self>, command: F) -> Result<T, L2Error>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !self.breaker.allow() {
            return Err(L2Error::Unavailable);
        }
        let connection = self.connection.read().clone();
        let Some(connection) = connection else {
            self.breaker.record_failure();
            self.connect_in_background();
            return Err(L2Error::Unavailable);
        };
        let outcome = tokio::time::timeout(self.config.command_timeout, command(connection)).await;
        match outcome {
            Ok(Ok(value)) => {
                if self.breaker.record_success() == Recovery::Healed {
                    tracing::info!("redis answers again");
                    self.healed.notify_one();
                }
                Ok(value)
            }
            Ok(Err(error)) => {
                self.failed(&error.to_string());
                Err(L2Error::Redis(error))
            }
            Err(_) => {
                self.failed("timed out");
                Err(L2Error::Timeout)
            }
        }
    }

    fn failed(&self, error: &str) {
        CacheStats::bump(&self.stats.redis_errors);
        if self.breaker.record_failure() {
            tracing::warn!(
                error,
                "redis failing: circuit open, serving from memory and the store"
            );
        } else {
            tracing::debug!(error, "redis command failed");
        }
    }

    /// True when commands currently go to Redis.
    pub(crate) fn is_available(&self) -> bool {
        self.connection.read().is_some() && self.breaker.is_closed()
    }

    pub(crate) async fn get(self: &Arc<Self>, key: String) -> Result<Option<Vec<u8>>, L2Error> {
        self.run(|mut c| async move {
            redis::cmd("GET")
                .arg(key)
                .query_async::<Option<Vec<u8>>>(&mut c)
                .await
        })
        .await
    }

    /// SET with a lifetime; `only_if_absent` adds NX (a fill must not overwrite a newer write).
    pub(crate) async fn set(
        self: &Arc<Self>,
        key: String,
        value: Vec<u8>,
        ttl: Duration,
        only_if_absent: bool,
    ) -> Result<(), L2Error> {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.run(|mut c| async move {
            let mut cmd = redis::cmd("SET");
            cmd.arg(key).arg(value).arg("PX").arg(millis);
            if only_if_absent {
                cmd.arg("NX");
            }
            cmd.query_async::<redis::Value>(&mut c).await.map(|_| ())
        })
        .await
    }

    /// SETs every entry with a lifetime, then PUBLISHes `message` when given, as one pipeline:
    /// one round trip, and Redis runs the commands in order.
    pub(crate) async fn set_and_publish(
        self: &Arc<Self>,
        entries: Vec<(String, Vec<u8>)>,
        ttl: Duration,
        message: Option<(String, Vec<u8>)>,
    ) -> Result<(), L2Error> {
        if entries.is_empty() && message.is_none() {
            return Ok(());
        }
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.run(|mut c| async move {
            let mut pipe = redis::pipe();
            for (key, value) in entries {
                pipe.cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("PX")
                    .arg(millis)
                    .ignore();
            }
            if let Some((channel, payload)) = message {
                pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
            }
            pipe.query_async::<()>(&mut c).await
        })
        .await
    }

    pub(crate) async fn delete(self: &Arc<Self>, keys: Vec<String>) -> Result<(), L2Error> {
        if keys.is_empty() {
            return Ok(());
        }
        self.run(|mut c| async move {
            redis::cmd("DEL")
                .arg(keys)
                .query_async::<redis::Value>(&mut c)
                .await
                .map(|_| ())
        })
        .await
    }

    /// Deletes every key matching `pattern` (SCAN, never KEYS); only used to repair after
    /// more failed writes than could be remembered.
    pub(crate) async fn delete_matching(self: &Arc<Self>, pattern: String) -> Result<(), L2Error> {
        let mut cursor: u64 = 0;
        loop {
            let pattern = pattern.clone();
            let (next, keys): (u64, Vec<String>) = self
                .run(|mut c| async move {
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut c)
                        .await
                })
                .await?;
            self.delete(keys).await?;
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    pub(crate) async fn publish(
        self: &Arc<Self>,
        channel: String,
        payload: Vec<u8>,
    ) -> Result<(), L2Error> {
        self.run(|mut c| async move {
            redis::cmd("PUBLISH")
                .arg(channel)
                .arg(payload)
                .query_async::<redis::Value>(&mut c)
                .await
                .map(|_| ())
        })
        .await
    }

    pub(crate) async fn ping(self: &Arc<Self>) -> Result<(), L2Error> {
        self.run(|mut c| async move {
            redis::cmd("PING")
                .query_async::<redis::Value>(&mut c)
                .await
                .map(|_| ())
        })
        .await
    }

    /// Opens the breaker now: the subscription saw the connection drop.
    pub(crate) fn trip(&self) {
        self.breaker.trip();
    }
}
