//! How a command's result is printed: text for people, or one JSON document with `--json`.

use std::io::{self, Write};

use anyhow::Context;
use serde::Serialize;

/// A command's successful result.
pub(crate) trait Report: Serialize {
    /// Writes the result for a person: the result itself on `out`, advice about it on `notes`,
    /// so that `$(jamey ...)` captures only the result.
    fn write_text(&self, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()>;
}

/// Prints `report` on stdout as text, or as one JSON document when `json` is set.
pub(crate) fn print(report: &impl Report, json: bool) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    let written = if json {
        serde_json::to_writer_pretty(&mut out, report)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        report.write_text(&mut out, &mut io::stderr().lock())
    };
    written
        .and_then(|()| out.flush())
        .context("cannot write the output")
}
