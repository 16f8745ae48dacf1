//! One non-streamed attempt: send, read the whole body, parse the answer.

use std::time::Instant;

use jamey_protocol::ToolCall;
use tracing::Instrument;

use crate::stream_decoder::{StreamEnd, WireUsageSnapshot};
use crate::wire::{WireCompletion, WireRequest};
use crate::{ChatRequest, ChatResponse, FinishReason, ProviderError};

use super::{CallTarget, ClientInner};

impl ClientInner {
    /// Asks `target.model` once for a whole answer, within the request timeout.
    pub(super) async fn attempt_complete(
        &self,
        request: &ChatRequest,
        target: CallTarget,
    ) -> Result<ChatResponse, ProviderError> {
        let span = tracing::info_span!(
            "llm_call",
            model = %target.model,
            attempt = target.attempt,
            stream = false,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
            error = tracing::field::Empty,
        );
        let started = Instant::now();
        let result = self
            .exchange_complete(request, &target)
            .instrument(span.clone())
            .await;
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        if let Err(error) = &result {
            span.record("error", error.code().as_str());
        }
        result
    }

    async fn exchange_complete(
        &self,
        request: &ChatRequest,
        target: &CallTarget,
    ) -> Result<ChatResponse, ProviderError> {
        let body = WireRequest::build(
            request,
            &target.model,
            Some(target.chain_from_here.as_slice()),
            false,
            self.config.openrouter_extensions,
        );
        let bytes = tokio::time::timeout(
            self.config.timeouts.request,
            self.read_completion(&body, target),
        )
        .await
        .map_err(|_| ProviderError::Timeout {
            model: target.model.clone(),
            after: self.config.timeouts.request,
        })??;
        self.parse_completion(&bytes, target)
    }

    async fn read_completion(
        &self,
        body: &WireRequest<'_>,
        target: &CallTarget,
    ) -> Result<bytes::Bytes, ProviderError> {
        let response = self.send(body, &target.model, false).await?;
        response
            .bytes()
            .await
            .map_err(|error| self.transport_error(&target.model, error))
    }

    /// Parses a whole chat completion (or the error object a 200 body may carry).
    pub(super) fn parse_completion(
        &self,
        bytes: &[u8],
        target: &CallTarget,
    ) -> Result<ChatResponse, ProviderError> {
        let completion: WireCompletion =
            serde_json::from_slice(bytes).map_err(|error| ProviderError::MalformedResponse {
                model: target.model.clone(),
                detail: format!("the body is not a chat completion: {error}"),
            })?;
        if let Some(error) = completion.error {
            let code = error.code_text();
            let status = code.as_deref().and_then(|code| code.parse::<u16>().ok());
            let message = error
                .message
                .unwrap_or_else(|| "the provider reported an error".to_owned());
            return Err(match status {
                Some(status) => self.classify(&target.model, status, None, &message, None),
                None => ProviderError::Unavailable {
                    model: target.model.clone(),
                    status: None,
                    message: self.scrub(&message),
                },
            });
        }
        let Some(choice) = completion.choices.into_iter().next() else {
            return Err(ProviderError::MalformedResponse {
                model: target.model.clone(),
                detail: "the answer has no choices".to_owned(),
            });
        };
        let tool_calls: Vec<ToolCall> = choice
            .message
            .tool_calls
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(index, call)| ToolCall {
                id: call
                    .id
                    .filter(|id| !id.is_empty())
                    .unwrap_or_else(|| format!("call_{index}")),
                name: call.function.name.unwrap_or_default(),
                arguments: call
                    .function
                    .arguments
                    .filter(|arguments| !arguments.trim().is_empty())
                    .unwrap_or_else(|| "{}".to_owned()),
            })
            .collect();
        let reason = choice.finish_reason.as_deref().map_or_else(
            || {
                if tool_calls.is_empty() {
                    FinishReason::Stop
                } else {
                    FinishReason::ToolCalls
                }
            },
            FinishReason::from_wire,
        );
        let end = StreamEnd {
            reason,
            usage: completion.usage.map(WireUsageSnapshot::from),
            model: completion.model,
            generation_id: completion.id,
        };
        Ok(ChatResponse {
            content: choice.message.content.unwrap_or_default(),
            tool_calls,
            finish: self.finish(end, target),
        })
    }
}
