//! The web tools and their network guard against real HTTP servers on 127.0.0.1 (port 0): a
//! loopback target refused by default and reachable when allow-listed, names resolved by a
//! resolver the test controls (private answers, rebinding), redirects into private space and
//! in loops, every spelling of a loopback address, size and decompression limits, HEAD, a real
//! HTML page, and cancellation of a response that never ends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get};
use axum::Router;
use futures::StreamExt;
use jamey_tools::net::{
    GuardedClient, HostRule, MapResolver, NetworkGuard, NetworkLimits, NetworkPolicy, ResolveError,
    Resolver,
};
use jamey_tools::{
    CallContext, CallOrigin, Caller, HttpFetch, HttpRequest, Permission, Tool, ToolError, WebRead,
};
use serde_json::json;
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a test server saw.
#[derive(Default)]
struct Seen {
    hits: AtomicUsize,
    methods: Mutex<Vec<String>>,
    slow_dropped: AtomicBool,
}

struct Server {
    addr: SocketAddr,
    seen: Arc<Seen>,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    fn port(&self) -> u16 {
        self.addr.port()
    }
    fn hits(&self) -> usize {
        self.seen.hits.load(Ordering::SeqCst)
    }
}

const PAGE: &str = r#"<!doctype html><html><head><title>Home Lab  Status</title>
<style>.x { color: red }</style><script>window.secret = "s3";</script></head>
<body><h1>All systems</h1><p>The <em>NAS</em> is up.</p>
<ul><li><a href="/disks">Disks</a></li><li><a href="logs/today">Today's logs</a></li>
<li><a href="https://example.org/docs">Docs</a></li><li><a href="mailto:x@y">mail</a></li></ul>
</body></html>"#;

async fn serve() -> Server {
    let seen = Arc::new(Seen::default());
    let router = Router::new()
        .route(
            "/text",
            get(|| async { ([(header::CONTENT_TYPE, "text/plain")], "hello world") }),
        )
        .route(
            "/page/index.html",
            get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE) }),
        )
        .route(
            "/big",
            get(|| async { ([(header::CONTENT_TYPE, "text/plain")], "a".repeat(100_000)) }),
        )
        .route("/gzip", get(gzip_body))
        .route(
            "/png",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "image/png")],
                    vec![0x89u8, b'P', 0, 1, 2],
                )
            }),
        )
        .route("/redirect", get(redirect))
        .route("/loop", get(|| async { Redirect::temporary("/loop") }))
        .route("/slow", get(slow))
        .route("/echo", any(echo))
        .layer(middleware::from_fn_with_state(seen.clone(), count))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server { addr, seen }
}

async fn count(State(seen): State<Arc<Seen>>, request: Request, next: Next) -> Response {
    seen.hits.fetch_add(1, Ordering::SeqCst);
    seen.methods
        .lock()
        .unwrap()
        .push(request.method().to_string());
    next.run(request).await
}

async fn redirect(Query(query): Query<HashMap<String, String>>) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, query["to"].clone())]).into_response()
}

/// 10 MiB of zeros, gzipped to a few KiB: a compression bomb.
async fn gzip_body(Query(query): Query<HashMap<String, String>>) -> Response {
    let size: usize = query.get("size").map_or(10 << 20, |s| s.parse().unwrap());
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![b'z'; size]).unwrap();
    let body = encoder.finish().unwrap();
    (
        [
            (header::CONTENT_TYPE, "text/plain"),
            (header::CONTENT_ENCODING, "gzip"),
        ],
        body,
    )
        .into_response()
}

