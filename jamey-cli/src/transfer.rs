//! `jamey memory export` and `jamey memory import`: every memory as JSON Lines, one `Memory`
//! per line. Export walks keyset pages, so it holds one page at a time however large the store.
//! Import batches lines through `POST /v1/memories/batch`; a line that is not a memory, or that
//! the runtime refuses, is reported by its number and the rest are imported.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use jamey_client::{ClientError, ListRequest};
use jamey_protocol::{ErrorCode, NewMemory};
use serde::Serialize;

use crate::connect::Remote;
use crate::report::{self, Report};

/// Memories per export page: the runtime's largest page.
const EXPORT_PAGE: u32 = 1_000;
/// Memories per import request, unless `--batch` says otherwise.
pub(crate) const DEFAULT_BATCH: usize = 256;
/// A batch is sent before its lines pass this many bytes, well under the runtime's batch limit.
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Fields `export` writes that a new memory cannot take: it gets a new id and new times.
const EXPORT_ONLY_FIELDS: [&str; 3] = ["id", "created_at", "updated_at"];

/// What `jamey memory export --out FILE` wrote.
#[derive(Debug, Serialize)]
struct Exported {
    out: PathBuf,
    memories: u64,
    seconds: f64,
}

impl Report for Exported {
    fn write_text(&self, out: &mut dyn Write, _notes: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "Exported {} memories to {} in {:.1} s",
            self.memories,
            self.out.display(),
            self.seconds
        )
    }
}

