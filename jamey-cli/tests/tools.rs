//! `jamey tools`, `jamey approvals` and the approvals of `jamey chat` against a real
//! `jamey-runtime`, through the SPEC's contract only: `GET /v1/tools`, `POST
//! /v1/tools/{name}/invoke`, `GET /v1/approvals`, `POST /v1/approvals/{id}`, `GET
//! /v1/tool-calls` and the `approval_required` / `approval_resolved` chat events. Each test makes
//! a fresh JAMEY_HOME whose `[tools] permissions` make `memory_save` an `ask` tool (harmless and
//! deterministic) and `system_info` a `deny` one, starts the runtime with a scripted model on
//! 127.0.0.1, and drives `jamey` as a user in another shell would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jamey_protocol::settings::{self, SETTING_VARIABLES};
use jamey_providers::scripted::{ScriptedServer, ScriptedUsage, StreamScript};
use serde_json::Value;
use tempfile::TempDir;

/// The model the scripted OpenAI-compatible server answers as.
const MODEL: &str = "test/scripted-model";

/// A JAMEY_HOME with its runtime running against a scripted model; stopped on drop.
struct Twin {
    _dir: TempDir,
    root: PathBuf,
    listen: String,
    server: ScriptedServer,
    _model_runtime: tokio::runtime::Runtime,
}

impl Twin {
    fn start() -> Self {
        let model_runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = model_runtime.block_on(ScriptedServer::start()).unwrap();
        server.set_default_reply(StreamScript::answer(MODEL, &["(default)"], usage()).into_reply());
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let twin = Self {
            root: dir.path().join("home"),
            _dir: dir,
            listen: format!("127.0.0.1:{port}"),
            server,
            _model_runtime: model_runtime,
        };
        succeeds(twin.jamey(&["init"]));
        let config = twin.root.join("config.toml");
        let text = fs::read_to_string(&config).unwrap();
        assert!(
            text.contains("# permissions = {}"),
            "the template has the permissions line: {text}"
        );
        fs::write(
            &config,
            text.replace(
                "# permissions = {}",
                "permissions = { memory_save = \"ask\", system_info = \"deny\" }",
            ),
        )
        .unwrap();
        let started = json(twin.jamey(&["start", "--json"]));
        assert_eq!(started["already_running"], false, "{started}");
        twin
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_jamey"));
        for variable in SETTING_VARIABLES {
            command.env_remove(variable.name);
        }
        command
            .env_remove(settings::TOKEN_VARIABLE)
            .args(args)
            .env("JAMEY_HOME", &self.root)
            .env("JAMEY_LISTEN", &self.listen)
            .env("JAMEY_LOG", "info")
            .env("JAMEY_LLM_BASE_URL", self.server.base_url())
            .env("JAMEY_LLM_MODEL", MODEL)
            .stdin(Stdio::null());
        command
    }

    fn jamey(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `jamey chat MESSAGE` in the background, stdin not a terminal, its output collected.
    fn chat(&self, message: &str) -> Chat {
        self.spawn_chat(&["chat", message])
    }

    /// The same, continuing `session`.
    fn chat_in(&self, message: &str, session: &str) -> Chat {
        self.spawn_chat(&["chat", message, "--session", session])
    }

    fn spawn_chat(&self, args: &[&str]) -> Chat {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Chat {
            child,
            stdout,
            stderr,
        }
    }

    /// The model asks for `memory_save` with `content`, then answers `answer`.
    fn script_save(&self, call_id: &str, content: &str, answer: &str) {
        self.server.push(
            StreamScript::new(MODEL)
                .tool_call_start(0, call_id, "memory_save")
                .tool_call_arguments(0, &serde_json::json!({ "content": content }).to_string())
                .finish("tool_calls")
                .usage(usage())
                .done()
                .into_reply(),
        );
        self.server
            .push(StreamScript::answer(MODEL, &[answer], usage()).into_reply());
    }
}

impl Drop for Twin {
    fn drop(&mut self) {
        let _ = self.jamey(&["stop"]);
    }
}

/// A `jamey chat` running in the background.
struct Chat {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Chat {
    /// The approval id `jamey chat` printed with the command that answers it.
    fn approval_id(&self) -> String {
        let needle = "jamey approvals approve ";
        wait_for(&self.stderr, needle, &self.stdout);
        let text = self.stderr.lock().unwrap().clone();
        let at = text.find(needle).unwrap() + needle.len();
        text[at..]
            .split(|c: char| c == '`' || c.is_whitespace())
            .next()
            .unwrap()
            .to_string()
    }

