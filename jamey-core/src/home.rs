//! `JAMEY_HOME`: where Jamey keeps its configuration, certificates, credentials, embedded store,
//! pid file and logs. The layout itself is `jamey_protocol::home`, shared with the clients; this
//! module adds the platform default and the `config.toml` that `jamey init` writes.

pub use jamey_protocol::home::JameyHome;
use jamey_protocol::home::PLATFORM_APPLICATION;

/// The platform's data directory for Jamey (e.g. `~/.local/share/jamey`), the home when
/// `JAMEY_HOME` is not set.
pub fn platform_default() -> Option<JameyHome> {
    directories::ProjectDirs::from("", "", PLATFORM_APPLICATION)
        .map(|dirs| JameyHome::new(dirs.data_dir()))
}

/// The `config.toml` that `jamey init` writes: every setting, commented out at its default.
/// The runtime's tests check that this text parses to the runtime's defaults.
pub const CONFIG_TEMPLATE: &str = r#"# Jamey configuration. Every setting is shown at its default, commented out.
# Order of precedence: built-in defaults < this file < JAMEY_* environment < runtime overrides
# (PATCH /v1/config). Keys marked (reload) apply without a restart when this file changes.

# Address the runtime listens on (JAMEY_LISTEN).
# listen = "127.0.0.1:3000"

[log]
# Filter in tracing's EnvFilter syntax, e.g. "info" or "jamey_runtime=debug" (JAMEY_LOG). (reload)
# level = "info"
# "json" or "pretty" (JAMEY_LOG_FORMAT). Default: pretty in a terminal, json otherwise.
# format = "pretty"

[database]
# PostgreSQL with pgvector, e.g. "postgres://jamey@127.0.0.1:5432/jamey" (JAMEY_DATABASE_URL).
# Empty: the embedded store in JAMEY_HOME/memory.
# url = ""
# pool_size = 16

[embedding]
# A local sentence-transformers folder, e.g. all-MiniLM-L6-v2 (JAMEY_EMBEDDING_MODEL_DIR).
# Empty: the model bundled in the binary.
# model_dir = ""
# An OpenAI-compatible embeddings server and model (JAMEY_EMBEDDING_BASE_URL, JAMEY_EMBEDDING_MODEL).
# base_url = ""
# model = ""

[tls]
# Serve plain HTTP instead of mTLS. Allowed only on a loopback address; requests then need a
# bearer token from `jamey token create`.
# plain_http = false

[limits]
# Largest request body in bytes; the batch route allows max_batch_body_bytes.
# max_body_bytes = 1048576
# max_batch_body_bytes = 33554432
# Largest memory content in bytes.
# max_content_bytes = 65536
# Seconds before a request is answered with 503.
# request_timeout_secs = 30
# Requests served at once; more wait.
# max_concurrent_requests = 512
# Requests per second per bearer token. (reload)
# token_requests_per_second = 50
# Requests per second for the owner's client certificate; 0 means unlimited. (reload)
# owner_requests_per_second = 0

[search]
# Weight of keyword evidence in hybrid search (0 = vector only). (reload)
# keyword_weight = 0.1

[cache]
# Redis shared by every runtime instance, e.g. "redis://127.0.0.1:6379" (JAMEY_REDIS_URL).
# Empty: the in-process cache only.
# redis_url = ""
# Eviction in process: "ttl", "lru", "size" or "composite" (docs/ARCHITECTURE.md says which fits).
# strategy = "composite"
# When other instances hear of a write: "immediate", "delayed" or "adaptive".
# policy = "immediate"
# Most memories and bytes held in process.
# max_entries = 100000
# max_bytes = 268435456
# Seconds an entry lives in process, and unread in process (0: no idle expiry). (reload)
# ttl_secs = 3600
# idle_secs = 600
# Seconds an entry lives in Redis. (reload)
# redis_ttl_secs = 3600
# Coalescing window of the delayed and adaptive policies, in milliseconds.
# delay_ms = 5
# Adaptive policy: L1 reads that make a key hot; writes per second that make a burst.
# hot_reads = 8
# burst_writes_per_sec = 200
# Longest wait for one Redis command, in milliseconds.
# redis_timeout_ms = 100
# Prefix of every Redis key and of the invalidation channel.
# redis_key_prefix = "jamey"

[llm]
# An OpenAI-compatible chat API: OpenRouter by default, or Ollama, vLLM, llama.cpp, LM Studio
# (JAMEY_LLM_BASE_URL). The API key comes from the secret manager or OPENROUTER_API_KEY. (reload)
# base_url = "https://openrouter.ai/api/v1"
# Refuse chat at once, sending nothing, while no API key is configured. Default: true for
# OpenRouter, false for any other server (a local one may need no key). (reload)
# api_key_required = true
# The model that answers (JAMEY_LLM_MODEL), and the models that answer when it keeps failing. (reload)
# model = "openai/gpt-4o-mini"
# fallback_models = []
# Seconds before an upstream request is abandoned, and retries of a failed one. (reload)
# request_timeout_secs = 120
# max_retries = 3
# Per model and minute; 0 means no limit. (reload)
# requests_per_minute = 0
# tokens_per_minute = 0
# USD per million tokens, by model, for servers that report no cost, for example
#   { "openai/gpt-4o-mini" = { prompt_per_million = 0.15, completion_per_million = 0.6 } }
# prices = {}

[chat]
# The system prompt. (reload)
# persona = ""
# Memories retrieved as context for each turn. (reload)
# context_memories = 5
# Tokens of the session's own messages in each prompt; older ones are summarized. (reload)
# context_tokens = 8000
# Rounds of tool calls in one turn. (reload)
# max_tool_rounds = 4
# Store every finished turn as a memory. (reload)
# remember_turns = true
# Spending limits in USD; 0 means none. A turn over budget is refused before any paid call. (reload)
# daily_budget_usd = 0.0
# session_budget_usd = 0.0

[tools]
# Seconds and output bytes allowed per tool call. (reload)
# timeout_secs = 30
# max_output_bytes = 16384
# Seconds an `ask` call waits for a decision; undecided, it is denied. (reload)
# approval_timeout_secs = 300
# A runtime running as root may kill other users' processes.
# kill_other_users = false
# "allow", "ask" or "deny" per tool, for example { memory_save = "ask" }; or, below this
# template, a [tools.permissions] table. A misspelled tool name stops the start. (reload)
# permissions = {}

# More tables can be appended below, each with its own header:
# [tools.network]: allow_hosts = ["192.168.1.20:8123", "10.0.5.0/24"], deny_hosts = [...],
#   allow_private = false: the private addresses the web tools may reach.
# [github]: api_url = "https://api.github.com", repositories = ["owner/*", "owner/name"];
#   the token is the secret github_token (`jamey secret set github_token`).
"#;
