//! `jamey` against a real `jamey-runtime`: each test makes a fresh JAMEY_HOME with `jamey init`,
//! starts the runtime on a free port with `jamey start` (embedded store), and drives it the way
//! a user or a script does, checking `--json` shapes, text and exit codes.
//!
//! `jamey start` runs the `jamey-runtime` beside the `jamey` binary: `cargo test --workspace`
//! (and scripts/test.sh) builds both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// Settings a developer's shell may carry that would point the runtime elsewhere.
const FOREIGN_SETTINGS: [&str; 8] = [
    "JAMEY_DATABASE_URL",
    "JAMEY_REDIS_URL",
    "JAMEY_EMBEDDING_MODEL_DIR",
    "JAMEY_EMBEDDING_BASE_URL",
    "JAMEY_EMBEDDING_MODEL",
    "JAMEY_LISTEN",
    "JAMEY_TOKEN",
    "JAMEY_LOG",
];

/// A JAMEY_HOME and the listen address its runtime uses.
struct Home {
    _dir: TempDir,
    root: PathBuf,
    listen: String,
}

impl Home {
    /// A home that does not exist yet, with a free loopback port.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("home");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self {
            _dir: dir,
            root,
            listen: format!("127.0.0.1:{port}"),
        }
    }

    /// `jamey init` done.
    fn initialised() -> Self {
        let home = Self::new();
        succeeds(home.jamey(&["init"]));
        home
    }

    /// `jamey init` and `jamey start` done; stopped again on drop.
    fn running() -> Running {
        let home = Self::initialised();
        let started = json(home.jamey(&["start", "--json"]));
        assert_eq!(started["already_running"], false, "{started}");
        Running { home }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_jamey"));
        for name in FOREIGN_SETTINGS {
            command.env_remove(name);
        }
        command
            .args(args)
            .env("JAMEY_HOME", &self.root)
            .env("JAMEY_LISTEN", &self.listen)
            .env("JAMEY_LOG", "info")
            .stdin(Stdio::null());
        command
    }

    fn jamey(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
}

/// A home whose runtime runs; `jamey stop` on drop so no runtime outlives its test.
struct Running {
    home: Home,
}

