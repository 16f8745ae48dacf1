//! The state of one chat turn, folded from its events: the reply so far, each tool call with its
//! result, usage, cost, session, model, and how the turn ended. `jamey chat` and `jamey-tui`
//! both feed their stream into a `Turn` and draw what each `TurnUpdate` says changed, so what a
//! turn *is* lives here once and only the presentation lives in each frontend.
//!
//! Approvals (`approval_required` / `approval_resolved`) are meant to fit without a new shape:
//! a tool call waiting on one is one more `ToolState`, and each of the two events one more
//! `TurnUpdate` naming the call it concerns.

use jamey_protocol::{ChatEvent, TokenUsage};

/// One tool call of the turn and, once it finished, its result.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolActivity {
    /// The call id the runtime gave it; its result carries the same.
    pub id: String,
    pub name: String,
    /// The JSON arguments, as the model wrote them.
    pub arguments: String,
    pub state: ToolState,
}

/// Where a tool call is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolState {
    Running,
    Finished { output: String, is_error: bool },
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnOutcome {
    /// `done`: the answer is complete; usage, cost and model are known.
    Done,
    /// `error`: the runtime ended the turn; what was said is stored, marked incomplete.
    Failed {
        code: String,
        message: String,
        /// The runtime's request id, under which its log has the details.
        request_id: Option<String>,
    },
    /// The stream broke (or the runtime could not be reached) before the turn ended.
    Broken { message: String },
    /// The user cancelled; dropping the stream cancels the turn in the runtime.
    Cancelled,
}

impl TurnOutcome {
    /// The outcome as one line for the user; `None` for a completed turn.
    pub fn problem(&self) -> Option<String> {
        match self {
            Self::Done => None,
            Self::Failed {
                code,
                message,
                request_id,
            } => Some(match request_id {
                Some(id) => format!("{message} ({code}, request {id})"),
                None => format!("{message} ({code})"),
            }),
            Self::Broken { message } => Some(message.clone()),
            Self::Cancelled => Some("cancelled".into()),
        }
    }
}

/// What one event changed, for a frontend to draw.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnUpdate {
    /// The runtime accepted the turn in this session.
    Started { session_id: String },
    /// More of the answer.
    Text { delta: String },
    /// The model asked for a tool; the call is now `Running`.
    ToolCalled(ToolActivity),
    /// A tool call finished; the activity carries its result.
    ToolFinished(ToolActivity),
    /// The turn is over; `Turn::outcome` says the same.
    Ended(TurnOutcome),
    /// Nothing changed: an event after the end, or an empty piece of text.
    Unchanged,
}

/// One turn, as its events have built it so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    session_id: Option<String>,
    memories: Vec<uuid::Uuid>,
    reply: String,
    tools: Vec<ToolActivity>,
    model: Option<String>,
    usage: TokenUsage,
    cost_usd: f64,
    outcome: Option<TurnOutcome>,
}

impl Turn {
    /// A turn sent in `session_id` (`None`: a new session, whose id comes with `start`).
    pub fn new(session_id: Option<String>) -> Self {
        Self {
            session_id,
            memories: Vec::new(),
            reply: String::new(),
            tools: Vec::new(),
            model: None,
            usage: TokenUsage::default(),
            cost_usd: 0.0,
            outcome: None,
        }
    }

    /// Folds one event of the stream in.
    pub fn apply(&mut self, event: ChatEvent) -> TurnUpdate {
        if self.outcome.is_some() {
            return TurnUpdate::Unchanged;
        }
        match event {
            ChatEvent::Start {
                session_id,
                memories,
            } => {
                self.session_id = Some(session_id.clone());
                self.memories = memories;
                TurnUpdate::Started { session_id }
            }
            ChatEvent::Token { delta } if delta.is_empty() => TurnUpdate::Unchanged,
            ChatEvent::Token { delta } => {
                self.reply.push_str(&delta);
                TurnUpdate::Text { delta }
            }
            ChatEvent::ToolCall {
                id,
                name,
                arguments,
            } => {
                let call = ToolActivity {
                    id,
                    name,
                    arguments,
                    state: ToolState::Running,
                };
                self.tools.push(call.clone());
                TurnUpdate::ToolCalled(call)
            }
            ChatEvent::ToolResult {
                id,
                name,
                output,
                is_error,
            } => {
                let state = ToolState::Finished { output, is_error };
                let call = match self.tools.iter_mut().rev().find(|call| call.id == id) {
                    Some(call) => {
                        call.state = state;
                        call.clone()
                    }
                    // A result whose call was not seen is still the model's context: keep it.
                    None => {
                        let call = ToolActivity {
                            id,
                            name,
                            arguments: String::new(),
                            state,
                        };
                        self.tools.push(call.clone());
                        call
                    }
                };
                TurnUpdate::ToolFinished(call)
            }
            ChatEvent::Done {
                session_id,
                model,
                usage,
                cost_usd,
            } => {
                self.session_id = Some(session_id);
                self.model = Some(model);
                self.usage = usage;
                self.cost_usd = cost_usd;
                self.end(TurnOutcome::Done)
            }
            ChatEvent::Error {
                code,
                message,
                request_id,
            } => self.end(TurnOutcome::Failed {
                code,
                message,
                request_id,
            }),
        }
    }

