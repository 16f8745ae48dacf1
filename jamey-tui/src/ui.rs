//! Drawing the state: the chat view (wrapped, scrolled), the input box with its cursor, the
//! status bar, the key footer, the help or session popups on top, and above all the prompt of
//! a tool call waiting for the user's decision.

use crate::app::{App, Connection, Overlay, Scroll, ViewMetrics};
use jamey_client::{approval, slash};
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

/// The input box shows at most this many lines; longer messages scroll inside it.
const INPUT_MAX_LINES: usize = 6;

const FOOTER: &str = "F1 help · Enter send · Alt+Enter newline · Esc cancel · PgUp/PgDn scroll · F2 sessions · Ctrl-Y copy answer · Ctrl-K copy code · Ctrl-Q quit";

/// The keys, as the help popup lists them; the slash commands follow, from the table
/// `jamey chat`'s `/help` lists too.
pub(crate) const KEYS: &[(&str, &str)] = &[
    ("Enter", "send the message"),
    ("Alt+Enter, Ctrl-J", "new line in the message"),
    ("Esc, Ctrl-C", "cancel the answer being written"),
    ("PgUp / PgDn, mouse wheel", "scroll the conversation"),
    ("Shift+↑ / Shift+↓", "scroll one line"),
    ("Ctrl-Home / Ctrl-End", "go to the top / follow the end"),
    ("F2, Ctrl-S", "list past sessions; Enter reopens one"),
    ("Ctrl-N", "start a new session"),
    ("Ctrl-Y", "copy the last answer"),
    (
        "Ctrl-K",
        "copy the last answer's code block (again: the one before)",
    ),
    ("Ctrl-U / Ctrl-W", "clear the input / delete a word"),
    (
        "y / n / s",
        "answer a waiting tool call: allow, deny, allow for the session",
    ),
    ("F1", "show or hide this help"),
    ("Ctrl-Q, Ctrl-C on an empty input", "quit"),
];

pub(crate) fn draw(frame: &mut Frame<'_>, app: &mut App) {
    let input_lines = app.input.lines().len().clamp(1, INPUT_MAX_LINES);
    let [chat, input, status, footer] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(input_lines as u16 + 2),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_chat(frame, app, chat);
    draw_input(frame, app, input);
    frame.render_widget(status_line(app), status);
    frame.render_widget(
        Paragraph::new(Span::styled(FOOTER, Style::new().fg(Color::DarkGray))),
        footer,
    );
    match &app.overlay {
        Overlay::None => {}
        Overlay::Help => draw_help(frame, chat),
        Overlay::Sessions(list) => list.draw(frame, popup(chat, 80, 20)),
    }
    draw_approval(frame, app, chat);
}

/// The first waiting call's question, at the bottom of the chat view, over everything else.
fn draw_approval(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let Some(first) = app.prompts.first() else {
        return;
    };
    let key = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    let mut lines = vec![
        Line::from(Span::styled(
            approval::question(first),
            Style::new().add_modifier(Modifier::BOLD),
        )),
        Line::from(vec![
            Span::styled("y", key),
            Span::raw(" allow once · "),
            Span::styled("n", key),
            Span::raw(" deny · "),
            Span::styled("s", key),
            Span::raw(" allow this same call for the session"),
        ]),
    ];
    let mut about = format!("asked for {}", first.caller);
    if app.prompts.len() > 1 {
        about.push_str(&format!(" · {} more waiting", app.prompts.len() - 1));
    }
    lines.push(Line::from(Span::styled(
        about,
        Style::new().fg(Color::DarkGray),
    )));
    let paragraph = Paragraph::new(lines)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(Style::new().fg(Color::Yellow))
                .title(" A tool call waits for your decision "),
        )
        .wrap(Wrap { trim: false });
    let width = area.width.min(100);
    let inner_width = width.saturating_sub(2).max(1);
    let height = (paragraph.line_count(inner_width) as u16).min(area.height);
    let at = Rect::new(
        area.x + (area.width - width) / 2,
        area.bottom().saturating_sub(height),
        width,
        height,
    );
    frame.render_widget(Clear, at);
    frame.render_widget(paragraph, at);
}

