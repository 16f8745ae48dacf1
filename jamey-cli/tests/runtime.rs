//! `jamey` against a real `jamey-runtime`: each test makes a fresh JAMEY_HOME with `jamey init`,
//! starts the runtime on a free port with `jamey start` (embedded store), and drives it the way
//! a user or a script does, checking `--json` shapes, text and exit codes.
//!
//! `jamey start` runs the `jamey-runtime` beside the `jamey` binary: `cargo test --workspace`
//! (and scripts/test.sh) builds both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jamey_providers::scripted::{ScriptedReply, ScriptedServer, ScriptedUsage, StreamScript};

use serde_json::Value;
use tempfile::TempDir;

/// Settings a developer's shell may carry that would point the runtime elsewhere.
const FOREIGN_SETTINGS: [&str; 11] = [
    "JAMEY_DATABASE_URL",
    "JAMEY_LLM_BASE_URL",
    "JAMEY_LLM_MODEL",
    "OPENROUTER_API_KEY",
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
    /// Settings every command (and so the runtime `jamey start` spawns) gets.
    env: Vec<(String, String)>,
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
            env: Vec::new(),
        }
    }

    /// The same home with `name=value` in every command's environment.
    fn with_env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `jamey init` done.
    fn initialised() -> Self {
        let home = Self::new();
        succeeds(home.jamey(&["init"]));
        home
    }

    /// `jamey init` and `jamey start` done; stopped again on drop.
    fn running() -> Running {
        Self::initialised().start()
    }

    /// `jamey start` done; stopped again on drop.
    fn start(self) -> Running {
        let home = self;
        let started = json(home.jamey(&["start", "--json"]));
        assert_eq!(started["already_running"], false, "{started}");
        Running::new(home)
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
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        command
    }

    fn jamey(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
}

/// A home whose runtime runs; `jamey stop` on drop so no runtime outlives its test.
struct Running {
    home: Option<Home>,
}

impl Running {
    fn new(home: Home) -> Self {
        Self { home: Some(home) }
    }

    /// `jamey stop`, checked; the home stays for more commands.
    fn stop(mut self) -> Home {
        let home = self.home.take().unwrap();
        succeeds(home.jamey(&["stop"]));
        home
    }
}

impl std::ops::Deref for Running {
    type Target = Home;
    fn deref(&self) -> &Home {
        self.home.as_ref().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(home) = &self.home {
            let _ = home.jamey(&["stop"]);
        }
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
    let running = Running::new(home);
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
    assert!(
        help.contains("export") && help.contains("import") && help.contains("reembed"),
        "{help}"
    );
    let help = succeeds(home.jamey(&["chat", "--help"]));
    assert!(
        help.contains("--session") && help.contains("/help"),
        "{help}"
    );
}

/// The model the scripted OpenAI-compatible server answers as.
const MODEL: &str = "test/scripted-model";

fn usage() -> ScriptedUsage {
    ScriptedUsage {
        prompt_tokens: 100,
        completion_tokens: 20,
        cost: Some(0.000_42),
    }
}

/// A scripted OpenAI-compatible server on 127.0.0.1, kept alive by its own async runtime.
struct Llm {
    server: ScriptedServer,
    _runtime: tokio::runtime::Runtime,
}

impl Llm {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime.block_on(ScriptedServer::start()).unwrap();
        // Calls the tests do not script (e.g. a summary) still get a well-formed answer.
        server.set_default_reply(StreamScript::answer(MODEL, &["(default)"], usage()).into_reply());
        Self {
            server,
            _runtime: runtime,
        }
    }

    fn home(&self) -> Home {
        Home::new()
            .with_env("JAMEY_LLM_BASE_URL", &self.server.base_url())
            .with_env("JAMEY_LLM_MODEL", MODEL)
    }
}

