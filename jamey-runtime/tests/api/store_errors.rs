//! Store failures as a client sees them through the real router: a stopped database is a 503
//! with a fixed message, the request id and `Retry-After`, and `/ready` says which dependency is
//! down without its error text; a constraint violation is a 409 or 422 naming the field; any
//! other database error is a 500 that carries none of the server's text.

use crate::support::{call, error_code, fresh_database, state_with_vars, As, TestHome};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A PostgreSQL cluster of the test's own, in a temporary directory on a free port, so the test
/// can stop it without touching the shared server.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// Run the server's tools as the `postgres` OS user (they refuse to run as root).
    as_postgres: bool,
}

impl PrivatePostgres {
    /// None outside CI when the PostgreSQL server programs are not installed.
    fn start() -> Option<Self> {
        let bin = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
            .filter(|bin| bin.join("initdb").exists());
        let Some(bin) = bin else {
            assert!(
                std::env::var_os("CI").is_none(),
                "the PostgreSQL server programs (initdb, pg_ctl) must be installed in CI"
            );
            eprintln!("skipping: no initdb found through pg_config --bindir");
            return None;
        };
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
        let dir = tempfile::tempdir().unwrap();
        if root {
            let chown = Command::new("chown")
                .args(["postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(chown.success(), "chown the cluster directory to postgres");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self {
            dir,
            bin,
            port,
            as_postgres: root,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            cluster.dir.path().display()
        );
        let log = cluster.dir.path().join("server.log");
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn run(&self, program: &str, args: &[&str]) {
        let status = self
            .command(&self.bin.join(program), args)
            .status()
            .unwrap();
        assert!(status.success(), "{program} {args:?} failed: {status}");
    }

    fn command(&self, program: &Path, args: &[&str]) -> Command {
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command
                .args(["-u", "postgres", "--"])
                .arg(program)
                .args(args);
            command
        } else {
            let mut command = Command::new(program);
            command.args(args);
            command
        }
    }

    /// Stops the server at once, as a crash or an operator would.
    fn stop(&self) {
        let data = self.data();
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        // Already stopped by the test in the usual case; this covers a failed assertion.
        let _ = self
            .command(
                &self.bin.join("pg_ctl"),
                &[
                    "-D",
                    data.to_str().unwrap_or_default(),
                    "-m",
                    "immediate",
                    "stop",
                ],
            )
            .output();
    }
}

/// Asserts a 5xx body: the code, exactly `message`, the response's request id, and none of
/// the words that would come from the server's error text.
fn assert_fixed_body(headers: &HeaderMap, body: &Value, code: &str, message: &str) {
    assert_eq!(error_code(body), code, "{body}");
    assert_eq!(body["error"]["message"], message, "{body}");
    let request_id = headers["x-request-id"].to_str().unwrap();
    assert_eq!(body["error"]["request_id"], request_id, "{body}");
    let text = body.to_string().to_lowercase();
    for leaked in [
        "sqlstate",
        "refused",
        "connection",
        "57p01",
        "08006",
        "42703",
        "column",
        "postgres",
        "error:",
    ] {
        assert!(!text.contains(leaked), "{leaked:?} leaked into {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_database_is_a_503_with_a_fixed_body_and_ready_says_which_is_down() {
    let Some(postgres) = PrivatePostgres::start() else {
        return;
    };
    let home = TestHome::new();
    let app = state_with_vars(
        &home,
        "",
        vec![("JAMEY_DATABASE_URL".into(), postgres.url())],
    )
    .await;
    let router = jamey_runtime::api::router(app);
    let (status, _, created) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/memories",
        Some(json!({"content": "stored before the stop"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, _, ready) = call(&router, &As::Nobody, "GET", "/ready", None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");

    postgres.stop();

    let requests = [
        (
            "POST",
            "/v1/memories",
            Some(json!({"content": "stored after the stop"})),
            "memory store",
        ),
        ("GET", "/v1/sessions", None, "conversation store"),
    ];
    for (method, uri, body, store) in requests {
        let (status, headers, body) = call(&router, &As::Owner, method, uri, body).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {body}");
        assert_eq!(headers["retry-after"], "1", "{uri}");
        let message = format!("the {store} is unavailable; retry later");
        assert_fixed_body(&headers, &body, "unavailable", &message);
    }

    let (status, _, ready) = call(&router, &As::Nobody, "GET", "/ready", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(ready["status"], "unavailable");
    assert_eq!(
        ready["dependencies"]["store"],
        json!({"backend": "postgres", "status": "down"}),
        "the state without the error text"
    );
}

/// A fresh database with the runtime's schema, a router on it, and a client to change it with.
async fn router_on_fresh_database() -> Option<(TestHome, axum::Router, tokio_postgres::Client)> {
    let url = fresh_database().await?;
    let home = TestHome::new();
    let app = state_with_vars(&home, "", vec![("JAMEY_DATABASE_URL".into(), url.clone())]).await;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    Some((home, jamey_runtime::api::router(app), client))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constraint_violations_are_409_or_422_naming_the_field() {
    let Some((_home, router, client)) = router_on_fresh_database().await else {
        return;
    };
    client
        .batch_execute(
            "CREATE UNIQUE INDEX memories_content_unique ON memories (content); \
             ALTER TABLE memories ADD CONSTRAINT memories_kind_allowed CHECK (kind <> 'forbidden');",
        )
        .await
        .unwrap();
    let memory = json!({"content": "said only once"});
    let (status, _, body) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/memories",
        Some(memory.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, headers, body) =
        call(&router, &As::Owner, "POST", "/v1/memories", Some(memory)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(error_code(&body), "invalid_field");
    assert_eq!(body["error"]["field"], "content", "{body}");
    assert!(!headers.contains_key("retry-after"), "not worth retrying");
    assert!(!body.to_string().contains("23505"), "{body}");

    let (status, _, body) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/memories",
        Some(json!({"content": "of a kind the database refuses", "kind": "forbidden"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "invalid_field");
    assert_eq!(body["error"]["field"], "memories_kind_allowed", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_other_database_error_is_a_500_without_the_server_text() {
    let Some((_home, router, client)) = router_on_fresh_database().await else {
        return;
    };
    client
        .batch_execute("ALTER TABLE memories RENAME COLUMN kind TO category")
        .await
        .unwrap();
    let (status, headers, body) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/memories",
        Some(json!({"content": "lands on a column that moved"})),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(!headers.contains_key("retry-after"));
    assert_fixed_body(
        &headers,
        &body,
        "internal",
        "internal error; the server log has the details under this request id",
    );
}
