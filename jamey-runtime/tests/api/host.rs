//! `/v1/system/info`, `/v1/processes` and the guarded `/v1/processes/{pid}/kill`, through the
//! real router on the real host.

use crate::support::{call, error_code, state, As, Backend, TestHome};
use axum::http::StatusCode;
use jamey_runtime::api::router;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Waits up to `deadline` for `child` to exit; returns how it ended.
fn wait_exit(child: &mut Child, deadline: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_info_describes_the_host_and_the_runtime() {
    let home = TestHome::new();
    let app = state(&home, Backend::Embedded, "").await.unwrap();
    let router = router(app);

    let (status, _, info) = call(&router, &As::Owner, "GET", "/v1/system/info", None).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["runtime"]["pid"], std::process::id());
    assert_eq!(info["runtime"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["runtime"]["store"], "embedded");
    assert!(
        info["runtime"]["rss_bytes"].as_u64().unwrap() > 1024 * 1024,
        "{info}"
    );
    assert!(
        info["cpu"]["logical_cores"].as_u64().unwrap() >= 1,
        "{info}"
    );
    let memory = &info["memory"];
    assert!(memory["total_bytes"].as_u64().unwrap() >= memory["used_bytes"].as_u64().unwrap());
    assert!(info["host_uptime_secs"].as_u64().unwrap() > 0);
    assert_eq!(info["os"]["arch"], std::env::consts::ARCH);

    let (status, _, body) = call(&router, &As::Nobody, "GET", "/v1/system/info", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_list_shows_processes_with_cpu_and_memory() {
    let home = TestHome::new();
    let app = state(&home, Backend::Embedded, "").await.unwrap();
    let router = router(app);
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();

    let (status, _, body) = call(&router, &As::Owner, "GET", "/v1/processes", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let processes = body["processes"].as_array().unwrap();
    let find = |pid: u32| processes.iter().find(|p| p["pid"] == pid).cloned();
    let me = find(std::process::id()).expect("the test process is listed");
    assert!(me["memory_bytes"].as_u64().unwrap() > 0, "{me}");
    assert!(me["cpu_percent"].as_f64().unwrap() >= 0.0, "{me}");
    let child = find(sleeper.id()).expect("the child is listed");
    assert_eq!(child["name"], "sleep");
    assert_eq!(child["parent_pid"], std::process::id());
    // Busiest first.
    let cpu: Vec<f64> = processes
        .iter()
        .map(|p| p["cpu_percent"].as_f64().unwrap())
        .collect();
    assert!(cpu.windows(2).all(|w| w[0] >= w[1]), "{cpu:?}");
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_sends_sigterm_to_the_owner_only_and_never_to_init_or_the_runtime() {
    let home = TestHome::new();
    let token = home.token("ci");
    let app = state(&home, Backend::Embedded, "").await.unwrap();
    let router = router(app);
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let path = format!("/v1/processes/{}/kill", sleeper.id());

    for (pid, status, code) in [
        (1, StatusCode::FORBIDDEN, "forbidden"),
        (std::process::id(), StatusCode::FORBIDDEN, "forbidden"),
        (0, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (2_147_483_647, StatusCode::NOT_FOUND, "not_found"),
    ] {
        let uri = format!("/v1/processes/{pid}/kill");
        let (got, _, body) = call(&router, &As::Owner, "POST", &uri, None).await;
        assert_eq!(got, status, "{pid}: {body}");
        assert_eq!(error_code(&body), code, "{pid}");
    }
    let (status, _, body) =
        call(&router, &As::Owner, "POST", "/v1/processes/init/kill", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A bearer token is for tools: it may not kill.
    let (status, _, body) = call(&router, &As::Token(token), "POST", &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        sleeper.try_wait().unwrap().is_none(),
        "the child must still run"
    );

    let (status, _, body) = call(&router, &As::Owner, "POST", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["pid"], sleeper.id());
    assert_eq!(body["name"], "sleep");
    assert_eq!(body["signal"], "SIGTERM");
    let ended = wait_exit(&mut sleeper, Duration::from_secs(5)).expect("sleep ends on SIGTERM");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(ended.signal(), Some(15));
}
