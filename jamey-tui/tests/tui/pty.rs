//! `jamey-tui` end to end in a real pseudo-terminal: a fresh JAMEY_HOME from `jamey init`, the
//! TUI started before the runtime (it shows itself offline), then a real `jamey-runtime`
//! (embedded store) whose LLM is a scripted OpenAI-compatible server on 127.0.0.1; the TUI
//! reconnects, a message is typed, and the streamed reply is read off the emulated screen
//! (vt100) while it streams and after. Quitting must give the terminal back.
//!
//! `jamey` and `jamey-runtime` are other crates' binaries: they must already be built in the
//! same target directory (`cargo build --workspace`, which `scripts/test.sh` does first).

use jamey_providers::scripted::{ScriptedServer, ScriptedUsage, StreamScript};
use portable_pty::{CommandBuilder, PtySize};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MODEL: &str = "test/model";
const ROWS: u16 = 30;
const COLS: u16 = 100;

/// Settings a developer's shell may carry that would point either process elsewhere.
const FOREIGN_SETTINGS: [&str; 9] = [
    "JAMEY_DATABASE_URL",
    "JAMEY_REDIS_URL",
    "JAMEY_EMBEDDING_MODEL_DIR",
    "JAMEY_EMBEDDING_BASE_URL",
    "JAMEY_EMBEDDING_MODEL",
    "JAMEY_TOKEN",
    "JAMEY_LOG",
    "JAMEY_LLM_API_KEY",
    "JAMEY_SECRETS_PASSPHRASE",
];

/// A binary of this workspace beside the test executable's target directory.
fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/pty-HASH -> target/debug
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the whole workspace first (`cargo build --workspace`, as scripts/test.sh does); \
         this test runs the real `{name}` binary",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The runtime process; killed when dropped so none outlives the test.
struct Runtime(Child);

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The emulated screen, fed by a thread reading the pty.
#[derive(Clone)]
struct Screen {
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
}

impl Screen {
    fn contents(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits until `condition` holds on the screen's text; panics with the screen if it does
    /// not within `timeout`.
    async fn wait_for(&self, what: &str, timeout: Duration, condition: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let contents = self.contents();
            if condition(&contents) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen shows:\n{contents}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A fresh JAMEY_HOME made by `jamey init`, with a free listen address.
fn initialised_home(jamey: &Path) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut init = Command::new(jamey);
    for name in FOREIGN_SETTINGS {
        init.env_remove(name);
    }
    let output = init
        .arg("init")
        .env("JAMEY_HOME", &home)
        .env("JAMEY_LISTEN", &listen)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "jamey init failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (dir, home, listen)
}

/// `jamey-tui` running in a pseudo-terminal, its screen emulated by a reader thread.
struct Tui {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    keyboard: Box<dyn Write + Send>,
    screen: Screen,
    reader_thread: std::thread::JoinHandle<()>,
    master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Tui {
    fn start(home: &Path, listen: &str) -> Self {
        let pty = portable_pty::native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_jamey-tui"));
        for name in FOREIGN_SETTINGS {
            command.env_remove(name);
        }
        command.env("JAMEY_HOME", home);
        command.env("JAMEY_LISTEN", listen);
        command.env("TERM", "xterm-256color");
        command.env("JAMEY_LOG", "debug");
        let child = pty.slave.spawn_command(command).unwrap();
        drop(pty.slave);
        let keyboard = pty.master.take_writer().unwrap();
        let mut reader = pty.master.try_clone_reader().unwrap();
        let screen = Screen {
            parser: Arc::new(Mutex::new(vt100::Parser::new(ROWS, COLS, 0))),
            raw: Arc::new(Mutex::new(Vec::new())),
        };
        let feed = screen.clone();
        let reader_thread = std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            loop {
                match reader.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        feed.parser.lock().unwrap().process(&buffer[..n]);
                        feed.raw.lock().unwrap().extend_from_slice(&buffer[..n]);
                    }
                }
            }
        });
        Self {
            child,
            keyboard,
            screen,
            reader_thread,
            master: pty.master,
        }
    }
}

