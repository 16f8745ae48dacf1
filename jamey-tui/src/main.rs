//! `jamey-tui`: a terminal chat with the twin. It finds the runtime as `jamey` does
//! (`--home`/`JAMEY_HOME`, `config.toml`, `JAMEY_LISTEN`, `--url`), talks to it over mTLS
//! through `jamey-client`, and logs to `JAMEY_HOME/logs/tui.log`, never to the screen.

mod app;
mod clipboard;
mod event_loop;
mod highlight;
mod input;
mod markdown;
mod sessions;
mod terminal;
mod transcript;
mod ui;

use anyhow::{bail, Context};
use clap::Parser;
use jamey_client::{ClientError, Endpoint, EndpointSettings, JameyClient};
use jamey_protocol::settings;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const ABOUT: &str = "Chat with your Jamey twin in the terminal.";
const AFTER_HELP: &str = "\
Keys: Enter sends, Alt+Enter adds a line, Esc cancels an answer, PgUp/PgDn scroll,
F2 lists past sessions, Ctrl-Y copies the last answer, Ctrl-K a code block, F1 shows all keys,
Ctrl-Q quits.

Examples:
  jamey-tui
  jamey-tui --session 0193f5c2-...        reopen a session
  JAMEY_HOME=/tmp/j JAMEY_LISTEN=127.0.0.1:4000 jamey-tui";

#[derive(Debug, Parser)]
#[command(name = "jamey-tui", version, about = ABOUT, after_help = AFTER_HELP)]
struct Args {
    /// Jamey's home directory [default: the platform data directory, e.g. ~/.local/share/jamey].
    #[arg(long, env = settings::HOME_VARIABLE, value_name = "PATH")]
    home: Option<PathBuf>,
    /// The runtime's URL, instead of the listen address from config.toml / JAMEY_LISTEN.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// The model to ask [default: the runtime's].
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
    /// Reopen this session at start.
    #[arg(long, value_name = "ID")]
    session: Option<String>,
    /// Leave the mouse to the terminal (its own text selection) instead of wheel scrolling.
    #[arg(long)]
    no_mouse: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("jamey-tui: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let home = resolve_home(args.home)?;
    let endpoint = Endpoint::resolve(&EndpointSettings {
        home: home.clone(),
        url: args.url,
        listen: std::env::var(settings::LISTEN_VARIABLE).ok(),
        token: std::env::var(settings::TOKEN_VARIABLE).ok(),
    })?;
    if endpoint
        .tls
        .as_ref()
        .is_some_and(|files| !files.ca_cert.is_file())
    {
        return Err(ClientError::NotInitialised { home }.into());
    }
    let client = JameyClient::new(&endpoint)?;
    install_logging(&home)?;
    tracing::info!(url = client.base_url(), "jamey-tui starting");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut app = app::App::new(args.model, args.session);
    let mut guard =
        terminal::TerminalGuard::enter(!args.no_mouse).context("cannot set up the terminal")?;
    let result = runtime.block_on(event_loop::run(&mut guard.terminal, &mut app, client));
    drop(guard);
    if let Err(error) = &result {
        tracing::error!(%error, "the terminal failed");
    }
    result.context("terminal I/O failed")
}

/// `--home` (or `JAMEY_HOME`), else the platform data directory, made absolute.
fn resolve_home(arg: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let root = match arg {
        Some(root) => root,
        None => jamey_client::platform_home().context(
            "cannot find the platform data directory: set JAMEY_HOME or pass --home PATH",
        )?,
    };
    std::path::absolute(&root).with_context(|| format!("cannot use {root:?} as JAMEY_HOME"))
}

/// Logs go to `JAMEY_HOME/logs/tui.log` (filter `JAMEY_LOG`, default `info`): the screen
/// belongs to the TUI.
fn install_logging(home: &Path) -> anyhow::Result<()> {
    let home = jamey_protocol::home::JameyHome::new(home);
    let dir = home.logs_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = home.tui_log();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let filter = std::env::var("JAMEY_LOG").unwrap_or_else(|_| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .or_else(|_| tracing_subscriber::EnvFilter::try_new("info"))
        .context("JAMEY_LOG")?;
    if tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init()
        .is_err()
    {
        bail!("a logger is already installed");
    }
    Ok(())
}