/// Sends a first chunk and then nothing, forever; notes when the client went away.
async fn slow(State(seen): State<Arc<Seen>>) -> Response {
    struct Dropped(Arc<Seen>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.slow_dropped.store(true, Ordering::SeqCst);
        }
    }
    let dropped = Dropped(seen);
    let stream = futures::stream::once(async { Ok::<_, std::io::Error>(Bytes::from("partial")) })
        .chain(futures::stream::pending())
        .map(move |chunk| {
            let _ = &dropped;
            chunk
        });
    (
        [(header::CONTENT_TYPE, "text/plain")],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn echo(method: Method, headers: HeaderMap, body: String) -> Response {
    let token = headers
        .get("x-token")
        .map(|v| v.to_str().unwrap().to_string());
    axum::Json(json!({"method": method.as_str(), "body": body, "x_token": token})).into_response()
}

fn policy(allow: &[&str]) -> NetworkPolicy {
    NetworkPolicy {
        allow_hosts: allow.iter().map(|r| HostRule::parse(r).unwrap()).collect(),
        ..NetworkPolicy::default()
    }
}

fn client(policy: NetworkPolicy) -> GuardedClient {
    GuardedClient::new(policy)
}

fn client_with(policy: NetworkPolicy, resolver: Arc<dyn Resolver>) -> GuardedClient {
    GuardedClient::with_guard(NetworkGuard::with_resolver(policy, resolver))
}

fn context() -> CallContext {
    CallContext::new(Caller::Owner, CallOrigin::Direct, Duration::from_secs(30))
}

async fn fetch(client: &GuardedClient, args: serde_json::Value) -> Result<String, ToolError> {
    let tool = HttpFetch::new(client.clone());
    Tool::call(&tool, serde_json::from_value(args).unwrap(), &context()).await
}

async fn get_url(client: &GuardedClient, url: &str) -> Result<String, ToolError> {
    fetch(client, json!({ "url": url })).await
}

fn refusal(result: Result<String, ToolError>) -> String {
    match result {
        Err(ToolError::Refused(text)) => text,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_loopback_target_is_refused_by_default_and_reachable_when_allow_listed() {
    let server = serve().await;
    let text = refusal(get_url(&client(policy(&[])), &server.url("/text")).await);
    assert_eq!(
        text,
        format!(
            "http://127.0.0.1:{port}/ (127.0.0.1): loopback address (127.0.0.0/8) not in \
             [tools.network] allow_hosts",
            port = server.port()
        )
    );
    assert_eq!(server.hits(), 0, "a refused target is never contacted");

    let by_port = format!("127.0.0.1:{}", server.port());
    for allowed in ["127.0.0.1", "127.0.0.0/8", by_port.as_str()] {
        let output = get_url(&client(policy(&[allowed])), &server.url("/text"))
            .await
            .unwrap_or_else(|e| panic!("{allowed}: {e}"));
        assert!(output.starts_with("HTTP 200 OK\n"), "{output}");
        assert!(output.contains("content-type: text/plain"), "{output}");
        assert!(output.ends_with("\n\nhello world"), "{output}");
    }
    assert_eq!(server.hits(), 3);

    let wrong_port = format!("127.0.0.1:{}", server.port() + 1);
    let text = refusal(
        get_url(
            &client(policy(&[wrong_port.as_str()])),
            &server.url("/text"),
        )
        .await,
    );
    assert!(
        text.ends_with(&format!("allow_hosts for port {}", server.port())),
        "{text}"
    );
    let other_net = refusal(get_url(&client(policy(&["10.0.0.0/8"])), &server.url("/text")).await);
    assert!(other_net.contains("loopback address"), "{other_net}");
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn every_spelling_of_the_loopback_target_is_refused() {
    let server = serve().await;
    let port = server.port();
    let spellings = [
        format!("http://2130706433:{port}/text"),
        format!("http://0177.0.0.1:{port}/text"),
        format!("http://0x7f.1:{port}/text"),
        format!("http://0x7f000001:{port}/text"),
        format!("http://127.1:{port}/text"),
        format!("http://127.0.0.1.:{port}/text"),
        format!("http://%31%32%37.0.0.1:{port}/text"),
        format!("http://\u{ff11}\u{ff12}\u{ff17}.\u{ff10}.\u{ff10}.\u{ff11}:{port}/text"),
        format!("http://[::1]:{port}/text"),
        format!("http://[::ffff:127.0.0.1]:{port}/text"),
        format!("http://[::ffff:7f00:1]:{port}/text"),
        format!("http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/text"),
        format!("http://[::127.0.0.1]:{port}/text"),
        format!("http://0.0.0.0:{port}/text"),
        format!("http://0:{port}/text"),
        format!("http://localhost:{port}/text"),
        format!("http://localhost.:{port}/text"),
        format!("http://LOCALHOST:{port}/text"),
        format!("http://LocalHost..:{port}/text"),
        format!("http://\u{24db}ocalhost:{port}/text"),
        format!("http://user:pw@127.0.0.1:{port}/text"),
        format!("http://example.com@127.0.0.1:{port}/text"),
    ];
    let guarded = client(policy(&[]));
    for spelling in &spellings {
        let text = refusal(get_url(&guarded, spelling).await);
        assert!(
            text.contains("not in [tools.network] allow_hosts"),
            "{spelling}: {text}"
        );
        assert!(!text.contains("pw@"), "userinfo is never shown: {text}");
    }
    assert_eq!(server.hits(), 0);

    // The same address in other spellings is the same allow-listed target.
    let allowed = client(policy(&[
        format!("127.0.0.1:{port}").as_str(),
        format!("localhost:{port}").as_str(),
    ]));
    for spelling in [
        format!("http://2130706433:{port}/text"),
        format!("http://0x7f.1:{port}/text"),
        format!("http://LOCALHOST.:{port}/text"),
        format!("http://user:pw@127.0.0.1:{port}/text"),
    ] {
        let output = get_url(&allowed, &spelling).await.unwrap();
        assert!(output.ends_with("hello world"), "{spelling}: {output}");
        assert!(!output.contains("pw"), "{output}");
    }
}

#[tokio::test]
async fn other_schemes_are_refused() {
    let guarded = client(NetworkPolicy {
        allow_private: true,
        ..NetworkPolicy::default()
    });
    for url in [
        "file:///etc/passwd",
        "ftp://127.0.0.1/",
        "gopher://127.0.0.1:70/_GET",
        "dict://127.0.0.1:11211/stat",
        "data:text/plain,hi",
    ] {
        let text = refusal(get_url(&guarded, url).await);
        assert!(text.contains("only http and https"), "{url}: {text}");
    }
}

#[tokio::test]
async fn a_name_is_resolved_once_and_the_checked_address_is_the_one_connected_to() {
    let server = serve().await;
    let port = server.port();
    let resolver = Arc::new(
        MapResolver::new()
            .with("public.example", vec!["127.0.0.1".parse().unwrap()])
            .with("lab.test", vec!["127.0.0.1".parse().unwrap()]),
    );
    let guarded = client_with(
        policy(&[format!("lab.test:{port}").as_str()]),
        resolver.clone(),
    );
    let text = refusal(get_url(&guarded, &format!("http://public.example:{port}/text")).await);
    assert_eq!(
        text,
        format!(
            "http://public.example:{port}/ (127.0.0.1): loopback address (127.0.0.0/8) not in \
             [tools.network] allow_hosts"
        )
    );
    assert_eq!(server.hits(), 0);
    // `lab.test` exists only in the test's resolver: reaching the server proves the client
    // connected to the address the guard checked, without a lookup of its own.
    let before = resolver.lookups();
    let output = get_url(&guarded, &format!("http://lab.test:{port}/text"))
        .await
        .unwrap();
    assert!(output.ends_with("hello world"), "{output}");
    assert_eq!(resolver.lookups() - before, 1);
    assert_eq!(server.hits(), 1);
}

/// Answers with the first address once and the second ever after: a rebinding name.
#[derive(Debug)]
struct Rebinding {
    first: IpAddr,
    then: IpAddr,
    lookups: AtomicUsize,
}

#[async_trait]
impl Resolver for Rebinding {
    async fn resolve(&self, _host: &str, _port: u16) -> Result<Vec<IpAddr>, ResolveError> {
        match self.lookups.fetch_add(1, Ordering::SeqCst) {
            0 => Ok(vec![self.first]),
            _ => Ok(vec![self.then]),
        }
    }
}

#[tokio::test]
async fn a_rebinding_name_cannot_switch_the_checked_address() {
    let server = serve().await;
    let port = server.port();
    let resolver = Arc::new(Rebinding {
        first: "127.0.0.1".parse().unwrap(),
        then: "169.254.169.254".parse().unwrap(),
        lookups: AtomicUsize::new(0),
    });
    let guarded = client_with(
        policy(&[format!("127.0.0.1:{port}").as_str()]),
        resolver.clone(),
    );
    let output = get_url(&guarded, &format!("http://rebind.test:{port}/text"))
        .await
        .unwrap();
    assert!(output.ends_with("hello world"), "{output}");
    assert_eq!(
        resolver.lookups.load(Ordering::SeqCst),
        1,
        "one lookup per request"
    );
    let text = refusal(get_url(&guarded, &format!("http://rebind.test:{port}/text")).await);
    assert!(
        text.contains("(169.254.169.254): cloud metadata address"),
        "{text}"
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn redirects_are_checked_at_every_hop_and_capped() {
    let allowed = serve().await;
    let private = serve().await;
    let guarded = client(NetworkPolicy {
        limits: NetworkLimits {
            max_redirects: 3,
            ..NetworkLimits::default()
        },
        ..policy(&[format!("127.0.0.1:{}", allowed.port()).as_str()])
    });
    let into_private = allowed.url(&format!("/redirect?to={}", private.url("/text")));
    let text = refusal(get_url(&guarded, &into_private).await);
    assert!(
        text.starts_with(&format!("http://127.0.0.1:{}/ (127.0.0.1)", private.port())),
        "{text}"
    );
    assert_eq!((allowed.hits(), private.hits()), (1, 0));

    let metadata = allowed.url("/redirect?to=http://169.254.169.254/latest/meta-data/");
    let text = refusal(get_url(&guarded, &metadata).await);
    assert_eq!(
        text,
        "http://169.254.169.254/ (169.254.169.254): cloud metadata address (169.254.169.254/32) \
         not in [tools.network] allow_hosts"
    );

    let within = get_url(&guarded, &allowed.url("/redirect?to=/text"))
        .await
        .unwrap();
    assert!(
        within.contains("(after 1 redirects)") && within.ends_with("hello world"),
        "{within}"
    );

    let before = allowed.hits();
    match get_url(&guarded, &allowed.url("/loop")).await {
        Err(ToolError::Failed(text)) => {
            assert!(text.contains("stopped after 3 redirects"), "{text}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        allowed.hits() - before,
        4,
        "the first request and three redirects"
    );
}

#[tokio::test]
async fn bodies_are_cut_at_the_size_limits_and_marked() {
    let server = serve().await;
    let guarded = client(NetworkPolicy {
        limits: NetworkLimits {
            max_body_bytes: 4096,
            max_decompressed_bytes: 64 * 1024,
            ..NetworkLimits::default()
        },
        ..policy(&["127.0.0.1"])
    });
    let big = get_url(&guarded, &server.url("/big")).await.unwrap();
    assert!(
        big.contains("body: 4096 bytes, cut at 4096 bytes read ([tools.network] max_body_bytes)"),
        "{}",
        &big[..300.min(big.len())]
    );
    assert!(big.ends_with(&format!("\n\n{}", "a".repeat(4096))));

    let bomb = get_url(&guarded, &server.url("/gzip")).await.unwrap();
    assert!(
        bomb.contains("body: 65536 bytes, cut at 65536 decompressed bytes"),
        "{}",
        &bomb[..300.min(bomb.len())]
    );
    let small = get_url(&guarded, &server.url("/gzip?size=1000"))
        .await
        .unwrap();
    assert!(small.contains("content-encoding: gzip"), "{small}");
    assert!(
        small.ends_with(&format!("body: 1000 bytes\n\n{}", "z".repeat(1000))),
        "{small}"
    );

    let png = get_url(&guarded, &server.url("/png")).await.unwrap();
    assert!(
        png.ends_with("body: 5 bytes of image/png (binary, not shown)\n"),
        "{png}"
    );
}

#[tokio::test]
async fn head_returns_the_status_and_headers_without_a_body() {
    let server = serve().await;
    let guarded = client(policy(&["127.0.0.1"]));
    let output = fetch(
        &guarded,
        json!({"url": server.url("/text"), "method": "HEAD"}),
    )
    .await
    .unwrap();
    assert!(output.starts_with("HTTP 200 OK\n"), "{output}");
    assert!(output.contains("content-length: 11"), "{output}");
    assert!(!output.contains("hello"), "{output}");
    assert_eq!(*server.seen.methods.lock().unwrap(), ["HEAD"]);
    let bad = serde_json::from_value::<jamey_tools::HttpFetchArgs>(
        json!({"url": "http://x/", "method": "POST"}),
    );
    assert!(bad.is_err(), "http_fetch takes GET or HEAD only");
}

#[tokio::test]
async fn http_request_sends_any_method_with_a_body_and_asks_by_default() {
    let server = serve().await;
    let tool = HttpRequest::new(client(policy(&["127.0.0.1"])));
    assert_eq!(tool.default_permission(), Permission::Ask);
    assert_eq!(
        HttpFetch::new(client(policy(&[]))).default_permission(),
        Permission::Allow
    );
    let args = json!({
        "url": server.url("/echo"),
        "method": "put",
        "headers": {"x-token": "t0k", "content-type": "text/plain"},
        "body": "new value",
    });
    let output = Tool::call(&tool, serde_json::from_value(args).unwrap(), &context())
        .await
        .unwrap();
    let body = output.split("\n\n").nth(1).unwrap();
    let echoed: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        echoed,
        json!({"method": "PUT", "body": "new value", "x_token": "t0k"})
    );
    let reserved = json!({"url": server.url("/echo"), "method": "GET", "headers": {"Host": "x"}});
    match Tool::call(&tool, serde_json::from_value(reserved).unwrap(), &context()).await {
        Err(ToolError::InvalidArguments { field, .. }) => {
            assert_eq!(field.as_deref(), Some("headers"))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn web_read_gives_the_title_the_text_and_absolute_links() {
    let server = serve().await;
    let tool = WebRead::new(client(policy(&["127.0.0.1"])));
    assert_eq!(tool.default_permission(), Permission::Allow);
    let args = json!({ "url": server.url("/page/index.html") });
    let output = Tool::call(&tool, serde_json::from_value(args).unwrap(), &context())
        .await
        .unwrap();
    assert!(output.starts_with("Title: Home Lab Status\n"), "{output}");
    assert!(output.contains("# All systems"), "{output}");
    assert!(output.contains("The NAS is up."), "{output}");
    assert!(
        !output.contains("secret") && !output.contains("color"),
        "{output}"
    );
    let base = format!("http://127.0.0.1:{}", server.port());
    assert!(
        output.contains(&format!("- Disks -> {base}/disks\n")),
        "{output}"
    );
    assert!(
        output.contains(&format!("- Today's logs -> {base}/page/logs/today\n")),
        "{output}"
    );
    assert!(
        output.contains("- Docs -> https://example.org/docs\n"),
        "{output}"
    );
    assert!(!output.contains("mailto"), "{output}");

    let refused = Tool::call(
        &WebRead::new(client(policy(&[]))),
        serde_json::from_value(json!({ "url": server.url("/page/index.html") })).unwrap(),
        &context(),
    )
    .await;
    assert!(matches!(refused, Err(ToolError::Refused(_))), "{refused:?}");
}

#[tokio::test]
async fn cancellation_stops_a_response_that_never_ends() {
    let server = serve().await;
    let tool = HttpFetch::new(client(policy(&["127.0.0.1"])));
    let call = context();
    let cancel = call.cancel.clone();
    let url = server.url("/slow");
    let task = tokio::spawn(async move {
        Tool::call(
            &tool,
            serde_json::from_value(json!({ "url": url })).unwrap(),
            &call,
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    cancel.cancel();
    let result = tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("the call ends promptly")
        .unwrap();
    assert!(matches!(result, Err(ToolError::Cancelled(_))), "{result:?}");
    assert!(started.elapsed() < Duration::from_millis(500));
    // Dropping the request closed the connection: the server's body stream went away.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !server.seen.slow_dropped.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the server still holds the response"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The call's deadline ends it too.
    let short = CallContext::new(
        Caller::Owner,
        CallOrigin::Direct,
        Duration::from_millis(400),
    );
    let started = Instant::now();
    let tool = HttpFetch::new(client(policy(&["127.0.0.1"])));
    let result = Tool::call(
        &tool,
        serde_json::from_value(json!({ "url": server.url("/slow") })).unwrap(),
        &short,
    )
    .await;
    assert!(
        matches!(result, Err(ToolError::Timeout { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
}
