//! Tools through the real router: the list, direct invocation by the owner and by scoped
//! tokens, approvals answered, denied and expired (over real SSE in a streaming turn, and
//! across two runtimes on one PostgreSQL database), and the audit trail on both stores.

use crate::chat::{owner_request, twin, MODEL};
use crate::support::{
    call, error_code, fresh_database, state, state_with_vars, As, Backend, TestHome,
};
use axum::http::StatusCode;
use axum::Router;
use futures::StreamExt;
use jamey_core::credentials::Credentials;
use jamey_providers::scripted::{ScriptedUsage, StreamScript};
use jamey_runtime::api::router;
use serde_json::{json, Value};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use tower::ServiceExt;

fn sleeper() -> Child {
    Command::new("sleep").arg("60").spawn().unwrap()
}

/// A token limited to `tools`, as `jamey token create NAME --tools a,b` makes it.
fn scoped_token(home: &TestHome, name: &str, tools: &[&str]) -> String {
    let path = home.home.credentials_file();
    let mut credentials = Credentials::load(&path).unwrap();
    let tools: Vec<String> = tools.iter().map(|t| t.to_string()).collect();
    let token = credentials.create_scoped_token(name, Some(&tools)).unwrap();
    credentials.save(&path).unwrap();
    token
}

/// Polls `GET /v1/approvals` until one is pending; returns it.
async fn next_pending(router: &Router) -> Value {
    let started = Instant::now();
    loop {
        let (status, _, body) = call(router, &As::Owner, "GET", "/v1/approvals", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if let Some(first) = body["items"].as_array().and_then(|items| items.first()) {
            return first.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no approval appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn decide(router: &Router, id: &str, decision: Value) -> (StatusCode, Value) {
    let (status, _, body) = call(
        router,
        &As::Owner,
        "POST",
        &format!("/v1/approvals/{id}"),
        Some(decision),
    )
    .await;
    (status, body)
}

async fn audit(router: &Router, query: &str) -> Vec<Value> {
    let (status, _, body) = call(
        router,
        &As::Owner,
        "GET",
        &format!("/v1/tool-calls?{query}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_are_listed_with_their_permission_and_source() {
    let home = TestHome::new();
    let config = "[tools.permissions]\nconfig_get = \"deny\"\n";
    let router = router(state(&home, Backend::Embedded, config).await.unwrap());
    let (status, _, body) = call(&router, &As::Owner, "GET", "/v1/tools", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let permission = |name: &str| {
        body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| (t["permission"].clone(), t["source"].clone()))
            .unwrap_or_else(|| panic!("{name} missing from {body}"))
    };
    assert_eq!(
        permission("system_info"),
        (json!("allow"), json!("builtin"))
    );
    assert_eq!(permission("process_list").0, "allow");
    assert_eq!(permission("process_kill").0, "ask");
    assert_eq!(permission("memory_search").0, "allow");
    assert_eq!(permission("config_get").0, "deny");

    let (status, _, body) = call(
        &router,
        &As::Owner,
        "POST",
        "/v1/tools/config_get/invoke",
        Some(json!({"arguments": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_code(&body), "tool_denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_invokes_tools_and_every_call_is_audited_on_both_stores() {
    for backend in [Backend::Embedded, Backend::Postgres] {
        let home = TestHome::new();
        let Some(app) = state(&home, backend, "").await else {
            continue;
        };
        let router = router(app);
        let (status, _, body) = call(
            &router,
            &As::Owner,
            "POST",
            "/v1/tools/config_get/invoke",
            Some(json!({"arguments": {"key": "tools"}})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{backend:?} {body}");
        assert_eq!(body["is_error"], false);
        let tools: Value = serde_json::from_str(body["output"].as_str().unwrap()).unwrap();
        assert_eq!(tools["approval_timeout_secs"], 300, "{tools}");
        let call_id = body["call_id"].as_str().unwrap().to_string();

        let (status, _, body) = call(
            &router,
            &As::Owner,
            "POST",
            "/v1/tools/process_kill/invoke",
            Some(json!({"arguments": {"pid": "twelve"}})),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], "arguments.pid", "{body}");
        let (status, _, body) = call(
            &router,
            &As::Owner,
            "POST",
            "/v1/tools/teleport/invoke",
            Some(json!({"arguments": {}})),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

        // The owner's direct request approves an `ask` tool; a host rule still refuses PID 1.
        let (status, _, body) =
            call(&router, &As::Owner, "POST", "/v1/processes/1/kill", None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

        let rows = audit(&router, "limit=10").await;
        assert_eq!(rows.len(), 4, "{backend:?} {rows:?}");
        assert_eq!(rows[3]["id"], call_id.as_str(), "oldest last");
        assert_eq!(rows[3]["tool"], "config_get");
        assert_eq!(rows[3]["decision"], "allowed");
        assert_eq!(rows[3]["caller"], "owner");
        assert_eq!(rows[3]["arguments"], json!({"key": "tools"}));
        assert!(rows[3]["output_bytes"].as_u64().unwrap() > 10);
        assert_eq!(rows[0]["tool"], "process_kill");
        assert_eq!(rows[0]["decision"], "refused", "{:?}", rows[0]);
        let refused = audit(&router, "decision=refused").await;
        assert_eq!(refused.len(), 3, "{refused:?}");
        let by_tool = audit(&router, "tool=config_get").await;
        assert_eq!(by_tool.len(), 1);
        let first = audit(&router, "limit=2").await;
        assert_eq!(first.len(), 2);
        let (_, _, page) = call(&router, &As::Owner, "GET", "/v1/tool-calls?limit=2", None).await;
        let cursor = page["next_cursor"].as_str().unwrap();
        let rest = audit(&router, &format!("limit=10&cursor={cursor}")).await;
        assert_eq!(rest.len(), 2);
        assert_eq!(rest[1]["id"], call_id.as_str());
        let (status, _, body) = call(
            &router,
            &As::Owner,
            "GET",
            "/v1/tool-calls?decision=maybe",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_gets_only_its_tools_and_its_ask_calls_wait_for_a_decision() {
    let home = TestHome::new();
    // Created before the runtime starts: it re-reads the credentials at most once a second.
    let plain = home.token("plain");
    let killer = scoped_token(&home, "killer", &["process_kill"]);
    let config = "[tools]\napproval_timeout_secs = 2\n";
    let router = router(state(&home, Backend::Embedded, config).await.unwrap());
    let mut child = sleeper();
    let pid = child.id();
    let kill = json!({"arguments": {"pid": pid}});

    // Without --tools: the `allow` tools only.
    let (status, _, body) = call(
        &router,
        &As::Token(plain.clone()),
        "POST",
        "/v1/tools/process_kill/invoke",
        Some(kill.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_code(&body), "forbidden");
    let (status, _, _) = call(
        &router,
        &As::Token(plain),
        "POST",
        "/v1/tools/process_list/invoke",
        Some(json!({"arguments": {"limit": 1}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // With --tools process_kill: that tool, and nothing else.
    let (status, _, _) = call(
        &router,
        &As::Token(killer.clone()),
        "POST",
        "/v1/tools/process_list/invoke",
        Some(json!({"arguments": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Denied: the waiting request answers 403 tool_denied and the process lives.
    let waiting = {
        let (router, killer, kill) = (router.clone(), killer.clone(), kill.clone());
        tokio::spawn(async move {
            call(
                &router,
                &As::Token(killer),
                "POST",
                "/v1/tools/process_kill/invoke",
                Some(kill),
            )
            .await
        })
    };
    let pending = next_pending(&router).await;
    assert_eq!(pending["tool"], "process_kill");
    assert_eq!(pending["arguments"], json!({"pid": pid}));
    assert_eq!(pending["caller"], "token:killer");
    assert_eq!(pending["fingerprint"].as_str().unwrap().len(), 64);
    let id = pending["id"].as_str().unwrap().to_string();
    let (status, body) = decide(&router, &id, json!({"decision": "deny"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = waiting.await.unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_code(&body), "tool_denied");
    assert!(child.try_wait().unwrap().is_none(), "the process must live");
    let (status, body) = decide(&router, &id, json!({"decision": "approve"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Nobody decides: expired after approval_timeout_secs, denied, and 409 afterwards.
    let started = Instant::now();
    let (status, _, body) = call(
        &router,
        &As::Token(killer.clone()),
        "POST",
        "/v1/tools/process_kill/invoke",
        Some(kill.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("2 s"),
        "{body}"
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    let rows = audit(&router, "tool=process_kill&decision=denied").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r["caller"] == "token:killer"));

    // Approved: it runs.
    let waiting = {
        let (router, kill) = (router.clone(), kill.clone());
        tokio::spawn(async move {
            call(
                &router,
                &As::Token(killer),
                "POST",
                "/v1/tools/process_kill/invoke",
                Some(kill),
            )
            .await
        })
    };
    let pending = next_pending(&router).await;
    let (status, _) = decide(
        &router,
        pending["id"].as_str().unwrap(),
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = waiting.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["output"].as_str().unwrap().contains("SIGTERM"),
        "{body}"
    );
    let approved = audit(&router, "decision=approved").await;
    assert_eq!(approved.len(), 1);
    child.wait().unwrap();
}

/// Reads SSE events from a live response body until `until` says stop; returns them.
async fn read_events(
    body: &mut axum::body::BodyDataStream,
    buffer: &mut String,
    until: impl Fn(&str) -> bool,
) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut name = String::from("message");
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if data.is_empty() {
                continue;
            }
            let stop = until(&name);
            events.push((name, serde_json::from_str(&data).unwrap()));
            if stop {
                return events;
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, body.next())
            .await
            .expect("the stream stalled")
            .expect("the stream ended")
            .unwrap();
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

fn usage() -> ScriptedUsage {
    ScriptedUsage {
        prompt_tokens: 10,
        completion_tokens: 5,
        cost: Some(0.0),
    }
}

fn kill_round(pid: u32, call_id: &str) -> jamey_providers::scripted::ScriptedReply {
    StreamScript::new(MODEL)
        .tool_call_start(0, call_id, "process_kill")
        .tool_call_arguments(0, &format!("{{\"pid\": {pid}}}"))
        .finish("tool_calls")
        .usage(usage())
        .done()
        .into_reply()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_turn_pauses_for_approval_and_always_binds_to_that_exact_call() {
    let (_home, router, server) = twin("").await;
    let mut first = sleeper();
    let mut second = sleeper();
    server.push(kill_round(first.id(), "call_1"));
    server.push(StreamScript::answer(MODEL, &["Stopped it."], usage()).into_reply());
    let response = router
        .clone()
        .oneshot(owner_request(
            "POST",
            "/v1/chat",
            json!({"message": "Stop the sleeper", "session_id": "ops", "stream": true}),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body().into_data_stream();
    let mut buffer = String::new();
    let events = read_events(&mut body, &mut buffer, |name| name == "approval_required").await;
    let (_, approval) = events.last().unwrap();
    assert_eq!(approval["tool"], "process_kill");
    assert_eq!(approval["session_id"], "ops");
    assert_eq!(approval["arguments"], json!({"pid": first.id()}));
    let id = approval["id"].as_str().unwrap().to_string();
    assert!(
        first.try_wait().unwrap().is_none(),
        "nothing ran before the decision"
    );
    let (status, _) = decide(
        &router,
        &id,
        json!({"decision": "approve", "remember": "session"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let events = read_events(&mut body, &mut buffer, |name| name == "done").await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[0], "approval_resolved", "{names:?}");
    assert_eq!(
        events[0].1,
        json!({"type": "approval_resolved", "id": id, "decision": "approve"})
    );
    let result = &events.iter().find(|(n, _)| n == "tool_result").unwrap().1;
    assert_eq!(result["is_error"], false, "{result}");
    first.wait().unwrap();

    // The same call again in the session: no question. Another PID: asked again, and denied.
    let again = first.id();
    server.push(kill_round(again, "call_2"));
    server.push(StreamScript::answer(MODEL, &["Done."], usage()).into_reply());
    let response = router
        .clone()
        .oneshot(owner_request(
            "POST",
            "/v1/chat",
            json!({"message": "Once more", "session_id": "ops", "stream": true}),
        ))
        .await
        .unwrap();
    let mut body = response.into_body().into_data_stream();
    let mut buffer = String::new();
    let events = read_events(&mut body, &mut buffer, |name| name == "done").await;
    assert!(
        events.iter().all(|(n, _)| n != "approval_required"),
        "{events:?}"
    );
    server.push(kill_round(second.id(), "call_3"));
    server.push(StreamScript::answer(MODEL, &["Left it."], usage()).into_reply());
    let response = router
        .clone()
        .oneshot(owner_request(
            "POST",
            "/v1/chat",
            json!({"message": "And the other", "session_id": "ops", "stream": true}),
        ))
        .await
        .unwrap();
    let mut body = response.into_body().into_data_stream();
    let mut buffer = String::new();
    let events = read_events(&mut body, &mut buffer, |name| name == "approval_required").await;
    let id = events.last().unwrap().1["id"].as_str().unwrap().to_string();
    decide(&router, &id, json!({"decision": "deny"})).await;
    let events = read_events(&mut body, &mut buffer, |name| name == "done").await;
    let result = &events.iter().find(|(n, _)| n == "tool_result").unwrap().1;
    assert_eq!(result["is_error"], true);
    assert!(
        result["output"].as_str().unwrap().contains("denied"),
        "{result}"
    );
    assert!(
        second.try_wait().unwrap().is_none(),
        "the denied call did not run"
    );
    // The model was told: the tool result went back upstream.
    let told = server.requests().last().unwrap().body.to_string();
    assert!(told.contains("did not approve"), "{told}");
    second.kill().unwrap();
    second.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_on_one_runtime_releases_the_call_waiting_on_another() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let (home_a, home_b) = (TestHome::new(), TestHome::new());
    let vars = vec![("JAMEY_DATABASE_URL".to_string(), url)];
    let token = scoped_token(&home_a, "remote", &["process_kill"]);
    let a = router(state_with_vars(&home_a, "", vars.clone()).await);
    let b = router(state_with_vars(&home_b, "", vars).await);
    let mut child = sleeper();
    let waiting = {
        let (a, pid) = (a.clone(), child.id());
        tokio::spawn(async move {
            call(
                &a,
                &As::Token(token),
                "POST",
                "/v1/tools/process_kill/invoke",
                Some(json!({"arguments": {"pid": pid}})),
            )
            .await
        })
    };
    let pending = next_pending(&b).await;
    let decided_at = Instant::now();
    let (status, _) = decide(
        &b,
        pending["id"].as_str().unwrap(),
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = waiting.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        decided_at.elapsed() < Duration::from_secs(1),
        "released after {:?}",
        decided_at.elapsed()
    );
    child.wait().unwrap();
}

/// A local web server with one HTML page.
async fn web_page() -> std::net::SocketAddr {
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(|| async {
            axum::response::Html(
                "<html><head><title>Lab</title></head><body><p>Printer is on floor 2.</p>\
                 <a href=\"/manual\">manual</a></body></html>",
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_calls_the_built_in_tools_in_one_round() {
    let github = jamey_tools::github::scripted::ScriptedGithub::start()
        .await
        .unwrap();
    github.add_repo("me/lab", false);
    github.add_issue("me/lab", "Printer jams", "Tray 2 jams daily", "me");
    let lab = web_page().await;
    let extra = format!(
        "[tools.network]\nallow_hosts = [\"{lab}\"]\n\n[github]\napi_url = \"{}\"\n",
        github.api_url()
    );
    let (_home, router, server) = twin(&extra).await;
    let calls: [(&str, String); 9] = [
        (
            "memory_save",
            json!({"content": "The lab printer is a Brother"}).to_string(),
        ),
        ("memory_search", json!({"query": "printer"}).to_string()),
        ("system_info", "{}".into()),
        (
            "process_list",
            json!({"sort_by": "memory", "limit": 3}).to_string(),
        ),
        ("config_get", json!({"key": "tools.network"}).to_string()),
        (
            "http_fetch",
            json!({"url": format!("http://{lab}/")}).to_string(),
        ),
        (
            "web_read",
            json!({"url": format!("http://{lab}/")}).to_string(),
        ),
        (
            "http_fetch",
            json!({"url": "http://169.254.169.254/latest/meta-data/"}).to_string(),
        ),
        ("github_list_issues", json!({"repo": "me/lab"}).to_string()),
    ];
    let mut round = StreamScript::new(MODEL);
    for (i, (name, arguments)) in calls.iter().enumerate() {
        round = round
            .tool_call_start(i, &format!("call_{i}"), name)
            .tool_call_arguments(i, arguments);
    }
    server.push(
        round
            .finish("tool_calls")
            .usage(usage())
            .done()
            .into_reply(),
    );
    server.push(StreamScript::answer(MODEL, &["All done."], usage()).into_reply());
    let response = router
        .clone()
        .oneshot(owner_request(
            "POST",
            "/v1/chat",
            json!({"message": "Check the lab", "session_id": "lab", "stream": true}),
        ))
        .await
        .unwrap();
    let mut body = response.into_body().into_data_stream();
    let mut buffer = String::new();
    let events = read_events(&mut body, &mut buffer, |name| name == "done").await;
    let results: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "tool_result")
        .map(|(_, data)| data)
        .collect();
    assert_eq!(results.len(), calls.len(), "{events:?}");
    let output = |i: usize| {
        let result = results
            .iter()
            .find(|r| r["id"] == format!("call_{i}"))
            .unwrap();
        (
            result["is_error"].as_bool().unwrap(),
            result["output"].as_str().unwrap().to_string(),
        )
    };
    for i in [0, 1, 2, 3, 4, 5, 6, 8] {
        assert!(!output(i).0, "{}: {}", calls[i].0, output(i).1);
    }
    assert!(output(2).1.contains("logical_cores"));
    assert!(output(4).1.contains("allow_hosts"), "{}", output(4).1);
    assert!(
        output(5).1.contains("Printer is on floor 2"),
        "{}",
        output(5).1
    );
    assert!(
        output(6).1.contains("Lab") && output(6).1.contains("/manual"),
        "{}",
        output(6).1
    );
    let (refused, why) = output(7);
    assert!(refused && why.contains("169.254.169.254"), "{why}");
    assert!(output(8).1.contains("Printer jams"), "{}", output(8).1);
    // Every call is in the audit trail of the session; the metadata fetch as refused.
    let rows = audit(&router, "session_id=lab&limit=50").await;
    assert_eq!(rows.len(), calls.len(), "{rows:?}");
    let refused = audit(&router, "session_id=lab&decision=refused").await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["tool"], "http_fetch");
    let (_, _, metrics) = call(&router, &As::Owner, "GET", "/metrics", None).await;
    let text = metrics.as_str().unwrap_or_default();
    assert!(
        text.contains("tool_calls_total{decision=\"refused\",tool=\"http_fetch\"} 1"),
        "{text}"
    );
}
