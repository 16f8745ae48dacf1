//! `jamey tools list|run|log`: the tools the twin can use, running one outside a chat (the
//! owner's request is its own approval), and the audit trail of every call.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Subcommand;
use jamey_client::approval::one_line_json;
use jamey_client::ToolCallQuery;
use jamey_protocol::{CallDecision, InvokeResponse, ToolCallPage, ToolList};
use serde::Serialize;

use crate::connect::Target;
use crate::report::{self, Report};
use crate::table::{shorten, Table};

#[derive(Debug, Subcommand)]
#[command(after_help = "\
Examples:
  jamey tools list
  jamey tools run system_info
  jamey tools run process_list --args '{\"sort_by\": \"memory\", \"limit\": 5}'
  jamey tools log --tool process_kill --decision denied")]
pub(crate) enum ToolsCommand {
    /// Each tool with its source, permission and description (`--json`: with its schema).
    List,
    /// Run a tool now, as the owner: an `ask` tool needs no further approval.
    Run {
        /// The tool's name, as `jamey tools list` shows it.
        name: String,
        /// The arguments, a JSON object as the tool's schema describes.
        #[arg(long = "args", value_name = "JSON", default_value = "{}")]
        arguments: String,
    },
    /// The audit trail: every call, newest first.
    Log(LogArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct LogArgs {
    /// Only calls of this tool.
    #[arg(long, value_name = "TOOL")]
    tool: Option<String>,
    /// Only calls made in this session.
    #[arg(long, value_name = "ID")]
    session: Option<String>,
    /// Only calls that ended so: allowed, approved, denied or refused.
    #[arg(long, value_name = "DECISION")]
    decision: Option<CallDecision>,
    /// Show at most this many.
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
    /// Continue after the page that printed this cursor.
    #[arg(long, value_name = "CURSOR")]
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Tools(ToolList);

impl Report for Tools {
    fn write_text(&self, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()> {
        if self.0.tools.is_empty() {
            return writeln!(notes, "No tools are offered");
        }
        let mut table = Table::new(vec!["NAME", "SOURCE", "PERMISSION", "DESCRIPTION"]);
        for tool in &self.0.tools {
            table.row(vec![
                tool.name.clone(),
                tool.source.clone(),
                tool.permission.clone(),
                tool.description.clone(),
            ]);
        }
        table.write(out)
    }
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Invoked(InvokeResponse);

impl Report for Invoked {
    fn write_text(&self, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()> {
        let output = &self.0.output;
        write!(out, "{output}")?;
        if !output.ends_with('\n') {
            writeln!(out)?;
        }
        writeln!(
            notes,
            "[{} ms · call {}]",
            self.0.duration_ms, self.0.call_id
        )
    }
}

/// A page of the audit trail, with the filters that made it (for the next page's command).
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Log {
    page: ToolCallPage,
    #[serde(skip)]
    filters: String,
}

impl Report for Log {
    fn write_text(&self, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()> {
        if self.page.items.is_empty() {
            writeln!(notes, "No tool calls recorded")?;
        } else {
            let mut table = Table::new(vec![
                "AT",
                "TOOL",
                "DECISION",
                "RESULT",
                "MS",
                "CALLER",
                "ARGUMENTS",
            ]);
            for call in &self.page.items {
                table.row(vec![
                    call.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    call.tool.clone(),
                    call.decision.as_str().to_string(),
                    result_cell(call.decision, call.is_error, call.output_bytes),
                    call.duration_ms.to_string(),
                    call.caller.clone(),
                    one_line_json(&call.arguments),
                ]);
            }
            table.write(out)?;
        }
        if let Some(cursor) = &self.page.next_cursor {
            writeln!(
                notes,
                "More: jamey tools log{} --cursor {cursor}",
                self.filters
            )?;
        }
        Ok(())
    }
}

/// What a call produced: nothing when it did not run.
fn result_cell(decision: CallDecision, is_error: bool, output_bytes: u64) -> String {
    match (decision, is_error) {
        (CallDecision::Denied, _) => "-".into(),
        (_, true) => format!("error ({output_bytes} B)"),
        (_, false) => format!("ok ({output_bytes} B)"),
    }
}

pub(crate) fn run(target: &Target, command: ToolsCommand, json: bool) -> anyhow::Result<ExitCode> {
    let remote = target.connect()?;
    match command {
        ToolsCommand::List => {
            let list = remote.call(remote.client.tools())?;
            report::print(&Tools(list), json)?;
        }
        ToolsCommand::Run { name, arguments } => {
            let arguments = parse_arguments(&arguments)?;
            let response = remote.call(remote.client.invoke_tool(&name, &arguments))?;
            if response.is_error {
                let reason = crate::one_line(&response.output);
                if json {
                    report::print(&Invoked(response), json)?;
                    eprintln!("error: {name} failed: {reason}");
                    return Ok(ExitCode::FAILURE);
                }
                bail!("{name} failed: {reason}");
            }
            report::print(&Invoked(response), json)?;
        }
        ToolsCommand::Log(args) => {
            let filters = log_filters(&args);
            let query = ToolCallQuery {
                limit: args.limit,
                cursor: args.cursor,
                tool: args.tool,
                session_id: args.session,
                decision: args.decision,
            };
            let page = remote.call(remote.client.tool_calls(&query))?;
            report::print(&Log { page, filters }, json)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--args`: a JSON object, checked here so a typo is named before anything is sent.
fn parse_arguments(text: &str) -> anyhow::Result<serde_json::Value> {
    let value: serde_json::Value = serde_json::from_str(text)
        .with_context(|| format!("--args is not JSON: {}", shorten(text, 60)))?;
    if !value.is_object() {
        bail!("--args must be a JSON object, e.g. '{{\"pid\": 4242}}'");
    }
    Ok(value)
}

/// The filters of `jamey tools log` as flags, to repeat them for the next page.
fn log_filters(args: &LogArgs) -> String {
    let mut flags = String::new();
    let mut add = |flag: &str, value: Option<&str>| {
        if let Some(value) = value {
            flags.push_str(&format!(" --{flag} {}", shell_word(value)));
        }
    };
    add("tool", args.tool.as_deref());
    add("session", args.session.as_deref());
    add("decision", args.decision.map(CallDecision::as_str));
    add("limit", args.limit.map(|n| n.to_string()).as_deref());
    flags
}

/// `value` quoted for a POSIX shell when it needs it.
fn shell_word(value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':');
    if !value.is_empty() && value.chars().all(plain) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jamey_protocol::{ToolCallEntry, ToolDescription};

    fn text(report: &impl Report) -> (String, String) {
        let (mut out, mut notes) = (Vec::new(), Vec::new());
        report.write_text(&mut out, &mut notes).unwrap();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(notes).unwrap(),
        )
    }

    #[test]
    fn the_tool_table_has_name_source_permission_and_description() {
        let tool = |name: &str, permission: &str, source: &str| ToolDescription {
            name: name.into(),
            description: format!("{name} does things"),
            parameters: serde_json::json!({"type": "object"}),
            permission: permission.into(),
            source: source.into(),
        };
        let list = Tools(ToolList {
            tools: vec![
                tool("system_info", "allow", "builtin"),
                tool("mcp__lab__lights", "ask", "mcp:lab"),
            ],
        });
        let (out, _) = text(&list);
        assert_eq!(
            out,
            "NAME              SOURCE   PERMISSION  DESCRIPTION\n\
             system_info       builtin  allow       system_info does things\n\
             mcp__lab__lights  mcp:lab  ask         mcp__lab__lights does things\n"
        );
        let json = serde_json::to_value(&list).unwrap();
        assert_eq!(json["tools"][1]["source"], "mcp:lab");
        assert_eq!(json["tools"][0]["parameters"]["type"], "object");
        let (out, notes) = text(&Tools(ToolList { tools: vec![] }));
        assert_eq!(
            (out.as_str(), notes.as_str()),
            ("", "No tools are offered\n")
        );
    }

    #[test]
    fn the_log_shows_each_call_and_how_to_get_the_next_page() {
        let entry = |tool: &str, decision, is_error| ToolCallEntry {
            id: uuid::Uuid::nil(),
            at: chrono::DateTime::parse_from_rfc3339("2026-03-01T08:30:00Z")
                .unwrap()
                .to_utc(),
            caller: "token:ci".into(),
            session_id: None,
            job_id: None,
            tool: tool.into(),
            arguments: serde_json::json!({"pid": 4242}),
            decision,
            is_error,
            output_bytes: 12,
            duration_ms: 3,
            instance: None,
        };
        let args = LogArgs {
            tool: Some("process_kill".into()),
            session: Some("my session".into()),
            decision: None,
            limit: Some(2),
            cursor: None,
        };
        let log = Log {
            page: ToolCallPage {
                items: vec![
                    entry("process_kill", CallDecision::Approved, false),
                    entry("process_kill", CallDecision::Denied, false),
                    entry("process_kill", CallDecision::Refused, true),
                ],
                next_cursor: Some("abc".into()),
            },
            filters: log_filters(&args),
        };
        let (out, notes) = text(&log);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "AT                   TOOL          DECISION  RESULT        MS  CALLER    ARGUMENTS"
        );
        assert_eq!(
            lines[1],
            "2026-03-01 08:30:00  process_kill  approved  ok (12 B)     3   token:ci  {\"pid\": 4242}"
        );
        assert!(lines[2].contains("denied    -  "), "{}", lines[2]);
        assert!(lines[3].contains("refused   error (12 B)"), "{}", lines[3]);
        assert_eq!(
            notes,
            "More: jamey tools log --tool process_kill --session 'my session' --limit 2 --cursor abc\n"
        );
        // --json is the page itself.
        let json = serde_json::to_value(&log).unwrap();
        assert_eq!(json["next_cursor"], "abc");
        assert_eq!(json["items"][1]["decision"], "denied");
    }

    #[test]
    fn arguments_must_be_a_json_object() {
        assert_eq!(
            parse_arguments("{\"pid\": 1}").unwrap(),
            serde_json::json!({"pid": 1})
        );
        let err = parse_arguments("{pid: 1}").unwrap_err();
        assert!(
            format!("{err:#}").starts_with("--args is not JSON"),
            "{err:#}"
        );
        let err = parse_arguments("[1]").unwrap_err();
        assert!(err.to_string().contains("JSON object"), "{err}");
    }

    #[test]
    fn an_invocation_prints_its_output_and_notes_its_call() {
        let invoked = Invoked(InvokeResponse {
            output: "host: box".into(),
            is_error: false,
            duration_ms: 4,
            call_id: uuid::Uuid::nil(),
        });
        let (out, notes) = text(&invoked);
        assert_eq!(out, "host: box\n");
        assert_eq!(
            notes,
            "[4 ms · call 00000000-0000-0000-0000-000000000000]\n"
        );
    }
}