impl std::ops::Deref for Running {
    type Target = Home;
    fn deref(&self) -> &Home {
        &self.home
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.home.jamey(&["stop"]);
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts success and returns stdout.
fn succeeds(output: Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}, stderr: {}",
        output.status,
        stderr(&output)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn json(output: Output) -> Value {
    serde_json::from_str(&succeeds(output)).unwrap()
}

/// Asserts the exit code and one line on stderr; returns that line.
fn fails_with(output: Output, code: i32) -> String {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stderr: {}",
        stderr(&output)
    );
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    err.trim_end().to_string()
}

fn pid_alive(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn status_start_stop_and_their_exit_codes() {
    // Never initialised: not running, exit 3, and nothing created.
    let home = Home::new();
    let output = home.jamey(&["status", "--json"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["running"], false);
    assert!(
        status["reason"]
            .as_str()
            .unwrap()
            .contains("run `jamey init`"),
        "{status}"
    );
    assert!(!home.root.exists());
    let err = fails_with(home.jamey(&["start"]), 1);
    assert!(
        err.contains("not initialised") && err.contains("jamey init"),
        "{err}"
    );

    // Initialised but stopped: exit 3 and the advice to start.
    succeeds(home.jamey(&["init"]));
    let output = home.jamey(&["status"]);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "Not running\n");
    assert!(
        stderr(&output).contains("run `jamey start`"),
        "{}",
        stderr(&output)
    );
    let stopped = json(home.jamey(&["stop", "--json"]));
    assert_eq!(stopped["was_running"], false);

    let started = json(home.jamey(&["start", "--json"]));
    let running = Running { home };
    let pid = started["pid"].as_u64().unwrap();
    assert_eq!(started["url"], format!("https://{}", running.listen));
    assert_eq!(started["readiness"]["status"], "ready");
    assert!(pid_alive(pid));
    assert_eq!(
        fs::read_to_string(running.root.join("jamey.pid"))
            .unwrap()
            .trim(),
        pid.to_string()
    );
    let log = PathBuf::from(started["log"].as_str().unwrap());
    assert!(
        log.starts_with(running.root.join("logs")) && log.is_file(),
        "{log:?}"
    );

    let again = json(running.jamey(&["start", "--json"]));
    assert_eq!(again["already_running"], true);
    assert_eq!(again["pid"], pid);

    let status = json(running.jamey(&["status", "--json"]));
    assert_eq!(status["running"], true);
    assert_eq!(status["ready"], true);
    assert_eq!(status["pid"], pid);
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert!(status["uptime_secs"].is_u64());
    assert_eq!(status["dependencies"]["store"]["status"], "up");
    assert_eq!(status["dependencies"]["store"]["backend"], "embedded");
    let text = succeeds(running.jamey(&["status"]));
    assert!(text.starts_with("Running, ready: https://"), "{text}");
    assert!(
        text.contains("store") && text.contains("embedded"),
        "{text}"
    );

    let stopped = json(running.jamey(&["stop", "--json"]));
    assert_eq!(stopped["was_running"], true);
    assert_eq!(stopped["forced"], false);
    assert_eq!(stopped["pid"], pid);
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!pid_alive(pid), "the runtime must be gone after stop");
    assert!(!running.root.join("jamey.pid").exists());
    let output = running.jamey(&["status", "--json"]);
    assert_eq!(output.status.code(), Some(3));
}

#[test]
fn start_reports_why_the_runtime_failed() {
    let home = Home::initialised();
    fs::write(
        home.root.join("config.toml"),
        "[limits]\nmax_body_bytes = 5\n",
    )
    .unwrap();
    let output = home.jamey(&["start", "--json"]);
    let err = fails_with(output, 1);
    assert!(
        err.contains("exited") && err.contains("limits.max_body_bytes"),
        "{err}"
    );
    // Text mode also shows the tail of the log before the one-line reason.
    let output = home.jamey(&["start"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("last lines of"), "{err}");
    assert!(err.lines().last().unwrap().starts_with("error: "), "{err}");
}

#[test]
fn memory_add_get_list_search_rm() {
    let home = Home::running();
    let added = json(home.jamey(&[
        "memory",
        "add",
        "My sister Anna is allergic to peanuts",
        "--tag",
        "family",
        "--kind",
        "fact",
        "--json",
    ]));
    let id = added["id"].as_str().unwrap().to_string();
    assert_eq!(added["kind"], "fact");
    assert_eq!(added["tags"], serde_json::json!(["family"]));
    assert!(added["created_at"].is_string());
    // Text mode prints the id alone on stdout, for $(jamey memory add ...).
    let second = succeeds(home.jamey(&["memory", "add", "The boiler was serviced in October"]));
    let second = second.trim().to_string();
    assert_eq!(second.len(), 36, "{second}");

    let got = json(home.jamey(&["memory", "get", &id, "--json"]));
    assert_eq!(got, added);
    let text = succeeds(home.jamey(&["memory", "get", &id]));
    assert!(
        text.contains("allergic to peanuts") && text.contains("family"),
        "{text}"
    );

    let page = json(home.jamey(&["memory", "list", "--json", "--limit", "1"]));
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], second.as_str());
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let next = json(home.jamey(&[
        "memory", "list", "--json", "--limit", "1", "--cursor", &cursor,
    ]));
    assert_eq!(next["items"][0]["id"], id.as_str());
    let table = succeeds(home.jamey(&["memory", "list"]));
    assert!(table.starts_with("ID"), "{table}");
    assert_eq!(table.lines().count(), 3, "{table}");

    let found = json(home.jamey(&[
        "memory",
        "search",
        "what can my sibling not eat?",
        "--limit",
        "1",
        "--json",
    ]));
    assert_eq!(found["results"][0]["memory"]["id"], id.as_str());
    assert!(found["results"][0]["score"].as_f64().unwrap() > 0.0);
    let keyword = json(home.jamey(&["memory", "search", "boiler", "--mode", "keyword", "--json"]));
    assert_eq!(keyword["results"].as_array().unwrap().len(), 1);
    let filtered = json(home.jamey(&["memory", "search", "peanuts", "--tag", "nope", "--json"]));
    assert_eq!(filtered["results"].as_array().unwrap().len(), 0);
    let text = succeeds(home.jamey(&["memory", "search", "peanuts"]));
    assert!(text.starts_with("SCORE"), "{text}");

