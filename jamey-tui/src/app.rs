//! The TUI's state machine: every input (a key, a chat event, a health probe's answer, a loaded
//! session) goes through `App::handle`, which updates the state and returns the `Action`s the
//! event loop must carry out (send a message, cancel, load sessions, copy, answer an approval,
//! quit). No I/O here,
//! so tests drive it with plain values. A turn's events are folded by `jamey_client::Turn`;
//! this module only turns each `TurnUpdate` into entries and status.

use crate::clipboard::CopyOutcome;
use crate::highlight::Highlighter;
use crate::input::InputEditor;
use crate::markdown;
use crate::sessions::SessionList;
use crate::transcript::{self, AnswerState, Entry, EntryKind};
use crossterm::event::Event;
use jamey_client::slash::{CodeBlockCursor, Recalled};
use jamey_client::{ClientError, ToolState, Turn, TurnOutcome, TurnUpdate};
use jamey_protocol::{
    Approval, ApprovalResolved, ChatEvent, ChatRequest, DecisionRequest, SessionMessage,
    SessionSummary,
};

mod approvals;
mod commands;
mod keys;

/// Lines one mouse wheel step scrolls.
const WHEEL_LINES: usize = 3;

/// Whether the runtime answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Connection {
    /// Not known yet, or a request is on its way after a failure.
    Connecting,
    Connected,
    /// The last request or probe failed; the next send (or probe) tries again.
    Offline(String),
}

/// A failed request, as the state machine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) message: String,
    /// True when the runtime could not be reached at all (not running, restarting).
    pub(crate) offline: bool,
}

impl From<&ClientError> for Failure {
    fn from(error: &ClientError) -> Self {
        let offline = matches!(
            error,
            ClientError::NotRunning { .. }
                | ClientError::Transport { .. }
                | ClientError::Timeout { .. }
        );
        Self {
            message: error.to_string(),
            offline,
        }
    }
}

/// Something that happened, for `App::handle`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AppEvent {
    Terminal(Event),
    /// An event of turn `turn`'s stream.
    Chat {
        turn: u64,
        event: ChatEvent,
    },
    /// Turn `turn` could not start, or its stream broke.
    ChatFailed {
        turn: u64,
        failure: Failure,
    },
    Health(Result<(), Failure>),
    Sessions(Result<Vec<SessionSummary>, Failure>),
    SessionLoaded {
        id: String,
        result: Result<Vec<SessionMessage>, Failure>,
    },
    Copied {
        what: String,
        outcome: CopyOutcome,
    },
    /// The models `/model` asked for; `choose` is the one to switch to, if any.
    Models {
        choose: Option<String>,
        result: Result<Vec<String>, Failure>,
    },
    /// What `/memory` (with `query`, or without) asked for.
    Recalled {
        query: Option<String>,
        result: Result<Recalled, Failure>,
    },
    /// The runtime's answer to a decision posted with `Action::Decide`.
    Decided {
        result: Result<ApprovalResolved, Failure>,
    },
}

/// What the event loop must do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    Send {
        turn: u64,
        request: ChatRequest,
    },
    /// Drop the running turn's stream, which cancels it in the runtime.
    Cancel,
    LoadSessions,
    OpenSession(String),
    Copy {
        text: String,
        what: String,
    },
    /// Ask for the models (`/model`), to list them or to switch to `choose`.
    LoadModels {
        choose: Option<String>,
    },
    /// Ask for the memories `/memory` shows.
    Recall(Option<String>),
    /// Post the user's decision on a tool call waiting for one.
    Decide {
        approval_id: uuid::Uuid,
        request: DecisionRequest,
    },
    Quit,
}

/// The turn whose stream is running: its id (events of older turns are ignored) and its fold.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) id: u64,
    pub(crate) turn: Turn,
}

/// What covers the chat view.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Overlay {
    None,
    Help,
    Sessions(SessionList),
}

