//! What the two approval backends share: the columns they read and turning a row into a
//! [`StoredApproval`].

use super::{Approval, ApprovalError, ApprovalState, Remember, StoredApproval};
use crate::db::rows::{StoredRow, Unreadable};

pub(super) const APPROVAL_COLUMNS: &str = "id, tool, arguments, fingerprint, session_id, job_id, \
     caller, created_at, expires_at, state, remember, decided_at";

/// The name stored for `remember`.
pub(super) fn remember_name(remember: Remember) -> &'static str {
    match remember {
        Remember::Once => "once",
        Remember::Session => "session",
    }
}

fn parse_remember(name: &str) -> Result<Remember, Unreadable> {
    match name {
        "once" => Ok(Remember::Once),
        "session" => Ok(Remember::Session),
        other => Err(Unreadable::new(
            "remember",
            format!("unknown value {other:?}"),
        )),
    }
}

/// A row of [`APPROVAL_COLUMNS`].
pub(super) fn approval_from(row: &impl StoredRow) -> Result<StoredApproval, ApprovalError> {
    let state: String = row.column("state")?;
    let remember: String = row.column("remember")?;
    Ok(StoredApproval {
        approval: Approval {
            id: row.uuid("id")?,
            tool: row.column("tool")?,
            arguments: row.json("arguments")?,
            fingerprint: row.column("fingerprint")?,
            session_id: row.column("session_id")?,
            job_id: row.column("job_id")?,
            caller: row.column("caller")?,
            created_at: row.time("created_at")?,
            expires_at: row.time("expires_at")?,
        },
        state: state
            .parse::<ApprovalState>()
            .map_err(|reason| Unreadable::new("state", reason))?,
        remember: parse_remember(&remember)?,
        decided_at: row.optional_time("decided_at")?,
    })
}
