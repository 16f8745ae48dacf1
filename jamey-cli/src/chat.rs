//! `jamey chat`: one turn with the twin, its answer streamed to stdout as it arrives, or an
//! interactive session with line editing, history and slash commands. Ctrl-C cancels the answer
//! being written (the runtime stores what was said, marked incomplete) without leaving.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use jamey_client::{ClientError, JameyClient, PageRequest};
use jamey_protocol::{ChatEvent, ChatReply, ChatRequest, SearchMode, SearchRequest, TokenUsage};
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;
use serde::Serialize;

use crate::connect::{Remote, Target};
use crate::memory::{Found, Page};
use crate::report::{self, Report};
use crate::table::{shorten, Table};

const HELP: &str = "\
Commands:
  /model              show the model and the ones you can switch to
  /model NAME         answer with NAME from now on (`jamey` is the runtime's default)
  /session            show this session's id
  /session new        start a new session
  /session list       recent sessions
  /session ID         continue session ID
  /memory QUERY       search your memories
  /memory             the newest memories
  /help               this list
  /quit               leave (or Ctrl-D)
Ctrl-C cancels the answer being written; what was said is kept.";

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  jamey chat \"what did I promise Anna for her birthday?\"
  jamey chat \"and when is it?\" --session 0193a4c2-...
  echo \"summarise my week\" | jamey chat -
  jamey chat                      an interactive session; /help lists its commands")]
pub(crate) struct ChatArgs {
    /// The message; `-` reads it from stdin. Without it: an interactive session.
    message: Option<String>,
    /// Continue this session instead of starting a new one.
    #[arg(long, value_name = "ID")]
    session: Option<String>,
    /// The model that answers [default: the runtime's `llm.model`].
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
}

pub(crate) fn run(target: &Target, args: ChatArgs, json: bool) -> anyhow::Result<()> {
    let remote = target.connect()?;
    match args.message {
        Some(message) => {
            let message = if message == "-" {
                read_stdin()?
            } else {
                message
            };
            let request = ChatRequest {
                message,
                session_id: args.session,
                model: args.model,
                stream: !json,
            };
            one_shot(&remote, &request, json)
        }
        None if json => bail!("--json needs a message: jamey chat MESSAGE --json"),
        None => Interactive {
            remote: &remote,
            session: args.session,
            model: args.model,
            history: target.home.chat_history(),
        }
        .run(),
    }
}

fn read_stdin() -> anyhow::Result<String> {
    let mut message = String::new();
    io::Read::read_to_string(&mut io::stdin(), &mut message)
        .context("cannot read the message from stdin")?;
    Ok(message.trim_end().to_owned())
}

/// The whole reply as one JSON document (`--json`), or the answer streamed as it is written.
fn one_shot(remote: &Remote, request: &ChatRequest, json: bool) -> anyhow::Result<()> {
    if json {
        let reply = remote.call(remote.client.chat(request))?;
        return report::print(&Replied(reply), json);
    }
    match remote.block_on(stream_turn(&remote.client, request, false))? {
        TurnEnd::Done(summary) => {
            eprintln!("{}", summary.footer(true));
            Ok(())
        }
        TurnEnd::Failed { message, .. } => bail!("{message}"),
        TurnEnd::Cancelled { .. } => bail!("cancelled"),
    }
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Replied(ChatReply);

impl Report for Replied {
    fn write_text(&self, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.0.reply)?;
        writeln!(notes, "session {}", self.0.session_id)
    }
}

/// What a finished turn reports in its footer.
#[derive(Debug)]
struct TurnSummary {
    session_id: String,
    model: String,
    usage: TokenUsage,
    cost_usd: f64,
}

impl TurnSummary {
    fn footer(&self, with_session: bool) -> String {
        let mut footer = format!(
            "[{} · {} tokens · ${:.6}",
            self.model, self.usage.total_tokens, self.cost_usd
        );
        if with_session {
            footer.push_str(&format!(" · session {}", self.session_id));
        }
        footer.push(']');
        footer
    }
}

/// How a streamed turn ended. `session_id` is known once the turn started.
#[derive(Debug)]
enum TurnEnd {
    Done(TurnSummary),
    Failed {
        session_id: Option<String>,
        message: String,
    },
    Cancelled {
        session_id: Option<String>,
    },
}

/// Streams one turn: tokens to stdout as they come, tool activity to stderr. With `cancellable`,
/// Ctrl-C ends the turn early; dropping the stream closes the connection, which cancels the
/// runtime's upstream request.
async fn stream_turn(
    client: &JameyClient,
    request: &ChatRequest,
    cancellable: bool,
) -> Result<TurnEnd, ClientError> {
    // Listening starts before the request, so an early Ctrl-C cannot fall to the default action
    // (leaving); a listener made per turn never sees a Ctrl-C from before the turn.
    let mut interrupt = if cancellable {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok()
    } else {
        None
    };
    let mut stream = client.chat_stream(request).await?;
    let mut printer = AnswerPrinter::default();
    let mut session_id = request.session_id.clone();
    loop {
        let next = tokio::select! {
            next = stream.next_event() => next,
            () = interrupted(&mut interrupt) => {
                printer.end_line();
                eprintln!("[cancelled]");
                return Ok(TurnEnd::Cancelled { session_id });
            }
        };
        let event = match next {
            Some(Ok(event)) => event,
            Some(Err(e)) => {
                printer.end_line();
                return Err(e);
            }
            None => {
                printer.end_line();
                return Ok(TurnEnd::Failed {
                    session_id,
                    message: "the answer ended without a result".into(),
                });
            }
        };
        match event {
            ChatEvent::Start { session_id: id, .. } => session_id = Some(id),
            ChatEvent::Token { delta } => printer.token(&delta),
            ChatEvent::ToolCall {
                name, arguments, ..
            } => printer.note(&format!("⚙ {name} {}", shorten(&arguments, 120))),
            ChatEvent::ToolResult {
                name,
                output,
                is_error,
                ..
            } => {
                let outcome = if is_error { "failed" } else { "done" };
                printer.note(&format!(
                    "⚙ {name} {outcome}: {}",
                    shorten(&output.replace('\n', " "), 100)
                ));
            }
            ChatEvent::Done {
                session_id,
                model,
                usage,
                cost_usd,
            } => {
                printer.end_line();
                return Ok(TurnEnd::Done(TurnSummary {
                    session_id,
                    model,
                    usage,
                    cost_usd,
                }));
            }
            ChatEvent::Error { code, message } => {
                printer.end_line();
                return Ok(TurnEnd::Failed {
                    session_id,
                    message: format!("{message} ({code})"),
                });
            }
        }
    }
}

/// Resolves at the next Ctrl-C; never without a listener.
async fn interrupted(listener: &mut Option<tokio::signal::unix::Signal>) {
    match listener {
        Some(signal) => {
            if signal.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

/// Writes the answer as it streams, keeping notes (tool activity) on lines of their own.
#[derive(Debug, Default)]
struct AnswerPrinter {
    mid_line: bool,
}

impl AnswerPrinter {
    fn token(&mut self, delta: &str) {
        if delta.is_empty() {
            return;
        }
        let mut out = io::stdout().lock();
        // A closed stdout (`jamey chat ... | head -1`) must not abort the turn.
        let _ = out.write_all(delta.as_bytes()).and_then(|()| out.flush());
        self.mid_line = !delta.ends_with('\n');
    }

    fn note(&mut self, line: &str) {
        self.end_line();
        eprintln!("  {line}");
    }

    fn end_line(&mut self) {
        if self.mid_line {
            let mut out = io::stdout().lock();
            let _ = writeln!(out).and_then(|()| out.flush());
            self.mid_line = false;
        }
    }
}

/// An interactive session: a line editor with history, slash commands, streamed answers.
struct Interactive<'a> {
    remote: &'a Remote,
    session: Option<String>,
    model: Option<String>,
    history: PathBuf,
}

/// What the loop does after a line.
enum Next {
    Continue,
    Quit,
}

impl Interactive<'_> {
    fn run(mut self) -> anyhow::Result<()> {
        // Fails early, with the usual advice, when the runtime is not there.
        self.remote.call(self.remote.client.models())?;
        let mut editor = DefaultEditor::new().context("cannot start the line editor")?;
        // No history yet is normal; a history that cannot be read is not worth stopping for.
        let _ = editor.load_history(&self.history);
        eprintln!(
            "Chatting with {}. /help lists commands; Ctrl-D leaves.",
            self.model.as_deref().unwrap_or("jamey")
        );
        if let Some(session) = &self.session {
            eprintln!("Continuing session {session}");
        }
        loop {
            let line = match editor.readline("you> ") {
                Ok(line) => line,
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(e).context("cannot read the terminal"),
            };
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let _ = editor.add_history_entry(line);
            let next = if let Some(command) = line.strip_prefix('/') {
                self.command(command)
            } else {
                self.turn(line)
            };
            match next {
                Ok(Next::Continue) => {}
                Ok(Next::Quit) => break,
                // A failed turn or command is reported; the session goes on.
                Err(e) => eprintln!("error: {}", crate::one_line(&format!("{e:#}"))),
            }
        }
        if let Some(parent) = self.history.parent() {
            if parent.is_dir() {
                let _ = editor.save_history(&self.history);
            }
        }
        if let Some(session) = &self.session {
            eprintln!("Session {session}: continue with `jamey chat --session {session}`");
        }
        Ok(())
    }

    fn turn(&mut self, message: &str) -> anyhow::Result<Next> {
        let request = ChatRequest {
            message: message.to_owned(),
            session_id: self.session.clone(),
            model: self.model.clone(),
            stream: true,
        };
        let end = self
            .remote
            .block_on(stream_turn(&self.remote.client, &request, true))?;
        match end {
            TurnEnd::Done(summary) => {
                eprintln!("{}", summary.footer(false));
                self.session = Some(summary.session_id);
            }
            TurnEnd::Failed {
                session_id,
                message,
            } => {
                self.session = session_id.or(self.session.take());
                bail!("{message}");
            }
            TurnEnd::Cancelled { session_id } => {
                self.session = session_id.or(self.session.take());
            }
        }
        Ok(Next::Continue)
    }

    fn command(&mut self, command: &str) -> anyhow::Result<Next> {
        let (name, rest) = match command.split_once(char::is_whitespace) {
            Some((name, rest)) => (name, rest.trim()),
            None => (command, ""),
        };
        match name {
            "help" | "?" => eprintln!("{HELP}"),
            "quit" | "exit" | "q" => return Ok(Next::Quit),
            "model" => self.model_command(rest)?,
            "session" => self.session_command(rest)?,
            "memory" => self.memory_command(rest)?,
            other => bail!("unknown command /{other}: /help lists the commands"),
        }
        Ok(Next::Continue)
    }

    fn model_command(&mut self, name: &str) -> anyhow::Result<()> {
        let models = self.remote.call(self.remote.client.models())?;
        if name.is_empty() {
            let current = self.model.as_deref().unwrap_or("jamey");
            for model in &models {
                let mark = if model == current { "*" } else { " " };
                eprintln!("{mark} {model}");
            }
            return Ok(());
        }
        if !models.iter().any(|m| m == name) {
            bail!("unknown model {name:?}: one of {}", models.join(", "));
        }
        self.model = (name != "jamey").then(|| name.to_owned());
        eprintln!("Answering with {name}");
        Ok(())
    }

    fn session_command(&mut self, argument: &str) -> anyhow::Result<()> {
        match argument {
            "" => match &self.session {
                Some(id) => eprintln!("Session {id}"),
                None => eprintln!("New session: it gets an id with the first answer"),
            },
            "new" => {
                self.session = None;
                eprintln!("Started a new session");
            }
            "list" => {
                let page = self.remote.call(self.remote.client.sessions(&PageRequest {
                    limit: Some(20),
                    cursor: None,
                }))?;
                let mut table = Table::new(vec!["ID", "UPDATED", "MESSAGES", "TITLE"]);
                for s in page.items {
                    table.row(vec![
                        s.id,
                        s.updated_at.format("%Y-%m-%d %H:%M").to_string(),
                        s.message_count.to_string(),
                        s.title.unwrap_or_default(),
                    ]);
                }
                if table.is_empty() {
                    eprintln!("No sessions yet");
                } else {
                    table.write(&mut io::stderr().lock())?;
                }
            }
            id => {
                let page = self.remote.call(self.remote.client.session_messages(
                    id,
                    &PageRequest {
                        limit: Some(1),
                        cursor: None,
                    },
                ))?;
                if page.items.is_empty() {
                    bail!("no session {id:?}: /session list shows the sessions");
                }
                self.session = Some(id.to_owned());
                eprintln!("Continuing session {id}");
            }
        }
        Ok(())
    }

    fn memory_command(&self, query: &str) -> anyhow::Result<()> {
        let client = &self.remote.client;
        let mut err = io::stderr().lock();
        if query.is_empty() {
            let page = self.remote.call(client.list_memories(&PageRequest {
                limit: Some(10),
                cursor: None,
            }))?;
            Page(page).write_text(&mut err, &mut io::sink())?;
            return Ok(());
        }
        let found = self.remote.call(client.search(&SearchRequest {
            query: query.to_owned(),
            limit: Some(10),
            mode: SearchMode::Hybrid,
            filter: None,
        }))?;
        Found(found).write_text(&mut err, &mut io::sink())?;
        Ok(())
    }
}
