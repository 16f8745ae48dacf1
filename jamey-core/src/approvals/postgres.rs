//! Approvals in PostgreSQL, on the shared database (schema: `migrations/V4__tool_calls.sql`), so
//! a decision made through any instance is seen by the one whose turn waits for it. Deciding and
//! expiring are single conditional updates: of two racing, exactly one changes the row.

use super::rows::{self, APPROVAL_COLUMNS};
use super::{refusal, Approval, ApprovalError, ApprovalState, ApprovalStore, StoredApproval};
use super::{Decision, Remember};
use crate::db::PgDatabase;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::Object;
use uuid::Uuid;

/// Approvals in PostgreSQL.
#[derive(Clone)]
pub struct PgApprovalStore {
    db: PgDatabase,
}

impl std::fmt::Debug for PgApprovalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgApprovalStore").finish_non_exhaustive()
    }
}

impl PgApprovalStore {
    /// The store on the shared database, whose connect applied the schema.
    pub fn new(db: PgDatabase) -> Self {
        Self { db }
    }
}

async fn read(client: &Object, id: Uuid) -> Result<Option<StoredApproval>, ApprovalError> {
    let row = client
        .query_opt(
            &format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = $1"),
            &[&id],
        )
        .await?;
    row.as_ref().map(rows::approval_from).transpose()
}

#[async_trait]
impl ApprovalStore for PgApprovalStore {
    #[tracing::instrument(name = "pg_approval_create", level = "debug", skip_all, fields(id = %approval.id, tool = %approval.tool))]
    async fn create(&self, approval: &Approval) -> Result<(), ApprovalError> {
        let client = self.db.client().await?;
        client
            .execute(
                "INSERT INTO approvals (id, tool, arguments, fingerprint, session_id, job_id, caller, \
                 created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &approval.id,
                    &approval.tool,
                    &approval.arguments,
                    &approval.fingerprint,
                    &approval.session_id,
                    &approval.job_id,
                    &approval.caller,
                    &approval.created_at,
                    &approval.expires_at,
                ],
            )
            .await?;
        Ok(())
    }

    #[tracing::instrument(name = "pg_approvals_pending", level = "debug", skip_all)]
    async fn pending(&self, now: DateTime<Utc>) -> Result<Vec<Approval>, ApprovalError> {
        let client = self.db.client().await?;
        let found = client
            .query(
                &format!(
                    "SELECT {APPROVAL_COLUMNS} FROM approvals \
                     WHERE state = 'pending' AND expires_at > $1 ORDER BY created_at, id"
                ),
                &[&now],
            )
            .await?;
        found
            .iter()
            .map(|row| rows::approval_from(row).map(|stored| stored.approval))
            .collect()
    }

    #[tracing::instrument(name = "pg_approval_get", level = "debug", skip_all, fields(%id))]
    async fn get(&self, id: Uuid) -> Result<Option<StoredApproval>, ApprovalError> {
        read(&self.db.client().await?, id).await
    }

    #[tracing::instrument(name = "pg_approval_decide", level = "debug", skip_all, fields(%id, decision = decision.as_str()))]
    async fn decide(
        &self,
        id: Uuid,
        decision: Decision,
        remember: Remember,
        now: DateTime<Utc>,
    ) -> Result<StoredApproval, ApprovalError> {
        let client = self.db.client().await?;
        let decided = client
            .query_opt(
                &format!(
                    "UPDATE approvals SET state = $2, remember = $3, decided_at = $4 \
                     WHERE id = $1 AND state = 'pending' AND expires_at > $4 \
                     RETURNING {APPROVAL_COLUMNS}"
                ),
                &[
                    &id,
                    &ApprovalState::of(decision).as_str(),
                    &rows::remember_name(remember),
                    &now,
                ],
            )
            .await?;
        if let Some(row) = decided {
            return rows::approval_from(&row);
        }
        // Too late: a row still pending is past its time, so it ends expired, not decided.
        client
            .execute(
                "UPDATE approvals SET state = 'expired', decided_at = $2 \
                 WHERE id = $1 AND state = 'pending' AND expires_at <= $2",
                &[&id, &now],
            )
            .await?;
        Err(refusal(id, read(&client, id).await?))
    }

    #[tracing::instrument(name = "pg_approval_expire", level = "debug", skip_all, fields(%id))]
    async fn expire(&self, id: Uuid, now: DateTime<Utc>) -> Result<StoredApproval, ApprovalError> {
        let client = self.db.client().await?;
        let expired = client
            .query_opt(
                &format!(
                    "UPDATE approvals SET state = 'expired', decided_at = $2 \
                     WHERE id = $1 AND state = 'pending' RETURNING {APPROVAL_COLUMNS}"
                ),
                &[&id, &now],
            )
            .await?;
        match expired {
            Some(row) => rows::approval_from(&row),
            None => read(&client, id).await?.ok_or(ApprovalError::NotFound(id)),
        }
    }

    #[tracing::instrument(name = "pg_approval_session_grant", level = "debug", skip_all)]
    async fn session_grant(
        &self,
        session_id: &str,
        fingerprint: &str,
    ) -> Result<bool, ApprovalError> {
        let client = self.db.client().await?;
        let row = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM approvals WHERE session_id = $1 AND fingerprint = $2 \
                 AND state = 'approved' AND remember = 'session') AS granted",
                &[&session_id, &fingerprint],
            )
            .await?;
        Ok(row.try_get("granted")?)
    }
}
