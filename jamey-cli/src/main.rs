//! `jamey`, Jamey's command line. It sets up `JAMEY_HOME` (`jamey init`) and manages the
//! credentials that external tools use to reach the runtime (`jamey cert`, `jamey token`).
//! Every command prints text, or one JSON document with `--json`; every failure exits non-zero
//! with one line on stderr that says what to do.

mod cert;
mod init;
mod report;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use jamey_core::home::JameyHome;

/// Exit status of a command line that does not parse, as clap and most tools use.
const USAGE_ERROR: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "jamey",
    version,
    about = "Jamey, your self-hosted digital twin: set-up and credentials."
)]
struct Cli {
    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,

    /// Jamey's home directory [default: the platform data directory, e.g. ~/.local/share/jamey].
    #[arg(long, global = true, env = "JAMEY_HOME", value_name = "PATH")]
    home: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create JAMEY_HOME: config.toml, a local CA, the server certificate and your client certificate.
    Init(init::InitArgs),
    /// Client certificates for external tools.
    #[command(subcommand)]
    Cert(cert::CertCommand),
    /// Bearer tokens for external tools.
    #[command(subcommand)]
    Token(token::TokenCommand),
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
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", one_line(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let home = resolve_home(cli.home)?;
    match cli.command {
        Command::Init(args) => init::run(&home, &args, cli.json),
        Command::Cert(command) => cert::run(&home, &command, cli.json),
        Command::Token(command) => token::run(&home, &command, cli.json),
    }
}

/// `--home` (or `JAMEY_HOME`, through clap), else the platform data directory; made absolute so
/// that what the command prints stays true wherever it is read.
fn resolve_home(arg: Option<PathBuf>) -> anyhow::Result<JameyHome> {
    let root = match arg {
        Some(root) => root,
        None => JameyHome::platform_default()
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
    if !home.config_file().is_file() || !home.ca_cert().is_file() {
        bail!(
            "not initialised at {}: run `jamey init`",
            home.root().display()
        );
    }
    Ok(())
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
