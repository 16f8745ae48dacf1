//! The conversation as shown: user messages, answers (streaming, complete, cut off or
//! cancelled), tool calls with their approvals and results, and notices, each rendered to lines
//! once and cached until its text changes.

use crate::highlight::Highlighter;
use crate::markdown;
use jamey_protocol::{MessageStatus, Role, SessionMessage};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

/// How far an answer got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AnswerState {
    Streaming,
    Complete,
    /// Cut off by an error, or stored incomplete by the runtime.
    Incomplete,
    /// Cancelled by the user.
    Cancelled,
}

/// Where a tool call's approval is, for a call that needed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToolApproval {
    /// Waiting for the user's decision.
    Waiting,
    Approved,
    Denied,
    /// Nobody decided in time: denied.
    Expired,
}

impl ToolApproval {
    /// The state an `approval_resolved` decision (`approve`, `deny`, `expired`) leaves.
    pub(crate) fn from_decision(decision: &str) -> Self {
        match decision {
            "approve" => Self::Approved,
            "expired" => Self::Expired,
            _ => Self::Denied,
        }
    }
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EntryKind {
    User,
    Assistant(AnswerState),
    Tool {
        id: String,
        name: String,
        output: Option<String>,
        is_error: bool,
        /// `None` for a call that needed no approval.
        approval: Option<ToolApproval>,
    },
    /// A message from the TUI itself (errors, "copied", ...); not part of the conversation.
    Notice {
        error: bool,
    },
}

/// One block of the transcript.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) kind: EntryKind,
    /// The message text; a tool call's JSON arguments.
    pub(crate) text: String,
    rendered: Option<Vec<Line<'static>>>,
}

impl Entry {
    pub(crate) fn new(kind: EntryKind, text: impl Into<String>) -> Self {
        Self {
            kind,
            text: text.into(),
            rendered: None,
        }
    }

    pub(crate) fn push_text(&mut self, text: &str) {
        self.text.push_str(text);
        self.rendered = None;
    }

    pub(crate) fn set_kind(&mut self, kind: EntryKind) {
        self.kind = kind;
        self.rendered = None;
    }

    pub(crate) fn is_streaming(&self) -> bool {
        self.kind == EntryKind::Assistant(AnswerState::Streaming)
    }

    /// This entry's lines, rendered now if its text changed since the last call.
    pub(crate) fn lines(&mut self, highlighter: &Highlighter) -> &[Line<'static>] {
        let rendered = self
            .rendered
            .get_or_insert_with(|| render_entry(&self.kind, &self.text, highlighter));
        rendered.as_slice()
    }
}

const USER: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
const TWIN: Style = Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD);
const DIM: Style = Style::new().fg(Color::DarkGray);

fn render_entry(kind: &EntryKind, text: &str, highlighter: &Highlighter) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    match kind {
        EntryKind::User => {
            lines.push(Line::from(Span::styled("You", USER)));
            lines.extend(text.split('\n').map(|l| Line::from(l.to_string())));
        }
        EntryKind::Assistant(state) => {
            lines.push(Line::from(Span::styled("Jamey", TWIN)));
            lines.extend(markdown::render(text, highlighter).lines);
            let tail = match state {
                AnswerState::Streaming if text.is_empty() => Some("thinking…"),
                AnswerState::Streaming => Some("▍"),
                AnswerState::Complete => None,
                AnswerState::Incomplete => Some("[incomplete]"),
                AnswerState::Cancelled => Some("[cancelled]"),
            };
            if let Some(tail) = tail {
                lines.push(Line::from(Span::styled(tail, DIM)));
            }
        }
        EntryKind::Tool {
            name,
            output,
            is_error,
            approval,
            ..
        } => {
            lines.push(Line::from(vec![
                Span::styled(format!("⚙ {name} "), Style::new().fg(Color::Yellow)),
                Span::styled(one_line(text, 200), DIM),
            ]));
            let refused = Style::new().fg(Color::Red);
            match approval {
                None => {}
                Some(ToolApproval::Waiting) => lines.push(Line::from(Span::styled(
                    "  ⏸ waiting for your decision: y allow · n deny · s allow for this session",
                    Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
                ))),
                Some(ToolApproval::Approved) => {
                    lines.push(Line::from(Span::styled("  ✓ approved", DIM)));
                }
                Some(ToolApproval::Denied) => {
                    lines.push(Line::from(Span::styled("  ✗ denied", refused)));
                }
                Some(ToolApproval::Expired) => lines.push(Line::from(Span::styled(
                    "  ✗ expired: nobody decided in time",
                    refused,
                ))),
            }
            let (mark, style) = match (output, is_error) {
                // A denied call's result (what the model is told) is still to come.
                (None, _) if approval.is_some_and(|a| a != ToolApproval::Approved) => {
                    lines.push(Line::default());
                    return lines;
                }
                (None, _) => ("  … running".to_string(), DIM),
                (Some(output), false) => (format!("  → {}", one_line(output, 200)), DIM),
                (Some(output), true) => (
                    format!("  ✗ {}", one_line(output, 200)),
                    Style::new().fg(Color::Red),
                ),
            };
            lines.push(Line::from(Span::styled(mark, style)));
        }
        EntryKind::Notice { error } => {
            let style = if *error {
                Style::new().fg(Color::Red)
            } else {
                DIM
            };
            lines.extend(
                text.split('\n')
                    .map(|l| Line::from(Span::styled(format!("» {l}"), style))),
            );
        }
    }
    lines.push(Line::default());
    lines
}

