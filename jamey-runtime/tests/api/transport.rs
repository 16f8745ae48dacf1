//! Real listeners on 127.0.0.1: mTLS and bearer tokens, refusals, hot reload, graceful shutdown.

use crate::support::{state, Backend, TestHome};
use jamey_runtime::api::router;
use jamey_runtime::state::AppState;
use jamey_runtime::{reload, server, tls};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::oneshot;

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

async fn start(home: &TestHome, app: AppState, with_tls: bool) -> Running {
    tls::install_crypto_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls_config = with_tls.then(|| tls::server_config(&home.home).unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let metrics = app.metrics.clone();
    let done = tokio::spawn(server::serve(
        listener,
        router(app),
        tls_config,
        metrics,
        async {
            let _ = stopped.await;
        },
    ));
    Running {
        addr,
        stop: Some(stop),
        done,
    }
}

fn client(home: &TestHome, cert: Option<(&std::path::Path, &std::path::Path)>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(home.home.ca_cert()).unwrap()).unwrap();
    let mut builder = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .use_rustls_tls();
    if let Some((cert, key)) = cert {
        let mut pem = std::fs::read(cert).unwrap();
        pem.extend(std::fs::read(key).unwrap());
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_and_tokens_are_required_and_checked() {
    let home = TestHome::new();
    let token = home.token("script");
    let app = state(&home, Backend::Embedded, "").await.unwrap();
    let server = start(&home, app, true).await;
    let url = format!("https://localhost:{}/v1/memories", server.addr.port());

    let owner = client(
        &home,
        Some((&home.home.client_cert(), &home.home.client_key())),
    );
    let response = owner.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // With a valid certificate an Authorization header is ignored, even a wrong one.
    let response = owner
        .get(&url)
        .bearer_auth("jmy_not_a_token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let anonymous = client(&home, None);
    let response = anonymous.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let response = anonymous
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // A certificate from another CA fails the handshake.
    let stranger = TestHome::new();
    let foreign = client(
        &home,
        Some((&stranger.home.client_cert(), &stranger.home.client_key())),
    );
    assert!(
        foreign.get(&url).send().await.is_err(),
        "a foreign client certificate must be refused"
    );

    // Plain HTTP to the TLS port gets no answer.
    let plain = reqwest::Client::new();
    assert!(plain
        .get(format!(
            "http://127.0.0.1:{}/v1/memories",
            server.addr.port()
        ))
        .send()
        .await
        .is_err());

    // A revoked token is refused without a restart.
    home.revoke_token("script");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = anonymous
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // A tool certificate works until it is revoked.
    let (cert, key) = home.issue_cert("backup-job");
    let tool = client(&home, Some((&cert, &key)));
    assert_eq!(tool.get(&url).send().await.unwrap().status(), 200);
    let path = home.home.credentials_file();
    let mut credentials = jamey_core::credentials::Credentials::load(&path).unwrap();
    credentials.revoke_cert("backup-job").unwrap();
    credentials.save(&path).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(tool.get(&url).send().await.unwrap().status(), 401);

    let Running { stop, done, .. } = server;
    stop.unwrap().send(()).unwrap();
    done.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_safe_key_changed_in_the_file_applies_without_restart() {
    let home = TestHome::new();
    let app = state(
        &home,
        Backend::Embedded,
        "[limits]\ntoken_requests_per_second = 50\n",
    )
    .await
    .unwrap();
    let _watcher = reload::watch_config(home.env(&[]), app.clone()).unwrap();
    std::fs::write(
        home.home.config_file(),
        "[limits]\ntoken_requests_per_second = 9\n[search]\nkeyword_weight = 0.2\n",
    )
    .unwrap();
    let mut applied = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if app.settings.current().limits.token_requests_per_second == 9 {
            applied = true;
            break;
        }
    }
    assert!(applied, "the new rate limit was not applied");
    assert!((app.settings.current().search.keyword_weight - 0.2).abs() < 1e-6);
    // An invalid file is ignored; the running configuration stays.
    std::fs::write(
        home.home.config_file(),
        "[limits]\ntoken_requests_per_second = -1\n",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.settings.current().limits.token_requests_per_second, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_the_request_in_flight_finish() {
    let home = TestHome::new();
    let app = state(&home, Backend::Embedded, "").await.unwrap();
    let memories = app.memories.clone();
    let mut server = start(&home, app, true).await;
    let owner = client(
        &home,
        Some((&home.home.client_cert(), &home.home.client_key())),
    );
    let url = format!("https://localhost:{}/v1/memories/batch", server.addr.port());
    // Embedding 400 memories takes long enough to still be running when the signal arrives.
    let items: Vec<_> = (0..400).map(|i| serde_json::json!({"content": format!("note number {i} about the garden and the shed")})).collect();
    let in_flight = tokio::spawn(async move {
        owner
            .post(&url)
            .json(&serde_json::json!({"items": items}))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.stop.take().unwrap().send(()).unwrap();
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 201);
    tokio::time::timeout(server::DRAIN_DEADLINE + Duration::from_secs(2), server.done)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(memories.count().await.unwrap(), 400);
    assert!(
        tokio::net::TcpStream::connect(server.addr).await.is_err(),
        "no longer accepting"
    );
}
