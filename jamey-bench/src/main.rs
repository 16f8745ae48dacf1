//! `jamey-bench`: the figures Jamey promises, measured on this machine and printed. Each
//! subcommand ends with one JSON line so scripts and CI can read the result.

mod cache;
mod chat;
mod embed;
mod guard;
mod http;
mod llm;
mod quality;
mod startup;
mod stats;
mod store;
mod synthetic;
mod tools;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "jamey-bench",
    version,
    about = "Benchmarks for Jamey's memory store, cache and embedders"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Insert rate, get and search latency, QPS and recall@10 of a memory store.
    Store(store::StoreArgs),
    /// Sentences per second of the local embedders.
    Embed(embed::EmbedArgs),
    /// Requests/s and latency of a running runtime over mTLS (GET, create, search).
    Http(http::HttpArgs),
    /// Start-to-ready time and idle resident memory of the runtime binary.
    Startup(startup::StartupArgs),
    /// Recall@1 and recall@5 of each search mode on question sets (paraphrases and rare names).
    Quality(quality::QualityArgs),
    /// L1 and L2 hit latency and cross-instance invalidation latency of the hybrid cache.
    Cache(cache::CacheArgs),
    /// Per-chunk relay latency and concurrent streams of the LLM client (scripted server).
    Llm(llm::LlmArgs),
    /// Turn overhead, relay per chunk and concurrent streamed chats of a real runtime in front
    /// of a scripted model server.
    Chat(chat::ChatArgs),
    /// What the tool path (registry, policy, validation, audit row) adds to a no-op call.
    Tools(tools::ToolsArgs),
    /// What the web tools' network guard adds per request beyond DNS (p50/p99).
    Guard(guard::GuardArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Store(args) => store::run(args),
        Command::Embed(args) => embed::run(args),
        Command::Http(args) => http::run(args),
        Command::Startup(args) => startup::run(args),
        Command::Quality(args) => quality::run(args),
        Command::Cache(args) => cache::run(args),
        Command::Llm(args) => llm::run(args),
        Command::Chat(args) => chat::run(args),
        Command::Tools(args) => tools::run(args),
        Command::Guard(args) => guard::run(args),
    }
}
