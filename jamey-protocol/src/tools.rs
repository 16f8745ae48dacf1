//! Tools on the wire: what `GET /v1/tools` lists, direct invocation, pending approvals and their
//! decisions, and the audit trail of every call (`GET /v1/tool-calls`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whether the twin may run a tool: `allow` runs it, `ask` waits for a decision per call,
/// `deny` never offers or runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    Allow,
    Ask,
    Deny,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Ask => "ask",
            Self::Deny => "deny",
        }
    }
}

impl std::str::FromStr for Permission {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "allow" => Ok(Self::Allow),
            "ask" => Ok(Self::Ask),
            "deny" => Ok(Self::Deny),
            other => Err(format!("`{other}` is not allow, ask or deny")),
        }
    }
}

/// `GET /v1/tools`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolList {
    pub tools: Vec<crate::ToolDescription>,
}

/// `POST /v1/tools/{name}/invoke`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InvokeRequest {
    /// The tool's arguments, as its schema describes them.
    #[serde(default = "empty_object")]
    pub arguments: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// The answer of a direct invocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvokeResponse {
    /// What the tool returned, or what went wrong (`is_error`).
    pub output: String,
    pub is_error: bool,
    pub duration_ms: u64,
    /// The audit row of this call (`GET /v1/tool-calls`).
    pub call_id: uuid::Uuid,
}

/// A call waiting for the user's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Approval {
    pub id: uuid::Uuid,
    pub tool: String,
    /// The call's arguments, secrets masked.
    pub arguments: serde_json::Value,
    /// SHA-256 (hex) of the tool name and its canonical arguments: a decision binds to exactly
    /// this call.
    pub fingerprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// `owner`, `cert:NAME` or `token:NAME`: on whose behalf the call was made.
    pub caller: String,
    pub created_at: DateTime<Utc>,
    /// Undecided by then: denied.
    pub expires_at: DateTime<Utc>,
}

/// `GET /v1/approvals`: the pending ones, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovalList {
    pub items: Vec<Approval>,
}

/// The user's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Deny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
        }
    }
}

/// How far an approval reaches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Remember {
    /// This call only.
    #[default]
    Once,
    /// This exact call (same tool, same arguments) for the rest of the session.
    Session,
}

/// `POST /v1/approvals/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub decision: Decision,
    #[serde(default)]
    pub remember: Remember,
}

/// The answer to a decision, and the `approval_resolved` chat event's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovalResolved {
    pub id: uuid::Uuid,
    /// `approve`, `deny`, or `expired` when nobody decided in time.
    pub decision: String,
}

/// What became of a call, in the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum CallDecision {
    /// Ran under an `allow` permission (or the owner's direct request).
    Allowed,
    /// Ran after the user approved it.
    Approved,
    /// Not run: `deny`, a denied or expired approval.
    Denied,
    /// Not run or stopped by a rule: an unknown tool, arguments that fail the schema, a
    /// token without this tool, the network guard or a scope.
    Refused,
}

impl CallDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Refused => "refused",
        }
    }
}

impl std::str::FromStr for CallDecision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "allowed" => Ok(Self::Allowed),
            "approved" => Ok(Self::Approved),
            "denied" => Ok(Self::Denied),
            "refused" => Ok(Self::Refused),
            other => Err(format!(
                "`{other}` is not allowed, approved, denied or refused"
            )),
        }
    }
}

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolCallEntry {
    pub id: uuid::Uuid,
    pub at: DateTime<Utc>,
    /// `owner`, `cert:NAME` or `token:NAME`.
    pub caller: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    pub tool: String,
    /// Secrets masked.
    pub arguments: serde_json::Value,
    pub decision: CallDecision,
    pub is_error: bool,
    pub output_bytes: u64,
    pub duration_ms: u64,
    /// The runtime that ran it (`[runtime] instance_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// `GET /v1/tool-calls`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolCallPage {
    pub items: Vec<ToolCallEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_on_the_wire_are_the_documented_ones() {
        let request: DecisionRequest =
            serde_json::from_str(r#"{"decision": "approve", "remember": "session"}"#).unwrap();
        assert_eq!(request.decision, Decision::Approve);
        assert_eq!(request.remember, Remember::Session);
        let once: DecisionRequest = serde_json::from_str(r#"{"decision": "deny"}"#).unwrap();
        assert_eq!(once.remember, Remember::Once);
        assert!(serde_json::from_str::<DecisionRequest>(r#"{"decision": "maybe"}"#).is_err());
        for decision in ["allowed", "approved", "denied", "refused"] {
            let parsed: CallDecision = decision.parse().unwrap();
            assert_eq!(parsed.as_str(), decision);
            assert_eq!(serde_json::to_value(parsed).unwrap(), decision);
        }
        let invoke: InvokeRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(invoke.arguments, serde_json::json!({}));
        assert_eq!("ask".parse::<Permission>(), Ok(Permission::Ask));
        assert!("maybe".parse::<Permission>().is_err());
    }
}
