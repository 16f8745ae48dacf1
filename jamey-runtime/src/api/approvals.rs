//! Approvals over HTTP: `GET /v1/approvals` (pending, oldest first) and
//! `POST /v1/approvals/{id}` (a decision, once). The call waiting on it, on this instance or
//! another one sharing the store, goes on within a second.

use crate::api::ApiJson;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use jamey_core::approvals::ApprovalError;
use jamey_protocol::{ApprovalList, ApprovalResolved, DecisionRequest, ErrorBody};

/// The calls waiting for a decision.
#[utoipa::path(get, path = "/v1/approvals", tag = "tools", responses((status = 200, body = ApprovalList)))]
pub(crate) async fn pending(State(app): State<AppState>) -> Result<Json<ApprovalList>, ApiError> {
    let items = app
        .toolbox
        .approvals
        .pending()
        .await
        .map_err(approval_error)?;
    Ok(Json(ApprovalList { items }))
}

/// Approves or denies one pending call; `remember: "session"` approves exactly this call
/// (same tool, same arguments) for the rest of its session.
#[utoipa::path(post, path = "/v1/approvals/{id}", tag = "tools", request_body = DecisionRequest,
    params(("id" = uuid::Uuid, Path, description = "The approval's id")),
    responses(
        (status = 200, body = ApprovalResolved),
        (status = 404, description = "No such approval", body = ErrorBody),
        (status = 409, description = "Decided before, or expired", body = ErrorBody)))]
pub(crate) async fn decide(
    State(app): State<AppState>,
    id: Result<Path<uuid::Uuid>, axum::extract::rejection::PathRejection>,
    ApiJson(request): ApiJson<DecisionRequest>,
) -> Result<Json<ApprovalResolved>, ApiError> {
    let Path(id) = id?;
    let decided = app
        .toolbox
        .approvals
        .decide(id, request.decision, request.remember)
        .await
        .map_err(approval_error)?;
    Ok(Json(ApprovalResolved {
        id: decided.approval.id,
        decision: request.decision.as_str().into(),
    }))
}

fn approval_error(error: ApprovalError) -> ApiError {
    match error {
        ApprovalError::NotFound(id) => ApiError::NotFound(format!("no approval {id}")),
        ApprovalError::AlreadyDecided { id, state } => {
            ApiError::StateConflict(format!("approval {id} is already {}", state.as_str()))
        }
        other if other.is_retryable() => ApiError::DependencyUnavailable {
            dependency: "store",
            detail: other.to_string(),
        },
        other => ApiError::Internal(other.to_string()),
    }
}
