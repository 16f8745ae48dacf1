//! Redis for the cache tests: the shared test server (a unique key prefix per test) and private
//! servers on free ports that a test may kill and restart.

use jamey_core::cache::{CacheConfig, RedisCacheConfig};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The shared test server's URL; without it a test cannot run: in CI that is a failure,
/// elsewhere the test is skipped with a note.
pub(crate) fn redis_url() -> Option<String> {
    match std::env::var("JAMEY_TEST_REDIS_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "JAMEY_TEST_REDIS_URL is not set; run the tests through scripts/test.sh"
            );
            eprintln!("skipping: JAMEY_TEST_REDIS_URL is not set (run scripts/test.sh)");
            None
        }
    }
}

/// A key prefix no other test uses.
pub(crate) fn unique_prefix() -> String {
    format!("jamey-test-{}", uuid::Uuid::new_v4().simple())
}

/// A cache configuration on `url` under `prefix`, with short timeouts so failures show fast.
pub(crate) fn two_tier(url: &str, prefix: &str) -> CacheConfig {
    let mut redis = RedisCacheConfig::new(url);
    redis.key_prefix = prefix.into();
    redis.command_timeout = Duration::from_millis(200);
    redis.connect_timeout = Duration::from_millis(300);
    redis.breaker_cooldown = Duration::from_millis(200);
    CacheConfig {
        redis: Some(redis),
        ..CacheConfig::default()
    }
}

/// A redis-server of this test's own, without persistence, stopped by its PID.
pub(crate) struct PrivateRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateRedis {
    pub(crate) fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        server.restart();
        server
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same port and waits for PONG.
    pub(crate) fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/provision.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.pong() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("private redis-server on port {} did not start", self.port);
    }

    /// Kills the server by its PID (SIGKILL: no goodbye to clients) and waits for it to go.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn pong(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
        if stream.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The bundled embedder, loaded once per test binary.
pub(crate) fn embedder() -> std::sync::Arc<dyn jamey_core::Embedder> {
    static EMBEDDER: std::sync::OnceLock<std::sync::Arc<dyn jamey_core::Embedder>> =
        std::sync::OnceLock::new();
    EMBEDDER
        .get_or_init(|| {
            std::sync::Arc::new(jamey_core::embedding::BundledEmbedder::load().unwrap())
        })
        .clone()
}

/// An embedded store in `dir` for the bundled embedder.
pub(crate) fn store(dir: &std::path::Path) -> std::sync::Arc<dyn jamey_core::MemoryStore> {
    use jamey_core::memory::{EmbeddedMemoryStore, EmbeddedStoreConfig};
    std::sync::Arc::new(
        EmbeddedMemoryStore::open(&EmbeddedStoreConfig::new(dir), embedder().identity()).unwrap(),
    )
}

/// `Memories` over `store` with a cache built from `config`.
pub(crate) async fn cached(
    store: std::sync::Arc<dyn jamey_core::MemoryStore>,
    config: CacheConfig,
) -> jamey_core::Memories {
    let cache = jamey_core::cache::HybridCache::open(config).await.unwrap();
    jamey_core::Memories::new(
        store,
        embedder(),
        jamey_core::memory::MemoryLimits::default(),
    )
    .with_cache(std::sync::Arc::new(cache))
}

/// Polls `check` every millisecond until it holds or `within` passes.
pub(crate) async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    check().await
}
