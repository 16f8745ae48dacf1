//! `jamey approvals [approve ID [--session] | deny ID]`: the tool calls waiting for the user's
//! decision, and answering them; and the question `jamey chat` asks inline when a call of its
//! turn waits (`Allow process_kill {"pid": 4242}? [y/N/s=session]`).

use std::io::{self, BufRead, IsTerminal, Write};

use chrono::Utc;
use clap::Subcommand;
use jamey_client::approval::{self, one_line_json, ANSWER_KEYS};
use jamey_client::JameyClient;
use jamey_protocol::{
    Approval, ApprovalList, ApprovalResolved, Decision, DecisionRequest, Remember,
};
use serde::Serialize;

use crate::connect::Target;
use crate::report::{self, Report};
use crate::table::Table;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  jamey approvals                          the calls waiting for a decision
  jamey approvals approve 0193a4c2-...     run that call
  jamey approvals approve 0193a4c2-... --session
                                           and the same call again in its session
  jamey approvals deny 0193a4c2-...")]
pub(crate) struct ApprovalsArgs {
    #[command(subcommand)]
    command: Option<ApprovalsCommand>,
}

#[derive(Debug, Subcommand)]
enum ApprovalsCommand {
    /// The calls waiting for a decision, oldest first (the default).
    List,
    /// Approve a pending call.
    Approve {
        id: uuid::Uuid,
        /// Also approve this exact call (same tool, same arguments) for the rest of its session.
        #[arg(long)]
        session: bool,
    },
    /// Deny a pending call; the model is told it was denied.
    Deny { id: uuid::Uuid },
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Pending(ApprovalList);

impl Report for Pending {
    fn write_text(&self, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()> {
        if self.0.items.is_empty() {
            return writeln!(notes, "No calls are waiting for a decision");
        }
        let now = Utc::now();
        let mut table = Table::new(vec![
            "ID",
            "TOOL",
            "CALLER",
            "SESSION",
            "EXPIRES",
            "ARGUMENTS",
        ]);
        for approval in &self.0.items {
            let left = (approval.expires_at - now).num_seconds().max(0);
            table.row(vec![
                approval.id.to_string(),
                approval.tool.clone(),
                approval.caller.clone(),
                approval
                    .session_id
                    .clone()
                    .or_else(|| approval.job_id.as_ref().map(|job| format!("job {job}")))
                    .unwrap_or_default(),
                format!("in {left} s"),
                one_line_json(&approval.arguments),
            ]);
        }
        table.write(out)?;
        writeln!(
            notes,
            "Answer with `jamey approvals approve ID [--session]` or `jamey approvals deny ID`"
        )
    }
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Decided {
    resolved: ApprovalResolved,
    #[serde(skip)]
    remember: Remember,
}

impl Report for Decided {
    fn write_text(&self, out: &mut dyn Write, _notes: &mut dyn Write) -> io::Result<()> {
        let id = self.resolved.id;
        match (self.resolved.decision.as_str(), self.remember) {
            ("approve", Remember::Session) => writeln!(
                out,
                "Approved {id} (and this same call for the rest of its session)"
            ),
            ("approve", Remember::Once) => writeln!(out, "Approved {id}"),
            ("deny", _) => writeln!(out, "Denied {id}"),
            (other, _) => writeln!(out, "{id}: {}", approval::resolved_word(other)),
        }
    }
}

pub(crate) fn run(target: &Target, args: ApprovalsArgs, json: bool) -> anyhow::Result<()> {
    let remote = target.connect()?;
    let (id, decision) = match args.command.unwrap_or(ApprovalsCommand::List) {
        ApprovalsCommand::List => {
            let pending = remote.call(remote.client.approvals())?;
            return report::print(&Pending(pending), json);
        }
        ApprovalsCommand::Approve { id, session } => (
            id,
            DecisionRequest {
                decision: Decision::Approve,
                remember: if session {
                    Remember::Session
                } else {
                    Remember::Once
                },
            },
        ),
        ApprovalsCommand::Deny { id } => (
            id,
            DecisionRequest {
                decision: Decision::Deny,
                remember: Remember::Once,
            },
        ),
    };
    let resolved = remote.call(remote.client.decide_approval(id, &decision))?;
    report::print(
        &Decided {
            resolved,
            remember: decision.remember,
        },
        json,
    )
}

/// `jamey chat`'s answer to `approval_required`: on a terminal, the question and the decision
/// typed (`y`, `s`, anything else denies); elsewhere, how to answer it from another shell, while
/// the turn keeps waiting (another client may decide). A failure to post is a note: the turn
/// goes on and says what became of the call.
pub(crate) async fn answer_inline(client: &JameyClient, approval: &Approval) {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        eprintln!("  {}", waiting_note(approval));
        return;
    }
    eprint!("  {} {ANSWER_KEYS} ", approval::question(approval));
    let _ = io::stderr().flush();
    let mut line = String::new();
    // End of input (Ctrl-D) or an unreadable terminal answers no.
    if stdin.lock().read_line(&mut line).is_err() {
        line.clear();
    }
    let decision = approval::answer(&line);
    if let Err(error) = client.decide_approval(approval.id, &decision).await {
        eprintln!(
            "  cannot answer approval {}: {}",
            approval.id,
            crate::one_line(&error.to_string())
        );
    }
}

/// What a turn prints when it cannot ask: the call, and the commands that answer it.
fn waiting_note(approval: &Approval) -> String {
    format!(
        "⏸ {} {} waits for a decision: `jamey approvals approve {id}` (--session: for this session too) or `jamey approvals deny {id}`",
        approval.tool,
        one_line_json(&approval.arguments),
        id = approval.id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(expires_in: i64) -> Approval {
        let now = Utc::now();
        Approval {
            id: uuid::Uuid::parse_str("0193a4c2-7d1e-7a40-9c1b-5a8e3f2d4c10").unwrap(),
            tool: "process_kill".into(),
            arguments: serde_json::json!({"pid": 4242}),
            fingerprint: "ff".into(),
            session_id: Some("s-1".into()),
            job_id: None,
            caller: "owner".into(),
            created_at: now,
            expires_at: now + chrono::Duration::seconds(expires_in),
        }
    }

    fn text(report: &impl Report) -> (String, String) {
        let (mut out, mut notes) = (Vec::new(), Vec::new());
        report.write_text(&mut out, &mut notes).unwrap();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(notes).unwrap(),
        )
    }

    #[test]
    fn pending_approvals_list_with_the_commands_that_answer_them() {
        let (out, notes) = text(&Pending(ApprovalList {
            items: vec![pending(299)],
        }));
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("ID "), "{out}");
        assert!(
            lines[1].starts_with("0193a4c2-7d1e-7a40-9c1b-5a8e3f2d4c10  process_kill  owner   s-1"),
            "{out}"
        );
        assert!(lines[1].ends_with("{\"pid\": 4242}"), "{out}");
        assert!(lines[1].contains("in 29"), "{out}");
        assert!(notes.contains("jamey approvals deny ID"), "{notes}");
        let (out, notes) = text(&Pending(ApprovalList { items: vec![] }));
        assert_eq!(out, "");
        assert_eq!(notes, "No calls are waiting for a decision\n");
    }

