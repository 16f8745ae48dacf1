//! The slash commands of a chat (`/model`, `/session`, `/memory`, `/copy`, `/help`, `/quit`),
//! one grammar for `jamey chat` and `jamey-tui`: `parse` turns a typed line into a
//! `SlashCommand`, and the help both show is generated from the same `COMMANDS` table. Also the
//! pieces of the commands' work that do not depend on the screen: choosing a model, listing
//! models, the memories `/memory` shows, and what `/copy` takes and how it reaches a terminal.

use crate::client::{JameyClient, ListRequest};
use crate::error::ClientError;
use base64::Engine;
use jamey_protocol::{MemoryPage, SearchMode, SearchRequest, SearchResponse};

/// The model name that stands for the runtime's default (`llm.model`), as `/v1/models` lists it.
pub const DEFAULT_MODEL: &str = "jamey";

/// How many memories `/memory` shows.
pub const MEMORY_LIMIT: u32 = 10;

/// A parsed slash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlashCommand {
    /// `/help`.
    Help,
    /// `/quit` (or `/exit`).
    Quit,
    /// `/model`: `None` lists the models, `Some(name)` answers with `name` from now on.
    Model(Option<String>),
    /// `/session ...`.
    Session(SessionCommand),
    /// `/memory`: `None` the newest memories, `Some(query)` a search.
    Memory(Option<String>),
    /// `/copy` or `/copy code`.
    Copy(CopyTarget),
}

/// What `/session` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionCommand {
    /// `/session`: show the current session's id.
    Show,
    /// `/session new`: the next message starts a new session.
    New,
    /// `/session list`: the recent sessions.
    List,
    /// `/session ID`: continue that session.
    Open(String),
}

/// What `/copy` copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyTarget {
    /// The last answer.
    Answer,
    /// The last answer's code blocks, the last one first, then (again) the one before.
    Code,
}

/// A line that is not a command, or a command that cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlashError {
    /// A `/` with no name after it.
    #[error("`/` alone is not a command: /help lists the commands")]
    Empty,
    /// No command has this name.
    #[error("unknown command /{verb}: /help lists the commands")]
    UnknownVerb { verb: String },
    /// The command exists, but not with this argument.
    #[error("/{verb} does not take {argument:?}: {usage}")]
    BadArgument {
        verb: &'static str,
        argument: String,
        usage: &'static str,
    },
    /// `/model NAME` with a model the runtime does not offer.
    #[error("unknown model {name:?}: one of {}", choices.join(", "))]
    UnknownModel { name: String, choices: Vec<String> },
}

/// One command as the help lists it, and the names it answers to.
#[derive(Debug, Clone, Copy)]
pub struct CommandHelp {
    /// How to write it, e.g. `/session [new|list|ID]`.
    pub usage: &'static str,
    /// What it does, in a few words.
    pub what: &'static str,
    verb: Verb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Model,
    Session,
    Memory,
    Copy,
    Help,
    Quit,
}

impl Verb {
    /// The names typed after `/`; the first is the one the help shows.
    fn names(self) -> &'static [&'static str] {
        match self {
            Self::Model => &["model"],
            Self::Session => &["session"],
            Self::Memory => &["memory"],
            Self::Copy => &["copy"],
            Self::Help => &["help"],
            Self::Quit => &["quit", "exit"],
        }
    }
}

/// Every command, in the order the help lists them.
pub const COMMANDS: &[CommandHelp] = &[
    CommandHelp {
        usage: "/model [NAME]",
        what: "list the models, or answer with NAME (`jamey`: the default)",
        verb: Verb::Model,
    },
    CommandHelp {
        usage: "/session [new|list|ID]",
        what: "this session's id; start a new one, list them, or continue ID",
        verb: Verb::Session,
    },
    CommandHelp {
        usage: "/memory QUERY",
        what: "search your memories; alone, the newest ones",
        verb: Verb::Memory,
    },
    CommandHelp {
        usage: "/copy [code]",
        what: "copy the last answer, or its code blocks (last first)",
        verb: Verb::Copy,
    },
    CommandHelp {
        usage: "/help",
        what: "this list",
        verb: Verb::Help,
    },
    CommandHelp {
        usage: "/quit",
        what: "leave (also /exit)",
        verb: Verb::Quit,
    },
];

/// The command `line` names; `None` when the line is a message (it does not start with `/`).
pub fn parse(line: &str) -> Option<Result<SlashCommand, SlashError>> {
    let command = line.trim().strip_prefix('/')?;
    let (name, argument) = match command.split_once(char::is_whitespace) {
        Some((name, rest)) => (name, rest.trim()),
        None => (command, ""),
    };
    if name.is_empty() {
        return Some(Err(SlashError::Empty));
    }
    let Some(help) = COMMANDS.iter().find(|c| c.verb.names().contains(&name)) else {
        return Some(Err(SlashError::UnknownVerb {
            verb: name.to_string(),
        }));
    };
    Some(parse_argument(help, argument))
}

