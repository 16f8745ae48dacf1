//! One turn: store the user's message, build the prompt, stream the model's answer, run its tool
//! calls for up to `max_tool_rounds` rounds, store everything, remember the turn.

use super::context::{memory_ids, sanitize, system_prompt};
use super::{ChatError, Orchestrator};
use chrono::{TimeZone, Utc};
use futures::StreamExt;
use jamey_core::conversation::NewMessage;
use jamey_protocol::{
    ChatEvent, ChatMessage, MessageStatus, NewMemory, Role, TokenUsage, ToolCall, ToolCallRecord,
    ToolResult,
};
use jamey_providers::{ChatRequest, Finish, StreamEvent, ToolDefinition};
use jamey_tools::{CallContext, CallOrigin, Caller, ToolScope};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// Most bytes of a user message.
pub(crate) const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// A conversation kept by the client (the OpenAI-compatible API): its messages are the context,
/// and its tools, when it gives any, are the only ones offered; their calls go back to it.
#[derive(Debug, Clone, Default)]
pub struct ExternalHistory {
    /// The client's system messages, added after the persona.
    pub system: Vec<String>,
    /// The conversation before the new user message, oldest first.
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<ToolDefinition>,
}

/// What the client asked for.
#[derive(Debug, Clone)]
pub struct TurnRequest {
    /// Who asked: tool calls run on their behalf, within their tool scope.
    pub caller: Caller,
    pub scope: ToolScope,
    pub message: String,
    pub session_id: Option<String>,
    pub model: Option<String>,
    pub external: Option<ExternalHistory>,
}

/// A finished turn.
#[derive(Debug, Clone)]
pub struct TurnOutcome {
    pub session_id: String,
    pub reply: String,
    pub model: String,
    pub tool_calls: Vec<ToolCallRecord>,
    /// Calls of the client's own tools, for the client to run (OpenAI-compatible API).
    pub external_calls: Vec<ToolCall>,
    pub finish_reason: String,
    pub usage: TokenUsage,
    pub cost_usd: f64,
    pub memories: Vec<uuid::Uuid>,
}

/// Where events go; `None` when the client wants one JSON answer.
type Events = Option<mpsc::Sender<ChatEvent>>;

async fn emit(events: &Events, event: ChatEvent) -> Result<(), ChatError> {
    match events {
        Some(tx) => tx.send(event).await.map_err(|_| ChatError::Cancelled),
        None => Ok(()),
    }
}

/// Resolves when the client has gone (never, for a JSON answer).
async fn client_gone(events: &Events) {
    match events {
        Some(tx) => tx.closed().await,
        None => std::future::pending().await,
    }
}

