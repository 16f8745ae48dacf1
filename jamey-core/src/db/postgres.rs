//! The PostgreSQL database every store shares: one connection pool, and every migration in
//! `migrations/` applied at connect under an advisory lock, so instances may start together.
//! Stores that change the schema further (the memory store fixing its vector dimension) take
//! the same lock through [`PgDatabase::migration_lock`].

use super::DbError;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

mod embedded_migrations {
    refinery::embed_migrations!("../migrations");
}

/// Serializes schema changes between instances starting at the same time.
const MIGRATION_LOCK: i64 = 0x6a61_6d65_7901;

/// How to reach the database.
#[derive(Clone)]
pub struct PgDatabaseConfig {
    /// `postgres://user:password@host:port/database`.
    pub url: String,
    /// Most connections the pool opens.
    pub pool_size: usize,
    /// Server settings every connection starts with (`-c name=value ...`), if any.
    pub options: Option<String>,
}

impl std::fmt::Debug for PgDatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDatabaseConfig")
            .field("url", &redact_url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("options", &self.options)
            .finish()
    }
}

impl PgDatabaseConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: 16,
            options: None,
        }
    }
}

/// `postgres://user:secret@host/db` with the password replaced, for logs and errors.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:[redacted]{}",
                    &url[..scheme + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The shared database: a connection pool over a schema that is up to date. Clones share the
/// pool.
#[derive(Clone)]
pub struct PgDatabase {
    pool: Pool,
    config: tokio_postgres::Config,
}

impl std::fmt::Debug for PgDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDatabase")
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

impl PgDatabase {
    /// Connects, applies the migrations the database has not seen yet, and checks that the
    /// pool hands out working connections.
    pub async fn connect(config: &PgDatabaseConfig) -> Result<Self, DbError> {
        let pg = connection_config(config)?;
        let mut lock = MigrationLock::acquire(&pg).await?;
        let applied = apply_migrations(lock.client()).await;
        let released = lock.release().await;
        applied?;
        released?;
        let manager = Manager::from_config(
            pg.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .build()
            .map_err(|e| DbError::internal(format!("connection pool: {e}")))?;
        let database = Self { pool, config: pg };
        database.ping().await?;
        Ok(database)
    }

    /// A pooled connection.
    pub async fn client(&self) -> Result<Object, DbError> {
        Ok(self.pool.get().await?)
    }

    /// A further pooled connection for a caller that already holds one, only if it can be had
    /// without waiting. Waiting would be hold-and-wait: with as many such callers as the pool
    /// has connections, each would hold one and wait for another forever.
    pub async fn extra_client(&self) -> Option<Object> {
        let mut timeouts = self.pool.timeouts();
        timeouts.wait = Some(std::time::Duration::ZERO);
        self.pool.timeout_get(&timeouts).await.ok()
    }

    /// The schema lock on a connection of its own, for a store's schema work after connect.
    /// Closing that connection releases the lock, so a dropped guard never leaves it held.
    pub async fn migration_lock(&self) -> Result<MigrationLock, DbError> {
        MigrationLock::acquire(&self.config).await
    }

    /// One round trip to the server.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.client().await?.execute("SELECT 1", &[]).await?;
        Ok(())
    }
}

/// The schema lock, held on a dedicated connection until [`MigrationLock::release`] or drop.
pub struct MigrationLock {
    client: tokio_postgres::Client,
    driver: JoinHandle<Result<(), tokio_postgres::Error>>,
}

impl MigrationLock {
    async fn acquire(pg: &tokio_postgres::Config) -> Result<Self, DbError> {
        let (client, connection) = pg.connect(NoTls).await?;
        let lock = Self {
            client,
            driver: tokio::spawn(connection),
        };
        lock.client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        Ok(lock)
    }

    /// The connection holding the lock.
    pub fn client(&mut self) -> &mut tokio_postgres::Client {
        &mut self.client
    }

    /// Releases the lock and closes the connection.
    pub async fn release(self) -> Result<(), DbError> {
        self.client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await?;
        Ok(())
    }
}

impl std::fmt::Debug for MigrationLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationLock").finish_non_exhaustive()
    }
}

impl Drop for MigrationLock {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// The connection settings for `config`, with a connect timeout unless the URL sets one.
fn connection_config(config: &PgDatabaseConfig) -> Result<tokio_postgres::Config, DbError> {
    let mut pg: tokio_postgres::Config = config.url.parse().map_err(|e| {
        DbError::internal(format!(
            "invalid database URL {}: {e}",
            redact_url(&config.url)
        ))
    })?;
    if let Some(options) = &config.options {
        pg.options(options);
    }
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(std::time::Duration::from_secs(5));
    }
    Ok(pg)
}

/// Applies the SQL migrations in `migrations/` that the database has not seen yet.
async fn apply_migrations(client: &mut tokio_postgres::Client) -> Result<(), DbError> {
    let report = embedded_migrations::migrations::runner()
        .run_async(client)
        .await
        .map_err(|e| DbError::internal(format!("migration failed: {e}")))?;
    for applied in report.applied_migrations() {
        tracing::info!(migration = %applied, "applied migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://jamey:hunter2@db:5432/jamey"),
            "postgres://jamey:[redacted]@db:5432/jamey"
        );
        assert_eq!(
            redact_url("postgres://jamey@db/jamey"),
            "postgres://jamey@db/jamey"
        );
    }
}
