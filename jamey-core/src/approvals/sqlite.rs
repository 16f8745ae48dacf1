//! Approvals in the embedded store's `tools.sqlite3` (WAL, synchronous=FULL; the file and its
//! schema come from `crate::db::sqlite`), on a connection the audit trail may share. Each call
//! runs in one transaction on tokio's blocking threads.

use super::rows::{self, APPROVAL_COLUMNS};
use super::{refusal, Approval, ApprovalError, ApprovalState, ApprovalStore, StoredApproval};
use super::{Decision, Remember};
use crate::db::rows::micros;
use crate::db::sqlite::{SharedConnection, SqliteFile};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use uuid::Uuid;

/// Approvals in an SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteApprovalStore {
    connection: SharedConnection,
}

impl SqliteApprovalStore {
    /// Opens (creating) `dir/tools.sqlite3` on a connection of its own.
    pub fn open(dir: &Path) -> Result<Self, ApprovalError> {
        Ok(Self::on(SharedConnection::open(dir, SqliteFile::Tools)?))
    }

    /// The store on an open connection to [`SqliteFile::Tools`], shared with the audit trail
    /// (`SqliteToolCallLog::on`).
    pub fn on(connection: SharedConnection) -> Self {
        Self { connection }
    }
}

fn read(connection: &Connection, id: Uuid) -> Result<Option<StoredApproval>, ApprovalError> {
    let mut statement = connection.prepare(&format!(
        "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = ?1"
    ))?;
    let mut found = statement.query(params![id.to_string()])?;
    found.next()?.map(rows::approval_from).transpose()
}

#[async_trait]
impl ApprovalStore for SqliteApprovalStore {
    async fn create(&self, approval: &Approval) -> Result<(), ApprovalError> {
        let approval = approval.clone();
        self.connection
            .run(move |c| {
                c.execute(
                    "INSERT INTO approvals (id, tool, arguments, fingerprint, session_id, job_id, \
                     caller, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        approval.id.to_string(),
                        approval.tool,
                        approval.arguments.to_string(),
                        approval.fingerprint,
                        approval.session_id,
                        approval.job_id,
                        approval.caller,
                        micros(approval.created_at),
                        micros(approval.expires_at)
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn pending(&self, now: DateTime<Utc>) -> Result<Vec<Approval>, ApprovalError> {
        self.connection
            .run(move |c| {
                let mut statement = c.prepare(&format!(
                    "SELECT {APPROVAL_COLUMNS} FROM approvals \
                     WHERE state = 'pending' AND expires_at > ?1 ORDER BY created_at, id"
                ))?;
                let mut found = statement.query(params![micros(now)])?;
                let mut items = Vec::new();
                while let Some(row) = found.next()? {
                    items.push(rows::approval_from(row)?.approval);
                }
                Ok(items)
            })
            .await
    }

    async fn get(&self, id: Uuid) -> Result<Option<StoredApproval>, ApprovalError> {
        self.connection.run(move |c| read(c, id)).await
    }

    async fn decide(
        &self,
        id: Uuid,
        decision: Decision,
        remember: Remember,
        now: DateTime<Utc>,
    ) -> Result<StoredApproval, ApprovalError> {
        self.connection
            .run(move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let decided = tx.execute(
                    "UPDATE approvals SET state = ?2, remember = ?3, decided_at = ?4 \
                     WHERE id = ?1 AND state = 'pending' AND expires_at > ?4",
                    params![
                        id.to_string(),
                        ApprovalState::of(decision).as_str(),
                        rows::remember_name(remember),
                        micros(now)
                    ],
                )?;
                if decided == 0 {
                    // Too late: a row still pending is past its time, so it ends expired.
                    tx.execute(
                        "UPDATE approvals SET state = 'expired', decided_at = ?2 \
                         WHERE id = ?1 AND state = 'pending' AND expires_at <= ?2",
                        params![id.to_string(), micros(now)],
                    )?;
                }
                let found = read(&tx, id)?;
                tx.commit()?;
                match found {
                    Some(stored) if decided == 1 => Ok(stored),
                    other => Err(refusal(id, other)),
                }
            })
            .await
    }

    async fn expire(&self, id: Uuid, now: DateTime<Utc>) -> Result<StoredApproval, ApprovalError> {
        self.connection
            .run(move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.execute(
                    "UPDATE approvals SET state = 'expired', decided_at = ?2 \
                     WHERE id = ?1 AND state = 'pending'",
                    params![id.to_string(), micros(now)],
                )?;
                let found = read(&tx, id)?;
                tx.commit()?;
                found.ok_or(ApprovalError::NotFound(id))
            })
            .await
    }

    async fn session_grant(
        &self,
        session_id: &str,
        fingerprint: &str,
    ) -> Result<bool, ApprovalError> {
        let session_id = session_id.to_string();
        let fingerprint = fingerprint.to_string();
        self.connection
            .run(move |c| {
                let granted = c
                    .query_row(
                        "SELECT 1 FROM approvals WHERE session_id = ?1 AND fingerprint = ?2 \
                         AND state = 'approved' AND remember = 'session' LIMIT 1",
                        params![session_id, fingerprint],
                        |_| Ok(()),
                    )
                    .optional()?;
                Ok(granted.is_some())
            })
            .await
    }
}