/// The session id from the footer `jamey chat` prints on stderr: `[... · session ID]`.
fn session_from_footer(stderr: &str) -> String {
    let footer = stderr
        .lines()
        .rev()
        .find(|l| l.contains("session "))
        .unwrap();
    footer
        .split("session ")
        .nth(1)
        .unwrap()
        .trim_end_matches(']')
        .trim()
        .to_string()
}

#[test]
fn chat_streams_the_answer_and_continues_a_session() {
    let llm = Llm::start();
    let home = llm.home();
    succeeds(home.jamey(&["init"]));
    let home = home.start();

    llm.server
        .push(StreamScript::answer(MODEL, &["Anna ", "likes ", "tulips."], usage()).into_reply());
    let output = home.jamey(&["chat", "What flowers does Anna like?"]);
    let answer = succeeds(output.clone());
    assert_eq!(answer, "Anna likes tulips.\n");
    let err = stderr(&output);
    assert!(err.contains(MODEL) && err.contains("120 tokens"), "{err}");
    let session = session_from_footer(&err);
    assert!(!session.is_empty(), "{err}");

    // The same session, as one JSON document: the upstream call carries the first exchange.
    llm.server
        .push(StreamScript::answer(MODEL, &["In May."], usage()).into_reply());
    let reply = json(home.jamey(&["chat", "When?", "--session", &session, "--json"]));
    assert_eq!(reply["session_id"], session.as_str());
    assert_eq!(reply["reply"], "In May.");
    assert_eq!(reply["model"], MODEL);
    assert_eq!(reply["usage"]["total_tokens"], 120);
    let requests = llm.server.requests();
    let last = requests.last().unwrap();
    let body = last.body.to_string();
    assert!(
        body.contains("Anna likes tulips.") && body.contains("When?"),
        "{body}"
    );

    // The message may come from stdin.
    llm.server
        .push(StreamScript::answer(MODEL, &["Piped."], usage()).into_reply());
    let mut child = home
        .command(&["chat", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a question from a pipe\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(succeeds(output), "Piped.\n");
    let body = llm.server.requests().last().unwrap().body.to_string();
    assert!(body.contains("a question from a pipe"), "{body}");

    // Failures: an unknown model is refused before any paid call; a provider failure is one line.
    let calls = llm.server.request_count();
    let err = fails_with(home.jamey(&["chat", "hi", "--model", "no/such-model"]), 1);
    assert!(err.contains("no/such-model"), "{err}");
    assert_eq!(llm.server.request_count(), calls);
    llm.server
        .push(ScriptedReply::error(401, "No auth credentials found"));
    let err = fails_with(home.jamey(&["chat", "hi"]), 1);
    assert!(err.starts_with("error: "), "{err}");
    let err = fails_with(home.jamey(&["chat", "--json"]), 1);
    assert!(err.contains("needs a message"), "{err}");
}

#[test]
fn interactive_chat_runs_slash_commands_and_ctrl_c_cancels_only_the_answer() {
    let llm = Llm::start();
    let home = llm.home();
    succeeds(home.jamey(&["init"]));
    let home = home.start();
    succeeds(home.jamey(&["memory", "add", "The spare key is under the blue pot"]));

    // The first answer stalls after its first words, long enough to be cancelled.
    llm.server.push(
        StreamScript::new(MODEL)
            .text("Let me ")
            .pause(Duration::from_secs(30))
            .text("never shown")
            .finish("stop")
            .done()
            .into_reply(),
    );
    llm.server
        .push(StreamScript::answer(MODEL, &["Second ", "answer."], usage()).into_reply());
    let mut child = home
        .command(&["chat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdout = collect(child.stdout.take().unwrap());
    let stderr_text = collect(child.stderr.take().unwrap());

    input
        .write_all(b"/help\n/model\n/memory spare key\n/bogus\n/copy\n/session a b\n")
        .unwrap();
    input.write_all(b"where is the key?\n").unwrap();
    wait_for(&stdout, "Let me ", &stderr_text);
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::INT,
    )
    .unwrap();
    wait_for(&stderr_text, "[cancelled]", &stdout);
    input
        .write_all(b"and now?\n/session\n/model no/such\n/copy\n/quit\n")
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "{status:?}: {}",
        stderr_text.lock().unwrap()
    );

    let out = stdout.lock().unwrap().clone();
    let err = stderr_text.lock().unwrap().clone();
    assert!(out.contains("Second answer."), "{out}");
    assert!(!out.contains("never shown"), "{out}");
    assert!(
        err.contains("Commands:") && err.contains("/memory QUERY"),
        "{err}"
    );
    assert!(err.contains("* jamey") && err.contains(MODEL), "{err}");
    assert!(err.contains("blue pot"), "{err}");
    assert!(err.contains("unknown command /bogus"), "{err}");
    // The same commands as jamey-tui's, with the same help and the same complaints.
    assert!(
        err.contains(&jamey_client::slash::help_text()),
        "the shared help: {err}"
    );
    assert!(err.contains("no answer to copy yet"), "{err}");
    assert!(
        err.contains("/session does not take \"a b\": /session [new|list|ID]"),
        "{err}"
    );
    assert!(err.contains("unknown model \"no/such\""), "{err}");
    assert!(
        err.contains("stderr is not a terminal to copy through"),
        "{err}"
    );
    assert!(err.contains("Session "), "{err}");
    // The cancelled turn and the next one share the session; the upstream saw the disconnect.
    let requests = llm.server.requests();
    let body = requests.last().unwrap().body.to_string();
    assert!(
        body.contains("where is the key?") && body.contains("and now?"),
        "{body}"
    );
    assert!(llm.server.disconnects() >= 1);
}

/// Collects a pipe's text on a thread.
fn collect(mut pipe: impl std::io::Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buffer) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    });
    text
}

