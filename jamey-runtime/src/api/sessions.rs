//! `/v1/sessions` (most recently active first), `/v1/sessions/{id}/messages` (oldest first,
//! keyset pages) and `/v1/tools`.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use jamey_protocol::{ErrorBody, MessagePage, SessionPage};
use serde::Deserialize;

/// Items per page when the client names no limit.
const DEFAULT_LIMIT: u32 = 50;

/// `limit` (1 to 500) and the previous page's `next_cursor`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/sessions", tag = "chat", params(PageQuery),
    responses((status = 200, body = SessionPage), (status = 422, description = "Bad limit or cursor", body = ErrorBody)))]
pub(crate) async fn list(
    State(app): State<AppState>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SessionPage>, ApiError> {
    let Query(query) = query?;
    let page = app
        .orchestrator
        .conversations()
        .list_sessions(
            query.limit.unwrap_or(DEFAULT_LIMIT),
            query.cursor.as_deref(),
        )
        .await?;
    Ok(Json(page))
}

#[utoipa::path(get, path = "/v1/sessions/{id}/messages", tag = "chat",
    params(("id" = String, Path, description = "Session id"), PageQuery),
    responses((status = 200, body = MessagePage), (status = 404, description = "No such session", body = ErrorBody)))]
pub(crate) async fn messages(
    State(app): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<MessagePage>, ApiError> {
    let Query(query) = query?;
    let page = app
        .orchestrator
        .conversations()
        .messages(
            &id,
            query.limit.unwrap_or(DEFAULT_LIMIT),
            query.cursor.as_deref(),
        )
        .await?;
    Ok(Json(page))
}
