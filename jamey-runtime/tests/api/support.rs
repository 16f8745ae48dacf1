//! Set-up shared by the runtime tests: a temporary JAMEY_HOME with certificates and
//! credentials, an `AppState` on either store, and request helpers.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use jamey_core::credentials::Credentials;
use jamey_core::home::JameyHome;
use jamey_core::pki;
use jamey_runtime::auth::{ClientCert, ConnectionInfo};
use jamey_runtime::config::{Config, RawConfig};
use jamey_runtime::state::AppState;
use jamey_runtime::Environment;
use std::collections::HashMap;
use std::path::PathBuf;
use tower::ServiceExt;

/// A temporary home with `jamey init`'s certificates and an owner certificate record.
pub(crate) struct TestHome {
    _dir: tempfile::TempDir,
    pub(crate) home: JameyHome,
}

impl TestHome {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = JameyHome::new(dir.path());
        // What `jamey init` does: a CA, the server certificate and the owner's client certificate.
        pki::create_private_dir(&home.tls_dir()).unwrap();
        let ca = pki::create_ca().unwrap();
        ca.write(&home.ca_cert(), &home.ca_key()).unwrap();
        pki::issue_server_cert(&ca)
            .unwrap()
            .write(&home.server_cert(), &home.server_key())
            .unwrap();
        let owner = pki::issue_client_cert(&ca, pki::OWNER_CLIENT_NAME).unwrap();
        owner
            .write(&home.client_cert(), &home.client_key())
            .unwrap();
        let mut credentials = Credentials::load(&home.credentials_file()).unwrap();
        credentials
            .record_cert(pki::OWNER_CLIENT_NAME, &owner)
            .unwrap();
        credentials.save(&home.credentials_file()).unwrap();
        Self { _dir: dir, home }
    }

    /// What `jamey cert issue NAME` does; returns the certificate and key paths.
    pub(crate) fn issue_cert(&self, name: &str) -> (PathBuf, PathBuf) {
        let ca = pki::CertificateAuthority::load(
            &std::fs::read_to_string(self.home.ca_cert()).unwrap(),
            &std::fs::read_to_string(self.home.ca_key()).unwrap(),
        )
        .unwrap();
        let issued = pki::issue_client_cert(&ca, name).unwrap();
        let dir = self.home.issued_certs_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}-key.pem")),
        );
        issued.write(&cert, &key).unwrap();
        let mut credentials = Credentials::load(&self.home.credentials_file()).unwrap();
        credentials.record_cert(name, &issued).unwrap();
        credentials.save(&self.home.credentials_file()).unwrap();
        (cert, key)
    }

    /// Creates a bearer token named `name`; returns it.
    pub(crate) fn token(&self, name: &str) -> String {
        let path = self.home.credentials_file();
        let mut credentials = Credentials::load(&path).unwrap();
        let token = credentials.create_token(name).unwrap();
        credentials.save(&path).unwrap();
        token
    }

    pub(crate) fn revoke_token(&self, name: &str) {
        let path = self.home.credentials_file();
        let mut credentials = Credentials::load(&path).unwrap();
        credentials.revoke_token(name).unwrap();
        credentials.save(&path).unwrap();
    }

    pub(crate) fn env(&self, vars: &[(&str, &str)]) -> Environment {
        Environment {
            home: self.home.clone(),
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            terminal: true,
        }
    }
}

/// Which store a test runs on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Backend {
    Embedded,
    Postgres,
}

/// A fresh PostgreSQL database URL, or None outside CI when no server is configured.
pub(crate) async fn fresh_database() -> Option<String> {
    let Ok(admin) = std::env::var("JAMEY_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "JAMEY_TEST_DATABASE_URL must be set in CI (scripts/test.sh sets it)"
        );
        eprintln!("skipping: JAMEY_TEST_DATABASE_URL is not set");
        return None;
    };
    let name = format!("jamey_rt_{}", uuid::Uuid::new_v4().simple());
    let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let base = admin
        .rsplit_once('/')
        .map(|(base, _)| base)
        .unwrap_or(&admin);
    Some(format!("{base}/{name}"))
}

/// The application state for `home` on `backend`, with `config_toml` as the config file.
pub(crate) async fn state(
    home: &TestHome,
    backend: Backend,
    config_toml: &str,
) -> Option<AppState> {
    let mut vars: Vec<(String, String)> = Vec::new();
    if let Backend::Postgres = backend {
        // The test server trusts local connections; the password is there to prove it never shows.
        let url = fresh_database().await?.replacen(
            "postgres://postgres@",
            "postgres://postgres:pw-never-shown@",
            1,
        );
        vars.push(("JAMEY_DATABASE_URL".into(), url));
    }
    Some(state_with_vars(home, config_toml, vars).await)
}

/// The application state for `home` with `config_toml` as the config file and `vars` as the
/// environment (e.g. `JAMEY_DATABASE_URL` for a database the test prepared).
pub(crate) async fn state_with_vars(
    home: &TestHome,
    config_toml: &str,
    vars: Vec<(String, String)>,
) -> AppState {
    std::fs::write(home.home.config_file(), config_toml).unwrap();
    let env = Environment {
        home: home.home.clone(),
        vars: vars.into_iter().collect::<HashMap<_, _>>(),
        terminal: true,
    };
    let (config, raw): (Config, RawConfig) =
        Config::load(&env.home.config_file(), &env.vars, true).unwrap();
    jamey_runtime::build_state(&env, raw, config, None)
        .await
        .unwrap()
}

/// How a test request authenticates.
#[derive(Debug, Clone)]
pub(crate) enum As {
    Owner,
    Token(String),
    Nobody,
}

/// Sends one request through the router; returns status, headers and JSON body (Null if empty).
pub(crate) async fn call(
    router: &Router,
    who: &As,
    method: &str,
    uri: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
    let mut builder = Request::builder().method(method).uri(uri);
    if let As::Token(token) = who {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(json) => {
            builder = builder.header("content-type", "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    let mut request = builder.body(body).unwrap();
    if let As::Owner = who {
        request.extensions_mut().insert(ConnectionInfo {
            client_cert: Some(ClientCert {
                name: "owner".into(),
                fingerprint: "test-owner".into(),
            }),
        });
    }
    raw(router, request).await
}

pub(crate) async fn raw(
    router: &Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let json = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
        })
    };
    (status, headers, json)
}

/// Asserts the SPEC's error shape and returns the code.
pub(crate) fn error_code(body: &serde_json::Value) -> String {
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"));
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    code.to_string()
}
