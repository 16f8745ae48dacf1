//! The state of one chat turn, folded from its events: the reply so far, each tool call with its
//! result, usage, cost, session, model, and how the turn ended. `jamey chat` and `jamey-tui`
//! both feed their stream into a `Turn` and draw what each `TurnUpdate` says changed, so what a
//! turn *is* lives here once and only the presentation lives in each frontend.
//!
//! Approvals fit the same shape: a tool call waiting on one is `ToolState::AwaitingApproval`,
//! and `approval_required` / `approval_resolved` are each one more `TurnUpdate` naming the call
//! they concern. An approval names a tool and its arguments, not a call id, so it is matched to
//! the running call of that tool whose arguments are the same JSON, else to the latest running
//! call of that tool.

use jamey_protocol::{Approval, ApprovalResolved, ChatEvent, TokenUsage};

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
    /// The call waits for the user's decision (`POST /v1/approvals/{approval_id}`).
    AwaitingApproval {
        approval_id: uuid::Uuid,
        /// Binds the decision to exactly this call (tool and arguments).
        fingerprint: String,
    },
    /// The user denied the call, or nobody decided in time (`expired`); its result follows.
    Denied {
        expired: bool,
    },
    Finished {
        output: String,
        is_error: bool,
    },
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
    /// A tool call waits for the user's decision; the call is now `AwaitingApproval`.
    ApprovalRequired {
        call: ToolActivity,
        approval: Approval,
    },
    /// The decision on a call that waited: `approve` (the call is `Running` again), `deny` or
    /// `expired` (the call is `Denied`).
    ApprovalResolved {
        call: ToolActivity,
        resolved: ApprovalResolved,
    },
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
            ChatEvent::ApprovalRequired(approval) => self.approval_required(approval),
            ChatEvent::ApprovalResolved(resolved) => {
                let awaiting = self.tools.iter_mut().rev().find(|call| {
                    matches!(&call.state,
                        ToolState::AwaitingApproval { approval_id, .. } if *approval_id == resolved.id)
                });
                let Some(call) = awaiting else {
                    return TurnUpdate::Unchanged;
                };
                call.state = match resolved.decision.as_str() {
                    "approve" => ToolState::Running,
                    other => ToolState::Denied {
                        expired: other == "expired",
                    },
                };
                TurnUpdate::ApprovalResolved {
                    call: call.clone(),
                    resolved,
                }
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

    /// Marks the call `approval` is about as waiting; a call never announced gets an activity
    /// of its own (id: the approval's), so the question can still be asked.
    fn approval_required(&mut self, approval: Approval) -> TurnUpdate {
        let state = ToolState::AwaitingApproval {
            approval_id: approval.id,
            fingerprint: approval.fingerprint.clone(),
        };
        let running_of_tool =
            |call: &ToolActivity| call.name == approval.tool && call.state == ToolState::Running;
        let same_arguments = self.tools.iter().rposition(|call| {
            running_of_tool(call)
                && serde_json::from_str::<serde_json::Value>(&call.arguments)
                    .is_ok_and(|arguments| arguments == approval.arguments)
        });
        let index = same_arguments.or_else(|| self.tools.iter().rposition(running_of_tool));
        let call = match index {
            Some(index) => {
                let call = &mut self.tools[index];
                call.state = state;
                call.clone()
            }
            None => {
                let call = ToolActivity {
                    id: approval.id.to_string(),
                    name: approval.tool.clone(),
                    arguments: approval.arguments.to_string(),
                    state,
                };
                self.tools.push(call.clone());
                call
            }
        };
        TurnUpdate::ApprovalRequired { call, approval }
    }

    /// The calls waiting for the user's decision, oldest first.
    pub fn awaiting_approval(&self) -> impl Iterator<Item = &ToolActivity> {
        self.tools
            .iter()
            .filter(|call| matches!(call.state, ToolState::AwaitingApproval { .. }))
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

    fn approval(tool: &str, arguments: serde_json::Value) -> Approval {
        Approval {
            id: uuid::Uuid::now_v7(),
            tool: tool.into(),
            arguments,
            fingerprint: format!("fp-{tool}"),
            session_id: Some("s-5".into()),
            job_id: None,
            caller: "owner".into(),
            created_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            expires_at: chrono::DateTime::from_timestamp(300, 0).unwrap(),
        }
    }

    fn call(id: &str, name: &str, arguments: &str) -> ChatEvent {
        ChatEvent::ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    fn resolved(id: uuid::Uuid, decision: &str) -> ChatEvent {
        ChatEvent::ApprovalResolved(ApprovalResolved {
            id,
            decision: decision.into(),
        })
    }

    #[test]
    fn an_approval_finds_the_call_with_the_same_arguments_and_its_decision_resumes_it() {
        let mut turn = Turn::new(None);
        turn.apply(start("s-5"));
        turn.apply(call("c1", "process_kill", "{\"pid\": 4242}"));
        // Spelled differently, the same JSON value.
        turn.apply(call("c2", "process_kill", "{ \"pid\":7 }"));
        turn.apply(call("c3", "system_info", "{}"));
        let asked = approval("process_kill", serde_json::json!({"pid": 7}));
        let update = turn.apply(ChatEvent::ApprovalRequired(asked.clone()));
        let awaiting = ToolState::AwaitingApproval {
            approval_id: asked.id,
            fingerprint: "fp-process_kill".into(),
        };
        assert_eq!(
            update,
            TurnUpdate::ApprovalRequired {
                call: ToolActivity {
                    id: "c2".into(),
                    name: "process_kill".into(),
                    arguments: "{ \"pid\":7 }".into(),
                    state: awaiting.clone(),
                },
                approval: asked.clone(),
            }
        );
        assert_eq!(turn.tools()[0].state, ToolState::Running);
        let waiting: Vec<_> = turn.awaiting_approval().map(|c| c.id.as_str()).collect();
        assert_eq!(waiting, ["c2"]);

        let update = turn.apply(resolved(asked.id, "approve"));
        let TurnUpdate::ApprovalResolved {
            call,
            resolved: how,
        } = update
        else {
            panic!("{update:?}");
        };
        assert_eq!((call.id.as_str(), how.decision.as_str()), ("c2", "approve"));
        assert_eq!(how.id, asked.id);
        assert_eq!(call.state, ToolState::Running);
        assert_eq!(turn.awaiting_approval().count(), 0);
        // A second word on the same approval changes nothing.
        assert_eq!(
            turn.apply(resolved(asked.id, "deny")),
            TurnUpdate::Unchanged
        );
        turn.apply(ChatEvent::ToolResult {
            id: "c2".into(),
            name: "process_kill".into(),
            output: "sent SIGTERM".into(),
            is_error: false,
        });
        assert!(matches!(turn.tools()[1].state, ToolState::Finished { .. }));
    }

    #[test]
    fn masked_arguments_fall_back_to_the_latest_running_call_of_the_tool() {
        let mut turn = Turn::new(None);
        turn.apply(call(
            "c1",
            "http_request",
            "{\"url\": \"https://a\", \"headers\": {\"authorization\": \"sk-1\"}}",
        ));
        turn.apply(call("c2", "http_request", "not json"));
        turn.apply(call("c3", "memory_search", "{}"));
        let asked = approval(
            "http_request",
            serde_json::json!({"url": "https://a", "headers": {"authorization": "[masked]"}}),
        );
        let TurnUpdate::ApprovalRequired { call: first, .. } =
            turn.apply(ChatEvent::ApprovalRequired(asked.clone()))
        else {
            panic!("expected an approval");
        };
        assert_eq!(first.id, "c2");
        // The next approval of that tool goes to the call still running.
        let again = approval("http_request", serde_json::json!({"url": "https://b"}));
        let TurnUpdate::ApprovalRequired { call: second, .. } =
            turn.apply(ChatEvent::ApprovalRequired(again.clone()))
        else {
            panic!("expected an approval");
        };
        assert_eq!(second.id, "c1");
        let TurnUpdate::ApprovalResolved {
            call,
            resolved: how,
        } = turn.apply(resolved(again.id, "expired"))
        else {
            panic!("expected a resolution");
        };
        assert_eq!(call.id, "c1");
        assert_eq!(how.decision, "expired");
        assert_eq!(call.state, ToolState::Denied { expired: true });
        let TurnUpdate::ApprovalResolved { call, .. } = turn.apply(resolved(asked.id, "deny"))
        else {
            panic!("expected a resolution");
        };
        assert_eq!(call.state, ToolState::Denied { expired: false });
        // A denied call still gets the result the model was told.
        turn.apply(ChatEvent::ToolResult {
            id: "c2".into(),
            name: "http_request".into(),
            output: "denied by the user".into(),
            is_error: true,
        });
        assert_eq!(
            turn.tools()[1].state,
            ToolState::Finished {
                output: "denied by the user".into(),
                is_error: true
            }
        );
    }

    #[test]
    fn an_approval_for_a_call_never_announced_is_still_asked_and_unknown_decisions_ignored() {
        let mut turn = Turn::new(None);
        turn.apply(call("c1", "system_info", "{}"));
        let asked = approval("workspace_undo", serde_json::json!({}));
        let update = turn.apply(ChatEvent::ApprovalRequired(asked.clone()));
        let TurnUpdate::ApprovalRequired { call, .. } = update else {
            panic!("{update:?}");
        };
        assert_eq!(call.id, asked.id.to_string());
        assert_eq!(
            (call.name.as_str(), call.arguments.as_str()),
            ("workspace_undo", "{}")
        );
        assert_eq!(turn.tools().len(), 2);
        assert_eq!(turn.tools()[0].state, ToolState::Running);
        assert_eq!(
            turn.apply(resolved(uuid::Uuid::nil(), "approve")),
            TurnUpdate::Unchanged
        );
        // After the end, approvals change nothing.
        turn.apply(done("s"));
        let late = approval("system_info", serde_json::json!({}));
        assert_eq!(
            turn.apply(ChatEvent::ApprovalRequired(late)),
            TurnUpdate::Unchanged
        );
        assert_eq!(turn.tools()[0].state, ToolState::Running);
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
