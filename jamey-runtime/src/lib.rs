//! Jamey's runtime: the composition root. It reads the configuration, chooses the memory store,
//! embedder and cache tiers, and serves the HTTP API over mTLS until told to stop.

pub mod api;
pub mod auth;
pub mod caller;
pub mod config;
pub mod credentials;
pub mod environment;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod orchestrator;
pub mod reload;
pub mod request_scope;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod tls;
pub mod tools;

pub use environment::Environment;

use anyhow::Context;
use config::{Config, RawConfig, Settings};
use jamey_core::approvals::{ApprovalStore, PgApprovalStore, SqliteApprovalStore};
use jamey_core::audit::{PgToolCallLog, SqliteToolCallLog, ToolCallLog};
use jamey_core::cache::HybridCache;
use jamey_core::conversation::{ConversationStore, PgConversationStore, SqliteConversationStore};
use jamey_core::db::{PgDatabase, SharedConnection, SqliteFile};
use jamey_core::embedding::{
    BundledEmbedder, Embedder, LocalBertEmbedder, RemoteEmbedder, RemoteEmbedderConfig,
};
use jamey_core::home::JameyHome;
use jamey_core::memory::{
    EmbeddedMemoryStore, EmbeddedStoreConfig, MemoryLimits, PgMemoryStore, PgStoreConfig,
    ReembedProgress, ReembedReport,
};
use jamey_core::secrets::{Secret, SecretManager, SecretManagerOptions, SecretStore};
use jamey_core::{Memories, MemoryStore};
use jamey_protocol::settings::{
    EMBEDDING_API_KEY_SECRET, LLM_API_KEY_SECRET, OPENROUTER_API_KEY_SECRET, PASSPHRASE_VARIABLE,
};
use parking_lot::RwLock;
use state::AppState;
use std::sync::Arc;
use std::time::Instant;

/// Opens the Secret Manager: OS keychain where one works, else environment, else the encrypted
/// file in JAMEY_HOME (keyed by the keychain, `JAMEY_SECRETS_PASSPHRASE` or a 0600 key file).
pub fn open_secrets(env: &Environment) -> anyhow::Result<SecretManager> {
    let options = SecretManagerOptions {
        passphrase: env
            .vars
            .get(PASSPHRASE_VARIABLE)
            .map(|p| Secret::new(p.clone())),
        env: env.vars.clone(),
        use_keychain: true,
    };
    Ok(SecretManager::open(&env.home, options)?)
}

/// Chooses the embedder from the configuration. Blocking: loads model weights.
pub fn open_embedder(
    config: &Config,
    secrets: &dyn SecretStore,
) -> anyhow::Result<Arc<dyn Embedder>> {
    let embedding = &config.embedding;
    if let (Some(base_url), Some(model)) = (&embedding.base_url, &embedding.model) {
        let mut remote = RemoteEmbedderConfig::new(base_url.clone(), model.clone());
        remote.api_key = match secrets.get(EMBEDDING_API_KEY_SECRET)? {
            Some(key) => Some(key.expose().to_string()),
            None => secrets
                .get(OPENROUTER_API_KEY_SECRET)?
                .map(|key| key.expose().to_string()),
        };
        let embedder = RemoteEmbedder::connect(remote)
            .with_context(|| format!("embedding server {base_url}"))?;
        return Ok(Arc::new(embedder));
    }
    if let Some(dir) = &embedding.model_dir {
        let embedder = LocalBertEmbedder::load(dir)
            .with_context(|| format!("embedding.model_dir {}", dir.display()))?;
        return Ok(Arc::new(embedder));
    }
    Ok(Arc::new(BundledEmbedder::load()?))
}

/// The stores the configuration names: memories, conversations, approvals and the audit
/// trail of tool calls, side by side on one backend.
#[derive(Debug, Clone)]
pub struct Stores {
    pub memories: Arc<dyn MemoryStore>,
    pub conversations: Arc<dyn ConversationStore>,
    pub approvals: Arc<dyn ApprovalStore>,
    pub tool_calls: Arc<dyn ToolCallLog>,
}