/// Where the chat view is scrolled to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scroll {
    /// Stay at the end, following a streaming answer.
    Follow,
    /// This wrapped line is at the top of the view.
    Top(usize),
}

/// The size of the chat view at the last draw, which scrolling needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ViewMetrics {
    pub(crate) height: usize,
    /// The largest `Scroll::Top` that still fills the view.
    pub(crate) max_top: usize,
}

/// The status bar's content.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Status {
    pub(crate) connection: Connection,
    /// The model that answered last, else the one asked for (`--model`), else none yet.
    pub(crate) model: Option<String>,
    pub(crate) session_id: Option<String>,
    /// Tokens and cost of the answers received since the TUI started.
    pub(crate) tokens: u64,
    pub(crate) cost_usd: f64,
}

/// The whole state of the TUI.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) entries: Vec<Entry>,
    pub(crate) input: InputEditor,
    pub(crate) status: Status,
    pub(crate) overlay: Overlay,
    pub(crate) scroll: Scroll,
    pub(crate) view: ViewMetrics,
    /// The turn whose stream is running.
    pub(crate) running: Option<Running>,
    /// Tool calls of the running turn waiting for the user's decision, oldest first; the first
    /// one's prompt is shown.
    pub(crate) prompts: Vec<Approval>,
    pub(crate) highlighter: Highlighter,
    /// `--model` or `/model`: sent with each message.
    requested_model: Option<String>,
    next_turn: u64,
    /// Which code block the next Ctrl-K copies.
    code_cursor: CodeBlockCursor,
}

impl App {
    pub(crate) fn new(model: Option<String>, session_id: Option<String>) -> Self {
        let mut app = Self {
            entries: Vec::new(),
            input: InputEditor::default(),
            status: Status {
                connection: Connection::Connecting,
                model: model.clone(),
                session_id,
                tokens: 0,
                cost_usd: 0.0,
            },
            overlay: Overlay::None,
            scroll: Scroll::Follow,
            view: ViewMetrics::default(),
            running: None,
            prompts: Vec::new(),
            highlighter: Highlighter::default(),
            requested_model: model,
            next_turn: 1,
            code_cursor: CodeBlockCursor::default(),
        };
        app.notice(
            false,
            "Type a message and press Enter. F1 shows the keys, F2 your past sessions.",
        );
        app
    }

    /// The session to load at start (`--session`), if any.
    pub(crate) fn initial_actions(&self) -> Vec<Action> {
        match &self.status.session_id {
            Some(id) => vec![Action::OpenSession(id.clone())],
            None => Vec::new(),
        }
    }

    pub(crate) fn is_streaming(&self) -> bool {
        self.running.is_some()
    }

    pub(crate) fn handle(&mut self, event: AppEvent) -> Vec<Action> {
        match event {
            AppEvent::Terminal(event) => self.terminal(event),
            AppEvent::Chat { turn, event } => {
                self.chat_event(turn, event);
                Vec::new()
            }
            AppEvent::ChatFailed { turn, failure } => {
                if let Some(running) = self.running.as_mut().filter(|r| r.id == turn) {
                    let update = running.turn.broke(failure.message.clone());
                    self.show(update);
                    self.failed(&failure);
                }
                Vec::new()
            }
            AppEvent::Health(result) => {
                self.status.connection = match result {
                    Ok(()) => Connection::Connected,
                    Err(failure) => Connection::Offline(failure.message),
                };
                Vec::new()
            }
            AppEvent::Sessions(result) => {
                if let Overlay::Sessions(list) = &mut self.overlay {
                    list.loaded(result.map_err(|f| f.message));
                }
                Vec::new()
            }
            AppEvent::SessionLoaded { id, result } => {
                match result {
                    Ok(messages) => {
                        self.entries = transcript::from_history(&messages);
                        self.status.session_id = Some(id.clone());
                        self.scroll = Scroll::Follow;
                        self.code_cursor.reset();
                        self.notice(false, &format!("session {id}: {} messages", messages.len()));
                    }
                    Err(failure) => self.failed(&failure),
                }
                Vec::new()
            }
            AppEvent::Copied { what, outcome } => {
                let how = match (outcome.system, outcome.osc52) {
                    (true, true) => "system clipboard + OSC 52",
                    (true, false) => "system clipboard",
                    (false, true) => "OSC 52 (terminal clipboard)",
                    (false, false) => "",
                };
                if outcome.copied() {
                    self.notice(false, &format!("copied {what} ({how})"));
                } else {
                    self.notice(
                        true,
                        &format!("could not copy {what}: no clipboard available"),
                    );
                }
                Vec::new()
            }
            AppEvent::Models { choose, result } => {
                match result {
                    Ok(models) => self.models_loaded(choose.as_deref(), &models),
                    Err(failure) => self.failed(&failure),
                }
                Vec::new()
            }
            AppEvent::Recalled { query, result } => {
                match result {
                    Ok(recalled) => self.recalled(query.as_deref(), &recalled),
                    Err(failure) => self.failed(&failure),
                }
                Vec::new()
            }
            AppEvent::Decided { result } => {
                self.decided(result);
                Vec::new()
            }
        }
    }

