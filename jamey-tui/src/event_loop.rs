//! The event loop: waits on the terminal, the running chat stream and the other requests at
//! once (`tokio::select!`), feeds whatever comes to `App::handle`, carries out the actions it
//! returns, and redraws. Network work runs in tasks that report back through a channel, so a
//! long answer never holds up a key press: a typed character is on screen in the next frame.

use crate::app::{Action, App, AppEvent, Connection, Failure};
use crate::clipboard::Clipboard;
use crate::ui;
use crossterm::event::EventStream;
use futures_util::StreamExt;
use jamey_client::{slash, JameyClient, PageRequest};
use jamey_protocol::{ChatRequest, DecisionRequest, SessionMessage};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::{self, Stdout};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

/// How often `/health` is asked while the runtime answers, and while it does not.
const PROBE_CONNECTED: Duration = Duration::from_secs(5);
const PROBE_OFFLINE: Duration = Duration::from_secs(1);
/// Sessions listed in the popup.
const SESSION_LIST_LIMIT: u32 = 100;
/// A reopened session shows at most this many messages.
const HISTORY_LIMIT: usize = 5_000;
const HISTORY_PAGE: u32 = 500;

/// Runs the TUI until the user quits or the terminal fails.
pub(crate) async fn run(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &mut App,
    client: JameyClient,
) -> io::Result<()> {
    let (sender, mut receiver) = unbounded_channel();
    let mut worker = Worker {
        client,
        sender,
        chat: None,
        probe: None,
        last_probe: None,
        clipboard: Clipboard::default(),
    };
    let mut terminal_events = EventStream::new();
    let mut tick = tokio::time::interval(PROBE_OFFLINE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut hang_up = Termination::new()?;

    let initial = app.initial_actions();
    worker.perform(app, initial);
    terminal.draw(|frame| ui::draw(frame, app))?;
    loop {
        let event = tokio::select! {
            event = terminal_events.next() => match event {
                Some(Ok(event)) => AppEvent::Terminal(event),
                Some(Err(error)) => return Err(error),
                None => return Ok(()),
            },
            Some(event) = receiver.recv() => event,
            _ = tick.tick() => {
                worker.probe_if_due(app);
                continue;
            }
            () = hang_up.recv() => {
                tracing::info!("terminated by a signal");
                worker.cancel_chat();
                return Ok(());
            }
        };
        let mut quit = worker.handle(app, event);
        // A burst of tokens (or keys) costs one frame, not one frame each.
        quit |= drain(&mut receiver, &mut worker, app);
        if quit {
            worker.cancel_chat();
            return Ok(());
        }
        terminal.draw(|frame| ui::draw(frame, app))?;
    }
}

/// SIGTERM and SIGHUP end the loop like Ctrl-Q, so the guard restores the terminal.
struct Termination {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Termination {
    fn new() -> io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.hup.recv() => {}
        }
    }
}

fn drain(receiver: &mut UnboundedReceiver<AppEvent>, worker: &mut Worker, app: &mut App) -> bool {
    let mut quit = false;
    while let Ok(event) = receiver.try_recv() {
        quit |= worker.handle(app, event);
    }
    quit
}

/// Carries out actions; owns the client, the running chat task and the clipboard.
struct Worker {
    client: JameyClient,
    sender: UnboundedSender<AppEvent>,
    /// The running turn: aborting the task drops its stream, which cancels the turn.
    chat: Option<JoinHandle<()>>,
    probe: Option<JoinHandle<()>>,
    last_probe: Option<Instant>,
    clipboard: Clipboard,
}

impl Worker {
    /// Hands `event` to the app and performs what it asks; true to quit.
    fn handle(&mut self, app: &mut App, event: AppEvent) -> bool {
        let actions = app.handle(event);
        self.perform(app, actions)
    }

    fn perform(&mut self, app: &mut App, actions: Vec<Action>) -> bool {
        let mut quit = false;
        for action in actions {
            match action {
                Action::Send { turn, request } => self.send(turn, request),
                Action::Cancel => {
                    tracing::info!("turn cancelled by the user");
                    self.cancel_chat();
                }
                Action::LoadSessions => self.load_sessions(),
                Action::OpenSession(id) => self.open_session(id),
                Action::Copy { text, what } => {
                    let outcome = self.clipboard.copy(&text, &mut io::stdout());
                    quit |= self.handle(app, AppEvent::Copied { what, outcome });
                }
                Action::LoadModels { choose } => self.load_models(choose),
                Action::Recall(query) => self.recall(query),
                Action::Decide {
                    approval_id,
                    request,
                } => self.decide(approval_id, request),
                Action::Quit => quit = true,
            }
        }
        quit
    }