pub(crate) fn export(remote: &Remote, out: Option<&Path>, json: bool) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let memories = match out {
        Some(path) => {
            // Written beside the target and renamed at the end, so a failed export leaves no
            // half file under the name asked for.
            let partial = path.with_extension("jsonl.partial");
            let file = File::create(&partial)
                .with_context(|| format!("cannot create {}", partial.display()))?;
            let mut writer = BufWriter::new(file);
            let count = write_all_memories(remote, &mut writer)?;
            writer
                .into_inner()
                .map_err(io::IntoInnerError::into_error)
                .and_then(|file| file.sync_all())
                .with_context(|| format!("cannot write {}", partial.display()))?;
            std::fs::rename(&partial, path).with_context(|| {
                format!("cannot rename {} to {}", partial.display(), path.display())
            })?;
            count
        }
        None => {
            let mut writer = BufWriter::new(io::stdout().lock());
            let count = write_all_memories(remote, &mut writer)?;
            writer.flush().context("cannot write to stdout")?;
            if !json {
                eprintln!("Exported {count} memories");
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    report::print(
        &Exported {
            out: out.map(Path::to_path_buf).unwrap_or_default(),
            memories,
            seconds: started.elapsed().as_secs_f64(),
        },
        json,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Writes every memory, newest first, one page in memory at a time.
fn write_all_memories(remote: &Remote, writer: &mut dyn Write) -> anyhow::Result<u64> {
    let mut count = 0u64;
    let mut cursor = None;
    loop {
        let page = remote.call(remote.client.list_memories(&ListRequest {
            limit: Some(EXPORT_PAGE),
            cursor: cursor.take(),
        }))?;
        for memory in &page.items {
            serde_json::to_writer(&mut *writer, memory).context("cannot write a memory")?;
            writer.write_all(b"\n").context("cannot write a memory")?;
            count += 1;
        }
        match page.next_cursor {
            Some(next) if !page.items.is_empty() => cursor = Some(next),
            _ => return Ok(count),
        }
    }
}

/// A line that was not imported.
#[derive(Debug, Clone, Serialize)]
struct BadLine {
    line: usize,
    error: String,
}

/// What `jamey memory import` did.
#[derive(Debug, Serialize)]
struct Imported {
    file: PathBuf,
    /// Non-empty lines read.
    lines: usize,
    imported: usize,
    failed: Vec<BadLine>,
    seconds: f64,
    per_second: f64,
}

impl Report for Imported {
    fn write_text(&self, out: &mut dyn Write, _notes: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "Imported {} of {} memories from {} in {:.1} s ({:.0} memories/s)",
            self.imported,
            self.lines,
            self.file.display(),
            self.seconds,
            self.per_second
        )
    }
}

/// The lines of one request, each with its line number.
#[derive(Debug, Default)]
struct Batch {
    items: Vec<NewMemory>,
    lines: Vec<usize>,
    bytes: usize,
}

pub(crate) fn import(
    remote: &Remote,
    path: &Path,
    batch_size: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if batch_size == 0 {
        bail!("--batch must be at least 1");
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = progress_bar(total_bytes, json);
    let mut reader = BufReader::new(file);
    let started = Instant::now();
    let mut report = Imported {
        file: path.to_path_buf(),
        lines: 0,
        imported: 0,
        failed: Vec::new(),
        seconds: 0.0,
        per_second: 0.0,
    };
    let mut batch = Batch::default();
    let mut buffer = Vec::new();
    let mut number = 0usize;
    loop {
        buffer.clear();
        let read = reader
            .read_until(b'\n', &mut buffer)
            .with_context(|| format!("cannot read {} after line {number}", path.display()))?;
        if read == 0 {
            break;
        }
        number += 1;
        progress.inc(read as u64);
        let text = String::from_utf8_lossy(&buffer);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        report.lines += 1;
        match parse_line(text) {
            Ok(memory) => {
                batch.bytes += text.len();
                batch.items.push(memory);
                batch.lines.push(number);
            }
            Err(error) => reject(&mut report, &progress, json, number, error),
        }
        if batch.items.len() >= batch_size || batch.bytes >= MAX_BATCH_BYTES {
            send(remote, &mut batch, &mut report, &progress, json)?;
        }
    }
    send(remote, &mut batch, &mut report, &progress, json)?;
    progress.finish_and_clear();
    report.failed.sort_by_key(|bad| bad.line);
    report.seconds = started.elapsed().as_secs_f64();
    report.per_second = report.imported as f64 / report.seconds.max(1e-9);
    report::print(&report, json)?;
    if report.failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let numbers: Vec<String> = report
        .failed
        .iter()
        .take(10)
        .map(|bad| bad.line.to_string())
        .collect();
    let more = if report.failed.len() > 10 {
        ", ..."
    } else {
        ""
    };
    bail!(
        "{} of {} lines not imported (line {}{more}); the others were imported",
        report.failed.len(),
        report.lines,
        numbers.join(", ")
    )
}

/// One line of export's format as a new memory: export-only fields are dropped, anything else
/// unknown is an error that names it.
fn parse_line(text: &str) -> Result<NewMemory, String> {
    let mut value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let object = value
        .as_object_mut()
        .ok_or_else(|| "not a JSON object".to_string())?;
    for field in EXPORT_ONLY_FIELDS {
        object.remove(field);
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

fn reject(report: &mut Imported, progress: &ProgressBar, json: bool, line: usize, error: String) {
    if !json {
        progress.suspend(|| eprintln!("line {line}: {error}"));
    }
    report.failed.push(BadLine { line, error });
}

/// Sends the batch; an item the runtime refuses is reported by line and the rest sent again.
fn send(
    remote: &Remote,
    batch: &mut Batch,
    report: &mut Imported,
    progress: &ProgressBar,
    json: bool,
) -> anyhow::Result<()> {
    while !batch.items.is_empty() {
        match remote.call(remote.client.add_memories(&batch.items)) {
            Ok(ids) => {
                report.imported += ids.ids.len();
                progress.set_message(format!("{} imported", report.imported));
                break;
            }
            Err(ClientError::Api {
                code: ErrorCode::InvalidField,
                field: Some(field),
                message,
                ..
            }) => {
                let Some((index, field)) = refused_item(&field) else {
                    bail!("the runtime refused the batch: {message}");
                };
                if index >= batch.items.len() {
                    bail!(
                        "the runtime refused item {index} of a batch of {}: {message}",
                        batch.items.len()
                    );
                }
                batch.items.remove(index);
                let line = batch.lines.remove(index);
                let reason = message
                    .split_once(": ")
                    .filter(|(prefix, _)| prefix.starts_with("item "))
                    .map_or(message.as_str(), |(_, rest)| rest);
                let reason = if reason.starts_with(field) {
                    reason.to_string()
                } else {
                    format!("{field}: {reason}")
                };
                reject(report, progress, json, line, reason);
            }
            Err(error) => {
                let first = batch.lines.first().copied().unwrap_or_default();
                return Err(anyhow::Error::new(error).context(format!(
                    "import stopped at line {first} after {} memories were imported",
                    report.imported
                )));
            }
        }
    }
    *batch = Batch::default();
    Ok(())
}

/// `items[3].content` -> (3, "content").
fn refused_item(field: &str) -> Option<(usize, &str)> {
    let rest = field.strip_prefix("items[")?;
    let (index, rest) = rest.split_once(']')?;
    Some((index.parse().ok()?, rest.trim_start_matches('.')))
}

fn progress_bar(total_bytes: u64, json: bool) -> ProgressBar {
    if json {
        return ProgressBar::hidden();
    }
    let progress = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40.cyan/blue} {percent:>3}% {bytes}/{total_bytes} {msg} ({elapsed}, eta {eta})",
    ) {
        progress.set_style(style);
    }
    progress
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_lines_import_without_their_id_and_times() {
        let line = r#"{"id":"0192f3c4-0000-7000-8000-000000000000","content":"tea","kind":"fact","tags":["a"],"metadata":{},"importance":0.5,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}"#;
        let memory = parse_line(line).unwrap();
        assert_eq!(memory.content, "tea");
        assert_eq!(memory.kind.as_deref(), Some("fact"));
        assert_eq!(memory.tags, vec!["a".to_string()]);
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        assert!(parse_line("{\"kind\":\"fact\"}")
            .unwrap_err()
            .contains("content"));
        assert!(parse_line("[1]").unwrap_err().contains("object"));
        assert!(parse_line("{oops").unwrap_err().starts_with("not JSON"));
        assert!(parse_line(r#"{"content":"x","colour":"red"}"#)
            .unwrap_err()
            .contains("colour"));
    }

    #[test]
    fn refused_items_are_found_by_index() {
        assert_eq!(refused_item("items[3].content"), Some((3, "content")));
        assert_eq!(refused_item("content"), None);
    }
}