fn parse_argument(help: &CommandHelp, argument: &str) -> Result<SlashCommand, SlashError> {
    let bad = || SlashError::BadArgument {
        verb: help.verb.names()[0],
        argument: argument.to_string(),
        usage: help.usage,
    };
    let one_word = argument.split_whitespace().count() <= 1;
    let word = (!argument.is_empty()).then(|| argument.to_string());
    match help.verb {
        Verb::Help if argument.is_empty() => Ok(SlashCommand::Help),
        Verb::Quit if argument.is_empty() => Ok(SlashCommand::Quit),
        Verb::Help | Verb::Quit => Err(bad()),
        Verb::Model if one_word => Ok(SlashCommand::Model(word)),
        Verb::Session if one_word => Ok(SlashCommand::Session(match argument {
            "" => SessionCommand::Show,
            "new" => SessionCommand::New,
            "list" => SessionCommand::List,
            id => SessionCommand::Open(id.to_string()),
        })),
        Verb::Model | Verb::Session => Err(bad()),
        Verb::Memory => Ok(SlashCommand::Memory(word)),
        Verb::Copy => match argument {
            "" => Ok(SlashCommand::Copy(CopyTarget::Answer)),
            "code" => Ok(SlashCommand::Copy(CopyTarget::Code)),
            _ => Err(bad()),
        },
    }
}

/// The commands as `/help` (and the TUI's F1) list them: a heading, then one line each.
pub fn help_text() -> String {
    let width = COMMANDS.iter().map(|c| c.usage.len()).max().unwrap_or(0);
    let mut text = String::from("Commands:");
    for command in COMMANDS {
        text.push_str(&format!("\n  {:<width$}  {}", command.usage, command.what));
    }
    text
}

/// The model to ask for after `/model NAME`: `None` for the runtime's default, or an error
/// naming the choices when the runtime does not offer `name`.
pub fn choose_model(models: &[String], name: &str) -> Result<Option<String>, SlashError> {
    if !models.iter().any(|m| m == name) {
        return Err(SlashError::UnknownModel {
            name: name.to_string(),
            choices: models.to_vec(),
        });
    }
    Ok((name != DEFAULT_MODEL).then(|| name.to_string()))
}

