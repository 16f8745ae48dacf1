//! The tools over HTTP: `GET /v1/tools`, `POST /v1/tools/{name}/invoke` (a call outside a chat,
//! through the same runner as the model's calls: the owner's request is its own approval,
//! anyone else's `ask` call waits for one) and `GET /v1/tool-calls` (the audit trail). The
//! mapping of a refused call to an HTTP answer lives here for every route that runs a tool.

use crate::api::ApiJson;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use jamey_core::audit::{AuditError, ToolCallQuery};
use jamey_protocol::{
    CallDecision, ErrorBody, InvokeRequest, InvokeResponse, ToolCallPage, ToolList,
};
use jamey_tools::{CallContext, CallOrigin, CallResult, Caller, ToolError, ToolScope};
use serde::Deserialize;

/// Every tool the twin has, with its argument schema, permission and source.
#[utoipa::path(get, path = "/v1/tools", tag = "tools", responses((status = 200, body = ToolList)))]
pub(crate) async fn list(State(app): State<AppState>) -> Json<ToolList> {
    Json(ToolList {
        tools: app.toolbox.runner.registry().describe(),
    })
}

/// Runs one tool now and answers with its output. An `ask` tool runs at once for the owner;
/// for a token or tool certificate it waits for a decision (`GET /v1/approvals`).
#[utoipa::path(post, path = "/v1/tools/{name}/invoke", tag = "tools", request_body = InvokeRequest,
    params(("name" = String, Path, description = "The tool's name")),
    responses(
        (status = 200, description = "The call ran (is_error tells whether it failed)", body = InvokeResponse),
        (status = 403, description = "Denied (tool_denied), or outside the caller's tools (forbidden)", body = ErrorBody),
        (status = 404, description = "No tool has this name", body = ErrorBody),
        (status = 422, description = "The arguments do not fit the schema; names the field", body = ErrorBody)))]
pub(crate) async fn invoke(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(scope): Extension<ToolScope>,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<InvokeRequest>,
) -> Result<Json<InvokeResponse>, ApiError> {
    let result = run_direct(&app, caller, scope, &name, request.arguments).await;
    refusal(&result)?;
    Ok(Json(InvokeResponse {
        output: result.output,
        is_error: result.is_error,
        duration_ms: result.duration.as_millis() as u64,
        call_id: result.call_id,
    }))
}

/// A direct call on `caller`'s behalf. The call is not cut short by the client leaving: it
/// runs in its own task, so what it did is recorded.
pub(crate) async fn run_direct(
    app: &AppState,
    caller: Caller,
    scope: ToolScope,
    tool: &str,
    arguments: serde_json::Value,
) -> CallResult {
    let runner = app.toolbox.runner.clone();
    let mut context = CallContext::new(
        caller,
        CallOrigin::Direct,
        runner.registry().limits().timeout,
    );
    context.scope = scope;
    let tool = tool.to_string();
    let task = tokio::spawn(async move { runner.execute(&tool, arguments, &context).await });
    match task.await {
        Ok(result) => result,
        Err(error) => CallResult {
            call_id: uuid::Uuid::nil(),
            tool: String::new(),
            output: format!("the tool task failed: {error}"),
            is_error: true,
            decision: CallDecision::Refused,
            duration: std::time::Duration::ZERO,
            error: Some(ToolError::Failed(error.to_string())),
        },
    }
}

/// A call that never ran, as its HTTP answer; a call that ran (even failing) is `Ok`.
pub(crate) fn refusal(result: &CallResult) -> Result<(), ApiError> {
    let Some(error) = &result.error else {
        return Ok(());
    };
    Err(match error {
        ToolError::UnknownTool(name) => ApiError::NotFound(format!("no tool named `{name}`")),
        ToolError::InvalidArguments { field, .. } => ApiError::InvalidField {
            field: field
                .as_ref()
                .map(|f| format!("arguments.{f}"))
                .unwrap_or_else(|| "arguments".into()),
            message: error.to_string(),
        },
        ToolError::Denied(_) | ToolError::NotApproved { .. } => {
            ApiError::ToolDenied(error.to_string())
        }
        ToolError::OutOfScope { .. } => ApiError::Forbidden(error.to_string()),
        ToolError::DuplicateName(_) => ApiError::Internal(error.to_string()),
        // It ran (or a rule inside it answered): the output says what happened.
        ToolError::Refused(_)
        | ToolError::Timeout { .. }
        | ToolError::Cancelled(_)
        | ToolError::Host(_)
        | ToolError::Failed(_) => return Ok(()),
    })
}

/// `GET /v1/tool-calls` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToolCallsQuery {
    /// 1 to 500 (default 50).
    limit: Option<u32>,
    cursor: Option<String>,
    tool: Option<String>,
    session_id: Option<String>,
    /// `allowed`, `approved`, `denied` or `refused`.
    decision: Option<String>,
}

/// The audit trail, newest first: every call with its caller, decision, size and duration.
#[utoipa::path(get, path = "/v1/tool-calls", tag = "tools", params(ToolCallsQuery),
    responses((status = 200, body = ToolCallPage), (status = 422, description = "A bad limit, decision or cursor", body = ErrorBody)))]
pub(crate) async fn calls(
    State(app): State<AppState>,
    query: Result<Query<ToolCallsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ToolCallPage>, ApiError> {
    let Query(query) = query?;
    let decision = query
        .decision
        .as_deref()
        .map(str::parse::<CallDecision>)
        .transpose()
        .map_err(|message| ApiError::InvalidField {
            field: "decision".into(),
            message,
        })?;
    let query = ToolCallQuery {
        limit: query.limit.unwrap_or(50),
        cursor: query.cursor,
        tool: query.tool,
        session_id: query.session_id,
        decision,
    };
    let page = app
        .toolbox
        .runner
        .audit()
        .page(&query)
        .await
        .map_err(audit_error)?;
    Ok(Json(page))
}

fn audit_error(error: AuditError) -> ApiError {
    match error {
        AuditError::InvalidCursor => ApiError::InvalidField {
            field: "cursor".into(),
            message: error.to_string(),
        },
        AuditError::InvalidLimit(_) => ApiError::InvalidField {
            field: "limit".into(),
            message: error.to_string(),
        },
        other if other.is_retryable() => ApiError::DependencyUnavailable {
            dependency: "store",
            detail: other.to_string(),
        },
        other => ApiError::Internal(other.to_string()),
    }
}