fn draw_chat(frame: &mut Frame<'_>, app: &mut App, area: Rect) {
    let mut lines: Vec<Line<'static>> = Vec::new();
    for entry in &mut app.entries {
        lines.extend_from_slice(entry.lines(&app.highlighter));
    }
    let paragraph = Paragraph::new(Text::from(lines)).wrap(Wrap { trim: false });
    let total = paragraph.line_count(area.width);
    let height = usize::from(area.height);
    let max_top = total.saturating_sub(height);
    app.view = ViewMetrics { height, max_top };
    let top = match app.scroll {
        Scroll::Follow => max_top,
        Scroll::Top(top) => top.min(max_top),
    };
    let top = u16::try_from(top).unwrap_or(u16::MAX);
    frame.render_widget(paragraph.scroll((top, 0)), area);
    if let Scroll::Top(_) = app.scroll {
        let marker = Span::styled(
            " ↓ more below (PgDn, Ctrl-End) ",
            Style::new().fg(Color::Black).bg(Color::Yellow),
        );
        let width = marker.width() as u16;
        if area.width > width && area.height > 0 {
            let at = Rect::new(area.right() - width, area.bottom() - 1, width, 1);
            frame.render_widget(Paragraph::new(marker), at);
        }
    }
}

fn draw_input(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let title = if !app.prompts.is_empty() {
        " A tool call waits · y allow · n deny · s session · Esc cancels the answer "
    } else if app.is_streaming() {
        " Jamey is answering · Esc cancels "
    } else {
        " Message · Enter send · Alt+Enter new line "
    };
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let (row, col) = app.input.cursor();
    let visible = usize::from(inner.height).max(1);
    let first_row = (row + 1).saturating_sub(visible);
    let width = usize::from(inner.width).max(1);
    // Characters before the cursor on its line decide the horizontal offset for all lines.
    let cursor_line = &app.input.lines()[row];
    let before: String = cursor_line.chars().take(col).collect();
    let cursor_x = before.width();
    let shift = (cursor_x + 1).saturating_sub(width);
    let lines: Vec<Line<'_>> = app.input.lines()[first_row..]
        .iter()
        .take(visible)
        .map(|line| Line::from(skip_columns(line, shift)))
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
    if app.overlay == Overlay::None {
        let x = inner.x + u16::try_from(cursor_x - shift).unwrap_or(0);
        let y = inner.y + u16::try_from(row - first_row).unwrap_or(0);
        frame.set_cursor_position(Position::new(x, y));
    }
}

/// `line` without its first `columns` display columns.
fn skip_columns(line: &str, columns: usize) -> String {
    let mut skipped = 0;
    let mut out = String::new();
    for c in line.chars() {
        if skipped < columns {
            skipped += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            continue;
        }
        out.push(c);
    }
    out
}