    /// Waits for the chat to end; its status, stdout and stderr.
    fn finish(mut self) -> (bool, String, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("jamey chat did not end: {:?}", self.stderr.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The pipes close with the process; let the readers catch up.
        std::thread::sleep(Duration::from_millis(100));
        let out = self.stdout.lock().unwrap().clone();
        let err = self.stderr.lock().unwrap().clone();
        (status.success(), out, err)
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn usage() -> ScriptedUsage {
    ScriptedUsage {
        prompt_tokens: 100,
        completion_tokens: 20,
        cost: Some(0.000_42),
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

/// Asserts exit 1 and one line on stderr; returns that line.
fn fails(output: Output) -> String {
    assert_eq!(output.status.code(), Some(1), "stderr: {}", stderr(&output));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    err.trim_end().to_string()
}

fn collect(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
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
fn tools_list_shows_each_tool_with_its_source_and_permission() {
    let twin = Twin::start();
    let list = json(twin.jamey(&["tools", "list", "--json"]));
    let tools = list["tools"].as_array().unwrap();
    let tool = |name: &str| {
        tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {list}"))
            .clone()
    };
    assert_eq!(tool("memory_search")["source"], "builtin");
    assert_eq!(tool("memory_search")["permission"], "allow");
    assert_eq!(tool("memory_save")["permission"], "ask");
    assert_eq!(tool("memory_save")["parameters"]["type"], "object");

    let text = succeeds(twin.jamey(&["tools", "list"]));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "SOURCE", "PERMISSION", "DESCRIPTION"]);
    let save = lines.find(|l| l.starts_with("memory_save ")).unwrap();
    let cells: Vec<&str> = save.split_whitespace().collect();
    assert_eq!(cells[..3], ["memory_save", "builtin", "ask"], "{save}");
}

#[test]
fn tools_run_invokes_as_the_owner_and_refusals_are_one_line() {
    let twin = Twin::start();
    // The owner's direct request is the approval of an `ask` tool.
    let ran = json(twin.jamey(&[
        "tools",
        "run",
        "memory_save",
        "--args",
        r#"{"content": "The spare key is under the blue pot"}"#,
        "--json",
    ]));
    assert_eq!(ran["is_error"], false, "{ran}");
    assert!(ran["call_id"].is_string(), "{ran}");
    assert!(ran["duration_ms"].is_u64(), "{ran}");
    let found = succeeds(twin.jamey(&["memory", "search", "where is the spare key?"]));
    assert!(found.contains("blue pot"), "{found}");
    let text = succeeds(twin.jamey(&[
        "tools",
        "run",
        "memory_search",
        "--args",
        r#"{"query": "spare key"}"#,
    ]));
    assert!(text.contains("blue pot"), "{text}");

    // 404, 422 naming the field, 403 for a denied tool; a bad --args never leaves the CLI.
    let err = fails(twin.jamey(&["tools", "run", "no_such_tool"]));
    assert!(
        err.starts_with("error: ") && err.contains("no_such_tool"),
        "{err}"
    );
    let err = fails(twin.jamey(&["tools", "run", "memory_save", "--args", r#"{"content": 5}"#]));
    assert!(err.contains("content"), "{err}");
    let err = fails(twin.jamey(&["tools", "run", "system_info"]));
    assert!(err.starts_with("error: "), "{err}");
    let err = fails(twin.jamey(&["tools", "run", "memory_save", "--args", "{oops"]));
    assert!(err.contains("--args is not JSON"), "{err}");

    // Every call is in the audit trail, newest first, filterable by tool and decision.
    let log = json(twin.jamey(&["tools", "log", "--tool", "memory_save", "--json"]));
    let items = log["items"].as_array().unwrap();
    assert!(!items.is_empty(), "{log}");
    assert!(items.iter().all(|i| i["tool"] == "memory_save"), "{log}");
    // memory_save is `ask` here: the owner's direct request is its approval.
    assert!(items.iter().any(|i| i["decision"] == "approved"), "{log}");
    let denied = json(twin.jamey(&["tools", "log", "--decision", "denied", "--json"]));
    let denied = denied["items"].as_array().unwrap();
    assert!(
        denied.iter().any(|i| i["tool"] == "system_info"),
        "{denied:?}"
    );
    let text = succeeds(twin.jamey(&["tools", "log"]));
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "AT",
            "TOOL",
            "DECISION",
            "RESULT",
            "MS",
            "CALLER",
            "ARGUMENTS"
        ]
    );
    // Pages: one item a page, and the hint names the next cursor.
    let output = twin.jamey(&["tools", "log", "--limit", "1"]);
    let note = stderr(&output);
    assert_eq!(succeeds(output).lines().count(), 2);
    assert!(
        note.contains("jamey tools log --limit 1 --cursor "),
        "{note}"
    );
    // A decision that does not exist is a usage error, named.
    let output = twin.jamey(&["tools", "log", "--decision", "maybe"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("maybe"), "{}", stderr(&output));
}

#[test]
fn chat_without_a_terminal_says_how_to_answer_and_resumes_on_approve() {
    let twin = Twin::start();
    twin.script_save("call_1", "Anna likes tulips", "Saved.");
    let chat = twin.chat("Remember that Anna likes tulips");
    let id = chat.approval_id();

    // Any client sees the pending call, and answers it.
    let pending = json(twin.jamey(&["approvals", "--json"]));
    let items = pending["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{pending}");
    assert_eq!(items[0]["id"], id.as_str());
    assert_eq!(items[0]["tool"], "memory_save");
    assert_eq!(items[0]["arguments"]["content"], "Anna likes tulips");
    assert_eq!(items[0]["fingerprint"].as_str().unwrap().len(), 64);
    let table = succeeds(twin.jamey(&["approvals"]));
    assert!(
        table.contains(&id) && table.contains("{\"content\": \"Anna likes tulips\"}"),
        "{table}"
    );
    let decided = json(twin.jamey(&["approvals", "approve", &id, "--json"]));
    assert_eq!(decided["id"], id.as_str());
    assert_eq!(decided["decision"], "approve");

    let (ok, out, err) = chat.finish();
    assert!(ok, "{err}");
    assert_eq!(out, "Saved.\n");
    assert!(
        err.contains("memory_save {\"content\": \"Anna likes tulips\"} waits for a decision"),
        "{err}"
    );
    assert!(err.contains("✓ memory_save approved"), "{err}");
    assert!(err.contains("⚙ memory_save done"), "{err}");

    // Decided once: a second decision is refused; nothing is pending any more.
    let err = fails(twin.jamey(&["approvals", "deny", &id]));
    assert!(err.starts_with("error: "), "{err}");
    let pending = json(twin.jamey(&["approvals", "--json"]));
    assert_eq!(pending["items"], serde_json::json!([]));
    let log = json(twin.jamey(&["tools", "log", "--decision", "approved", "--json"]));
    assert_eq!(log["items"][0]["tool"], "memory_save", "{log}");
    let err = fails(twin.jamey(&[
        "approvals",
        "approve",
        "00000000-0000-0000-0000-000000000000",
    ]));
    assert!(err.starts_with("error: "), "{err}");
}

#[test]
fn a_denied_call_is_shown_denied_and_the_turn_still_answers() {
    let twin = Twin::start();
    twin.script_save(
        "call_1",
        "the wifi password is hunter2",
        "I did not save it.",
    );
    let chat = twin.chat("Remember the wifi password");
    let id = chat.approval_id();
    let decided = succeeds(twin.jamey(&["approvals", "deny", &id]));
    assert_eq!(decided, format!("Denied {id}\n"));

    let (ok, out, err) = chat.finish();
    assert!(ok, "{err}");
    assert_eq!(out, "I did not save it.\n");
    assert!(err.contains("✗ memory_save denied"), "{err}");
    assert!(err.contains("⚙ memory_save failed"), "{err}");
    let log = json(twin.jamey(&[
        "tools",
        "log",
        "--tool",
        "memory_save",
        "--decision",
        "denied",
        "--json",
    ]));
    assert_eq!(log["items"].as_array().unwrap().len(), 1, "{log}");
    let found = succeeds(twin.jamey(&["memory", "search", "wifi password", "--json"]));
    assert!(!found.contains("hunter2"), "{found}");
}

/// `jamey chat` on a terminal asks inline and posts what is typed: `s` approves this call for
/// the session, so the same call in the next turn of that session runs without a question.
#[test]
fn chat_on_a_terminal_asks_inline_and_s_approves_for_the_session() {
    use portable_pty::{CommandBuilder, PtySize};
    use std::io::Write;

    let twin = Twin::start();
    twin.script_save("call_1", "Anna likes tulips", "Saved.");
    let pty = portable_pty::native_pty_system()
        .openpty(PtySize {
            rows: 30,
            cols: 200,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_jamey"));
    for variable in SETTING_VARIABLES {
        command.env_remove(variable.name);
    }
    command.env_remove(settings::TOKEN_VARIABLE);
    command.args(["chat", "Remember that Anna likes tulips"]);
    command.env("JAMEY_HOME", &twin.root);
    command.env("JAMEY_LISTEN", &twin.listen);
    command.env("JAMEY_LLM_BASE_URL", twin.server.base_url());
    command.env("JAMEY_LLM_MODEL", MODEL);
    let mut child = pty.slave.spawn_command(command).unwrap();
    drop(pty.slave);
    let mut keyboard = pty.master.take_writer().unwrap();
    let screen = collect(pty.master.try_clone_reader().unwrap());
    let nothing = Mutex::new(String::new());

    wait_for(
        &screen,
        "Allow memory_save {\"content\": \"Anna likes tulips\"}? [y/N/s=session]",
        &nothing,
    );
    keyboard.write_all(b"s\r").unwrap();
    wait_for(&screen, "✓ memory_save approved", &nothing);
    wait_for(&screen, "Saved.", &nothing);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "{}", screen.lock().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{}", screen.lock().unwrap());
    // The session is read from the audit row, not the screen: a pseudo-terminal may wrap or
    // colour the footer that names it.
    let log = json(twin.jamey(&["tools", "log", "--tool", "memory_save", "--json"]));
    let session = log["items"][0]["session_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no session in {log}"))
        .to_string();
    assert_eq!(log["items"][0]["decision"], "approved", "{log}");

    // The same call again in that session: no question, it runs.
    twin.script_save("call_2", "Anna likes tulips", "Saved again.");
    let chat = twin.chat_in("Remember that Anna likes tulips", &session);
    let (ok, out, err) = chat.finish();
    assert!(ok, "{err}");
    assert_eq!(out, "Saved again.\n");
    assert!(!err.contains("waits for a decision"), "{err}");
}
