//! `jamey memory add|get|list|search|rm`, plus `export` and `import` (in `transfer`): human
//! tables by default, the API's own JSON with `--json`.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use jamey_client::ListRequest;
use jamey_protocol::{
    Memory, MemoryFilter, MemoryId, MemoryPage, NewMemory, SearchMode, SearchRequest,
    SearchResponse,
};
use serde::Serialize;

use crate::connect::Target;
use crate::reembed;
use crate::report::{self, Report};
use crate::table::Table;
use crate::transfer;

#[derive(Debug, Subcommand)]
#[command(after_help = "\
Examples:
  jamey memory add \"Anna is allergic to peanuts\" --tag family --kind fact
  jamey memory search \"what can my sister not eat?\" --limit 3
  jamey memory list --limit 20
  jamey memory get 0192f3c4-...            (an id from list or search)
  jamey memory export --out memories.jsonl && jamey memory import memories.jsonl
  jamey stop && jamey memory reembed && jamey start   after changing the embedder")]
pub(crate) enum MemoryCommand {
    /// Store a memory.
    Add {
        /// What to remember.
        text: String,
        /// A tag; repeat for several.
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// The kind of memory, e.g. fact, preference, event [default: note].
        #[arg(long)]
        kind: Option<String>,
        /// How much it matters, 0 to 1 [default: 0.5].
        #[arg(long)]
        importance: Option<f32>,
        /// The conversation it belongs to.
        #[arg(long = "session", value_name = "ID")]
        session_id: Option<String>,
    },
    /// Show one memory.
    Get { id: MemoryId },
    /// List memories, newest first.
    List {
        /// Memories per page (1 to 1000).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Continue after a page: the cursor the previous page printed.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Search memories by meaning, keywords, or both.
    Search {
        query: String,
        /// Results to show (1 to 100).
        #[arg(long, default_value_t = 10)]
        limit: u32,
        /// hybrid (meaning and rare keywords), vector (meaning only) or keyword.
        #[arg(long, default_value = "hybrid")]
        mode: SearchMode,
        /// Only memories with this tag; repeat for several (all must match).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// Only memories of this kind.
        #[arg(long)]
        kind: Option<String>,
    },
    /// Delete a memory.
    Rm { id: MemoryId },
    /// Write every memory as JSON Lines, newest first, to a file or stdout.
    Export {
        /// Write here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Store memories from a JSON Lines file (export's format; only `content` is required).
    Import {
        file: PathBuf,
        /// Memories per request.
        #[arg(long, default_value_t = transfer::DEFAULT_BATCH, value_name = "N")]
        batch: usize,
    },
    /// Embed every memory again with the configured embedder, after changing it. Runs without
    /// the runtime: stop it first (`jamey stop`).
    Reembed,
}

/// A stored or fetched memory.
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Shown(Memory);

impl Report for Shown {
    fn write_text(&self, out: &mut dyn Write, _notes: &mut dyn Write) -> io::Result<()> {
        let m = &self.0;
        writeln!(out, "id          {}", m.id)?;
        writeln!(out, "kind        {}", m.kind)?;
        if !m.tags.is_empty() {
            writeln!(out, "tags        {}", m.tags.join(", "))?;
        }
        writeln!(out, "importance  {}", m.importance)?;
        if let Some(session) = &m.session_id {
            writeln!(out, "session     {session}")?;
        }
        writeln!(out, "created     {}", m.created_at.to_rfc3339())?;
        if m.updated_at != m.created_at {
            writeln!(out, "updated     {}", m.updated_at.to_rfc3339())?;
        }
        if m.metadata.as_object().is_some_and(|o| !o.is_empty()) {
            writeln!(out, "metadata    {}", m.metadata)?;
        }
        writeln!(out, "\n{}", m.content)
    }
}

/// The answer to `memory add`: text mode prints only the id, for `$(jamey memory add ...)`.
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Added(Memory);

impl Report for Added {
    fn write_text(&self, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.0.id)?;
        writeln!(notes, "Stored memory {} ({})", self.0.id, self.0.kind)
    }
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(crate) struct Page(pub(crate) MemoryPage);

impl Report for Page {
    fn write_text(&self, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()> {
        let mut table = Table::new(vec!["ID", "CREATED", "KIND", "TAGS", "CONTENT"]);
        for m in &self.0.items {
            table.row(vec![
                m.id.to_string(),
                m.created_at.format("%Y-%m-%d %H:%M").to_string(),
                m.kind.clone(),
                m.tags.join(","),
                m.content.clone(),
            ]);
        }
        if table.is_empty() {
            writeln!(notes, "No memories")?;
        } else {
            table.write(out)?;
        }
        if let Some(cursor) = &self.0.next_cursor {
            writeln!(notes, "More: jamey memory list --cursor {cursor}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(crate) struct Found(pub(crate) SearchResponse);

impl Report for Found {
    fn write_text(&self, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()> {
        let mut table = Table::new(vec!["SCORE", "ID", "KIND", "TAGS", "CONTENT"]);
        for hit in &self.0.results {
            table.row(vec![
                format!("{:.3}", hit.score),
                hit.memory.id.to_string(),
                hit.memory.kind.clone(),
                hit.memory.tags.join(","),
                hit.memory.content.clone(),
            ]);
        }
        if table.is_empty() {
            writeln!(notes, "No matching memories")
        } else {
            table.write(out)
        }
    }
}

#[derive(Debug, Serialize)]
struct Deleted {
    deleted: MemoryId,
}

impl Report for Deleted {
    fn write_text(&self, out: &mut dyn Write, _notes: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "Deleted memory {}", self.deleted)
    }
}

pub(crate) fn run(target: &Target, command: MemoryCommand, json: bool) -> anyhow::Result<ExitCode> {
    if let MemoryCommand::Reembed = command {
        reembed::run(target, json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let remote = target.connect()?;
    let client = &remote.client;
    match command {
        MemoryCommand::Add {
            text,
            tags,
            kind,
            importance,
            session_id,
        } => {
            let memory = NewMemory {
                content: text,
                kind,
                tags,
                metadata: None,
                session_id,
                importance,
            };
            let stored = remote.call(client.add_memory(&memory))?;
            report::print(&Added(stored), json)?;
        }
        MemoryCommand::Get { id } => {
            let memory = remote.call(client.memory(id))?;
            report::print(&Shown(memory), json)?;
        }
        MemoryCommand::List { limit, cursor } => {
            let page = remote.call(client.list_memories(&ListRequest {
                limit: Some(limit),
                cursor,
            }))?;
            report::print(&Page(page), json)?;
        }
        MemoryCommand::Search {
            query,
            limit,
            mode,
            tags,
            kind,
        } => {
            let filter = MemoryFilter {
                tags: (!tags.is_empty()).then_some(tags),
                kind,
                session_id: None,
            };
            let request = SearchRequest {
                query,
                limit: Some(limit),
                mode,
                filter: (!filter.is_empty()).then_some(filter),
            };
            let found = remote.call(client.search(&request))?;
            report::print(&Found(found), json)?;
        }
        MemoryCommand::Rm { id } => {
            remote.call(client.delete_memory(id))?;
            report::print(&Deleted { deleted: id }, json)?;
        }
        MemoryCommand::Export { out } => {
            return transfer::export(&remote, out.as_deref(), json);
        }
        MemoryCommand::Import { file, batch } => {
            return transfer::import(&remote, &file, batch, json);
        }
        MemoryCommand::Reembed => {}
    }
    Ok(ExitCode::SUCCESS)
}
