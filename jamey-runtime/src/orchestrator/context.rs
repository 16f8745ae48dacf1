//! The prompt of a turn: the persona, the most relevant memories (with ids to cite), the summary
//! of what earlier checkpoints dropped, and the session's recent messages within a token budget.
//! When the session outgrows the budget, the messages that no longer fit are summarized into a
//! new checkpoint, saved before they leave the window (they stay stored and searchable).

use super::{ChatError, Orchestrator};
use crate::config::ChatConfig;
use chrono::Utc;
use jamey_core::conversation::Checkpoint;
use jamey_protocol::{ChatMessage, Role, ScoredMemory, SearchMode, SearchRequest, SessionMessage};
use jamey_providers::ChatRequest;
use std::collections::HashSet;
use uuid::Uuid;

/// Messages of a session read back at most, newest first, before the budget trims them.
const WINDOW_FETCH: u32 = 400;

/// A rough token count: about four bytes per token, plus framing per message.
pub(crate) fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.len() / 4 + 4).unwrap_or(u32::MAX)
}

fn message_tokens(message: &SessionMessage) -> u32 {
    let calls: usize = message
        .tool_calls
        .iter()
        .map(|c| c.arguments.len() + c.name.len())
        .sum();
    estimate_tokens(&message.content).saturating_add(u32::try_from(calls / 4).unwrap_or(u32::MAX))
}

/// The system prompt: persona, memories and the checkpoint summary.
pub(crate) fn system_prompt(
    persona: &str,
    memories: &[ScoredMemory],
    summary: Option<&str>,
    client_system: &[String],
) -> String {
    let mut prompt = persona.to_string();
    for extra in client_system {
        prompt.push_str("\n\n");
        prompt.push_str(extra);
    }
    if !memories.is_empty() {
        prompt.push_str("\n\nMemories that may be relevant (cite as [id]):");
        for hit in memories {
            prompt.push_str(&format!(
                "\n- [{}] ({}) {}",
                hit.memory.id,
                hit.memory.created_at.format("%Y-%m-%d"),
                hit.memory.content
            ));
        }
    }
    if let Some(summary) = summary {
        prompt.push_str("\n\nSummary of the earlier conversation:\n");
        prompt.push_str(summary);
    }
    prompt
}

pub(crate) fn to_chat_message(message: &SessionMessage) -> ChatMessage {
    ChatMessage {
        role: message.role,
        content: message.content.clone(),
        tool_calls: message.tool_calls.clone(),
        tool_result: message.tool_result.clone(),
        created_at: Some(message.created_at),
    }
}

/// Makes a window acceptable to chat APIs: no tool result without the call before it, and no
/// call without its results (a turn cut off while tools ran).
pub(crate) fn sanitize(messages: Vec<ChatMessage>) -> Vec<ChatMessage> {
    let answered: HashSet<String> = messages
        .iter()
        .filter_map(|m| m.tool_result.as_ref().map(|r| r.call_id.clone()))
        .collect();
    let mut called: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(messages.len());
    for mut message in messages {
        match message.role {
            Role::Tool => {
                let known = message
                    .tool_result
                    .as_ref()
                    .is_some_and(|r| called.contains(&r.call_id));
                if known {
                    out.push(message);
                }
            }
            Role::Assistant if !message.tool_calls.is_empty() => {
                if message.tool_calls.iter().all(|c| answered.contains(&c.id)) {
                    called.extend(message.tool_calls.iter().map(|c| c.id.clone()));
                } else {
                    message.tool_calls.clear();
                }
                if !message.tool_calls.is_empty() || !message.content.is_empty() {
                    out.push(message);
                }
            }
            _ => out.push(message),
        }
    }
    out
}

impl Orchestrator {
    /// The memories for this turn's context; a failing search is logged, not fatal.
    pub(crate) async fn context_memories(
        &self,
        text: &str,
        chat: &ChatConfig,
    ) -> Vec<ScoredMemory> {
        if chat.context_memories == 0 {
            return Vec::new();
        }
        let query: String = text.chars().take(2000).collect();
        match self
            .memories
            .search(SearchRequest {
                query,
                limit: Some(chat.context_memories),
                mode: SearchMode::Hybrid,
                filter: None,
            })
            .await
        {
            Ok(hits) => hits,
            Err(error) => {
                tracing::warn!(%error, "memory context unavailable for this turn");
                Vec::new()
            }
        }
    }

