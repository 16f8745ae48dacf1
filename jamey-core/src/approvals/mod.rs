//! Approvals of `ask` tool calls: a pending row per call waiting for the user's decision, decided
//! once (by any instance sharing the store), expired when nobody decided in time, and the
//! "always for this session" grants a decision may leave behind. One `ApprovalStore` trait, a
//! PostgreSQL backend on the shared database and an embedded one in `tools.sqlite3`.

mod error;
mod postgres;
mod rows;
mod sqlite;

pub use error::ApprovalError;
pub use jamey_protocol::{Approval, ApprovalResolved, Decision, Remember};
pub use postgres::PgApprovalStore;
pub use sqlite::SqliteApprovalStore;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Where an approval stands. Every state but `Pending` is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApprovalState {
    /// Waiting for a decision.
    Pending,
    /// The user approved the call.
    Approved,
    /// The user denied the call.
    Denied,
    /// Nobody decided in time (treated as denied).
    Expired,
}

impl ApprovalState {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
        }
    }

    /// The state a decision leaves.
    pub fn of(decision: Decision) -> Self {
        match decision {
            Decision::Approve => Self::Approved,
            Decision::Deny => Self::Denied,
        }
    }

    /// The `decision` of the `approval_resolved` event for a final state: `approve`, `deny` or
    /// `expired`; `None` while pending.
    pub fn resolution(self) -> Option<&'static str> {
        match self {
            Self::Pending => None,
            Self::Approved => Some("approve"),
            Self::Denied => Some("deny"),
            Self::Expired => Some("expired"),
        }
    }
}

impl std::str::FromStr for ApprovalState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "approved" => Ok(Self::Approved),
            "denied" => Ok(Self::Denied),
            "expired" => Ok(Self::Expired),
            other => Err(format!(
                "`{other}` is not pending, approved, denied or expired"
            )),
        }
    }
}

impl std::fmt::Display for ApprovalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An approval as stored: the call it is about, and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredApproval {
    pub approval: Approval,
    pub state: ApprovalState,
    /// How far the decision reaches (`Once` while pending).
    pub remember: Remember,
    /// When it was decided or marked expired.
    pub decided_at: Option<DateTime<Utc>>,
}

impl StoredApproval {
    /// The `approval_resolved` event's body, once the approval is final.
    pub fn resolved(&self) -> Option<ApprovalResolved> {
        self.state.resolution().map(|decision| ApprovalResolved {
            id: self.approval.id,
            decision: decision.to_string(),
        })
    }
}

/// Where approvals live. Times are kept to the microsecond; `now` is the caller's clock, so
/// every instance sharing a store should agree on the time.
#[async_trait]
pub trait ApprovalStore: Send + Sync + std::fmt::Debug {
    /// Stores a new pending approval.
    async fn create(&self, approval: &Approval) -> Result<(), ApprovalError>;

    /// Undecided and not expired at `now`, oldest first.
    async fn pending(&self, now: DateTime<Utc>) -> Result<Vec<Approval>, ApprovalError>;

    async fn get(&self, id: Uuid) -> Result<Option<StoredApproval>, ApprovalError>;

    /// Decides a pending approval, once: one atomic update of a row still pending and not
    /// expired at `now`. Deciding twice, or after expiry (which marks it expired), is
    /// [`ApprovalError::AlreadyDecided`]; an unknown id is [`ApprovalError::NotFound`].
    async fn decide(
        &self,
        id: Uuid,
        decision: Decision,
        remember: Remember,
        now: DateTime<Utc>,
    ) -> Result<StoredApproval, ApprovalError>;

    /// Marks a still-pending approval expired (the caller's wait for it ended at `now`); returns
    /// the final state either way, since it may have been decided just before.
    async fn expire(&self, id: Uuid, now: DateTime<Utc>) -> Result<StoredApproval, ApprovalError>;

    /// Whether an approval of exactly this call (`fingerprint`) in this session was approved
    /// with `remember = session`: an "always for this session" grant.
    async fn session_grant(
        &self,
        session_id: &str,
        fingerprint: &str,
    ) -> Result<bool, ApprovalError>;
}

/// What a refused decision is: the approval as it now stands (final), or no such approval.
fn refusal(id: Uuid, found: Option<StoredApproval>) -> ApprovalError {
    match found {
        Some(stored) => ApprovalError::AlreadyDecided {
            id,
            state: stored.state,
        },
        None => ApprovalError::NotFound(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_names() {
        for state in [
            ApprovalState::Pending,
            ApprovalState::Approved,
            ApprovalState::Denied,
            ApprovalState::Expired,
        ] {
            assert_eq!(state.as_str().parse::<ApprovalState>(), Ok(state));
        }
        assert!("approve".parse::<ApprovalState>().is_err());
        assert_eq!(ApprovalState::of(Decision::Deny), ApprovalState::Denied);
        assert_eq!(ApprovalState::Expired.resolution(), Some("expired"));
        assert_eq!(ApprovalState::Pending.resolution(), None);
    }
}