/// Opens the stores the configuration names: PostgreSQL when a database URL is set, else the
/// embedded store in JAMEY_HOME.
pub async fn open_store(
    config: &Config,
    home: &JameyHome,
    embedder: &dyn Embedder,
) -> anyhow::Result<Stores> {
    let stores = match &config.database.url {
        Some(url) => {
            let mut pg = PgStoreConfig::new(url.clone());
            pg.pool_size = config.database.pool_size;
            pg.keyword_weight = config.search.keyword_weight;
            // One database, both stores on it.
            let db = PgDatabase::connect(&pg.database())
                .await
                .with_context(|| format!("database {}", jamey_core::memory::redact_url(url)))?;
            let store = PgMemoryStore::open(db.clone(), &pg, embedder.identity())
                .await
                .with_context(|| format!("database {}", jamey_core::memory::redact_url(url)))?;
            Stores {
                memories: Arc::new(store),
                conversations: Arc::new(PgConversationStore::new(db.clone())),
                approvals: Arc::new(PgApprovalStore::new(db.clone())),
                tool_calls: Arc::new(PgToolCallLog::new(db)),
            }
        }
        None => {
            let mut embedded = EmbeddedStoreConfig::new(home.embedded_store_dir());
            embedded.keyword_weight = config.search.keyword_weight;
            let identity = embedder.identity().clone();
            let dir = home.embedded_store_dir();
            tokio::task::spawn_blocking(move || {
                let store = EmbeddedMemoryStore::open(&embedded, &identity)?;
                let conversations = SqliteConversationStore::open(&dir)?;
                // Approvals and the audit trail share one connection to `tools.sqlite3`.
                let tools_db = SharedConnection::open(&dir, SqliteFile::Tools)?;
                let approvals = SqliteApprovalStore::on(tools_db.clone());
                let tool_calls = SqliteToolCallLog::on(tools_db);
                anyhow::Ok(Stores {
                    memories: Arc::new(store),
                    conversations: Arc::new(conversations),
                    approvals: Arc::new(approvals),
                    tool_calls: Arc::new(tool_calls),
                })
            })
            .await?
            .with_context(|| format!("embedded store in {}", home.embedded_store_dir().display()))?
        }
    };
    Ok(stores)
}

/// `jamey-runtime reembed`: gives every memory a vector from the configured embedder, so that a
/// store embedded with another model opens again. The runtime must not be serving the store.
pub async fn reembed(
    env: &Environment,
    progress: &mut (dyn FnMut(ReembedProgress) + Send),
) -> anyhow::Result<ReembedReport> {
    let (config, _raw) = Config::load(&env.home.config_file(), &env.vars, env.terminal)?;
    let secrets = open_secrets(env)?;
    let embedder_config = config.clone();
    let embedder =
        tokio::task::spawn_blocking(move || open_embedder(&embedder_config, &secrets)).await??;
    match &config.database.url {
        Some(url) => {
            let mut pg = PgStoreConfig::new(url.clone());
            pg.pool_size = 1;
            PgMemoryStore::reembed(&pg, embedder, progress)
                .await
                .with_context(|| format!("database {}", jamey_core::memory::redact_url(url)))
        }
        None => {
            let dir = env.home.embedded_store_dir();
            let embedded = EmbeddedStoreConfig::new(&dir);
            // The progress callback is not 'static: run on this thread, which may block.
            tokio::task::block_in_place(|| {
                EmbeddedMemoryStore::reembed(&embedded, embedder.as_ref(), progress)
            })
            .with_context(|| format!("embedded store in {}", dir.display()))
        }
    }
}