    /// The stream broke, or the turn could not start: `message` says why.
    pub fn broke(&mut self, message: impl Into<String>) -> TurnUpdate {
        self.end(TurnOutcome::Broken {
            message: message.into(),
        })
    }

    /// The user cancelled the turn.
    pub fn cancel(&mut self) -> TurnUpdate {
        self.end(TurnOutcome::Cancelled)
    }

    fn end(&mut self, outcome: TurnOutcome) -> TurnUpdate {
        if self.outcome.is_some() {
            return TurnUpdate::Unchanged;
        }
        self.outcome = Some(outcome.clone());
        TurnUpdate::Ended(outcome)
    }

    /// The session: the one the turn was sent in until `start` names it.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The memories given to the model as context, best first (from `start`).
    pub fn memories(&self) -> &[uuid::Uuid] {
        &self.memories
    }

    /// The whole answer so far, across tool rounds.
    pub fn reply(&self) -> &str {
        &self.reply
    }

    /// The tool calls, in the order they were made.
    pub fn tools(&self) -> &[ToolActivity] {
        &self.tools
    }

    /// The model that answered; known once the turn is done.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// Tokens of every round of the turn; zero until it is done.
    pub fn usage(&self) -> TokenUsage {
        self.usage
    }

    pub fn cost_usd(&self) -> f64 {
        self.cost_usd
    }

    /// How the turn ended; `None` while it runs.
    pub fn outcome(&self) -> Option<&TurnOutcome> {
        self.outcome.as_ref()
    }