    /// The session's window within the token budget, compacting what no longer fits.
    /// Returns the checkpoint summary (if any) and the messages, oldest first.
    pub(crate) async fn session_window(
        &self,
        session_id: &str,
        model: Option<&str>,
        chat: &ChatConfig,
    ) -> Result<(Option<String>, Vec<ChatMessage>), ChatError> {
        let checkpoint = self.conversations.latest_checkpoint(session_id).await?;
        let after = checkpoint.as_ref().map(|c| c.up_to_message);
        let recent = self
            .conversations
            .recent_messages(session_id, after, WINDOW_FETCH)
            .await?;
        let budget = chat.context_tokens;
        let mut used = 0u32;
        let mut keep_from = recent.len();
        for (i, message) in recent.iter().enumerate().rev() {
            let cost = message_tokens(message);
            if used.saturating_add(cost) > budget && keep_from < recent.len() {
                break;
            }
            used = used.saturating_add(cost);
            keep_from = i;
        }
        let mut summary = checkpoint.map(|c| c.summary);
        if keep_from > 0 {
            let dropped = &recent[..keep_from];
            summary = Some(
                self.compact(session_id, summary.as_deref(), dropped, model)
                    .await,
            );
        }
        let window = recent[keep_from..].iter().map(to_chat_message).collect();
        Ok((summary, sanitize(window)))
    }

    /// Summarizes `dropped` (after `previous`) and saves the checkpoint before the window drops
    /// them. If the model cannot summarize, an extract of the dropped messages is saved instead,
    /// so the checkpoint always covers them.
    async fn compact(
        &self,
        session_id: &str,
        previous: Option<&str>,
        dropped: &[SessionMessage],
        model: Option<&str>,
    ) -> String {
        let Some(last) = dropped.last() else {
            return previous.unwrap_or_default().to_string();
        };
        let mut transcript = String::new();
        if let Some(previous) = previous {
            transcript.push_str("Earlier summary: ");
            transcript.push_str(previous);
            transcript.push('\n');
        }
        for message in dropped {
            let role = match message.role {
                Role::User => "User",
                Role::Assistant => "Assistant",
                Role::Tool => "Tool result",
                Role::System => "System",
            };
            if !message.content.is_empty() {
                transcript.push_str(&format!("{role}: {}\n", message.content));
            }
        }
        let request = ChatRequest {
            model: model.map(str::to_string),
            messages: vec![
                ChatMessage {
                    role: Role::System,
                    content: "Summarize this conversation for your own later reference: keep \
                              every fact, name, number, decision and open question; at most 200 \
                              words."
                        .into(),
                    tool_calls: Vec::new(),
                    tool_result: None,
                    created_at: None,
                },
                ChatMessage {
                    role: Role::User,
                    content: transcript.clone(),
                    tool_calls: Vec::new(),
                    tool_result: None,
                    created_at: None,
                },
            ],
            tools: Vec::new(),
            temperature: Some(0.0),
            max_tokens: Some(400),
        };
        let provider = self.provider();
        let started = std::time::Instant::now();
        let summary = match provider.complete(request).await {
            Ok(response) => {
                let cost = response.finish.cost_usd.unwrap_or(0.0);
                self.llm_metrics.succeeded(
                    &response.finish.model,
                    started.elapsed(),
                    response.finish.usage,
                    cost,
                );
                self.record_usage(Some(session_id), &response.finish).await;
                response.content
            }
            Err(error) => {
                tracing::warn!(%error, "summarizing failed; the checkpoint keeps an extract");
                self.llm_metrics
                    .failed(model.unwrap_or("default"), error.code().as_str());
                transcript
                    .chars()
                    .rev()
                    .take(4000)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect()
            }
        };
        let checkpoint = Checkpoint {
            session_id: session_id.to_string(),
            up_to_message: last.id,
            summary: summary.clone(),
            created_at: Utc::now(),
        };
        if let Err(error) = self.conversations.save_checkpoint(&checkpoint).await {
            tracing::warn!(%error, "cannot save the checkpoint");
        } else {
            tracing::info!(session_id, up_to = last.id, "session compacted");
        }
        summary
    }
}

/// Ids of the memories given as context, best first.
pub(crate) fn memory_ids(memories: &[ScoredMemory]) -> Vec<Uuid> {
    memories.iter().map(|m| m.memory.id).collect()
}