/// Builds the shared state from a validated configuration.
pub async fn build_state(
    env: &Environment,
    raw: RawConfig,
    config: Config,
    log_reload: Option<telemetry::LogReload>,
) -> anyhow::Result<AppState> {
    let secrets = open_secrets(env)?;
    tracing::info!(secrets = %secrets.describe(), "secret manager ready");
    let llm_api_key = match secrets.get(LLM_API_KEY_SECRET)? {
        Some(key) => Some(key),
        None => secrets.get(OPENROUTER_API_KEY_SECRET)?,
    };
    let github_token = secrets.get(jamey_tools::github::TOKEN_SECRET)?;
    let embedder_config = config.clone();
    let embedder =
        tokio::task::spawn_blocking(move || open_embedder(&embedder_config, &secrets)).await??;
    let stores = open_store(&config, &env.home, embedder.as_ref()).await?;
    tracing::info!(store = stores.memories.backend(), embedder = %embedder.identity(), "memory ready");
    let limits = MemoryLimits {
        max_content_bytes: config.limits.max_content_bytes,
        ..MemoryLimits::default()
    };
    let cache = HybridCache::open(config.cache.to_core())
        .await
        .context("cache")?;
    tracing::info!(
        redis = cache.status().redis.as_str(),
        strategy = config.cache.strategy.as_str(),
        policy = config.cache.policy.as_str(),
        "cache ready"
    );
    let credentials = credentials::CredentialsCache::open(env.home.credentials_file())
        .with_context(|| format!("reading {}", env.home.credentials_file().display()))?;
    let rate_limits = limits::RateLimits::new(
        config.limits.token_requests_per_second,
        config.limits.owner_requests_per_second,
    );
    let memories = Memories::new(stores.memories, embedder, limits).with_cache(Arc::new(cache));
    let settings = Arc::new(Settings::new(raw, config.clone(), env.terminal));
    let metrics = metrics::Metrics::new()?;
    let started_at = Instant::now();
    let toolbox = tools::build(
        &config,
        tools::ToolSources {
            memories: memories.clone(),
            approvals: stores.approvals,
            tool_calls: stores.tool_calls,
            facts: runtime_facts(memories.clone(), started_at),
            config: masked_config(settings.clone()),
            instance: config.listen.to_string(),
            github_token,
        },
        metrics.registry(),
    )?;
    let orchestrator = build_orchestrator(
        &config,
        llm_api_key,
        stores.conversations,
        memories.clone(),
        toolbox.runner.clone(),
        settings.clone(),
        &metrics,
    )?;
    Ok(AppState {
        memories,
        orchestrator,
        toolbox,
        settings,
        credentials: Arc::new(credentials),
        rate_limits: Arc::new(RwLock::new(rate_limits)),
        metrics,
        started_at,
        log_reload,
    })
}

/// What `system_info` says about the runtime, read at each call.
fn runtime_facts(memories: Memories, started_at: Instant) -> jamey_tools::host::FactsSource {
    Arc::new(move || jamey_tools::host::RuntimeFacts {
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_secs: started_at.elapsed().as_secs(),
        store: memories.store().backend().to_string(),
        embedder: memories.embedder().identity().to_string(),
    })
}

/// What `config_get` shows: the effective configuration, secrets masked.
fn masked_config(settings: Arc<Settings>) -> jamey_tools::host::ConfigSource {
    Arc::new(move || settings.current().masked())
}

/// The orchestrator with the `[llm]` provider and the tools.
pub fn build_orchestrator(
    config: &Config,
    api_key: Option<Secret>,
    conversations: Arc<dyn ConversationStore>,
    memories: Memories,
    tools: Arc<jamey_tools::ToolRunner>,
    settings: Arc<Settings>,
    metrics: &metrics::Metrics,
) -> anyhow::Result<Arc<orchestrator::Orchestrator>> {
    let provider = orchestrator::build_provider(&config.llm, api_key.as_ref())
        .context("the [llm] settings")?;
    if api_key.is_none() && config.llm.api_key_required {
        tracing::warn!(
            base_url = %jamey_core::memory::redact_url(&config.llm.base_url),
            "{}; until then chat is refused",
            orchestrator::UNCONFIGURED_MESSAGE
        );
    }
    let llm_metrics = orchestrator::LlmMetrics::register(metrics.registry())?;
    Ok(Arc::new(orchestrator::Orchestrator::new(
        provider,
        api_key,
        conversations,
        memories,
        tools,
        settings,
        llm_metrics,
    )))
}

/// Runs the runtime until SIGINT or SIGTERM.
pub async fn run(env: Environment) -> anyhow::Result<()> {
    let started = Instant::now();
    let (config, raw) = Config::load(&env.home.config_file(), &env.vars, env.terminal)?;
    let log_reload = telemetry::install(&config.log)?;
    tracing::info!(home = %env.home.root().display(), listen = %config.listen, "starting jamey-runtime {}", env!("CARGO_PKG_VERSION"));
    let tls = if config.tls.plain_http {
        tracing::warn!(
            "serving plain HTTP on a loopback address (tls.plain_http = true): bearer tokens only"
        );
        None
    } else {
        Some(tls::server_config(&env.home)?)
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (is another runtime running?)",
                config.listen
            )
        })?;
    let app = build_state(&env, raw, config.clone(), Some(log_reload)).await?;
    let _watcher = reload::watch_config(env.clone(), app.clone())?;
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "ready");
    server::serve(
        listener,
        api::router(app.clone()),
        tls,
        app.metrics.clone(),
        shutdown_signal(),
    )
    .await;
    if !app
        .orchestrator
        .finish_background(std::time::Duration::from_secs(10))
        .await
    {
        tracing::warn!("stopped before every finished turn was remembered");
    }
    app.toolbox.runner.audit().flush().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}