    fn send(&mut self, turn: u64, request: ChatRequest) {
        self.cancel_chat();
        tracing::info!(turn, session_id = ?request.session_id, "sending a message");
        let client = self.client.clone();
        let sender = self.sender.clone();
        self.chat = Some(tokio::spawn(async move {
            let mut stream = match client.chat_stream(&request).await {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::warn!(turn, %error, "the message was not accepted");
                    let failure = Failure::from(&error);
                    let _ = sender.send(AppEvent::ChatFailed { turn, failure });
                    return;
                }
            };
            while let Some(item) = stream.next_event().await {
                let event = match item {
                    Ok(event) => AppEvent::Chat { turn, event },
                    Err(error) => {
                        tracing::warn!(turn, %error, "the answer's stream broke");
                        let failure = Failure::from(&error);
                        AppEvent::ChatFailed { turn, failure }
                    }
                };
                if sender.send(event).is_err() {
                    return;
                }
            }
        }));
    }

    fn cancel_chat(&mut self) {
        if let Some(task) = self.chat.take() {
            task.abort();
        }
    }

    /// Asks `/health` when it is time: often while the runtime is away, rarely while it
    /// answers, never while an answer streams (the stream itself shows the connection).
    fn probe_if_due(&mut self, app: &App) {
        if app.is_streaming() || self.probe.as_ref().is_some_and(|p| !p.is_finished()) {
            return;
        }
        let every = match app.status.connection {
            Connection::Connected => PROBE_CONNECTED,
            Connection::Connecting | Connection::Offline(_) => PROBE_OFFLINE,
        };
        if self.last_probe.is_some_and(|at| at.elapsed() < every) {
            return;
        }
        self.last_probe = Some(Instant::now());
        let client = self.client.clone();
        let sender = self.sender.clone();
        self.probe = Some(tokio::spawn(async move {
            let result = client.health().await.map(|_| ()).map_err(|error| {
                tracing::debug!(%error, "health probe failed");
                Failure::from(&error)
            });
            let _ = sender.send(AppEvent::Health(result));
        }));
    }

    fn load_sessions(&self) {
        let client = self.client.clone();
        let sender = self.sender.clone();
        tokio::spawn(async move {
            let page = PageRequest {
                limit: Some(SESSION_LIST_LIMIT),
                cursor: None,
            };
            let result = client
                .sessions(&page)
                .await
                .map(|page| page.items)
                .map_err(|error| Failure::from(&error));
            let _ = sender.send(AppEvent::Sessions(result));
        });
    }

    fn load_models(&self, choose: Option<String>) {
        let client = self.client.clone();
        let sender = self.sender.clone();
        tokio::spawn(async move {
            let result = client.models().await.map_err(|error| Failure::from(&error));
            let _ = sender.send(AppEvent::Models { choose, result });
        });
    }

    fn recall(&self, query: Option<String>) {
        let client = self.client.clone();
        let sender = self.sender.clone();
        tokio::spawn(async move {
            let result = slash::recall(&client, query.as_deref())
                .await
                .map_err(|error| Failure::from(&error));
            let _ = sender.send(AppEvent::Recalled { query, result });
        });
    }

    fn decide(&self, approval_id: uuid::Uuid, request: DecisionRequest) {
        tracing::info!(%approval_id, decision = request.decision.as_str(), "answering an approval");
        let client = self.client.clone();
        let sender = self.sender.clone();
        tokio::spawn(async move {
            let result = client
                .decide_approval(approval_id, &request)
                .await
                .map_err(|error| Failure::from(&error));
            let _ = sender.send(AppEvent::Decided { result });
        });
    }

    fn open_session(&self, id: String) {
        let client = self.client.clone();
        let sender = self.sender.clone();
        tokio::spawn(async move {
            let result = history(&client, &id).await;
            let _ = sender.send(AppEvent::SessionLoaded { id, result });
        });
    }
}

/// A session's messages, oldest first, walking keyset pages.
async fn history(client: &JameyClient, id: &str) -> Result<Vec<SessionMessage>, Failure> {
    let mut messages = Vec::new();
    let mut cursor = None;
    loop {
        let page = PageRequest {
            limit: Some(HISTORY_PAGE),
            cursor,
        };
        let page = client
            .session_messages(id, &page)
            .await
            .map_err(|error| Failure::from(&error))?;
        messages.extend(page.items);
        match page.next_cursor {
            Some(next) if messages.len() < HISTORY_LIMIT => cursor = Some(next),
            _ => return Ok(messages),
        }
    }
}