/// `text` on one line, cut to `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max).collect();
    format!("{cut}…")
}

/// The entries of a stored session: its messages, oldest first, with each tool call matched to
/// its result.
pub(crate) fn from_history(messages: &[SessionMessage]) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for message in messages {
        match message.role {
            Role::System => {}
            Role::User => entries.push(Entry::new(EntryKind::User, message.content.clone())),
            Role::Assistant => {
                if !message.content.trim().is_empty() {
                    let state = match message.status {
                        MessageStatus::Complete => AnswerState::Complete,
                        MessageStatus::Incomplete => AnswerState::Incomplete,
                    };
                    entries.push(Entry::new(
                        EntryKind::Assistant(state),
                        message.content.clone(),
                    ));
                }
                for call in &message.tool_calls {
                    entries.push(Entry::new(
                        EntryKind::Tool {
                            id: call.id.clone(),
                            name: call.name.clone(),
                            output: None,
                            is_error: false,
                            approval: None,
                        },
                        call.arguments.clone(),
                    ));
                }
            }
            Role::Tool => {
                if let Some(result) = &message.tool_result {
                    set_tool_result(
                        &mut entries,
                        &result.call_id,
                        &result.content,
                        result.is_error,
                    );
                }
            }
        }
    }
    entries
}

/// Records a tool's output on the entry of its call; false when no such call is shown.
pub(crate) fn set_tool_result(
    entries: &mut [Entry],
    call_id: &str,
    content: &str,
    failed: bool,
) -> bool {
    let found = entries
        .iter_mut()
        .rev()
        .find(|entry| matches!(&entry.kind, EntryKind::Tool { id, .. } if id == call_id));
    let Some(entry) = found else {
        return false;
    };
    if let EntryKind::Tool {
        id, name, approval, ..
    } = &entry.kind
    {
        let kind = EntryKind::Tool {
            id: id.clone(),
            name: name.clone(),
            output: Some(content.to_string()),
            is_error: failed,
            approval: *approval,
        };
        entry.set_kind(kind);
    }
    true
}