    #[test]
    fn a_decision_reads_as_one_line_and_json_is_the_runtime_answer() {
        let decided = Decided {
            resolved: ApprovalResolved {
                id: uuid::Uuid::nil(),
                decision: "approve".into(),
            },
            remember: Remember::Session,
        };
        let (out, _) = text(&decided);
        assert_eq!(
            out,
            "Approved 00000000-0000-0000-0000-000000000000 (and this same call for the rest of its session)\n"
        );
        assert_eq!(
            serde_json::to_value(&decided).unwrap(),
            serde_json::json!({"id": "00000000-0000-0000-0000-000000000000", "decision": "approve"})
        );
        let denied = Decided {
            resolved: ApprovalResolved {
                id: uuid::Uuid::nil(),
                decision: "deny".into(),
            },
            remember: Remember::Once,
        };
        assert_eq!(
            text(&denied).0,
            "Denied 00000000-0000-0000-0000-000000000000\n"
        );
    }

    #[test]
    fn without_a_terminal_the_turn_says_how_to_answer() {
        assert_eq!(
            waiting_note(&pending(60)),
            "⏸ process_kill {\"pid\": 4242} waits for a decision: \
             `jamey approvals approve 0193a4c2-7d1e-7a40-9c1b-5a8e3f2d4c10` (--session: for this session too) \
             or `jamey approvals deny 0193a4c2-7d1e-7a40-9c1b-5a8e3f2d4c10`"
        );
    }
}
