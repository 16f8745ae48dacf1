//! One streamed attempt. The attempt counts as successful only once its first event is
//! decoded, so failures before the first token are retried by the call policy; after that,
//! events go to the caller and a failure ends the stream (a token is never sent twice).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::stream_decoder::{DecodeError, Decoded, StreamDecoder};
use crate::wire::WireRequest;
use crate::{ChatRequest, ChatResponse, ChatStream, ProviderError, StreamEvent};

use super::{CallTarget, ClientInner};

impl ClientInner {
    /// Opens a stream from `target.model` and waits for its first event.
    pub(super) async fn attempt_stream(
        self: &Arc<Self>,
        request: &ChatRequest,
        target: CallTarget,
    ) -> Result<ChatStream, ProviderError> {
        let span = tracing::info_span!(
            "llm_call",
            model = %target.model,
            attempt = target.attempt,
            stream = true,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
            error = tracing::field::Empty,
        );
        let started = Instant::now();
        let result = self
            .open_stream(request, target)
            .instrument(span.clone())
            .await;
        // Time to the first event: the latency a streaming caller feels.
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        if let Err(error) = &result {
            span.record("error", error.code().as_str());
        }
        result
    }

    async fn open_stream(
        self: &Arc<Self>,
        request: &ChatRequest,
        target: CallTarget,
    ) -> Result<ChatStream, ProviderError> {
        let body = WireRequest::build(
            request,
            &target.model,
            Some(target.chain_from_here.as_slice()),
            true,
            self.config.openrouter_extensions,
        );
        let response = tokio::time::timeout(
            self.config.timeouts.request,
            self.send(&body, &target.model, true),
        )
        .await
        .map_err(|_| ProviderError::Timeout {
            model: target.model.clone(),
            after: self.config.timeouts.request,
        })??;
        if is_json(&response) {
            // A server that ignores `stream: true`, or a 200 whose body is an error object:
            // read the whole answer and hand it out as events.
            let bytes = tokio::time::timeout(self.config.timeouts.request, response.bytes())
                .await
                .map_err(|_| ProviderError::Timeout {
                    model: target.model.clone(),
                    after: self.config.timeouts.request,
                })?
                .map_err(|error| self.transport_error(&target.model, error))?;
            let answer = self.parse_completion(&bytes, &target)?;
            return Ok(replay(answer));
        }
        let mut upstream = UpstreamStream {
            client: Arc::clone(self),
            response,
            decoder: StreamDecoder::default(),
            pending: VecDeque::new(),
            pending_error: None,
            finished: false,
            idle_timeout: self.config.timeouts.stream_idle,
            target,
        };
        match upstream.next_decoded().await {
            Some(Ok(first)) => {
                upstream.pending.push_front(first);
                Ok(upstream.into_stream())
            }
            Some(Err(error)) => Err(error),
            None => Err(ProviderError::MalformedStream {
                model: upstream.target.model.clone(),
                detail: "the stream ended without an event".to_owned(),
            }),
        }
    }
}

fn is_json(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("application/json"))
}

/// A whole answer as the events a stream of it would have produced.
fn replay(answer: ChatResponse) -> ChatStream {
    let mut events = Vec::with_capacity(answer.tool_calls.len() + 2);
    if !answer.content.is_empty() {
        events.push(Ok(StreamEvent::TextDelta(answer.content)));
    }
    events.extend(
        answer
            .tool_calls
            .into_iter()
            .map(|call| Ok(StreamEvent::ToolCall(call))),
    );
    events.push(Ok(StreamEvent::Finish(answer.finish)));
    Box::pin(futures::stream::iter(events))
}

/// The body of one streamed response, decoded on demand. Dropping it drops the response and so
/// closes the upstream connection.
struct UpstreamStream {
    client: Arc<ClientInner>,
    response: reqwest::Response,
    decoder: StreamDecoder,
    pending: VecDeque<Decoded>,
    /// A failure found after some events of the same chunk; reported once they are out.
    pending_error: Option<ProviderError>,
    finished: bool,
    idle_timeout: Duration,
    target: CallTarget,
}

impl UpstreamStream {
    /// The next decoded event, reading more of the body as needed.
    async fn next_decoded(&mut self) -> Option<Result<Decoded, ProviderError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                if matches!(event, Decoded::End(_)) {
                    self.finished = true;
                    self.pending.clear();
                }
                return Some(Ok(event));
            }
            if let Some(error) = self.pending_error.take() {
                return Some(Err(error));
            }
            if self.finished {
                return None;
            }
            let chunk = tokio::time::timeout(self.idle_timeout, self.response.chunk()).await;
            let decoded = match chunk {
                Err(_) => {
                    self.finished = true;
                    return Some(Err(ProviderError::Timeout {
                        model: self.target.model.clone(),
                        after: self.idle_timeout,
                    }));
                }
                Ok(Err(error)) => {
                    self.finished = true;
                    return Some(Err(self.client.transport_error(&self.target.model, error)));
                }
                Ok(Ok(Some(bytes))) => self.decoder.feed(&bytes, &mut self.pending),
                Ok(Ok(None)) => {
                    self.finished = true;
                    self.decoder.finish(&mut self.pending)
                }
            };
            if let Err(error) = decoded {
                self.finished = true;
                self.pending_error = Some(self.decode_error(error));
            }
        }
    }

    fn decode_error(&self, error: DecodeError) -> ProviderError {
        let model = &self.target.model;
        match error {
            DecodeError::Malformed(detail) => ProviderError::MalformedStream {
                model: model.clone(),
                detail,
            },
            DecodeError::Upstream { code, message } => {
                match code.as_deref().and_then(|code| code.parse::<u16>().ok()) {
                    // OpenRouter mirrors HTTP statuses in numeric codes.
                    Some(status) if status != 200 && !(500..600).contains(&status) => {
                        self.client.classify(model, status, None, &message, None)
                    }
                    _ => ProviderError::StreamFailed {
                        model: model.clone(),
                        code,
                        message: self.client.scrub(&message),
                    },
                }
            }
        }
    }

    fn into_stream(self) -> ChatStream {
        Box::pin(futures::stream::unfold(self, |mut upstream| async move {
            let item = match upstream.next_decoded().await? {
                Ok(Decoded::Text(text)) => Ok(StreamEvent::TextDelta(text)),
                Ok(Decoded::ToolCall(call)) => Ok(StreamEvent::ToolCall(call)),
                Ok(Decoded::End(end)) => Ok(StreamEvent::Finish(
                    upstream.client.finish(end, &upstream.target),
                )),
                Err(error) => {
                    tracing::warn!(
                        model = %upstream.target.model,
                        code = error.code().as_str(),
                        "stream failed after it started"
                    );
                    Err(error)
                }
            };
            Some((item, upstream))
        }))
    }
}