impl Orchestrator {
    /// Runs one turn. With `events`, the answer streams as `ChatEvent`s; a closed channel means
    /// the client left, which cancels the upstream request and stores what was said so far.
    pub async fn turn(
        &self,
        request: TurnRequest,
        events: Events,
    ) -> Result<TurnOutcome, ChatError> {
        let config = self.settings.current();
        let chat = &config.chat;
        let message = request.message.trim().to_string();
        if message.is_empty() {
            return Err(ChatError::Invalid {
                field: "message",
                reason: "must not be empty".into(),
            });
        }
        if message.len() > MAX_MESSAGE_BYTES {
            return Err(ChatError::Invalid {
                field: "message",
                reason: format!(
                    "is {} bytes, the limit is {MAX_MESSAGE_BYTES}",
                    message.len()
                ),
            });
        }
        // Refused before anything is stored or sent: every upstream call would fail.
        if self.llm_state() == super::LlmState::Unconfigured {
            return Err(ChatError::LlmUnconfigured);
        }
        let models = self.models();
        if let Some(model) = &request.model {
            if !models.contains(model) {
                return Err(ChatError::UnknownModel(model.clone()));
            }
        }
        let session_id = request
            .session_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        jamey_core::conversation::check_session_id(&session_id).map_err(|_| {
            ChatError::Invalid {
                field: "session_id",
                reason: "must be 1 to 128 letters, digits or `-_.:`".into(),
            }
        })?;
        // The memory search (embedding the message, then the store) runs while the session is
        // prepared; both come before the model is called, so the slower of them is the wait.
        let title: String = message.chars().take(60).collect();
        let prepare = async {
            self.check_budget(&session_id, chat).await?;
            self.conversations
                .open_session(&session_id, Some(&title))
                .await?;
            // Stored before the model is called: nothing the user said is ever lost.
            self.conversations
                .append(&session_id, NewMessage::text(Role::User, message.clone()))
                .await?;
            match &request.external {
                Some(_) => Ok::<_, ChatError>(None),
                None => Ok(Some(
                    self.session_window(&session_id, request.model.as_deref(), chat)
                        .await?,
                )),
            }
        };
        let (prepared, memories) = tokio::join!(prepare, self.context_memories(&message, chat));
        let session_window = prepared?;
        emit(
            &events,
            ChatEvent::Start {
                session_id: session_id.clone(),
                memories: memory_ids(&memories),
            },
        )
        .await?;

        let (system, mut conversation, offered) = match (&request.external, session_window) {
            (Some(external), _) => {
                let prompt = system_prompt(&chat.persona, &memories, None, &external.system);
                let mut messages = sanitize(external.messages.clone());
                messages.push(user_message(&message));
                let tools = if external.tools.is_empty() {
                    self.offered_tools(&request.scope)
                } else {
                    external.tools.clone()
                };
                (prompt, messages, tools)
            }
            (None, window) => {
                let (summary, window) = window.unwrap_or_default();
                let prompt = system_prompt(&chat.persona, &memories, summary.as_deref(), &[]);
                (prompt, window, self.offered_tools(&request.scope))
            }
        };
        let external_tools: Vec<String> = match &request.external {
            Some(external) => external.tools.iter().map(|t| t.name.clone()).collect(),
            None => Vec::new(),
        };

        let mut outcome = TurnOutcome {
            session_id: session_id.clone(),
            reply: String::new(),
            model: request
                .model
                .clone()
                .unwrap_or_else(|| models.first().cloned().unwrap_or_default()),
            tool_calls: Vec::new(),
            external_calls: Vec::new(),
            finish_reason: "stop".into(),
            usage: TokenUsage::default(),
            cost_usd: 0.0,
            memories: memory_ids(&memories),
        };
        let mut round = 0u32;
        loop {
            let offer = round < chat.max_tool_rounds && !offered.is_empty();
            let mut messages = Vec::with_capacity(conversation.len() + 1);
            messages.push(ChatMessage {
                role: Role::System,
                content: system.clone(),
                tool_calls: Vec::new(),
                tool_result: None,
                created_at: None,
            });
            messages.extend(conversation.iter().cloned());
            let upstream = ChatRequest {
                model: request.model.clone(),
                messages,
                tools: if offer { offered.clone() } else { Vec::new() },
                temperature: None,
                max_tokens: None,
            };
            let (text, calls, finish) = match self.stream_round(upstream, &events).await {
                Ok(round) => round,
                Err((partial, error)) => {
                    outcome.reply.push_str(&partial);
                    self.store_incomplete(&session_id, &outcome, &error).await;
                    return Err(error);
                }
            };
            outcome.reply.push_str(&text);
            outcome.model = finish.model.clone();
            outcome.usage = outcome.usage + finish.usage;
            outcome.cost_usd += finish.cost_usd.unwrap_or(0.0);
            outcome.finish_reason = finish.reason.as_str().to_string();

            let mut assistant = NewMessage::text(Role::Assistant, text.clone());
            assistant.model = Some(finish.model.clone());
            let last_round = calls.is_empty() || !offer;
            if !last_round {
                assistant.tool_calls = calls.clone();
            }
            // The ledger entry and the reply are written together (two commits, one wait).
            let (_, appended) = tokio::join!(
                self.record_usage(Some(&session_id), &finish),
                self.conversations.append(&session_id, assistant)
            );
            appended?;
            if last_round {
                break;
            }
            conversation.push(ChatMessage {
                role: Role::Assistant,
                content: text,
                tool_calls: calls.clone(),
                tool_result: None,
                created_at: None,
            });
            if calls.iter().any(|c| external_tools.contains(&c.name)) {
                // The client's own tools: it runs them and continues the conversation.
                outcome.external_calls = calls;
                outcome.finish_reason = "tool_calls".into();
                break;
            }
            for call in &calls {
                emit(
                    &events,
                    ChatEvent::ToolCall {
                        id: call.id.clone(),
                        name: call.name.clone(),
                        arguments: call.arguments.clone(),
                    },
                )
                .await
                .or_else(|e| self.cancelled_during_tools(e))?;
            }
            let results = self.run_tools(&calls, &request, &session_id, &events).await;
            for (call, result) in calls.iter().zip(results) {
                let tool_result = ToolResult {
                    call_id: call.id.clone(),
                    content: result.output.clone(),
                    is_error: result.is_error,
                };
                let mut stored = NewMessage::text(Role::Tool, result.output.clone());
                stored.tool_result = Some(tool_result.clone());
                self.conversations.append(&session_id, stored).await?;
                conversation.push(ChatMessage {
                    role: Role::Tool,
                    content: result.output.clone(),
                    tool_calls: Vec::new(),
                    tool_result: Some(tool_result),
                    created_at: None,
                });
                emit(
                    &events,
                    ChatEvent::ToolResult {
                        id: call.id.clone(),
                        name: call.name.clone(),
                        output: result.output.clone(),
                        is_error: result.is_error,
                    },
                )
                .await
                .or_else(|e| self.cancelled_during_tools(e))?;
                outcome.tool_calls.push(ToolCallRecord {
                    id: call.id.clone(),
                    name: call.name.clone(),
                    arguments: call.arguments.clone(),
                    output: result.output,
                    is_error: result.is_error,
                });
            }
            round += 1;
        }

        emit(
            &events,
            ChatEvent::Done {
                session_id: session_id.clone(),
                model: outcome.model.clone(),
                usage: outcome.usage,
                cost_usd: outcome.cost_usd,
            },
        )
        .await
        .ok();
        if chat.remember_turns && outcome.external_calls.is_empty() {
            self.remember_in_background(&session_id, &message, &outcome.reply);
        }
        Ok(outcome)
    }

