//! `jamey-runtime`: reads `JAMEY_HOME/config.toml` and the environment, then serves the API.

use jamey_core::home::JameyHome;
use jamey_runtime::{run, tls, Environment};
use std::io::IsTerminal;

fn main() {
    tls::install_crypto_provider();
    let vars: std::collections::HashMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("JAMEY_") || k == "OPENROUTER_API_KEY")
        .collect();
    let home = match vars.get("JAMEY_HOME") {
        Some(dir) => JameyHome::new(dir),
        None => match JameyHome::platform_default() {
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
    if let Err(error) = runtime.block_on(run(env)) {
        eprintln!("jamey-runtime: {error:#}");
        std::process::exit(1);
    }
}
