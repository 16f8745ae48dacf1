//! `/v1/memories`: create, batch, get, patch, delete, list (keyset or offset) and search.

use crate::api::ApiJson;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use jamey_core::memory::{Cursor, PageRequest};
use jamey_protocol::{
    ErrorBody, Memory, MemoryPage, MemoryPatch, NewMemory, NewMemoryBatch, NewMemoryIds,
    SearchRequest, SearchResponse,
};
use serde::Deserialize;
use std::time::Instant;
use uuid::Uuid;

/// Memories per page when the client names no limit.
const DEFAULT_PAGE_LIMIT: u32 = 50;

/// Stores one memory; its content is embedded before it is stored.
#[utoipa::path(post, path = "/v1/memories", tag = "memories", request_body = NewMemory,
    responses((status = 201, description = "Stored", body = Memory), (status = 422, description = "A field is invalid; the message names it", body = ErrorBody)))]
pub(crate) async fn create(
    State(app): State<AppState>,
    ApiJson(memory): ApiJson<NewMemory>,
) -> Result<(StatusCode, Json<Memory>), ApiError> {
    let started = Instant::now();
    let stored = app.memories.add(memory).await?;
    app.metrics.memory_operation("insert", started.elapsed());
    Ok((StatusCode::CREATED, Json(stored)))
}

/// Stores every item or none; a bad item is named by its index.
#[utoipa::path(post, path = "/v1/memories/batch", tag = "memories", request_body = NewMemoryBatch,
    responses((status = 201, description = "All stored, ids in item order", body = NewMemoryIds), (status = 422, description = "An item is invalid; nothing was stored", body = ErrorBody)))]
pub(crate) async fn create_batch(
    State(app): State<AppState>,
    ApiJson(batch): ApiJson<NewMemoryBatch>,
) -> Result<(StatusCode, Json<NewMemoryIds>), ApiError> {
    let started = Instant::now();
    let ids = app.memories.add_batch(batch.items).await?;
    app.metrics
        .memory_operation("insert_batch", started.elapsed());
    Ok((StatusCode::CREATED, Json(NewMemoryIds { ids })))
}

/// One memory by id.
#[utoipa::path(get, path = "/v1/memories/{id}", tag = "memories", params(("id" = Uuid, Path, description = "Memory id")),
    responses((status = 200, body = Memory), (status = 404, description = "No such memory", body = ErrorBody)))]
pub(crate) async fn get(
    State(app): State<AppState>,
    id: Result<Path<Uuid>, axum::extract::rejection::PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    let started = Instant::now();
    let memory = app.memories.get(id).await?;
    app.metrics.memory_operation("get", started.elapsed());
    // Serialized from the cache's shared copy: a hit copies nothing.
    memory
        .map(|memory| Json(&*memory).into_response())
        .ok_or_else(|| ApiError::NotFound(format!("memory {id} not found")))
}

/// Changes the given fields; changed content is re-embedded.
#[utoipa::path(patch, path = "/v1/memories/{id}", tag = "memories", params(("id" = Uuid, Path, description = "Memory id")), request_body = MemoryPatch,
    responses((status = 200, body = Memory), (status = 404, description = "No such memory", body = ErrorBody), (status = 422, description = "A field is invalid", body = ErrorBody)))]
pub(crate) async fn patch(
    State(app): State<AppState>,
    id: Result<Path<Uuid>, axum::extract::rejection::PathRejection>,
    ApiJson(patch): ApiJson<MemoryPatch>,
) -> Result<Json<Memory>, ApiError> {
    let Path(id) = id?;
    let started = Instant::now();
    let memory = app.memories.update(id, patch).await?;
    app.metrics.memory_operation("update", started.elapsed());
    Ok(Json(memory))
}

/// Deletes one memory.
#[utoipa::path(delete, path = "/v1/memories/{id}", tag = "memories", params(("id" = Uuid, Path, description = "Memory id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such memory", body = ErrorBody)))]
pub(crate) async fn delete(
    State(app): State<AppState>,
    id: Result<Path<Uuid>, axum::extract::rejection::PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id?;
    let started = Instant::now();
    let deleted = app.memories.delete(id).await?;
    app.metrics.memory_operation("delete", started.elapsed());
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("memory {id} not found")))
    }
}

/// `GET /v1/memories` query: `limit` with either `cursor` (keyset) or `offset`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Memories per page, 1 to 1000 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Memories to skip (offset pages; not with `cursor`).
    offset: Option<u64>,
}

/// Newest first: keyset pages (`cursor`, opaque) or offset pages (`offset`).
#[utoipa::path(get, path = "/v1/memories", tag = "memories", params(ListQuery),
    responses((status = 200, body = MemoryPage), (status = 400, description = "Unknown or tampered cursor", body = ErrorBody)))]
pub(crate) async fn list(
    State(app): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<MemoryPage>, ApiError> {
    let Query(query) = query?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_LIMIT);
    let page = match (query.cursor, query.offset) {
        (Some(_), Some(_)) => {
            return Err(ApiError::InvalidField {
                field: "offset".into(),
                message: "use either cursor (keyset pages) or offset, not both".into(),
            })
        }
        (Some(cursor), None) => PageRequest::Keyset {
            limit,
            after: Some(Cursor::decode(&cursor)?),
        },
        (None, Some(offset)) => PageRequest::Offset { limit, offset },
        (None, None) => PageRequest::Keyset { limit, after: None },
    };
    let started = Instant::now();
    let page = app.memories.list(page).await?;
    app.metrics.memory_operation("list", started.elapsed());
    Ok(Json(page))
}

/// Best first; hybrid (default), vector or keyword.
#[utoipa::path(post, path = "/v1/memories/search", tag = "memories", request_body = SearchRequest,
    responses((status = 200, body = SearchResponse), (status = 422, description = "A field is invalid", body = ErrorBody)))]
pub(crate) async fn search(
    State(app): State<AppState>,
    ApiJson(request): ApiJson<SearchRequest>,
) -> Result<Json<SearchResponse>, ApiError> {
    let started = Instant::now();
    let operation = match request.mode {
        jamey_protocol::SearchMode::Hybrid => "search_hybrid",
        jamey_protocol::SearchMode::Vector => "search_vector",
        jamey_protocol::SearchMode::Keyword => "search_keyword",
    };
    let results = app.memories.search(request).await?;
    app.metrics.memory_operation(operation, started.elapsed());
    Ok(Json(SearchResponse { results }))
}