    /// Enter: a slash command, or the message to send.
    fn submit(&mut self) -> Vec<Action> {
        if self.input.is_blank() {
            return Vec::new();
        }
        if self.is_streaming() {
            self.notice(true, "wait for the answer, or press Esc to cancel it");
            return Vec::new();
        }
        let text = self.input.take();
        let trimmed = text.trim();
        if let Some(parsed) = jamey_client::slash::parse(trimmed) {
            return match parsed {
                Ok(command) => self.command(command),
                Err(error) => {
                    self.notice(true, &error.to_string());
                    Vec::new()
                }
            };
        }
        let turn = self.next_turn;
        self.next_turn += 1;
        self.running = Some(Running {
            id: turn,
            turn: Turn::new(self.status.session_id.clone()),
        });
        self.entries.push(Entry::new(EntryKind::User, trimmed));
        self.entries
            .push(Entry::new(EntryKind::Assistant(AnswerState::Streaming), ""));
        self.scroll = Scroll::Follow;
        self.code_cursor.reset();
        if matches!(self.status.connection, Connection::Offline(_)) {
            self.status.connection = Connection::Connecting;
        }
        vec![Action::Send {
            turn,
            request: ChatRequest {
                message: trimmed.to_string(),
                session_id: self.status.session_id.clone(),
                model: self.requested_model.clone(),
                stream: true,
            },
        }]
    }

    fn cancel(&mut self) -> Vec<Action> {
        if let Some(running) = self.running.as_mut() {
            let update = running.turn.cancel();
            self.show(update);
        }
        vec![Action::Cancel]
    }

    fn new_session(&mut self) {
        if self.is_streaming() {
            self.notice(true, "an answer is streaming: press Esc to cancel it first");
            return;
        }
        self.entries.clear();
        self.status.session_id = None;
        self.scroll = Scroll::Follow;
        self.notice(false, "new session: your next message starts it");
    }

    fn open_session_list(&mut self) -> Vec<Action> {
        self.overlay = Overlay::Sessions(SessionList::loading());
        vec![Action::LoadSessions]
    }

    /// An event of turn `turn`'s stream; ignored unless that turn is the running one.
    fn chat_event(&mut self, turn: u64, event: ChatEvent) {
        if let Some(running) = self.running.as_mut().filter(|r| r.id == turn) {
            let update = running.turn.apply(event);
            self.show(update);
        }
    }

