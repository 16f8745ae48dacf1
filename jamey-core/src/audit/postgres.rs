//! The audit trail in PostgreSQL, on the shared database (schema:
//! `migrations/V4__tool_calls.sql`; pages read the `(at DESC, id DESC)` indexes).

use super::rows::{self, Arg, PageQuery, TOOL_CALL_COLUMNS};
use super::{AuditError, ToolCallEntry, ToolCallLog, ToolCallPage, ToolCallQuery};
use crate::db::rows::signed;
use crate::db::PgDatabase;
use async_trait::async_trait;
use tokio_postgres::types::ToSql;

/// Tool calls in PostgreSQL.
#[derive(Clone)]
pub struct PgToolCallLog {
    db: PgDatabase,
}

impl std::fmt::Debug for PgToolCallLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgToolCallLog").finish_non_exhaustive()
    }
}

impl PgToolCallLog {
    /// The log on the shared database, whose connect applied the schema.
    pub fn new(db: PgDatabase) -> Self {
        Self { db }
    }

    /// The plan PostgreSQL chooses for the page `query` asks for (`EXPLAIN`, one line per
    /// row), for checking that pages read an index rather than sort the table.
    pub async fn explain_page(&self, query: &ToolCallQuery) -> Result<Vec<String>, AuditError> {
        let page = PageQuery::new(query, '$')?;
        let client = self.db.client().await?;
        let plan = client
            .query(&format!("EXPLAIN {}", page.sql), &params(&page.args))
            .await?;
        plan.iter()
            .map(|row| row.try_get(0).map_err(AuditError::from))
            .collect()
    }
}

fn params(args: &[Arg]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter()
        .map(|arg| -> &(dyn ToSql + Sync) {
            match arg {
                Arg::Time(at) => at,
                Arg::Id(id) => id,
                Arg::Text(text) => text,
                Arg::Count(count) => count,
            }
        })
        .collect()
}

#[async_trait]
impl ToolCallLog for PgToolCallLog {
    #[tracing::instrument(name = "pg_tool_call_record", level = "debug", skip_all, fields(id = %entry.id, tool = %entry.tool))]
    async fn record(&self, entry: &ToolCallEntry) -> Result<(), AuditError> {
        let client = self.db.client().await?;
        client
            .execute(
                &format!(
                    "INSERT INTO tool_calls ({TOOL_CALL_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ),
                &[
                    &entry.id,
                    &entry.at,
                    &entry.caller,
                    &entry.session_id,
                    &entry.job_id,
                    &entry.tool,
                    &entry.arguments,
                    &entry.decision.as_str(),
                    &entry.is_error,
                    &signed(entry.output_bytes),
                    &signed(entry.duration_ms),
                    &entry.instance,
                ],
            )
            .await?;
        Ok(())
    }

    #[tracing::instrument(name = "pg_tool_call_page", level = "debug", skip_all, fields(limit = query.limit))]
    async fn page(&self, query: &ToolCallQuery) -> Result<ToolCallPage, AuditError> {
        let page = PageQuery::new(query, '$')?;
        let client = self.db.client().await?;
        let found = client.query(&page.sql, &params(&page.args)).await?;
        let entries = found
            .iter()
            .map(rows::entry_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page.cut(entries))
    }
}
