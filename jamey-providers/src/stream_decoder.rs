//! Turns the bytes of a chat-completions SSE stream into answer events: text deltas, assembled
//! tool calls and the end of the answer with its usage. Knows the framing of OpenRouter (comment
//! keep-alives, an `error` object mid-stream, the usage chunk after the finish reason) and of
//! OpenAI-compatible servers (`[DONE]`, vLLM's `{"object": "error"}`).

use std::collections::VecDeque;

use jamey_protocol::ToolCall;

use crate::sse::{SseDecoder, SseEvent};
use crate::tool_call_assembler::ToolCallAssembler;
use crate::wire::{WireChunk, WireUsage};
use crate::FinishReason;

/// The longest SSE line accepted (a single chunk carrying a large tool argument fits easily).
const MAX_SSE_LINE: usize = 8 * 1024 * 1024;

/// What the decoder found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decoded {
    Text(String),
    ToolCall(ToolCall),
    /// The answer is complete.
    End(StreamEnd),
}

/// How the stream ended, before cost and fallback details are added.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StreamEnd {
    pub(crate) reason: FinishReason,
    pub(crate) usage: Option<WireUsageSnapshot>,
    pub(crate) model: Option<String>,
    pub(crate) generation_id: Option<String>,
}

/// Usage figures as reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct WireUsageSnapshot {
    pub(crate) prompt_tokens: u64,
    pub(crate) completion_tokens: u64,
    pub(crate) total_tokens: u64,
    pub(crate) cost: Option<f64>,
}

impl From<WireUsage> for WireUsageSnapshot {
    fn from(usage: WireUsage) -> Self {
        Self {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage
                .total_tokens
                .unwrap_or(usage.prompt_tokens + usage.completion_tokens),
            cost: usage.cost,
        }
    }
}

/// Why decoding stopped with an error.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DecodeError {
    /// The server sent an error object.
    Upstream {
        code: Option<String>,
        message: String,
    },
    /// The bytes are not a well-formed chat-completions stream.
    Malformed(String),
}

/// Incremental stream decoder.
#[derive(Debug)]
pub(crate) struct StreamDecoder {
    sse: SseDecoder,
    tools: ToolCallAssembler,
    finish_reason: Option<FinishReason>,
    usage: Option<WireUsageSnapshot>,
    model: Option<String>,
    generation_id: Option<String>,
    ended: bool,
    scratch: Vec<SseEvent>,
}

impl Default for StreamDecoder {
    fn default() -> Self {
        Self {
            sse: SseDecoder::new(MAX_SSE_LINE),
            tools: ToolCallAssembler::default(),
            finish_reason: None,
            usage: None,
            model: None,
            generation_id: None,
            ended: false,
            scratch: Vec::new(),
        }
    }
}

impl StreamDecoder {
    /// Decodes one chunk of bytes, appending what it completes to `out`.
    pub(crate) fn feed(
        &mut self,
        bytes: &[u8],
        out: &mut VecDeque<Decoded>,
    ) -> Result<(), DecodeError> {
        let mut events = std::mem::take(&mut self.scratch);
        let result = self
            .sse
            .feed(bytes, &mut events)
            .map_err(|error| DecodeError::Malformed(error.to_string()))
            .and_then(|()| self.handle_events(&mut events, out));
        events.clear();
        self.scratch = events;
        result
    }

    /// The body ended. A stream that saw a finish reason but no `[DONE]` is complete (some
    /// servers omit it); one that saw neither was cut off.
    pub(crate) fn finish(&mut self, out: &mut VecDeque<Decoded>) -> Result<(), DecodeError> {
        let mut events = Vec::new();
        self.sse
            .finish(&mut events)
            .map_err(|error| DecodeError::Malformed(error.to_string()))?;
        self.handle_events(&mut events, out)?;
        if self.ended {
            return Ok(());
        }
        if self.finish_reason.is_some() {
            self.end(out);
            return Ok(());
        }
        Err(DecodeError::Malformed(
            "the stream ended before the model finished its answer".to_owned(),
        ))
    }

    fn handle_events(
        &mut self,
        events: &mut Vec<SseEvent>,
        out: &mut VecDeque<Decoded>,
    ) -> Result<(), DecodeError> {
        for event in events.drain(..) {
            if self.ended {
                // Anything after `[DONE]` (or an end already reported) is ignored.
                continue;
            }
            self.handle_event(event, out)?;
        }
        Ok(())
    }