/// Waits for the child to exit and returns its status.
async fn exited(
    child: &mut Box<dyn portable_pty::Child + Send + Sync>,
) -> portable_pty::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "jamey-tui did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_gives_the_terminal_back() {
    let jamey = workspace_binary("jamey");
    let (_dir, home, listen) = initialised_home(&jamey);
    let Tui {
        mut child,
        keyboard,
        screen,
        reader_thread,
        master,
    } = Tui::start(&home, &listen);
    screen
        .wait_for("the TUI", Duration::from_secs(20), |s| {
            s.contains("offline: retrying")
        })
        .await;
    assert!(screen.parser.lock().unwrap().screen().alternate_screen());
    let pid = child.process_id().unwrap();
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = exited(&mut child).await;
    assert!(status.success(), "jamey-tui exited with {status:?}");
    drop(keyboard);
    drop(master);
    let _ = tokio::task::spawn_blocking(move || reader_thread.join()).await;
    assert!(!screen.parser.lock().unwrap().screen().alternate_screen());
    let raw = String::from_utf8_lossy(&screen.raw.lock().unwrap()).into_owned();
    assert!(
        raw.contains("\x1b[?1049l"),
        "the alternate screen was not left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn types_a_message_and_sees_the_streamed_reply() {
    let jamey = workspace_binary("jamey");
    let runtime_binary = workspace_binary("jamey-runtime");

    let (dir, home, listen) = initialised_home(&jamey);

    // The model's answer, streamed in pieces with pauses so the screen can be caught mid-answer.
    let server = ScriptedServer::start().await.unwrap();
    let pause = Duration::from_millis(1500);
    server.push(
        StreamScript::new(MODEL)
            .processing_comment()
            .text("Hello from the **scripted** twin.")
            .pause(pause)
            .text(" Here is code:\n\n```rust\nfn answer() -> u32 { 42 }\n```\n")
            .pause(pause)
            .text("\nThe end of the streamed reply.")
            .finish("stop")
            .usage(ScriptedUsage {
                prompt_tokens: 120,
                completion_tokens: 30,
                cost: Some(0.0015),
            })
            .done()
            .into_reply(),
    );

    // The TUI first, with nothing listening yet.
    let Tui {
        mut child,
        mut keyboard,
        screen,
        reader_thread,
        master,
    } = Tui::start(&home, &listen);

    screen
        .wait_for(
            "the TUI to show itself offline",
            Duration::from_secs(20),
            |s| s.contains("offline: retrying"),
        )
        .await;
    assert!(screen.parser.lock().unwrap().screen().alternate_screen());

    // Now the runtime: the TUI's health probe finds it without any key press.
    let start_runtime = || {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("runtime.log"))
            .unwrap();
        let mut start = Command::new(&runtime_binary);
        for name in FOREIGN_SETTINGS {
            start.env_remove(name);
        }
        Runtime(
            start
                .env("JAMEY_HOME", &home)
                .env("JAMEY_LISTEN", &listen)
                .env("JAMEY_LLM_BASE_URL", server.base_url())
                .env("JAMEY_LLM_MODEL", MODEL)
                .env("OPENROUTER_API_KEY", "sk-test-scripted")
                .env("JAMEY_LOG", "info")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    };
    let runtime = start_runtime();
    screen
        .wait_for("the TUI to reconnect", Duration::from_secs(90), |s| {
            s.contains("● connected")
        })
        .await;

    // Type a message; the typed text shows in the input box before it is sent.
    keyboard.write_all(b"hello twin").unwrap();
    keyboard.flush().unwrap();
    screen
        .wait_for("the typed text", Duration::from_secs(5), |s| {
            s.contains("hello twin")
        })
        .await;
    keyboard.write_all(b"\r").unwrap();
    keyboard.flush().unwrap();

    // Mid-answer: the first piece is on screen before the last one has been sent.
    screen
        .wait_for("the first streamed piece", Duration::from_secs(30), |s| {
            s.contains("Hello from the scripted twin.")
        })
        .await;
    let contents = screen.contents();
    assert!(
        !contents.contains("The end of the streamed reply."),
        "the whole reply arrived at once, not streamed:\n{contents}"
    );
    screen
        .wait_for("the whole reply", Duration::from_secs(30), |s| {
            s.contains("The end of the streamed reply.") && s.contains("150 tokens")
        })
        .await;
    let contents = screen.contents();
    assert!(contents.contains("┌─ rust"), "{contents}");
    assert!(
        contents.contains("│ fn answer() -> u32 { 42 }"),
        "{contents}"
    );
    assert!(
        !contents.contains("**"),
        "Markdown was not rendered:\n{contents}"
    );
    assert!(contents.contains(MODEL), "{contents}");
    assert!(contents.contains("$0.0015"), "{contents}");

    // The runtime asked the scripted model with the typed message.
    let requests = server.requests();
    let sent = requests
        .iter()
        .flat_map(|r| r.body["messages"].as_array().cloned().unwrap_or_default())
        .any(|m| m["role"] == "user" && m["content"] == "hello twin");
    assert!(sent, "the message never reached the model: {requests:?}");

    // Esc while an answer streams cancels it: the screen says so and the runtime drops the
    // model's stream (the scripted server sees its client go away).
    server.push(
        StreamScript::new(MODEL)
            .text("A slow beginning")
            .pause(Duration::from_secs(20))
            .text(" that never ends.")
            .finish("stop")
            .done()
            .into_reply(),
    );
    keyboard.write_all(b"tell me more\r").unwrap();
    keyboard.flush().unwrap();
    screen
        .wait_for("the slow answer", Duration::from_secs(30), |s| {
            s.contains("A slow beginning")
        })
        .await;
    keyboard.write_all(b"\x1b").unwrap();
    keyboard.flush().unwrap();
    screen
        .wait_for("the cancelled answer", Duration::from_secs(10), |s| {
            s.contains("[cancelled]") && s.contains("Message · Enter send")
        })
        .await;
    assert!(
        server
            .wait_for_disconnects(1, Duration::from_secs(10))
            .await,
        "the runtime kept the model's stream open after the TUI cancelled"
    );
    assert!(!screen.contents().contains("never ends"));

    // The runtime goes away and comes back: the status bar follows, and the next message is
    // answered by the new runtime on the same screen.
    drop(runtime);
    screen
        .wait_for(
            "the TUI to notice the runtime left",
            Duration::from_secs(30),
            |s| s.contains("offline: retrying"),
        )
        .await;
    let _runtime = start_runtime();
    screen
        .wait_for("the TUI to reconnect again", Duration::from_secs(90), |s| {
            s.contains("● connected")
        })
        .await;
    server.push(
        StreamScript::answer(
            MODEL,
            &["Welcome ", "back."],
            ScriptedUsage {
                prompt_tokens: 10,
                completion_tokens: 5,
                cost: Some(0.0005),
            },
        )
        .into_reply(),
    );
    keyboard.write_all(b"are you there?\r").unwrap();
    keyboard.flush().unwrap();
    screen
        .wait_for(
            "the answer after the restart",
            Duration::from_secs(30),
            |s| s.contains("Welcome back.") && s.contains("165 tokens"),
        )
        .await;

    // Ctrl-N starts afresh; F2 lists the sessions and Enter reopens the conversation, read
    // back from the runtime.
    keyboard.write_all(&[0x0e]).unwrap();
    keyboard.flush().unwrap();
    screen
        .wait_for("a new session", Duration::from_secs(10), |s| {
            s.contains("new session") && !s.contains("Welcome back.")
        })
        .await;
    keyboard.write_all(b"\x1bOQ").unwrap();
    keyboard.flush().unwrap();
    screen
        .wait_for("the session list", Duration::from_secs(10), |s| {
            s.contains("Sessions · ") && s.contains(" messages · ")
        })
        .await;
    keyboard.write_all(b"\r").unwrap();
    keyboard.flush().unwrap();
    screen
        .wait_for("the reopened session", Duration::from_secs(10), |s| {
            s.contains("Welcome back.") && s.contains("are you there?") && s.contains(" messages")
        })
        .await;
    assert!(
        !screen.contents().contains("new session"),
        "{}",
        screen.contents()
    );

    // Ctrl-Q quits and gives the terminal back.
    keyboard.write_all(&[0x11]).unwrap();
    keyboard.flush().unwrap();
    let status = exited(&mut child).await;
    assert!(status.success(), "jamey-tui exited with {status:?}");
    drop(keyboard);
    drop(master);
    let _ = tokio::task::spawn_blocking(move || reader_thread.join()).await;
    let raw = String::from_utf8_lossy(&screen.raw.lock().unwrap()).into_owned();
    assert!(
        raw.contains("\x1b[?1049l"),
        "the alternate screen was not left"
    );
    assert!(!screen.parser.lock().unwrap().screen().alternate_screen());
    let log = std::fs::read_to_string(home.join("logs/tui.log")).unwrap();
    assert!(log.contains("sending a message"), "{log}");
}
