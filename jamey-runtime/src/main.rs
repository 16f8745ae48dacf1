//! `jamey-runtime`: reads `JAMEY_HOME/config.toml` and the environment, then serves the API.
//! `jamey-runtime reembed` instead embeds every memory again with the configured embedder,
//! printing its progress as JSON lines on stdout (what `jamey memory reembed` shows).

use jamey_core::home::JameyHome;
use jamey_protocol::settings;
use jamey_runtime::{reembed, run, tls, Environment};
use std::io::{IsTerminal, Write};

const USAGE: &str = "\
usage: jamey-runtime            serve the API (settings from JAMEY_HOME/config.toml and JAMEY_*)
       jamey-runtime reembed    embed every memory again with the configured embedder
                                (after changing it; the runtime must be stopped)";

/// What the command line asks for.
enum Mode {
    Serve,
    Reembed,
}

fn main() {
    let mode = match std::env::args().nth(1).as_deref() {
        None => Mode::Serve,
        Some("reembed") => Mode::Reembed,
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return;
        }
        Some("-V" | "--version") => {
            println!("jamey-runtime {}", env!("CARGO_PKG_VERSION"));
            return;
        }
        Some(other) => {
            eprintln!("jamey-runtime: unknown argument {other:?}\n{USAGE}");
            std::process::exit(2);
        }
    };
    tls::install_crypto_provider();
    let vars: std::collections::HashMap<String, String> = std::env::vars()
        .filter(|(k, _)| settings::is_runtime_variable(k))
        .collect();
    let home = match vars.get(settings::HOME_VARIABLE) {
        Some(dir) => JameyHome::new(dir),
        None => match jamey_core::home::platform_default() {
            Some(home) => home,
            None => {
                eprintln!("jamey-runtime: cannot find a home directory: set JAMEY_HOME");
                std::process::exit(1);
            }
        },
    };
    let env = Environment {
        home,
        vars,
        terminal: std::io::stderr().is_terminal(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("jamey-runtime: cannot start the async runtime: {error}");
            std::process::exit(1);
        }
    };
    let outcome = match mode {
        Mode::Serve => runtime.block_on(run(env)),
        Mode::Reembed => runtime.block_on(reembed_with_progress(&env)),
    };
    if let Err(error) = outcome {
        eprintln!("jamey-runtime: {error:#}");
        std::process::exit(1);
    }
}

/// Runs `reembed`, printing `{"done":N,"total":M}` after every batch and the report last.
async fn reembed_with_progress(env: &Environment) -> anyhow::Result<()> {
    let mut progress = |step: jamey_core::memory::ReembedProgress| {
        if let Ok(line) = serde_json::to_string(&step) {
            let mut out = std::io::stdout().lock();
            // A reader that went away must not stop the work.
            let _ = writeln!(out, "{line}").and_then(|()| out.flush());
        }
    };
    let report = reembed(env, &mut progress).await?;
    let line = serde_json::to_string(&report)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}