    fn handle_event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<Decoded>,
    ) -> Result<(), DecodeError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.end(out);
            return Ok(());
        }
        if data.is_empty() {
            return Ok(());
        }
        let chunk: WireChunk = serde_json::from_str(data).map_err(|error| {
            DecodeError::Malformed(format!("a stream chunk is not valid JSON: {error}"))
        })?;
        if let Some(error) = chunk.error {
            return Err(DecodeError::Upstream {
                code: error.code_text(),
                message: error
                    .message
                    .unwrap_or_else(|| "the provider reported an error".to_owned()),
            });
        }
        if chunk.object.as_deref() == Some("error") || event.event.as_deref() == Some("error") {
            return Err(DecodeError::Upstream {
                code: None,
                message: chunk
                    .message
                    .unwrap_or_else(|| "the provider reported an error".to_owned()),
            });
        }
        if chunk.model.is_some() {
            self.model = chunk.model;
        }
        if chunk.id.is_some() {
            self.generation_id = chunk.id;
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into());
        }
        // Only the first choice matters: Jamey never asks for `n > 1`.
        if let Some(choice) = chunk.choices.into_iter().next() {
            if let Some(text) = choice.delta.content.filter(|text| !text.is_empty()) {
                out.push_back(Decoded::Text(text));
            }
            for delta in choice.delta.tool_calls.into_iter().flatten() {
                self.tools.push(delta);
            }
            if let Some(reason) = choice.finish_reason {
                if reason == "error" {
                    return Err(DecodeError::Upstream {
                        code: None,
                        message: "the model stopped with finish_reason \"error\"".to_owned(),
                    });
                }
                out.extend(self.tools.finish().into_iter().map(Decoded::ToolCall));
                self.finish_reason = Some(FinishReason::from_wire(&reason));
            }
        }
        Ok(())
    }

    fn end(&mut self, out: &mut VecDeque<Decoded>) {
        if !self.tools.is_empty() {
            out.extend(self.tools.finish().into_iter().map(Decoded::ToolCall));
        }
        out.push_back(Decoded::End(StreamEnd {
            reason: self.finish_reason.take().unwrap_or(FinishReason::Stop),
            usage: self.usage,
            model: self.model.take(),
            generation_id: self.generation_id.take(),
        }));
        self.ended = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &str) -> Result<Vec<Decoded>, DecodeError> {
        let mut decoder = StreamDecoder::default();
        let mut out = VecDeque::new();
        decoder.feed(text.as_bytes(), &mut out)?;
        decoder.finish(&mut out)?;
        Ok(out.into_iter().collect())
    }

    #[test]
    fn usage_after_the_finish_reason_lands_on_the_end() {
        let events = decode(concat!(
            ": OPENROUTER PROCESSING\n\n",
            "data: {\"id\":\"gen-1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"gen-1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
            "data: {\"id\":\"gen-1\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4,\"cost\":0.5}}\n\n",
            "data: [DONE]\n\n",
        ))
        .unwrap();
        assert_eq!(events[0], Decoded::Text("Hi".into()));
        let Decoded::End(end) = &events[1] else {
            panic!("expected the end, got {events:?}")
        };
        assert_eq!(end.reason, FinishReason::Stop);
        assert_eq!(
            end.usage.map(|u| (u.total_tokens, u.cost)),
            Some((4, Some(0.5)))
        );
        assert_eq!(end.generation_id.as_deref(), Some("gen-1"));
    }

    #[test]
    fn errors_cut_offs_and_garbage() {
        let mid = decode(concat!(
            "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n",
            "data: {\"error\":{\"code\":\"server_error\",\"message\":\"Provider disconnected\"},\"choices\":[{\"delta\":{\"content\":\"\"},\"finish_reason\":\"error\"}]}\n\n",
        ));
        assert_eq!(
            mid,
            Err(DecodeError::Upstream {
                code: Some("server_error".into()),
                message: "Provider disconnected".into()
            })
        );
        assert!(matches!(
            decode("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            decode("data: {not json\n\n"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            decode("data: {\"object\":\"error\",\"message\":\"boom\"}\n\n"),
            Err(DecodeError::Upstream { .. })
        ));
    }
}