/// Waits until `text` contains `needle`; `other` (the other stream) is shown on a timeout.
fn wait_for(text: &Mutex<String>, needle: &str, other: &Mutex<String>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !text.lock().unwrap().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {needle:?} in {:?}; the other stream: {:?}",
            text.lock().unwrap(),
            other.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn reembed_moves_the_store_to_a_new_embedder() {
    let Some(minilm) = std::env::var_os("JAMEY_TEST_MINILM_DIR") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "JAMEY_TEST_MINILM_DIR must be set in CI (scripts/test.sh sets it)"
        );
        eprintln!("skipping: JAMEY_TEST_MINILM_DIR is not set (run scripts/test.sh)");
        return;
    };
    let minilm = minilm.to_string_lossy().into_owned();
    let home = Home::running();
    for text in [
        "Anna is allergic to peanuts",
        "The boiler was serviced in October",
        "Marek recommends the Okonkwo bakery",
    ] {
        succeeds(home.jamey(&["memory", "add", text]));
    }
    // With nothing to change, reembed says so; while the runtime runs, it refuses.
    let err = fails_with(home.jamey(&["memory", "reembed"]), 1);
    assert!(err.contains("jamey stop"), "{err}");
    let home = home.stop();
    let same = json(home.jamey(&["memory", "reembed", "--json"]));
    assert_eq!(same["reembedded"], 0);

    // Another embedder: the runtime refuses the store, and says what to do.
    let home = home.with_env("JAMEY_EMBEDDING_MODEL_DIR", &minilm);
    let err = fails_with(home.jamey(&["start", "--json"]), 1);
    assert!(err.contains("jamey memory reembed"), "{err}");
    let report = json(home.jamey(&["memory", "reembed", "--json"]));
    assert_eq!(report["reembedded"], 3, "{report}");
    assert_eq!(report["to"]["dimensions"], 384);
    assert!(report["from"]["model"].is_string(), "{report}");
    assert_ne!(report["from"], report["to"]);

    let home = home.start();
    let found = json(home.jamey(&[
        "memory",
        "search",
        "what can my sister not eat?",
        "--mode",
        "vector",
        "--limit",
        "1",
        "--json",
    ]));
    assert_eq!(
        found["results"][0]["memory"]["content"],
        "Anna is allergic to peanuts"
    );
}