    /// Runs one round's calls on the caller's behalf; a client that leaves cancels them (a
    /// waiting approval expires, a running tool stops), and their results are still stored.
    async fn run_tools(
        &self,
        calls: &[ToolCall],
        request: &TurnRequest,
        session_id: &str,
        events: &Events,
    ) -> Vec<jamey_tools::CallResult> {
        let mut context = CallContext::new(
            request.caller.clone(),
            CallOrigin::Turn,
            self.tools.registry().limits().timeout,
        );
        context.scope = request.scope.clone();
        context.session = Some(session_id.to_string());
        context.events = events.clone().map(|tx| {
            Arc::new(super::events::TurnEvents::new(tx)) as Arc<dyn jamey_tools::CallEvents>
        });
        let cancel = context.cancel.clone();
        let run = self.tools.execute_all(calls, &context);
        tokio::pin!(run);
        tokio::select! {
            results = &mut run => results,
            () = client_gone(events) => {
                cancel.cancel();
                run.await
            }
        }
    }

    /// The tools offered to the model as function definitions: those not denied, within the
    /// caller's scope.
    fn offered_tools(&self, scope: &ToolScope) -> Vec<ToolDefinition> {
        let registry = self.tools.registry();
        registry
            .offered()
            .into_iter()
            .filter(|t| scope.includes(&t.name, registry.permission(&t.name)))
            .map(|t| ToolDefinition {
                name: t.name,
                description: t.description,
                parameters: t.parameters,
            })
            .collect()
    }

    /// A client that leaves while tools run: the results are stored as they finish; the turn
    /// ends there (nothing more is sent upstream).
    fn cancelled_during_tools(&self, error: ChatError) -> Result<(), ChatError> {
        tracing::info!("client left during tool calls; the turn stops after them");
        Err(error)
    }