    /// Shows what the running turn's last event changed.
    fn show(&mut self, update: TurnUpdate) {
        match update {
            TurnUpdate::Started { session_id } => {
                self.status.session_id = Some(session_id);
                self.status.connection = Connection::Connected;
            }
            TurnUpdate::Text { delta } => match self.entries.last_mut() {
                Some(entry) if entry.is_streaming() => entry.push_text(&delta),
                _ => self.entries.push(Entry::new(
                    EntryKind::Assistant(AnswerState::Streaming),
                    delta,
                )),
            },
            TurnUpdate::ToolCalled(call) => {
                if self
                    .entries
                    .last()
                    .is_some_and(|e| e.is_streaming() && e.text.is_empty())
                {
                    self.entries.pop();
                } else {
                    self.finish_answer(AnswerState::Complete);
                }
                self.entries.push(Entry::new(
                    EntryKind::Tool {
                        id: call.id,
                        name: call.name,
                        output: None,
                        is_error: false,
                        approval: None,
                    },
                    call.arguments,
                ));
                self.entries
                    .push(Entry::new(EntryKind::Assistant(AnswerState::Streaming), ""));
            }
            TurnUpdate::ToolFinished(call) => {
                if let ToolState::Finished { output, is_error } = &call.state {
                    transcript::set_tool_result(&mut self.entries, &call.id, output, *is_error);
                }
            }
            TurnUpdate::ApprovalRequired { call, approval } => {
                self.approval_required(call, approval);
            }
            TurnUpdate::ApprovalResolved { call, resolved } => {
                self.approval_resolved(&call, &resolved);
            }
            TurnUpdate::Ended(outcome) => self.ended(&outcome),
            TurnUpdate::Unchanged => {}
        }
    }

    /// The running turn is over: its answer gets its final state, the status its totals.
    fn ended(&mut self, outcome: &TurnOutcome) {
        let Some(Running { turn, .. }) = self.running.take() else {
            return;
        };
        // What the turn waited on is no longer this turn's to answer.
        self.prompts.clear();
        match outcome {
            TurnOutcome::Done => {
                self.finish_answer(AnswerState::Complete);
                self.status.session_id = turn.session_id().map(str::to_string);
                self.status.model = turn.model().map(str::to_string);
                self.status.tokens += turn.usage().total_tokens;
                self.status.cost_usd += turn.cost_usd();
                self.status.connection = Connection::Connected;
            }
            TurnOutcome::Failed {
                code,
                message,
                request_id,
            } => {
                self.finish_answer(AnswerState::Incomplete);
                let notice = match request_id {
                    Some(id) => format!("{code}: {message} (request {id})"),
                    None => format!("{code}: {message}"),
                };
                self.notice(true, &notice);
            }
            // The failure itself is reported by whoever saw the stream break.
            TurnOutcome::Broken { .. } => self.finish_answer(AnswerState::Incomplete),
            TurnOutcome::Cancelled => self.finish_answer(AnswerState::Cancelled),
        }
    }

    /// Ends the streaming answer, if any, in `state`; an answer with no text yet is removed.
    fn finish_answer(&mut self, state: AnswerState) {
        let Some(index) = self.entries.iter().rposition(Entry::is_streaming) else {
            return;
        };
        if self.entries[index].text.is_empty() && state != AnswerState::Cancelled {
            self.entries.remove(index);
        } else {
            self.entries[index].set_kind(EntryKind::Assistant(state));
        }
    }

    fn failed(&mut self, failure: &Failure) {
        if failure.offline {
            self.status.connection = Connection::Offline(failure.message.clone());
        }
        self.notice(true, &failure.message);
    }

    fn notice(&mut self, error: bool, text: &str) {
        self.entries
            .push(Entry::new(EntryKind::Notice { error }, text));
    }

