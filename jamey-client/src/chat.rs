//! Streaming chat: `POST /v1/chat` with `stream: true` read as Server-Sent Events, one
//! `ChatEvent` at a time, so a client can print tokens as they arrive and cancel a turn by
//! dropping the stream (the runtime then cancels its upstream request and stores what was said).

use crate::error::ClientError;
use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::stream::{BoxStream, StreamExt};
use jamey_protocol::ChatEvent;

/// The events of one streamed turn, ending after `done` or `error`.
pub struct ChatStream {
    events: BoxStream<'static, Result<eventsource_stream::Event, EventStreamError<reqwest::Error>>>,
    base_url: String,
    finished: bool,
}

impl std::fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatStream")
            .field("base_url", &self.base_url)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl ChatStream {
    pub(crate) fn new(response: reqwest::Response, base_url: &str) -> Self {
        Self {
            events: response.bytes_stream().eventsource().boxed(),
            base_url: base_url.to_string(),
            finished: false,
        }
    }

    /// The next event; `None` once `done` or `error` has been returned. A stream that breaks
    /// before either is an error: the turn's end was not seen.
    pub async fn next_event(&mut self) -> Option<Result<ChatEvent, ClientError>> {
        if self.finished {
            return None;
        }
        loop {
            let Some(item) = self.events.next().await else {
                self.finished = true;
                return Some(Err(ClientError::Transport {
                    url: self.base_url.clone(),
                    reason: "the runtime closed the stream before the answer ended".into(),
                }));
            };
            let event = match item {
                Ok(event) => event,
                Err(EventStreamError::Transport(e)) => {
                    self.finished = true;
                    return Some(Err(ClientError::from_transport(&self.base_url, &e)));
                }
                Err(e) => {
                    self.finished = true;
                    return Some(Err(ClientError::UnexpectedResponse {
                        status: 200,
                        reason: format!("bad event stream: {e}"),
                    }));
                }
            };
            // Keep-alive comments arrive as events without data.
            if event.data.is_empty() {
                continue;
            }
            let parsed = match serde_json::from_str::<ChatEvent>(&event.data) {
                Ok(parsed) => parsed,
                Err(e) => {
                    self.finished = true;
                    return Some(Err(ClientError::UnexpectedResponse {
                        status: 200,
                        reason: format!("bad `{}` event: {e}", event.event),
                    }));
                }
            };
            if matches!(parsed, ChatEvent::Done { .. } | ChatEvent::Error { .. }) {
                self.finished = true;
            }
            return Some(Ok(parsed));
        }
    }
}
