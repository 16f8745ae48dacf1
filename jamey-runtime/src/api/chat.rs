//! `POST /v1/chat`: one turn with the twin, as one JSON reply or as Server-Sent Events. The turn
//! runs in its own task, so a client that leaves cancels the upstream request (streaming) while
//! everything said so far is still stored.

use crate::api::ApiJson;
use crate::error::ApiError;
use crate::orchestrator::{ChatError, TurnOutcome, TurnRequest};
use crate::request_scope::current_request_id;
use crate::state::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures::stream::{self, Stream, StreamExt};
use jamey_protocol::{ChatEvent, ChatReply, ChatRequest, ErrorBody};
use jamey_tools::{Caller, ToolScope};
use std::convert::Infallible;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Events buffered between the turn and a slow client.
const EVENT_BUFFER: usize = 64;

/// A turn's answer, or Server-Sent Events with `stream: true` (`start`, `token`, `tool_call`,
/// `tool_result`, then `done` or `error`).
#[utoipa::path(post, path = "/v1/chat", tag = "chat", request_body = ChatRequest,
    responses((status = 200, description = "The reply; with stream=true, text/event-stream of ChatEvent", body = ChatReply),
        (status = 402, description = "A spending budget would be exceeded", body = ErrorBody),
        (status = 404, description = "Unknown model", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
        (status = 502, description = "The model provider failed", body = ErrorBody),
        (status = 503, description = "The model needs an API key and none is configured (llm_unconfigured)", body = ErrorBody)))]
pub(crate) async fn chat(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(scope): Extension<ToolScope>,
    ApiJson(request): ApiJson<ChatRequest>,
) -> Result<Response, ApiError> {
    let turn = TurnRequest {
        caller,
        scope,
        message: request.message,
        session_id: request.session_id,
        model: request.model,
        external: None,
    };
    if request.stream {
        let (first, rest) = start_streaming_turn(&app, turn).await?;
        let events = stream::once(async move { first })
            .chain(rest)
            .map(|event| Ok::<_, Infallible>(sse_event(&event)));
        return Ok(Sse::new(events)
            .keep_alive(KeepAlive::default())
            .into_response());
    }
    let outcome = run_whole_turn(&app, turn).await?;
    Ok(Json(reply(outcome)).into_response())
}

/// Runs a turn to its end in its own task, so a client that leaves does not cut the turn (and
/// its storage) short.
pub(crate) async fn run_whole_turn(
    app: &AppState,
    turn: TurnRequest,
) -> Result<TurnOutcome, ApiError> {
    let orchestrator = app.orchestrator.clone();
    Ok(
        tokio::spawn(async move { orchestrator.turn(turn, None).await })
            .await
            .map_err(|e| ApiError::Internal(format!("chat task failed: {e}")))??,
    )
}

pub(crate) fn reply(outcome: TurnOutcome) -> ChatReply {
    ChatReply {
        session_id: outcome.session_id,
        reply: outcome.reply,
        model: outcome.model,
        tool_calls: outcome.tool_calls,
        usage: outcome.usage,
        cost_usd: outcome.cost_usd,
        memories: outcome.memories,
    }
}

fn sse_event(event: &ChatEvent) -> Event {
    Event::default()
        .event(event.name())
        .json_data(event)
        .unwrap_or_else(|_| Event::default().event("error").data("{}"))
}

/// Starts the turn in its own task and waits for its first event. A turn that fails before
/// (bad input, budget, unknown model) is an HTTP error; after it, failures arrive as a final
/// `error` event. Returns the first event and the rest, which ends with the outcome's error if
/// there is one.
pub(crate) async fn start_streaming_turn(
    app: &AppState,
    turn: TurnRequest,
) -> Result<(ChatEvent, impl Stream<Item = ChatEvent> + Send + 'static), ApiError> {
    let (first, rx, task) = start_turn(app, turn).await?;
    Ok((first, events_then_error(rx, task, current_request_id())))
}

/// Spawns the turn; returns its first event, the event channel and the task.
pub(crate) async fn start_turn(
    app: &AppState,
    turn: TurnRequest,
) -> Result<
    (
        ChatEvent,
        mpsc::Receiver<ChatEvent>,
        JoinHandle<Result<TurnOutcome, ChatError>>,
    ),
    ApiError,
> {
    let (tx, mut rx) = mpsc::channel(EVENT_BUFFER);
    let orchestrator = app.orchestrator.clone();
    let task = tokio::spawn(async move { orchestrator.turn(turn, Some(tx)).await });
    match rx.recv().await {
        Some(first) => Ok((first, rx, task)),
        None => match task.await {
            Ok(Err(error)) => Err(error.into()),
            Ok(Ok(_)) => Err(ApiError::Internal("the turn ended without events".into())),
            Err(e) => Err(ApiError::Internal(format!("chat task failed: {e}"))),
        },
    }
}

/// How a finished turn task ends a stream: its outcome, or the error (logged here, once) as the
/// body sent to the client under `request_id`. A task that panicked is an internal error: the
/// panic message goes to the log only.
pub(crate) fn turn_result(
    joined: Result<Result<TurnOutcome, ChatError>, tokio::task::JoinError>,
    request_id: Option<String>,
) -> Result<TurnOutcome, ErrorBody> {
    let error = match joined {
        Ok(Ok(outcome)) => return Ok(outcome),
        Ok(Err(error)) => ApiError::from(error),
        Err(e) => ApiError::Internal(format!("chat task failed: {e}")),
    };
    Err(error.into_stream_body(request_id))
}

/// The remaining events, then an `error` event if the turn failed.
fn events_then_error(
    rx: mpsc::Receiver<ChatEvent>,
    task: JoinHandle<Result<TurnOutcome, ChatError>>,
    request_id: Option<String>,
) -> impl Stream<Item = ChatEvent> + Send + 'static {
    let rest = tokio_stream_from(rx);
    let ending = stream::once(async move {
        turn_result(task.await, request_id)
            .err()
            .map(|body| ChatEvent::Error {
                code: body.error.code.as_str().to_string(),
                message: body.error.message,
                request_id: body.error.request_id,
            })
    })
    .filter_map(|event| async move { event });
    rest.chain(ending)
}

/// A receiver as a stream.
pub(crate) fn tokio_stream_from<T: Send + 'static>(
    rx: mpsc::Receiver<T>,
) -> impl Stream<Item = T> + Send + 'static {
    stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}