    fn last_answer(&self) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| matches!(e.kind, EntryKind::Assistant(_)) && !e.text.is_empty())
    }

    fn copy_answer(&mut self) -> Vec<Action> {
        match self.last_answer() {
            Some(answer) => vec![Action::Copy {
                text: answer.text.clone(),
                what: "the last answer".into(),
            }],
            None => {
                self.notice(true, "no answer to copy yet");
                Vec::new()
            }
        }
    }

    /// Copies the last code block of the last answer; pressed again, the one before it.
    fn copy_code_block(&mut self) -> Vec<Action> {
        let blocks = match self.last_answer() {
            Some(answer) => markdown::render(&answer.text, &self.highlighter).code_blocks,
            None => Vec::new(),
        };
        let Some(index) = self.code_cursor.next(blocks.len()) else {
            self.notice(true, "the last answer has no code block");
            return Vec::new();
        };
        vec![Action::Copy {
            text: blocks[index].clone(),
            what: format!("code block {} of {}", index + 1, blocks.len()),
        }]
    }

    fn page(&self) -> usize {
        self.view.height.saturating_sub(1).max(1)
    }

    fn scroll_up(&mut self, lines: usize) {
        if self.view.max_top == 0 {
            return;
        }
        let top = match self.scroll {
            Scroll::Follow => self.view.max_top,
            Scroll::Top(top) => top.min(self.view.max_top),
        };
        self.scroll = Scroll::Top(top.saturating_sub(lines));
    }

    fn scroll_down(&mut self, lines: usize) {
        if let Scroll::Top(top) = self.scroll {
            let top = top + lines;
            self.scroll = if top >= self.view.max_top {
                Scroll::Follow
            } else {
                Scroll::Top(top)
            };
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
    use jamey_protocol::TokenUsage;

    pub(crate) fn key(code: KeyCode) -> AppEvent {
        AppEvent::Terminal(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    pub(crate) fn ctrl(c: char) -> AppEvent {
        AppEvent::Terminal(Event::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::CONTROL,
        )))
    }

    pub(crate) fn alt_enter() -> AppEvent {
        AppEvent::Terminal(Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT)))
    }

    pub(crate) fn type_text(app: &mut App, text: &str) {
        for c in text.chars() {
            app.handle(key(KeyCode::Char(c)));
        }
    }

    /// Types `text`, presses Enter and returns the turn that was sent.
    pub(crate) fn send(app: &mut App, text: &str) -> u64 {
        type_text(app, text);
        match app.handle(key(KeyCode::Enter)).as_slice() {
            [Action::Send { turn, request }] => {
                assert_eq!(request.message, text);
                assert!(request.stream);
                *turn
            }
            other => panic!("expected a send, got {other:?}"),
        }
    }

    pub(crate) fn chat(app: &mut App, turn: u64, event: ChatEvent) {
        assert!(app.handle(AppEvent::Chat { turn, event }).is_empty());
    }

    pub(crate) fn token(delta: &str) -> ChatEvent {
        ChatEvent::Token {
            delta: delta.into(),
        }
    }

    pub(crate) fn done(session: &str, tokens: u64, cost: f64) -> ChatEvent {
        ChatEvent::Done {
            session_id: session.into(),
            model: "test/model".into(),
            usage: TokenUsage {
                prompt_tokens: tokens / 2,
                completion_tokens: tokens - tokens / 2,
                total_tokens: tokens,
            },
            cost_usd: cost,
        }
    }

    fn kinds(app: &App) -> Vec<EntryKind> {
        app.entries
            .iter()
            .filter(|e| !matches!(e.kind, EntryKind::Notice { .. }))
            .map(|e| e.kind.clone())
            .collect()
    }

    pub(crate) fn last_notice(app: &App) -> String {
        app.entries
            .iter()
            .rev()
            .find(|e| matches!(e.kind, EntryKind::Notice { .. }))
            .map(|e| e.text.clone())
            .unwrap_or_default()
    }

    #[test]
    fn a_streamed_turn_fills_the_answer_and_the_status() {
        let mut app = App::new(None, None);
        let turn = send(&mut app, "hello");
        assert!(app.is_streaming());
        assert!(app.input.is_blank());
        chat(
            &mut app,
            turn,
            ChatEvent::Start {
                session_id: "s-1".into(),
                memories: vec![],
            },
        );
        chat(&mut app, turn, token("Hi "));
        chat(&mut app, turn, token("there"));
        let answer = app.entries.last().unwrap();
        assert_eq!(answer.text, "Hi there");
        assert!(answer.is_streaming());
        chat(&mut app, turn, done("s-1", 150, 0.002));
        assert!(!app.is_streaming());
        assert_eq!(
            kinds(&app),
            vec![EntryKind::User, EntryKind::Assistant(AnswerState::Complete)]
        );
        assert_eq!(app.status.session_id.as_deref(), Some("s-1"));
        assert_eq!(app.status.model.as_deref(), Some("test/model"));
        assert_eq!(app.status.tokens, 150);
        assert_eq!(app.status.connection, Connection::Connected);

        // The next message continues the session and adds up the usage.
        type_text(&mut app, "more");
        let actions = app.handle(key(KeyCode::Enter));
        let [Action::Send { turn, request }] = actions.as_slice() else {
            panic!("{actions:?}");
        };
        assert_eq!(request.session_id.as_deref(), Some("s-1"));
        chat(&mut app, *turn, token("ok"));
        chat(&mut app, *turn, done("s-1", 50, 0.001));
        assert_eq!(app.status.tokens, 200);
        assert!((app.status.cost_usd - 0.003).abs() < 1e-9);
    }

    #[test]
    fn tool_calls_sit_between_answers_and_get_their_results() {
        let mut app = App::new(None, None);
        let turn = send(&mut app, "when?");
        chat(
            &mut app,
            turn,
            ChatEvent::ToolCall {
                id: "c1".into(),
                name: "memory_search".into(),
                arguments: "{}".into(),
            },
        );
        chat(
            &mut app,
            turn,
            ChatEvent::ToolResult {
                id: "c1".into(),
                name: "memory_search".into(),
                output: "3 May".into(),
                is_error: false,
            },
        );
        chat(&mut app, turn, token("On 3 May."));
        chat(&mut app, turn, done("s", 10, 0.0));
        assert_eq!(
            kinds(&app),
            vec![
                EntryKind::User,
                EntryKind::Tool {
                    id: "c1".into(),
                    name: "memory_search".into(),
                    output: Some("3 May".into()),
                    is_error: false,
                    approval: None,
                },
                EntryKind::Assistant(AnswerState::Complete),
            ]
        );
    }

    #[test]
    fn escape_and_ctrl_c_cancel_a_streaming_answer_and_late_events_are_ignored() {
        for cancel_key in [key(KeyCode::Esc), ctrl('c')] {
            let mut app = App::new(None, None);
            let turn = send(&mut app, "long story");
            chat(&mut app, turn, token("Once upon"));
            assert_eq!(app.handle(cancel_key), vec![Action::Cancel]);
            assert!(!app.is_streaming());
            chat(&mut app, turn, token(" a time"));
            let answer = app
                .entries
                .iter()
                .find(|e| matches!(e.kind, EntryKind::Assistant(_)))
                .unwrap();
            assert_eq!(answer.text, "Once upon");
            assert_eq!(answer.kind, EntryKind::Assistant(AnswerState::Cancelled));
            // Idle again: the next message goes out.
            send(&mut app, "short story");
        }
    }

    #[test]
    fn ctrl_c_when_idle_clears_the_input_then_quits() {
        let mut app = App::new(None, None);
        type_text(&mut app, "draft");
        assert!(app.handle(ctrl('c')).is_empty());
        assert!(app.input.is_blank());
        assert_eq!(app.handle(ctrl('c')), vec![Action::Quit]);
        assert_eq!(app.handle(ctrl('q')), vec![Action::Quit]);
    }

    #[test]
    fn enter_sends_and_alt_enter_breaks_the_line() {
        let mut app = App::new(Some("my/model".into()), None);
        type_text(&mut app, "line one");
        assert!(app.handle(alt_enter()).is_empty());
        type_text(&mut app, "line two");
        assert_eq!(app.input.text(), "line one\nline two");
        let actions = app.handle(key(KeyCode::Enter));
        let [Action::Send { request, .. }] = actions.as_slice() else {
            panic!("{actions:?}");
        };
        assert_eq!(request.message, "line one\nline two");
        assert_eq!(request.model.as_deref(), Some("my/model"));
        // Enter on an empty input, or while answering, sends nothing.
        assert!(app.handle(key(KeyCode::Enter)).is_empty());
        type_text(&mut app, "again");
        assert!(app.handle(key(KeyCode::Enter)).is_empty());
        assert_eq!(app.input.text(), "again");
        assert!(last_notice(&app).contains("Esc"));
    }

    #[test]
    fn failures_mark_the_connection_and_the_next_send_retries() {
        let mut app = App::new(None, None);
        let turn = send(&mut app, "hi");
        let failure = Failure {
            message: "runtime not running at https://127.0.0.1:1: run `jamey start`".into(),
            offline: true,
        };
        app.handle(AppEvent::ChatFailed {
            turn,
            failure: failure.clone(),
        });
        assert!(!app.is_streaming());
        assert_eq!(
            app.status.connection,
            Connection::Offline(failure.message.clone())
        );
        assert_eq!(kinds(&app), vec![EntryKind::User]);
        assert!(last_notice(&app).contains("jamey start"));
        send(&mut app, "hi again");
        assert_eq!(app.status.connection, Connection::Connecting);
        app.handle(AppEvent::Health(Ok(())));
        assert_eq!(app.status.connection, Connection::Connected);
        app.handle(AppEvent::Health(Err(failure)));
        assert!(matches!(app.status.connection, Connection::Offline(_)));
    }

    #[test]
    fn a_stream_error_keeps_what_was_said_marked_incomplete() {
        let mut app = App::new(None, None);
        let turn = send(&mut app, "hi");
        chat(&mut app, turn, token("Partial"));
        chat(
            &mut app,
            turn,
            ChatEvent::Error {
                code: "upstream_unavailable".into(),
                message: "the model is down".into(),
                request_id: None,
            },
        );
        assert!(!app.is_streaming());
        assert_eq!(
            kinds(&app),
            vec![
                EntryKind::User,
                EntryKind::Assistant(AnswerState::Incomplete)
            ]
        );
        assert_eq!(last_notice(&app), "upstream_unavailable: the model is down");
    }

    #[test]
    fn the_session_list_opens_loads_and_reopens_a_session() {
        let mut app = App::new(None, None);
        assert_eq!(
            app.handle(AppEvent::Terminal(Event::Key(KeyEvent::new(
                KeyCode::F(2),
                KeyModifiers::NONE
            )))),
            vec![Action::LoadSessions]
        );
        let summary = |id: &str| SessionSummary {
            id: id.into(),
            title: None,
            message_count: 2,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        app.handle(AppEvent::Sessions(Ok(vec![summary("a"), summary("b")])));
        app.handle(key(KeyCode::Down));
        assert_eq!(
            app.handle(key(KeyCode::Enter)),
            vec![Action::OpenSession("b".into())]
        );
        assert_eq!(app.overlay, Overlay::None);
        let message = |id: i64, role, content: &str| SessionMessage {
            id,
            session_id: "b".into(),
            role,
            content: content.into(),
            tool_calls: vec![],
            tool_result: None,
            status: jamey_protocol::MessageStatus::Complete,
            model: None,
            created_at: chrono::Utc::now(),
        };
        app.handle(AppEvent::SessionLoaded {
            id: "b".into(),
            result: Ok(vec![
                message(1, jamey_protocol::Role::User, "old question"),
                message(2, jamey_protocol::Role::Assistant, "old answer"),
            ]),
        });
        assert_eq!(app.status.session_id.as_deref(), Some("b"));
        assert_eq!(
            kinds(&app),
            vec![EntryKind::User, EntryKind::Assistant(AnswerState::Complete)]
        );
        // The next message continues that session.
        type_text(&mut app, "follow-up");
        let actions = app.handle(key(KeyCode::Enter));
        assert!(matches!(
            actions.as_slice(),
            [Action::Send { request, .. }] if request.session_id.as_deref() == Some("b")
        ));
    }

    #[test]
    fn copy_takes_the_last_answer_or_cycles_through_its_code_blocks() {
        let mut app = App::new(None, None);
        assert!(app.handle(ctrl('y')).is_empty());
        assert!(last_notice(&app).contains("no answer"));
        let turn = send(&mut app, "code please");
        chat(
            &mut app,
            turn,
            token("A:\n```sh\necho 1\n```\nB:\n```rust\nlet b = 2;\n```\n"),
        );
        chat(&mut app, turn, done("s", 1, 0.0));
        let copied = |actions: Vec<Action>| match actions.as_slice() {
            [Action::Copy { text, what }] => (text.clone(), what.clone()),
            other => panic!("{other:?}"),
        };
        let (text, _) = copied(app.handle(ctrl('y')));
        assert!(text.starts_with("A:\n```sh"));
        assert_eq!(
            copied(app.handle(ctrl('k'))),
            ("let b = 2;\n".to_string(), "code block 2 of 2".to_string())
        );
        assert_eq!(copied(app.handle(ctrl('k'))).0, "echo 1\n");
        assert_eq!(copied(app.handle(ctrl('k'))).0, "let b = 2;\n");
        app.handle(AppEvent::Copied {
            what: "code block 2 of 2".into(),
            outcome: CopyOutcome {
                system: false,
                osc52: true,
            },
        });
        assert_eq!(
            last_notice(&app),
            "copied code block 2 of 2 (OSC 52 (terminal clipboard))"
        );
    }

    #[test]
    fn scrolling_moves_by_pages_and_returns_to_following() {
        let mut app = App::new(None, None);
        app.view = ViewMetrics {
            height: 10,
            max_top: 25,
        };
        app.handle(key(KeyCode::PageUp));
        assert_eq!(app.scroll, Scroll::Top(16));
        app.handle(key(KeyCode::PageUp));
        app.handle(key(KeyCode::PageUp));
        assert_eq!(app.scroll, Scroll::Top(0));
        app.handle(AppEvent::Terminal(Event::Mouse(MouseEvent {
            kind: MouseEventKind::ScrollDown,
            column: 0,
            row: 0,
            modifiers: KeyModifiers::NONE,
        })));
        assert_eq!(app.scroll, Scroll::Top(3));
        app.handle(key(KeyCode::PageDown));
        app.handle(key(KeyCode::PageDown));
        assert_eq!(app.scroll, Scroll::Top(21));
        app.handle(key(KeyCode::PageDown));
        assert_eq!(app.scroll, Scroll::Follow);
        // Nothing to scroll when everything fits.
        app.view.max_top = 0;
        app.handle(key(KeyCode::PageUp));
        assert_eq!(app.scroll, Scroll::Follow);
    }

    #[test]
    fn slash_commands_change_the_model_and_start_new_sessions() {
        let mut app = App::new(None, Some("old".into()));
        assert_eq!(
            app.initial_actions(),
            vec![Action::OpenSession("old".into())]
        );
        type_text(&mut app, "/model other/model");
        assert_eq!(
            app.handle(key(KeyCode::Enter)),
            vec![Action::LoadModels {
                choose: Some("other/model".into())
            }]
        );
        app.handle(AppEvent::Models {
            choose: Some("other/model".into()),
            result: Ok(vec!["jamey".into(), "other/model".into()]),
        });
        assert_eq!(app.status.model.as_deref(), Some("other/model"));
        type_text(&mut app, "/session new");
        app.handle(key(KeyCode::Enter));
        assert_eq!(app.status.session_id, None);
        type_text(&mut app, "/bogus");
        app.handle(key(KeyCode::Enter));
        assert!(last_notice(&app).contains("unknown command /bogus"));
        let turn = send(&mut app, "hi");
        assert_eq!(turn, 1);
        type_text(&mut app, "/quit");
        app.handle(key(KeyCode::Esc));
        assert_eq!(app.handle(key(KeyCode::Enter)), vec![Action::Quit]);
    }
}
