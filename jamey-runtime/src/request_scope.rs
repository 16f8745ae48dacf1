//! The id of the request being answered, kept in a task-local for the error bodies written while
//! handling it. A plain tower layer rather than `middleware::from_fn`: it neither boxes the
//! inner future nor clones the inner service per request, so the hot path pays one header clone.

use axum::http::{HeaderValue, Request};
use std::task::{Context, Poll};
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};

tokio::task_local! {
    static REQUEST_ID: Option<HeaderValue>;
}

/// Wraps a service so its requests run with their `x-request-id` (set by the layer outside) in
/// scope.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdScopeLayer;

impl<S> Layer<S> for RequestIdScopeLayer {
    type Service = RequestIdScope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIdScope { inner }
    }
}

/// The service [`RequestIdScopeLayer`] builds.
#[derive(Debug, Clone)]
pub struct RequestIdScope<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for RequestIdScope<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TaskLocalFuture<Option<HeaderValue>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let id = request.headers().get("x-request-id").cloned();
        REQUEST_ID.scope(id, self.inner.call(request))
    }
}

/// The id of the request this task is answering, when it runs inside the scope. A streamed
/// answer captures it while the handler runs: its body is written after the scope has ended.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID
        .try_with(|id| {
            id.as_ref()
                .and_then(|value| value.to_str().ok())
                .filter(|text| !text.is_empty())
                .map(str::to_owned)
        })
        .ok()
        .flatten()
}