/// Records where a tool call's approval is on the entry of its call; false when no such call
/// is shown.
pub(crate) fn set_tool_approval(entries: &mut [Entry], call_id: &str, state: ToolApproval) -> bool {
    let found = entries
        .iter_mut()
        .rev()
        .find(|entry| matches!(&entry.kind, EntryKind::Tool { id, .. } if id == call_id));
    let Some(entry) = found else {
        return false;
    };
    if let EntryKind::Tool { approval, .. } = &entry.kind {
        if *approval != Some(state) {
            let mut kind = entry.kind.clone();
            if let EntryKind::Tool { approval, .. } = &mut kind {
                *approval = Some(state);
            }
            entry.set_kind(kind);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use jamey_protocol::{ToolCall, ToolResult};

    fn message(id: i64, role: Role, content: &str) -> SessionMessage {
        SessionMessage {
            id,
            session_id: "s".into(),
            role,
            content: content.into(),
            tool_calls: vec![],
            tool_result: None,
            status: MessageStatus::Complete,
            model: None,
            created_at: chrono::Utc::now(),
        }
    }

    fn texts(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn history_matches_tool_calls_with_their_results_and_skips_the_system() {
        let mut call = message(2, Role::Assistant, "");
        call.tool_calls = vec![ToolCall {
            id: "c1".into(),
            name: "memory_search".into(),
            arguments: "{\"query\": \"Anna\"}".into(),
        }];
        let mut result = message(3, Role::Tool, "");
        result.tool_result = Some(ToolResult {
            call_id: "c1".into(),
            content: "3 May".into(),
            is_error: false,
        });
        let mut answer = message(4, Role::Assistant, "On 3 May.");
        answer.status = MessageStatus::Incomplete;
        let entries = from_history(&[
            message(0, Role::System, "persona"),
            message(1, Role::User, "When?"),
            call,
            result,
            answer,
        ]);
        let kinds: Vec<_> = entries.iter().map(|e| e.kind.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                EntryKind::User,
                EntryKind::Tool {
                    id: "c1".into(),
                    name: "memory_search".into(),
                    output: Some("3 May".into()),
                    is_error: false,
                    approval: None,
                },
                EntryKind::Assistant(AnswerState::Incomplete),
            ]
        );
    }

    #[test]
    fn entries_render_with_a_header_and_rerender_when_text_grows() {
        let highlighter = Highlighter::default();
        let mut entry = Entry::new(EntryKind::Assistant(AnswerState::Streaming), "");
        assert_eq!(texts(entry.lines(&highlighter)), ["Jamey", "thinking…", ""]);
        entry.push_text("Hello **there**");
        assert_eq!(
            texts(entry.lines(&highlighter)),
            ["Jamey", "Hello there", "▍", ""]
        );
        entry.set_kind(EntryKind::Assistant(AnswerState::Cancelled));
        assert_eq!(
            texts(entry.lines(&highlighter)),
            ["Jamey", "Hello there", "[cancelled]", ""]
        );
        let mut user = Entry::new(EntryKind::User, "two\nlines");
        assert_eq!(texts(user.lines(&highlighter)), ["You", "two", "lines", ""]);
    }

    #[test]
    fn a_tool_call_shows_its_approval_then_its_result() {
        let highlighter = Highlighter::default();
        let tool = |approval, output: Option<&str>, is_error| EntryKind::Tool {
            id: "c1".into(),
            name: "process_kill".into(),
            output: output.map(str::to_string),
            is_error,
            approval,
        };
        let mut entries = vec![Entry::new(tool(None, None, false), "{\"pid\": 4242}")];
        assert_eq!(
            texts(entries[0].lines(&highlighter)),
            ["⚙ process_kill {\"pid\": 4242}", "  … running", ""]
        );
        assert!(set_tool_approval(&mut entries, "c1", ToolApproval::Waiting));
        assert!(!set_tool_approval(
            &mut entries,
            "c9",
            ToolApproval::Waiting
        ));
        assert_eq!(
            texts(entries[0].lines(&highlighter))[1],
            "  ⏸ waiting for your decision: y allow · n deny · s allow for this session"
        );
        set_tool_approval(&mut entries, "c1", ToolApproval::Approved);
        assert_eq!(
            texts(entries[0].lines(&highlighter)),
            [
                "⚙ process_kill {\"pid\": 4242}",
                "  ✓ approved",
                "  … running",
                ""
            ]
        );
        set_tool_result(&mut entries, "c1", "sent SIGTERM", false);
        assert_eq!(
            entries[0].kind,
            tool(Some(ToolApproval::Approved), Some("sent SIGTERM"), false)
        );
        assert_eq!(
            texts(entries[0].lines(&highlighter))[1..3],
            ["  ✓ approved", "  → sent SIGTERM"]
        );
        let mut denied = vec![Entry::new(tool(None, None, false), "{}")];
        set_tool_approval(&mut denied, "c1", ToolApproval::from_decision("expired"));
        assert_eq!(
            texts(denied[0].lines(&highlighter)),
            [
                "⚙ process_kill {}",
                "  ✗ expired: nobody decided in time",
                ""
            ]
        );
        assert_eq!(ToolApproval::from_decision("deny"), ToolApproval::Denied);
    }
}