    /// One upstream call, streamed. Text goes to the client as it arrives. On failure, returns
    /// the text streamed so far with the error. The caller records the usage in the ledger.
    async fn stream_round(
        &self,
        request: ChatRequest,
        events: &Events,
    ) -> Result<(String, Vec<ToolCall>, Finish), (String, ChatError)> {
        let model = request
            .model
            .clone()
            .or_else(|| self.models().first().cloned())
            .unwrap_or_default();
        let provider = self.provider();
        let started = Instant::now();
        let opened = tokio::select! {
            opened = provider.stream(request) => opened,
            () = client_gone(events) => return Err((String::new(), ChatError::Cancelled)),
        };
        let mut stream = match opened {
            Ok(stream) => stream,
            Err(error) => {
                self.llm_metrics.failed(&model, error.code().as_str());
                return Err((String::new(), error.into()));
            }
        };
        let mut text = String::new();
        let mut calls = Vec::new();
        loop {
            let next = tokio::select! {
                next = stream.next() => next,
                // Dropping the stream aborts the upstream request.
                () = client_gone(events) => return Err((text, ChatError::Cancelled)),
            };
            match next {
                Some(Ok(StreamEvent::TextDelta(delta))) => {
                    text.push_str(&delta);
                    if emit(events, ChatEvent::Token { delta }).await.is_err() {
                        return Err((text, ChatError::Cancelled));
                    }
                }
                Some(Ok(StreamEvent::ToolCall(call))) => calls.push(call),
                Some(Ok(StreamEvent::Finish(finish))) => {
                    let cost = finish.cost_usd.unwrap_or(0.0);
                    self.llm_metrics.succeeded(
                        &finish.model,
                        started.elapsed(),
                        finish.usage,
                        cost,
                    );
                    return Ok((text, calls, finish));
                }
                Some(Err(error)) => {
                    self.llm_metrics.failed(&model, error.code().as_str());
                    return Err((text, error.into()));
                }
                None => {
                    let error = jamey_providers::ProviderError::MalformedStream {
                        model: model.clone(),
                        detail: "the stream ended without finishing".into(),
                    };
                    self.llm_metrics.failed(&model, error.code().as_str());
                    return Err((text, error.into()));
                }
            }
        }
    }

    /// Stores what the assistant said before the turn failed, marked incomplete.
    async fn store_incomplete(&self, session_id: &str, outcome: &TurnOutcome, error: &ChatError) {
        let mut message = NewMessage::text(Role::Assistant, outcome.reply.clone());
        message.status = MessageStatus::Incomplete;
        message.model = Some(outcome.model.clone());
        if let Err(store_error) = self.conversations.append(session_id, message).await {
            tracing::error!(%store_error, "cannot store the incomplete reply");
        }
        tracing::info!(session_id, code = error.code(), "turn ended incomplete");
    }

    /// Refuses a turn that would go over a budget, before any paid call.
    async fn check_budget(
        &self,
        session_id: &str,
        chat: &crate::config::ChatConfig,
    ) -> Result<(), ChatError> {
        if chat.daily_budget_usd > 0.0 {
            let midnight = Utc::now()
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .unwrap_or_default();
            let since = Utc.from_utc_datetime(&midnight);
            let today = self.conversations.usage_totals(None, since).await?;
            if today.cost_usd >= chat.daily_budget_usd {
                return Err(ChatError::BudgetExceeded(format!(
                    "today's spending is ${:.4}, the daily budget (chat.daily_budget_usd) is ${:.4}",
                    today.cost_usd, chat.daily_budget_usd
                )));
            }
        }
        if chat.session_budget_usd > 0.0 {
            let epoch = Utc.timestamp_opt(0, 0).single().unwrap_or_default();
            let session = self
                .conversations
                .usage_totals(Some(session_id), epoch)
                .await?;
            if session.cost_usd >= chat.session_budget_usd {
                return Err(ChatError::BudgetExceeded(format!(
                    "this session has spent ${:.4}, the session budget (chat.session_budget_usd) is ${:.4}",
                    session.cost_usd, chat.session_budget_usd
                )));
            }
        }
        Ok(())
    }

    /// Stores the turn as a memory so later sessions can recall it. Embedding and storing it
    /// is not part of the answer: it runs after the reply, in the background (finished before
    /// the runtime exits); failures are logged.
    fn remember_in_background(&self, session_id: &str, message: &str, reply: &str) {
        let mut content = format!("User: {message}\nJamey: {reply}");
        let mut end = self.memories.limits().max_content_bytes.min(content.len());
        while !content.is_char_boundary(end) {
            end -= 1;
        }
        content.truncate(end);
        let mut memory = NewMemory::from_content(content);
        memory.kind = Some("conversation".into());
        memory.session_id = Some(session_id.to_string());
        memory.tags = vec!["chat".into()];
        let memories = self.memories.clone();
        self.background.spawn(async move {
            if let Err(error) = memories.add(memory).await {
                tracing::warn!(%error, "cannot store the turn as a memory");
            }
        });
    }
}

fn user_message(text: &str) -> ChatMessage {
    ChatMessage {
        role: Role::User,
        content: text.to_string(),
        tool_calls: Vec::new(),
        tool_result: None,
        created_at: None,
    }
}