    let deleted = json(home.jamey(&["memory", "rm", &id, "--json"]));
    assert_eq!(deleted["deleted"], id.as_str());
    let err = fails_with(home.jamey(&["memory", "get", &id]), 1);
    assert_eq!(err, format!("error: memory {id} not found"));
    let err = fails_with(home.jamey(&["memory", "rm", &id, "--json"]), 1);
    assert!(err.contains("not found"), "{err}");
    let err = fails_with(home.jamey(&["memory", "add", ""]), 1);
    assert!(err.contains("content"), "{err}");
    let err = fails_with(home.jamey(&["memory", "get", "not-a-uuid"]), 2);
    assert!(err.contains("jamey --help"), "{err}");
}

#[test]
fn export_then_import_round_trips_and_reports_bad_lines_by_number() {
    let home = Home::running();
    for (text, tag) in [
        ("Anna likes green tea", "family"),
        ("Marek recommends the Okonkwo bakery", "food"),
        ("The car is due for inspection in June", "car"),
    ] {
        succeeds(home.jamey(&["memory", "add", text, "--tag", tag]));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("memories.jsonl");
    let exported = json(home.jamey(&[
        "memory",
        "export",
        "--out",
        file.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(exported["memories"], 3);
    let text = fs::read_to_string(&file).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["content"], "The car is due for inspection in June");
    // To stdout: the JSON Lines themselves.
    let stdout = succeeds(home.jamey(&["memory", "export"]));
    assert_eq!(stdout, text);

    // Into a second home: the export's lines, a bad line in the middle and a minimal one.
    let other = Home::running();
    let mut input: Vec<String> = text.lines().map(str::to_string).collect();
    input.insert(1, "{\"content\": \"\"}".into());
    input.insert(3, "not json".into());
    input.push(String::new());
    input.push("{\"content\": \"Only content is required\"}".into());
    let import_file = dir.path().join("import.jsonl");
    fs::write(&import_file, input.join("\n")).unwrap();
    let output = other.jamey(&[
        "memory",
        "import",
        import_file.to_str().unwrap(),
        "--json",
        "--batch",
        "2",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("2 of 6 lines not imported (line 2, 4)"),
        "{err}"
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["imported"], 4);
    assert_eq!(report["lines"], 6);
    assert_eq!(report["failed"][0]["line"], 2);
    assert!(
        report["failed"][0]["error"]
            .as_str()
            .unwrap()
            .contains("content"),
        "{report}"
    );
    assert_eq!(report["failed"][1]["line"], 4);
    assert!(
        report["failed"][1]["error"]
            .as_str()
            .unwrap()
            .starts_with("not JSON"),
        "{report}"
    );
    assert!(report["per_second"].as_f64().unwrap() > 0.0);

    let imported = succeeds(other.jamey(&["memory", "export"]));
    let mut contents: Vec<(String, Value, String)> = imported
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|m| {
            (
                m["content"].as_str().unwrap().to_string(),
                m["tags"].clone(),
                m["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    contents.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected: Vec<(String, Value, String)> = lines
        .iter()
        .map(|m| {
            (
                m["content"].as_str().unwrap().to_string(),
                m["tags"].clone(),
                m["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    expected.push((
        "Only content is required".into(),
        serde_json::json!([]),
        "note".into(),
    ));
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(contents, expected);

    // Text mode: each bad line on stderr by number, then the one-line reason.
    let output = other.jamey(&["memory", "import", import_file.to_str().unwrap()]);
    let err = stderr(&output);
    assert!(err.contains("line 2: content"), "{err}");
    assert!(err.contains("line 4: not JSON"), "{err}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("Imported 4 of 6 memories"));
}

#[test]
fn config_show_masks_secrets_from_the_runtime_and_from_the_files() {
    let home = Home::initialised();
    let output = home
        .command(&["config", "show", "--json"])
        .env(
            "JAMEY_DATABASE_URL",
            "postgres://jamey:hunter2@db.example:5432/jamey",
        )
        .output()
        .unwrap();
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(shown["source"], "files");
    assert_eq!(shown["config"]["listen"], home.listen.as_str());
    assert_eq!(
        shown["config"]["database"]["url"],
        "postgres://jamey:[redacted]@db.example:5432/jamey"
    );
    assert!(!shown.to_string().contains("hunter2"));

    let home = Home::running();
    let shown = json(home.jamey(&["config", "show", "--json"]));
    assert_eq!(shown["source"], "runtime");
    assert_eq!(shown["config"]["listen"], home.listen.as_str());
    assert_eq!(shown["config"]["tls"]["plain_http"], false);
    let text = succeeds(home.jamey(&["config", "show"]));
    assert!(
        text.contains(&format!("listen = \"{}\"", home.listen)),
        "{text}"
    );
}

#[test]
fn system_info_process_list_and_the_kill_guard() {
    let home = Home::running();
    let status = json(home.jamey(&["status", "--json"]));
    let runtime_pid = status["pid"].as_u64().unwrap();

    let info = json(home.jamey(&["system", "info", "--json"]));
    assert_eq!(info["runtime"]["pid"], runtime_pid);
    assert_eq!(info["runtime"]["store"], "embedded");
    assert!(info["memory"]["total_bytes"].as_u64().unwrap() > 0);
    let text = succeeds(home.jamey(&["system", "info"]));
    assert!(text.contains("runtime   jamey-runtime"), "{text}");

    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let list = json(home.jamey(&["process", "list", "--json"]));
    let processes = list["processes"].as_array().unwrap();
    assert!(processes
        .iter()
        .any(|p| p["pid"] == runtime_pid && p["memory_bytes"].as_u64().unwrap() > 0));
    assert!(processes
        .iter()
        .any(|p| p["pid"] == sleeper.id() && p["name"] == "sleep"));
    let table = succeeds(home.jamey(&["process", "list", "--limit", "3"]));
    assert!(table.starts_with("PID"), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");

    let err = fails_with(home.jamey(&["process", "kill", "1", "--yes"]), 1);
    assert!(err.contains("refusing to kill PID 1"), "{err}");
    let err = fails_with(
        home.jamey(&["process", "kill", &runtime_pid.to_string(), "--yes"]),
        1,
    );
    assert!(err.contains("runtime itself"), "{err}");
    // Without --yes and without a terminal to ask on, nothing is killed.
    let sleeper_pid = sleeper.id().to_string();
    let err = fails_with(home.jamey(&["process", "kill", &sleeper_pid]), 1);
    assert!(err.contains("--yes"), "{err}");
    assert!(sleeper.try_wait().unwrap().is_none());

    let killed = json(home.jamey(&["process", "kill", &sleeper_pid, "--yes", "--json"]));
    assert_eq!(killed["signal"], "SIGTERM");
    assert_eq!(killed["name"], "sleep");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut ended = None;
    while ended.is_none() && Instant::now() < deadline {
        ended = sleeper.try_wait().unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ended.is_some(), "sleep must end on SIGTERM");
}

#[test]
fn wrong_certificates_and_no_runtime_fail_with_advice() {
    let home = Home::running();
    // Another home's client certificate, trusting this runtime's CA: the runtime refuses it.
    let stranger = Home::initialised();
    fs::copy(
        home.root.join("tls/ca.pem"),
        stranger.root.join("tls/ca.pem"),
    )
    .unwrap();
    let output = stranger
        .command(&["memory", "list"])
        .env("JAMEY_LISTEN", &home.listen)
        .output()
        .unwrap();
    let err = fails_with(output, 1);
    assert!(
        err.contains("certificate rejected") && err.contains("jamey init"),
        "{err}"
    );

    // A home whose CA did not sign the runtime's certificate does not trust it.
    let other = Home::initialised();
    let output = other
        .command(&["memory", "list"])
        .env("JAMEY_LISTEN", &home.listen)
        .output()
        .unwrap();
    let err = fails_with(output, 1);
    assert!(err.contains("not trusted"), "{err}");

    // Nothing listening: the advice is to start it; --url overrides the address.
    let err = fails_with(other.jamey(&["memory", "list"]), 1);
    assert_eq!(
        err,
        format!(
            "error: runtime not running at https://{}: run `jamey start`",
            other.listen
        )
    );
    let url = format!("https://{}", home.listen);
    let output = home.jamey(&["--url", &url, "memory", "list", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let err = fails_with(home.jamey(&["--url", "ftp://x", "memory", "list"]), 1);
    assert!(err.contains("https://"), "{err}");
}

#[test]
fn completions_and_help() {
    let home = Home::new();
    let script = succeeds(home.jamey(&["completions", "bash"]));
    assert!(
        script.contains("jamey") && script.contains("memory"),
        "{}",
        &script[..200]
    );
    let help = succeeds(home.jamey(&["--help"]));
    assert!(
        help.contains("Examples:") && help.contains("jamey memory search"),
        "{help}"
    );
    let help = succeeds(home.jamey(&["memory", "--help"]));
    assert!(help.contains("export") && help.contains("import"), "{help}");
    assert!(!help.contains("reembed"), "{help}");
}