    pub fn is_over(&self) -> bool {
        self.outcome.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(delta: &str) -> ChatEvent {
        ChatEvent::Token {
            delta: delta.into(),
        }
    }

    fn start(session: &str) -> ChatEvent {
        ChatEvent::Start {
            session_id: session.into(),
            memories: vec![uuid::Uuid::nil()],
        }
    }

    fn done(session: &str) -> ChatEvent {
        ChatEvent::Done {
            session_id: session.into(),
            model: "test/model".into(),
            usage: TokenUsage {
                prompt_tokens: 100,
                completion_tokens: 20,
                total_tokens: 120,
            },
            cost_usd: 0.000_42,
        }
    }

    #[test]
    fn a_plain_turn_folds_start_tokens_and_done() {
        let mut turn = Turn::new(None);
        assert_eq!(turn.session_id(), None);
        assert_eq!(
            turn.apply(start("s-1")),
            TurnUpdate::Started {
                session_id: "s-1".into()
            }
        );
        assert_eq!(turn.session_id(), Some("s-1"));
        assert_eq!(turn.memories(), [uuid::Uuid::nil()]);
        assert_eq!(
            turn.apply(token("Anna ")),
            TurnUpdate::Text {
                delta: "Anna ".into()
            }
        );
        assert_eq!(turn.apply(token("")), TurnUpdate::Unchanged);
        turn.apply(token("likes tulips."));
        assert_eq!(turn.reply(), "Anna likes tulips.");
        assert!(!turn.is_over());
        assert_eq!(turn.model(), None);
        assert_eq!(turn.usage().total_tokens, 0);

        assert_eq!(
            turn.apply(done("s-1")),
            TurnUpdate::Ended(TurnOutcome::Done)
        );
        assert!(turn.is_over());
        assert_eq!(turn.outcome(), Some(&TurnOutcome::Done));
        assert_eq!(turn.outcome().and_then(TurnOutcome::problem), None);
        assert_eq!(turn.model(), Some("test/model"));
        assert_eq!(turn.usage().total_tokens, 120);
        assert!((turn.cost_usd() - 0.000_42).abs() < 1e-12);
        // Nothing after the end changes the turn.
        assert_eq!(turn.apply(token("late")), TurnUpdate::Unchanged);
        assert_eq!(turn.cancel(), TurnUpdate::Unchanged);
        assert_eq!(turn.reply(), "Anna likes tulips.");
        assert_eq!(turn.outcome(), Some(&TurnOutcome::Done));
    }

    #[test]
    fn tool_calls_get_their_results_in_order() {
        let mut turn = Turn::new(Some("s-0".into()));
        assert_eq!(turn.session_id(), Some("s-0"));
        turn.apply(start("s-0"));
        turn.apply(token("Let me look. "));
        let called = turn.apply(ChatEvent::ToolCall {
            id: "c1".into(),
            name: "memory_search".into(),
            arguments: "{\"query\":\"Anna\"}".into(),
        });
        let TurnUpdate::ToolCalled(call) = called else {
            panic!("{called:?}");
        };
        assert_eq!(call.state, ToolState::Running);
        turn.apply(ChatEvent::ToolCall {
            id: "c2".into(),
            name: "system_info".into(),
            arguments: "{}".into(),
        });
        let finished = turn.apply(ChatEvent::ToolResult {
            id: "c2".into(),
            name: "system_info".into(),
            output: "permission denied".into(),
            is_error: true,
        });
        assert_eq!(
            finished,
            TurnUpdate::ToolFinished(ToolActivity {
                id: "c2".into(),
                name: "system_info".into(),
                arguments: "{}".into(),
                state: ToolState::Finished {
                    output: "permission denied".into(),
                    is_error: true
                },
            })
        );
        turn.apply(ChatEvent::ToolResult {
            id: "c1".into(),
            name: "memory_search".into(),
            output: "3 May".into(),
            is_error: false,
        });
        // A result for a call never announced is kept, with no arguments.
        turn.apply(ChatEvent::ToolResult {
            id: "c9".into(),
            name: "memory_save".into(),
            output: "saved".into(),
            is_error: false,
        });
        turn.apply(token("On 3 May."));
        turn.apply(done("s-0"));
        assert_eq!(turn.reply(), "Let me look. On 3 May.");
        let states: Vec<_> = turn
            .tools()
            .iter()
            .map(|t| (t.id.as_str(), t.arguments.as_str(), t.state.clone()))
            .collect();
        assert_eq!(
            states,
            vec![
                (
                    "c1",
                    "{\"query\":\"Anna\"}",
                    ToolState::Finished {
                        output: "3 May".into(),
                        is_error: false
                    }
                ),
                (
                    "c2",
                    "{}",
                    ToolState::Finished {
                        output: "permission denied".into(),
                        is_error: true
                    }
                ),
                (
                    "c9",
                    "",
                    ToolState::Finished {
                        output: "saved".into(),
                        is_error: false
                    }
                ),
            ]
        );
    }

    #[test]
    fn an_error_mid_turn_ends_it_and_keeps_what_was_said() {
        let mut turn = Turn::new(None);
        turn.apply(start("s-2"));
        turn.apply(token("Partial"));
        turn.apply(ChatEvent::ToolCall {
            id: "c1".into(),
            name: "memory_search".into(),
            arguments: "{}".into(),
        });
        let ended = turn.apply(ChatEvent::Error {
            code: "upstream_unavailable".into(),
            message: "the model is down".into(),
            request_id: None,
        });
        let failed = TurnOutcome::Failed {
            code: "upstream_unavailable".into(),
            message: "the model is down".into(),
            request_id: None,
        };
        assert_eq!(ended, TurnUpdate::Ended(failed.clone()));
        assert_eq!(turn.outcome(), Some(&failed));
        assert_eq!(
            failed.problem().as_deref(),
            Some("the model is down (upstream_unavailable)")
        );
        let with_id = TurnOutcome::Failed {
            code: "internal".into(),
            message: "internal error".into(),
            request_id: Some("r-42".into()),
        };
        assert_eq!(
            with_id.problem().as_deref(),
            Some("internal error (internal, request r-42)")
        );
        assert_eq!(turn.reply(), "Partial");
        assert_eq!(turn.session_id(), Some("s-2"));
        assert_eq!(turn.tools()[0].state, ToolState::Running);
        assert_eq!(turn.model(), None);
        assert_eq!(turn.apply(done("s-2")), TurnUpdate::Unchanged);
        assert_eq!(turn.usage().total_tokens, 0);
    }

    #[test]
    fn a_broken_or_cancelled_turn_ends_once() {
        let mut turn = Turn::new(None);
        turn.apply(start("s-3"));
        assert_eq!(
            turn.broke("the runtime closed the stream"),
            TurnUpdate::Ended(TurnOutcome::Broken {
                message: "the runtime closed the stream".into()
            })
        );
        assert_eq!(turn.cancel(), TurnUpdate::Unchanged);
        assert_eq!(
            turn.outcome().and_then(TurnOutcome::problem).as_deref(),
            Some("the runtime closed the stream")
        );

        let mut turn = Turn::new(Some("s-4".into()));
        turn.apply(token("Once upon"));
        assert_eq!(turn.cancel(), TurnUpdate::Ended(TurnOutcome::Cancelled));
        assert_eq!(turn.apply(token(" a time")), TurnUpdate::Unchanged);
        assert_eq!(turn.broke("late"), TurnUpdate::Unchanged);
        assert_eq!(turn.reply(), "Once upon");
        assert_eq!(turn.session_id(), Some("s-4"));
        assert_eq!(
            turn.outcome().and_then(TurnOutcome::problem).as_deref(),
            Some("cancelled")
        );
    }
}