/// The models, one a line, the one in use (`current`, `None`: the default) marked `*`.
pub fn model_list(models: &[String], current: Option<&str>) -> String {
    let current = current.unwrap_or(DEFAULT_MODEL);
    models
        .iter()
        .map(|model| {
            let mark = if model == current { "*" } else { " " };
            format!("{mark} {model}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What `/memory` shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Recalled {
    /// `/memory`: the newest memories.
    Newest(MemoryPage),
    /// `/memory QUERY`: the best matches (hybrid search).
    Found(SearchResponse),
}

/// Asks the runtime for what `/memory` (with `query`, or without) shows.
pub async fn recall(client: &JameyClient, query: Option<&str>) -> Result<Recalled, ClientError> {
    match query {
        None => client
            .list_memories(&ListRequest {
                limit: Some(MEMORY_LIMIT),
                cursor: None,
            })
            .await
            .map(Recalled::Newest),
        Some(query) => client
            .search(&SearchRequest {
                query: query.to_string(),
                limit: Some(MEMORY_LIMIT),
                mode: SearchMode::Hybrid,
                filter: None,
            })
            .await
            .map(Recalled::Found),
    }
}

/// OSC 52 payloads above this size are ignored by many terminals (xterm's default limit is
/// around 100 kB of base64).
pub const OSC52_MAX_BYTES: usize = 74_000;

/// `ESC ] 52 ; c ; <base64> BEL`: "set the clipboard selection to this", which a terminal
/// emulator carries out even over SSH.
pub fn osc52_sequence(text: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    format!("\x1b]52;c;{encoded}\x07")
}

/// The fenced code blocks (```` ``` ```` or `~~~`) of a Markdown answer, each block's text; a
/// block left open runs to the end, as CommonMark reads it.
pub fn code_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut open: Option<(char, usize, String)> = None;
    for line in markdown.lines() {
        let fence = fence(line.trim_start());
        match &mut open {
            None => {
                if let Some((mark, length, _)) = fence {
                    open = Some((mark, length, String::new()));
                }
            }
            Some((mark, length, text)) => match fence {
                Some((m, l, info)) if m == *mark && l >= *length && info.is_empty() => {
                    blocks.push(std::mem::take(text));
                    open = None;
                }
                _ => {
                    text.push_str(line);
                    text.push('\n');
                }
            },
        }
    }
    blocks.extend(open.map(|(_, _, text)| text));
    blocks
}

/// A fence's character, length and info string, if `line` opens or closes a code block.
fn fence(line: &str) -> Option<(char, usize, &str)> {
    let mark = line.chars().next().filter(|c| matches!(c, '`' | '~'))?;
    let length = line.chars().take_while(|&c| c == mark).count();
    (length >= 3).then(|| (mark, length, line[length..].trim()))
}

/// Which code block `/copy code` takes: the last one, then on each further press the one
/// before, round again after the first. Reset it when a new answer arrives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CodeBlockCursor {
    back: usize,
}

impl CodeBlockCursor {
    /// The index of the block to copy now, out of `count`; `None` when there is none.
    pub fn next(&mut self, count: usize) -> Option<usize> {
        if count == 0 {
            return None;
        }
        let back = self.back % count;
        self.back = back + 1;
        Some(count - 1 - back)
    }

    pub fn reset(&mut self) {
        self.back = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> SlashCommand {
        match parse(line) {
            Some(Ok(command)) => command,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    fn err(line: &str) -> String {
        match parse(line) {
            Some(Err(error)) => error.to_string(),
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn every_verb_parses_to_its_command() {
        assert_eq!(ok("/help"), SlashCommand::Help);
        assert_eq!(ok("/quit"), SlashCommand::Quit);
        assert_eq!(ok("/exit"), SlashCommand::Quit);
        assert_eq!(ok("  /quit  "), SlashCommand::Quit);
        assert_eq!(ok("/model"), SlashCommand::Model(None));
        assert_eq!(
            ok("/model  other/model "),
            SlashCommand::Model(Some("other/model".into()))
        );
        assert_eq!(ok("/session"), SlashCommand::Session(SessionCommand::Show));
        assert_eq!(
            ok("/session new"),
            SlashCommand::Session(SessionCommand::New)
        );
        assert_eq!(
            ok("/session list"),
            SlashCommand::Session(SessionCommand::List)
        );
        assert_eq!(
            ok("/session 0193a4c2-5d1e"),
            SlashCommand::Session(SessionCommand::Open("0193a4c2-5d1e".into()))
        );
        assert_eq!(ok("/memory"), SlashCommand::Memory(None));
        assert_eq!(
            ok("/memory  spare key "),
            SlashCommand::Memory(Some("spare key".into()))
        );
        assert_eq!(ok("/copy"), SlashCommand::Copy(CopyTarget::Answer));
        assert_eq!(ok("/copy code"), SlashCommand::Copy(CopyTarget::Code));
    }

    #[test]
    fn a_message_is_not_a_command() {
        assert_eq!(parse("hello /model"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn bad_input_names_what_was_wrong() {
        assert_eq!(
            err("/"),
            "`/` alone is not a command: /help lists the commands"
        );
        assert_eq!(
            err("/bogus thing"),
            "unknown command /bogus: /help lists the commands"
        );
        // The old TUI verbs are gone; one set of verbs.
        for old in ["/new", "/sessions"] {
            assert!(err(old).starts_with("unknown command"), "{old}");
        }
        assert_eq!(
            err("/copy everything"),
            "/copy does not take \"everything\": /copy [code]"
        );
        assert_eq!(
            err("/session a b"),
            "/session does not take \"a b\": /session [new|list|ID]"
        );
        assert_eq!(
            err("/model a b"),
            "/model does not take \"a b\": /model [NAME]"
        );
        assert_eq!(err("/help me"), "/help does not take \"me\": /help");
        assert_eq!(err("/exit now"), "/quit does not take \"now\": /quit");
    }

    #[test]
    fn the_help_lists_every_command_from_the_table() {
        let help = help_text();
        assert!(help.starts_with("Commands:\n"), "{help}");
        assert_eq!(help.lines().count(), COMMANDS.len() + 1);
        for command in COMMANDS {
            assert!(help.contains(command.usage), "{}", command.usage);
            assert!(help.contains(command.what), "{}", command.what);
            // Every usage the help shows parses.
            let bare = command.usage.split_whitespace().next().unwrap();
            assert!(matches!(parse(bare), Some(Ok(_))), "{bare}");
        }
        assert!(help.contains("/memory QUERY"));
    }

    #[test]
    fn code_blocks_are_found_and_taken_last_first() {
        let answer = "A:\n```sh\necho 1\n```\nB:\n  ~~~~rust\nlet b = \"```\";\n~~~~\n```\nopen";
        assert_eq!(
            code_blocks(answer),
            vec!["echo 1\n", "let b = \"```\";\n", "open\n"]
        );
        assert!(code_blocks("no code here").is_empty());
        let mut cursor = CodeBlockCursor::default();
        assert_eq!(cursor.next(0), None);
        let taken: Vec<_> = (0..4).filter_map(|_| cursor.next(3)).collect();
        assert_eq!(taken, vec![2, 1, 0, 2]);
        cursor.reset();
        assert_eq!(cursor.next(2), Some(1));
        assert_eq!(osc52_sequence("hi ✓"), "\x1b]52;c;aGkg4pyT\x07");
    }

    #[test]
    fn models_are_chosen_from_what_the_runtime_offers() {
        let models = vec!["jamey".to_string(), "other/model".to_string()];
        assert_eq!(choose_model(&models, "jamey"), Ok(None));
        assert_eq!(
            choose_model(&models, "other/model"),
            Ok(Some("other/model".into()))
        );
        let error = choose_model(&models, "no/such").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown model \"no/such\": one of jamey, other/model"
        );
        assert_eq!(model_list(&models, None), "* jamey\n  other/model");
        assert_eq!(
            model_list(&models, Some("other/model")),
            "  jamey\n* other/model"
        );
    }
}