fn status_line(app: &App) -> Paragraph<'static> {
    let bar = Style::new().bg(Color::DarkGray).fg(Color::White);
    let (dot, state, colour) = match &app.status.connection {
        Connection::Connected => ("●", "connected".to_string(), Color::Green),
        Connection::Connecting => ("◌", "connecting…".to_string(), Color::Yellow),
        Connection::Offline(_) => ("○", "offline: retrying".to_string(), Color::Red),
    };
    let model = app.status.model.as_deref().unwrap_or("default model");
    let session = app
        .status
        .session_id
        .as_deref()
        .map_or("new session".to_string(), |id| {
            format!("session {}", id.chars().take(12).collect::<String>())
        });
    let spans = vec![
        Span::styled(
            format!(" {dot} {state} "),
            bar.fg(colour).add_modifier(Modifier::BOLD),
        ),
        Span::styled(
            format!(
                "│ {model} │ {session} │ {} tokens │ ${:.4} ",
                group_thousands(app.status.tokens),
                app.status.cost_usd
            ),
            bar,
        ),
    ];
    Paragraph::new(Line::from(spans)).style(bar)
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn draw_help(frame: &mut Frame<'_>, area: Rect) {
    let commands = slash::COMMANDS.iter().map(|c| (c.usage, c.what));
    let width = KEYS
        .iter()
        .copied()
        .chain(commands.clone())
        .map(|(k, _)| k.width())
        .max()
        .unwrap_or(0);
    let row = |(keys, what): (&'static str, &'static str)| {
        Line::from(vec![
            Span::styled(
                format!("{keys:<width$}  "),
                Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            ),
            Span::raw(what),
        ])
    };
    let mut lines: Vec<Line<'_>> = KEYS.iter().copied().map(row).collect();
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        "Commands (type them in the message box)",
        Style::new().add_modifier(Modifier::BOLD),
    )));
    lines.extend(commands.map(row));
    let area = popup(area, 100, lines.len() as u16 + 2);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" Keys · Esc closes "),
            )
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// A centred rectangle of at most `width` x `height` inside `area`.
fn popup(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tests::{alt_enter, chat, done, key, send, token, type_text};
    use crate::app::{Action, AppEvent, Failure};
    use crossterm::event::KeyCode;
    use jamey_protocol::{ChatEvent, SessionSummary};
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;
    use ratatui::Terminal;

    fn screen(app: &mut App, width: u16, height: u16) -> Buffer {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| draw(frame, app)).unwrap();
        terminal.backend().buffer().clone()
    }

    fn rows(buffer: &Buffer) -> Vec<String> {
        (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect()
    }

    fn contains(buffer: &Buffer, text: &str) -> bool {
        rows(buffer).iter().any(|row| row.contains(text))
    }

    fn row_of(buffer: &Buffer, text: &str) -> Option<usize> {
        rows(buffer).iter().position(|row| row.contains(text))
    }

    #[test]
    fn streaming_tokens_appear_as_they_arrive() {
        let mut app = App::new(None, None);
        let turn = send(&mut app, "Tell me a story");
        let shown = screen(&mut app, 80, 20);
        assert!(contains(&shown, "Tell me a story"));
        assert!(contains(&shown, "thinking…"));
        assert!(contains(&shown, "Jamey is answering"));
        chat(&mut app, turn, token("Once upon "));
        let shown = screen(&mut app, 80, 20);
        assert!(contains(&shown, "Once upon"), "{:#?}", rows(&shown));
        assert!(!contains(&shown, "a time"));
        chat(&mut app, turn, token("a time."));
        let shown = screen(&mut app, 80, 20);
        assert!(contains(&shown, "Once upon a time."));
        chat(&mut app, turn, done("s-42", 1234, 0.0123));
        let shown = screen(&mut app, 80, 20);
        assert!(!contains(&shown, "▍"));
        assert!(contains(&shown, " Message · Enter send"));
    }

    #[test]
    fn markdown_and_highlighted_code_blocks_render() {
        let mut app = App::new(None, None);
        let turn = send(&mut app, "code");
        chat(
            &mut app,
            turn,
            token("## Plan\n\n- **first** step\n\n```rust\nfn main() {}\n```\n"),
        );
        chat(&mut app, turn, done("s", 1, 0.0));
        let shown = screen(&mut app, 60, 24);
        let heading = row_of(&shown, "## Plan").unwrap();
        assert!(shown[(0, heading as u16)].modifier.contains(Modifier::BOLD));
        assert!(contains(&shown, "• first step"));
        let code = row_of(&shown, "│ fn main() {}").unwrap();
        assert_eq!(rows(&shown)[code - 1], "┌─ rust");
        // The keyword has a theme colour (true colour from syntect).
        assert!(
            matches!(shown[(2, code as u16)].fg, Color::Rgb(..)),
            "{:?}",
            shown[(2, code as u16)]
        );
        assert!(!contains(&shown, "```"));
    }

    #[test]
    fn status_bar_shows_connection_model_session_tokens_and_cost() {
        let mut app = App::new(None, None);
        let shown = screen(&mut app, 100, 10);
        let status = &rows(&shown)[8];
        assert!(status.contains("◌ connecting…"), "{status}");
        assert!(status.contains("default model"), "{status}");
        assert!(status.contains("new session"), "{status}");
        let turn = send(&mut app, "hi");
        chat(&mut app, turn, token("hello"));
        chat(&mut app, turn, done("a1b2c3d4e5f6a7b8", 12345, 0.01234));
        let shown = screen(&mut app, 100, 10);
        let status = &rows(&shown)[8];
        assert_eq!(
            status.as_str(),
            " ● connected │ test/model │ session a1b2c3d4e5f6 │ 12,345 tokens │ $0.0123"
        );
        app.handle(AppEvent::Health(Err(Failure {
            message: "runtime not running".into(),
            offline: true,
        })));
        let shown = screen(&mut app, 100, 10);
        assert!(rows(&shown)[8].contains("○ offline: retrying"));
        assert!(rows(&shown)[9].starts_with("F1 help"));
    }

    #[test]
    fn the_session_list_pops_up_with_titles_and_selection() {
        let mut app = App::new(None, None);
        app.handle(key(KeyCode::F(2)));
        let shown = screen(&mut app, 100, 24);
        assert!(contains(&shown, "loading…"));
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
            .unwrap()
            .to_utc();
        let summary = |id: &str, title: Option<&str>| SessionSummary {
            id: id.into(),
            title: title.map(str::to_string),
            message_count: 4,
            created_at: at,
            updated_at: at,
        };
        app.handle(AppEvent::Sessions(Ok(vec![
            summary("s-1", Some("Anna's birthday")),
            summary("s-2", None),
        ])));
        app.handle(key(KeyCode::Down));
        let shown = screen(&mut app, 100, 24);
        assert!(contains(&shown, "Sessions · ↑↓ choose"));
        let first = row_of(&shown, "Anna's birthday  4 messages · 2026-11-30 10:00").unwrap();
        let second = row_of(&shown, "› s-2").unwrap();
        assert_eq!(second, first + 1);
        let x = rows(&shown)[second].find('›').unwrap();
        let x = rows(&shown)[second][..x].chars().count() as u16;
        assert!(shown[(x, second as u16)]
            .modifier
            .contains(Modifier::REVERSED));
    }

    #[test]
    fn the_input_box_grows_with_a_multi_line_message() {
        let mut app = App::new(None, None);
        type_text(&mut app, "first line");
        app.handle(alt_enter());
        type_text(&mut app, "second line");
        let shown = screen(&mut app, 60, 16);
        let rows = rows(&shown);
        let first = row_of(&shown, "│first line").unwrap();
        assert!(rows[first + 1].starts_with("│second line   "));
        assert!(rows[first + 1].ends_with('│'));
        assert!(rows[first - 1].contains("Message · Enter send"));
        assert_eq!(rows[first + 2].chars().next(), Some('└'));
    }

    #[test]
    fn the_input_box_keeps_the_cursor_visible_in_a_long_line() {
        let mut app = App::new(None, None);
        type_text(&mut app, &"x".repeat(70));
        type_text(&mut app, "END");
        let mut terminal = Terminal::new(TestBackend::new(40, 12)).unwrap();
        terminal.draw(|frame| draw(frame, &mut app)).unwrap();
        let shown = terminal.backend().buffer().clone();
        assert!(contains(&shown, "xxxEND"));
        let cursor = terminal.get_cursor_position().unwrap();
        let row = row_of(&shown, "xxxEND").unwrap() as u16;
        assert_eq!(cursor, Position::new(38, row));
    }

    fn has_row(buffer: &Buffer, exact: &str) -> bool {
        rows(buffer).iter().any(|row| row == exact)
    }

    #[test]
    fn paging_up_shows_earlier_lines_and_paging_down_follows_again() {
        let mut app = App::new(None, None);
        let turn = send(&mut app, "count");
        let numbers: String = (1..=60).map(|n| format!("line {n}\n\n")).collect();
        chat(&mut app, turn, token(&numbers));
        chat(&mut app, turn, done("s", 1, 0.0));
        // 15 rows of chat: the end follows, ending in "line 60" and a blank line.
        let shown = screen(&mut app, 60, 20);
        assert!(has_row(&shown, "line 60"));
        assert!(has_row(&shown, "line 54"));
        assert!(!has_row(&shown, "line 53"));
        // One page is 14 rows: seven numbered lines further up.
        app.handle(key(KeyCode::PageUp));
        let shown = screen(&mut app, 60, 20);
        assert!(!has_row(&shown, "line 60"));
        assert!(has_row(&shown, "line 47"));
        assert!(contains(&shown, "more below"));
        for _ in 0..20 {
            app.handle(key(KeyCode::PageUp));
        }
        let shown = screen(&mut app, 60, 20);
        assert!(contains(&shown, "Type a message and press Enter"));
        // Scrolled up, a new answer does not pull the view down...
        let turn = send(&mut app, "again");
        screen(&mut app, 60, 20);
        app.handle(key(KeyCode::PageUp));
        chat(&mut app, turn, token("fresh"));
        let shown = screen(&mut app, 60, 20);
        assert!(!has_row(&shown, "fresh"));
        assert!(contains(&shown, "more below"));
        // ...and paging down past the end follows it again.
        for _ in 0..20 {
            app.handle(key(KeyCode::PageDown));
        }
        let shown = screen(&mut app, 60, 20);
        assert!(has_row(&shown, "fresh"));
        assert!(!contains(&shown, "more below"));
    }

    /// A whole screen as `docs/TUI.md` shows it (`cargo nextest run -p jamey-tui
    /// --no-capture whole_screen` prints it).
    #[test]
    fn whole_screen() {
        let mut app = App::new(None, None);
        let turn = send(&mut app, "How do I read a file in Rust?");
        chat(
            &mut app,
            turn,
            ChatEvent::Start {
                session_id: "0193f5c2-7d1e-7a40-9c1b-5a8e3f2d4c10".into(),
                memories: vec![],
            },
        );
        chat(
            &mut app,
            turn,
            ChatEvent::ToolCall {
                id: "c1".into(),
                name: "memory_search".into(),
                arguments: "{\"query\": \"rust file\"}".into(),
            },
        );
        chat(
            &mut app,
            turn,
            ChatEvent::ToolResult {
                id: "c1".into(),
                name: "memory_search".into(),
                output: "1 memory: prefers std over crates".into(),
                is_error: false,
            },
        );
        chat(&mut app, turn, token("Use **`std::fs::read_to_string`** (you prefer std):\n\n```rust\nlet text = std::fs::read_to_string(\"notes.txt\")?;\nprintln!(\"{text}\");\n```\n\n- returns `io::Result<String>`\n- reads the whole file"));
        chat(
            &mut app,
            turn,
            done("0193f5c2-7d1e-7a40-9c1b-5a8e3f2d4c10", 1532, 0.00042),
        );
        app.handle(AppEvent::Health(Ok(())));
        type_text(&mut app, "And line by line?");
        let shown = screen(&mut app, 96, 28);
        let rows = rows(&shown);
        println!("{}", rows.join("\n"));
        assert_eq!(
            rows[0],
            "» Type a message and press Enter. F1 shows the keys, F2 your past sessions."
        );
        assert!(has_row(
            &shown,
            "⚙ memory_search {\"query\": \"rust file\"}"
        ));
        assert!(has_row(
            &shown,
            "│ let text = std::fs::read_to_string(\"notes.txt\")?;"
        ));
        assert!(has_row(&shown, "• reads the whole file"));
        assert!(contains(&shown, "│And line by line?"));
        assert!(rows[26]
            .contains("● connected │ test/model │ session 0193f5c2-7d1 │ 1,532 tokens │ $0.0004"));
    }

    fn approval(tool: &str, arguments: serde_json::Value) -> jamey_protocol::Approval {
        jamey_protocol::Approval {
            id: uuid::Uuid::now_v7(),
            tool: tool.into(),
            arguments,
            fingerprint: "f".into(),
            session_id: Some("s".into()),
            job_id: None,
            caller: "owner".into(),
            created_at: chrono::Utc::now(),
            expires_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn an_approval_prompts_and_its_decision_updates_the_call_line() {
        let mut app = App::new(None, None);
        let turn = send(&mut app, "kill the stuck build");
        chat(
            &mut app,
            turn,
            ChatEvent::ToolCall {
                id: "c1".into(),
                name: "process_kill".into(),
                arguments: "{\"pid\": 4242}".into(),
            },
        );
        let asked = approval("process_kill", serde_json::json!({"pid": 4242}));
        chat(&mut app, turn, ChatEvent::ApprovalRequired(asked.clone()));
        let shown = screen(&mut app, 90, 24);
        assert!(
            contains(&shown, "A tool call waits for your decision"),
            "{:#?}",
            rows(&shown)
        );
        assert!(contains(&shown, "Allow process_kill {\"pid\": 4242}?"));
        assert!(contains(
            &shown,
            "y allow once · n deny · s allow this same call for the session"
        ));
        assert!(contains(&shown, "asked for owner"));
        assert!(contains(&shown, "A tool call waits · y allow"));

        // Typing other letters does not answer, nor reach the message box.
        app.handle(key(KeyCode::Char('x')));
        assert!(app.input.is_blank());
        assert_eq!(app.prompts.len(), 1);
        let actions = app.handle(key(KeyCode::Char('s')));
        let [Action::Decide {
            approval_id,
            request,
        }] = actions.as_slice()
        else {
            panic!("{actions:?}");
        };
        assert_eq!(*approval_id, asked.id);
        assert_eq!(request.decision, jamey_protocol::Decision::Approve);
        assert_eq!(request.remember, jamey_protocol::Remember::Session);
        let shown = screen(&mut app, 90, 24);
        assert!(!contains(&shown, "A tool call waits for your decision"));
        assert!(contains(&shown, "⏸ waiting for your decision"));

        chat(
            &mut app,
            turn,
            ChatEvent::ApprovalResolved(jamey_protocol::ApprovalResolved {
                id: asked.id,
                decision: "approve".into(),
            }),
        );
        let shown = screen(&mut app, 90, 24);
        assert!(has_row(&shown, "  ✓ approved"), "{:#?}", rows(&shown));
        assert!(has_row(&shown, "  … running"));
        chat(
            &mut app,
            turn,
            ChatEvent::ToolResult {
                id: "c1".into(),
                name: "process_kill".into(),
                output: "sent SIGTERM to cargo (pid 4242)".into(),
                is_error: false,
            },
        );
        let shown = screen(&mut app, 90, 24);
        assert!(has_row(&shown, "  → sent SIGTERM to cargo (pid 4242)"));
        // Now letters type again.
        app.handle(key(KeyCode::Char('y')));
        assert_eq!(app.input.text(), "y");
    }

    #[test]
    fn approvals_queue_one_prompt_at_a_time_and_another_clients_decision_closes_theirs() {
        let mut app = App::new(None, None);
        let turn = send(&mut app, "tidy up");
        for (id, pid) in [("c1", 1), ("c2", 2)] {
            chat(
                &mut app,
                turn,
                ChatEvent::ToolCall {
                    id: id.into(),
                    name: "process_kill".into(),
                    arguments: format!("{{\"pid\": {pid}}}"),
                },
            );
        }
        let first = approval("process_kill", serde_json::json!({"pid": 1}));
        let second = approval("process_kill", serde_json::json!({"pid": 2}));
        chat(&mut app, turn, ChatEvent::ApprovalRequired(first.clone()));
        chat(&mut app, turn, ChatEvent::ApprovalRequired(second.clone()));
        let shown = screen(&mut app, 90, 24);
        assert!(contains(&shown, "Allow process_kill {\"pid\": 1}?"));
        assert!(contains(&shown, "asked for owner · 1 more waiting"));
        // Someone else denied the first: the second one's prompt shows.
        chat(
            &mut app,
            turn,
            ChatEvent::ApprovalResolved(jamey_protocol::ApprovalResolved {
                id: first.id,
                decision: "deny".into(),
            }),
        );
        let shown = screen(&mut app, 90, 24);
        assert!(contains(&shown, "Allow process_kill {\"pid\": 2}?"));
        assert!(has_row(&shown, "  ✗ denied"));
        let actions = app.handle(key(KeyCode::Char('n')));
        assert!(matches!(
            actions.as_slice(),
            [Action::Decide { approval_id, request }]
                if *approval_id == second.id && request.decision == jamey_protocol::Decision::Deny
        ));
        // The runtime refused the decision (it had expired): a notice says so.
        app.handle(AppEvent::Decided {
            result: Err(Failure {
                message: "the approval has expired".into(),
                offline: false,
            }),
        });
        let shown = screen(&mut app, 90, 24);
        assert!(contains(&shown, "» the approval has expired"));
        // A turn that ends drops what it waited on.
        chat(
            &mut app,
            turn,
            ChatEvent::ApprovalRequired(approval("process_kill", serde_json::json!({"pid": 3}))),
        );
        chat(&mut app, turn, done("s", 1, 0.0));
        assert!(app.prompts.is_empty());
    }

    #[test]
    fn help_lists_the_keys() {
        let mut app = App::new(None, None);
        app.handle(key(KeyCode::F(1)));
        let shown = screen(&mut app, 100, 30);
        for (keys, _) in KEYS {
            assert!(contains(&shown, keys), "{keys}");
        }
        // The commands, from the table `jamey chat`'s /help lists, all fit on the screen.
        for command in slash::COMMANDS {
            assert!(contains(&shown, command.usage), "{}", command.usage);
            assert!(contains(&shown, command.what), "{}", command.what);
        }
        app.handle(key(KeyCode::Esc));
        let shown = screen(&mut app, 100, 30);
        assert!(!contains(&shown, "Keys · Esc closes"));
    }

    #[test]
    fn group_thousands_inserts_commas() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(1234567), "1,234,567");
    }
}
