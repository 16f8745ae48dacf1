//! `jamey`, Jamey's command line. It sets up `JAMEY_HOME` (`jamey init`), starts and stops the
//! runtime, and talks to it over mTLS through `jamey-client` (memories, configuration, the host's
//! processes). Every command prints text, or one JSON document with `--json`; every failure
//! exits non-zero with one line on stderr that says what to do.

mod approvals;
mod cert;
mod chat;
mod config;
mod connect;
mod daemon;
mod host;
mod init;
mod memory;
mod prompt;
mod reembed;
mod report;
mod secret;
mod status;
mod table;
mod token;
mod tools;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};
use jamey_core::home::JameyHome;
use jamey_protocol::settings::HOME_VARIABLE;

/// Exit status of a command line that does not parse, as clap and most tools use.
const USAGE_ERROR: u8 = 2;

const EXAMPLES: &str = "\
Examples:
  jamey init                                  create JAMEY_HOME with certificates
  jamey start                                 start the runtime in the background
  jamey chat \"what do you know about Anna?\"  one question, the answer streamed
  jamey chat                                  an interactive session (/help inside)
  jamey memory add \"Anna is allergic to peanuts\" --tag family
  jamey memory search \"what can my sister not eat?\"
  jamey memory export --out memories.jsonl
  jamey tools list                            the tools the twin can use
  jamey approvals                             tool calls waiting for your decision
  jamey secret set llm_api_key                the LLM key, typed at a prompt that does not echo
  jamey status --json                         machine-readable health (exit 3: not running)
  JAMEY_HOME=/tmp/j JAMEY_LISTEN=127.0.0.1:4000 jamey start
  jamey completions bash > ~/.local/share/bash-completion/completions/jamey";

#[derive(Debug, Parser)]
#[command(
    name = "jamey",
    version,
    about = "Jamey, your self-hosted digital twin: set-up, the runtime, memories and the host.",
    after_help = EXAMPLES
)]
struct Cli {
    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,

    /// Jamey's home directory [default: the platform data directory, e.g. ~/.local/share/jamey].
    #[arg(long, global = true, env = HOME_VARIABLE, value_name = "PATH")]
    home: Option<PathBuf>,

    /// The runtime's URL, e.g. https://127.0.0.1:3000 [default: from config.toml and JAMEY_LISTEN].
    #[arg(long, global = true, value_name = "URL")]
    url: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create JAMEY_HOME: config.toml, a local CA, the server certificate and your client certificate.
    Init(init::InitArgs),
    /// Start the runtime in the background and wait until it is ready.
    Start(daemon::StartArgs),
    /// Stop the runtime started by `jamey start`: SIGTERM, then SIGKILL after a deadline.
    Stop(daemon::StopArgs),
    /// Whether the runtime is running and healthy (exit 0), or not running (exit 3).
    Status,
    /// Talk with the twin: one message (its answer streams to stdout), or an interactive session.
    Chat(chat::ChatArgs),
    /// Store, read, list, search, delete, export and import memories.
    #[command(subcommand)]
    Memory(memory::MemoryCommand),
    /// The effective configuration, secrets masked.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// The host the runtime runs on.
    #[command(subcommand)]
    System(host::SystemCommand),
    /// Processes on the runtime's host.
    #[command(subcommand)]
    Process(host::ProcessCommand),
    /// The twin's tools: list them, run one, read the audit trail of every call.
    #[command(subcommand)]
    Tools(tools::ToolsCommand),
    /// Tool calls waiting for your decision: list them, approve or deny one.
    Approvals(approvals::ApprovalsArgs),
    /// Client certificates for external tools.
    #[command(subcommand)]
    Cert(cert::CertCommand),
    /// Bearer tokens for external tools.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Secrets such as the LLM key (`llm_api_key`): set, list, remove; values are never shown.
    #[command(subcommand)]
    Secret(secret::SecretCommand),
    /// Print a shell completion script, e.g. `jamey completions bash`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Become the detached runtime: start a new session, then run jamey-runtime in place.
    #[command(hide = true, name = "__detach")]
    Detach { runtime: PathBuf },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            err.exit()
        }
        Err(err) => {
            eprintln!(
                "{}; run `jamey --help` for usage",
                one_line(&usage_message(&err))
            );
            return ExitCode::from(USAGE_ERROR);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", one_line(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(shell, &mut Cli::command(), "jamey", &mut std::io::stdout());
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Detach { runtime } = &cli.command {
        return daemon::detach(runtime).map(|()| ExitCode::SUCCESS);
    }
    let home = resolve_home(cli.home)?;
    let target = connect::Target {
        home: home.clone(),
        url: cli.url,
    };
    let json = cli.json;
    match cli.command {
        Command::Init(args) => init::run(&home, &args, json).map(|()| ExitCode::SUCCESS),
        Command::Start(args) => daemon::start(&target, &args, json).map(|()| ExitCode::SUCCESS),
        Command::Stop(args) => daemon::stop(&target, &args, json).map(|()| ExitCode::SUCCESS),
        Command::Status => status::run(&target, json),
        Command::Chat(args) => chat::run(&target, args, json).map(|()| ExitCode::SUCCESS),
        Command::Memory(command) => memory::run(&target, command, json),
        Command::Config(command) => config::run(&target, &command, json),
        Command::System(command) => host::run_system(&target, &command, json),
        Command::Process(command) => host::run_process(&target, &command, json),
        Command::Tools(command) => tools::run(&target, command, json),
        Command::Approvals(args) => approvals::run(&target, args, json).map(|()| ExitCode::SUCCESS),
        Command::Cert(command) => cert::run(&home, &command, json).map(|()| ExitCode::SUCCESS),
        Command::Token(command) => token::run(&home, &command, json).map(|()| ExitCode::SUCCESS),
        Command::Secret(command) => secret::run(&home, &command, json).map(|()| ExitCode::SUCCESS),
        Command::Completions { .. } | Command::Detach { .. } => Ok(ExitCode::SUCCESS),
    }
}

/// `--home` (or `JAMEY_HOME`, through clap), else the platform data directory; made absolute so
/// that what the command prints stays true wherever it is read.
fn resolve_home(arg: Option<PathBuf>) -> anyhow::Result<JameyHome> {
    let root = match arg {
        Some(root) => root,
        None => jamey_core::home::platform_default()
            .context("cannot find the platform data directory: set JAMEY_HOME or pass --home PATH")?
            .root()
            .to_owned(),
    };
    let root = std::path::absolute(&root).with_context(|| {
        format!(
            "cannot use {:?} as JAMEY_HOME: pass an existing parent directory",
            root
        )
    })?;
    Ok(JameyHome::new(root))
}

/// Commands other than `init` work on a home that `jamey init` created.
fn require_initialised(home: &JameyHome) -> anyhow::Result<()> {
    if !is_initialised(home) {
        bail!(
            "not initialised at {}: run `jamey init`",
            home.root().display()
        );
    }
    Ok(())
}

fn is_initialised(home: &JameyHome) -> bool {
    home.config_file().is_file() && home.ca_cert().is_file()
}

/// clap's message without its usage block, which is many lines and repeated by `--help`.
fn usage_message(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    match rendered.find("\nUsage:") {
        Some(end) => rendered[..end].to_owned(),
        None => rendered,
    }
}

fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
