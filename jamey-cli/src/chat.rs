//! `jamey chat`: one turn with the twin, its answer streamed to stdout as it arrives, or an
//! interactive session with line editing, history and slash commands. Ctrl-C cancels the answer
//! being written (the runtime stores what was said, marked incomplete) without leaving. A tool
//! call that waits for a decision is asked about inline (`approvals::answer_inline`).

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use jamey_client::slash::{
    self, CodeBlockCursor, CopyTarget, Recalled, SessionCommand, SlashCommand,
};
use jamey_client::{JameyClient, PageRequest, ToolState, Turn, TurnOutcome, TurnUpdate};
use jamey_protocol::{ChatReply, ChatRequest};
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;
use serde::Serialize;

use crate::connect::{Remote, Target};
use crate::memory::{Found, Page};
use crate::report::{self, Report};
use crate::table::{shorten, Table};

/// The keys of an interactive session, listed after the commands.
const KEYS: &str = "Ctrl-C cancels the answer being written; what was said is kept. Ctrl-D leaves.";

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
        None => Interactive::new(
            &remote,
            args.session,
            args.model,
            target.home.chat_history(),
        )
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
    let turn = remote.block_on(stream_turn(&remote.client, request, false))?;
    match turn.outcome().and_then(TurnOutcome::problem) {
        None => {
            eprintln!("{}", footer(&turn, true));
            Ok(())
        }
        Some(problem) => bail!("{problem}"),
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

/// What a finished turn reports after its answer: `[model · tokens · cost · session]`.
fn footer(turn: &Turn, with_session: bool) -> String {
    let mut footer = format!(
        "[{} · {} tokens · ${:.6}",
        turn.model().unwrap_or_default(),
        turn.usage().total_tokens,
        turn.cost_usd()
    );
    if let (true, Some(session)) = (with_session, turn.session_id()) {
        footer.push_str(&format!(" · session {session}"));
    }
    footer.push(']');
    footer
}

/// Streams one turn: tokens to stdout as they come, tool activity to stderr, until it ends.
/// With `cancellable`, Ctrl-C ends the turn early; dropping the stream closes the connection,
/// which cancels the runtime's upstream request. Only a turn that could not start is an error.
async fn stream_turn(
    client: &JameyClient,
    request: &ChatRequest,
    cancellable: bool,
) -> Result<Turn, jamey_client::ClientError> {
    // Listening starts before the request, so an early Ctrl-C cannot fall to the default action
    // (leaving); a listener made per turn never sees a Ctrl-C from before the turn.
    let mut interrupt = if cancellable {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok()
    } else {
        None
    };
    let mut stream = client.chat_stream(request).await?;
    let mut turn = Turn::new(request.session_id.clone());
    let mut printer = AnswerPrinter::default();
    while !turn.is_over() {
        let update = tokio::select! {
            next = stream.next_event() => match next {
                Some(Ok(event)) => turn.apply(event),
                Some(Err(error)) => turn.broke(error.to_string()),
                None => turn.broke("the answer ended without a result"),
            },
            () = interrupted(&mut interrupt) => turn.cancel(),
        };
        printer.show(&update);
        if let TurnUpdate::ApprovalRequired { approval, .. } = &update {
            crate::approvals::answer_inline(client, approval).await;
        }
    }
    Ok(turn)
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
    fn show(&mut self, update: &TurnUpdate) {
        match update {
            TurnUpdate::Started { .. } | TurnUpdate::Unchanged => {}
            TurnUpdate::Text { delta } => self.token(delta),
            TurnUpdate::ToolCalled(call) => {
                self.note(&format!(
                    "⚙ {} {}",
                    call.name,
                    shorten(&call.arguments, 120)
                ));
            }
            TurnUpdate::ToolFinished(call) => {
                if let ToolState::Finished { output, is_error } = &call.state {
                    let outcome = if *is_error { "failed" } else { "done" };
                    self.note(&format!(
                        "⚙ {} {outcome}: {}",
                        call.name,
                        shorten(&output.replace('\n', " "), 100)
                    ));
                }
            }
            // The question (or how to answer it) is `approvals::answer_inline`'s.
            TurnUpdate::ApprovalRequired { .. } => self.end_line(),
            TurnUpdate::ApprovalResolved { call, resolved } => {
                let mark = if resolved.decision == "approve" {
                    "✓"
                } else {
                    "✗"
                };
                self.note(&format!(
                    "{mark} {} {}",
                    call.name,
                    jamey_client::approval::resolved_word(&resolved.decision)
                ));
            }
            TurnUpdate::Ended(TurnOutcome::Cancelled) => {
                self.end_line();
                eprintln!("[cancelled]");
            }
            TurnUpdate::Ended(_) => self.end_line(),
        }
    }

    fn token(&mut self, delta: &str) {
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
    /// The last answer with any text, for `/copy`.
    last_answer: String,
    code_cursor: CodeBlockCursor,
}

/// What the loop does after a line.
enum Next {
    Continue,
    Quit,
}

impl Interactive<'_> {
    fn new(
        remote: &Remote,
        session: Option<String>,
        model: Option<String>,
        history: PathBuf,
    ) -> Interactive<'_> {
        Interactive {
            remote,
            session,
            model,
            history,
            last_answer: String::new(),
            code_cursor: CodeBlockCursor::default(),
        }
    }

    fn run(mut self) -> anyhow::Result<()> {
        // Fails early, with the usual advice, when the runtime is not there.
        self.remote.call(self.remote.client.models())?;
        let mut editor = DefaultEditor::new().context("cannot start the line editor")?;
        // No history yet is normal; a history that cannot be read is not worth stopping for.
        let _ = editor.load_history(&self.history);
        eprintln!(
            "Chatting with {}. /help lists commands; Ctrl-D leaves.",
            self.model.as_deref().unwrap_or(slash::DEFAULT_MODEL)
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
            let next = match slash::parse(line) {
                Some(Ok(command)) => self.command(command),
                Some(Err(error)) => Err(error.into()),
                None => self.turn(line),
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
        let turn = self
            .remote
            .block_on(stream_turn(&self.remote.client, &request, true))?;
        if let Some(session) = turn.session_id() {
            self.session = Some(session.to_owned());
        }
        if !turn.reply().is_empty() {
            turn.reply().clone_into(&mut self.last_answer);
            self.code_cursor.reset();
        }
        match turn.outcome() {
            Some(TurnOutcome::Done) => eprintln!("{}", footer(&turn, false)),
            Some(TurnOutcome::Cancelled) | None => {}
            Some(outcome) => bail!("{}", outcome.problem().unwrap_or_default()),
        }
        Ok(Next::Continue)
    }

    fn command(&mut self, command: SlashCommand) -> anyhow::Result<Next> {
        match command {
            SlashCommand::Help => eprintln!("{}\n{KEYS}", slash::help_text()),
            SlashCommand::Quit => return Ok(Next::Quit),
            SlashCommand::Model(name) => self.model_command(name.as_deref())?,
            SlashCommand::Session(command) => self.session_command(command)?,
            SlashCommand::Memory(query) => self.memory_command(query.as_deref())?,
            SlashCommand::Copy(target) => self.copy_command(target)?,
        }
        Ok(Next::Continue)
    }

    fn model_command(&mut self, name: Option<&str>) -> anyhow::Result<()> {
        let models = self.remote.call(self.remote.client.models())?;
        match name {
            None => eprintln!("{}", slash::model_list(&models, self.model.as_deref())),
            Some(name) => {
                self.model = slash::choose_model(&models, name)?;
                eprintln!("Answering with {name}");
            }
        }
        Ok(())
    }

    fn session_command(&mut self, command: SessionCommand) -> anyhow::Result<()> {
        match command {
            SessionCommand::Show => match &self.session {
                Some(id) => eprintln!("Session {id}"),
                None => eprintln!("New session: it gets an id with the first answer"),
            },
            SessionCommand::New => {
                self.session = None;
                eprintln!("Started a new session");
            }
            SessionCommand::List => {
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
            SessionCommand::Open(id) => {
                let page = self.remote.call(self.remote.client.session_messages(
                    &id,
                    &PageRequest {
                        limit: Some(1),
                        cursor: None,
                    },
                ))?;
                if page.items.is_empty() {
                    bail!("no session {id:?}: /session list shows the sessions");
                }
                eprintln!("Continuing session {id}");
                self.session = Some(id);
            }
        }
        Ok(())
    }

    fn memory_command(&self, query: Option<&str>) -> anyhow::Result<()> {
        let mut err = io::stderr().lock();
        match self
            .remote
            .block_on(slash::recall(&self.remote.client, query))?
        {
            Recalled::Newest(page) => Page(page).write_text(&mut err, &mut io::sink())?,
            Recalled::Found(found) => Found(found).write_text(&mut err, &mut io::sink())?,
        }
        Ok(())
    }

    /// Copies through OSC 52, which the terminal turns into a clipboard write (also over SSH).
    fn copy_command(&mut self, target: CopyTarget) -> anyhow::Result<()> {
        if self.last_answer.is_empty() {
            bail!("no answer to copy yet");
        }
        let (text, what) = match target {
            CopyTarget::Answer => (self.last_answer.clone(), "the last answer".to_owned()),
            CopyTarget::Code => {
                let blocks = slash::code_blocks(&self.last_answer);
                let Some(index) = self.code_cursor.next(blocks.len()) else {
                    bail!("the last answer has no code block");
                };
                let what = format!("code block {} of {}", index + 1, blocks.len());
                (blocks[index].clone(), what)
            }
        };
        let mut terminal = io::stderr();
        if !terminal.is_terminal() {
            bail!("cannot copy {what}: stderr is not a terminal to copy through");
        }
        if text.len() > slash::OSC52_MAX_BYTES {
            bail!("cannot copy {what}: it is too long for the terminal's clipboard");
        }
        terminal
            .write_all(slash::osc52_sequence(&text).as_bytes())
            .and_then(|()| terminal.flush())
            .context("cannot write to the terminal")?;
        eprintln!("Copied {what} (through the terminal: it must allow OSC 52)");
        Ok(())
    }
}
