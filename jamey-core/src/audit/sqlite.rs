//! The audit trail in the embedded store's `tools.sqlite3` (WAL, synchronous=FULL, so a recorded
//! call survives a killed process), on a connection the approvals may share. Calls run on tokio's
//! blocking threads.

use super::rows::{self, Arg, PageQuery, TOOL_CALL_COLUMNS};
use super::{AuditError, ToolCallEntry, ToolCallLog, ToolCallPage, ToolCallQuery};
use crate::db::rows::{micros, signed};
use crate::db::sqlite::{SharedConnection, SqliteFile};
use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter};
use std::path::Path;

/// Tool calls in an SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteToolCallLog {
    connection: SharedConnection,
}

impl SqliteToolCallLog {
    /// Opens (creating) `dir/tools.sqlite3` on a connection of its own.
    pub fn open(dir: &Path) -> Result<Self, AuditError> {
        Ok(Self::on(SharedConnection::open(dir, SqliteFile::Tools)?))
    }

    /// The log on an open connection to [`SqliteFile::Tools`], shared with the approvals
    /// (`SqliteApprovalStore::on`).
    pub fn on(connection: SharedConnection) -> Self {
        Self { connection }
    }

    /// The plan SQLite chooses for the page `query` asks for (`EXPLAIN QUERY PLAN`, one line
    /// per step), for checking that pages read an index rather than sort the table.
    pub async fn explain_page(&self, query: &ToolCallQuery) -> Result<Vec<String>, AuditError> {
        let page = PageQuery::new(query, '?')?;
        self.connection
            .run(move |c| {
                let mut statement = c.prepare(&format!("EXPLAIN QUERY PLAN {}", page.sql))?;
                let mut found = statement.query(params_from_iter(values(&page.args)))?;
                let mut plan = Vec::new();
                while let Some(row) = found.next()? {
                    plan.push(row.get::<_, String>("detail")?);
                }
                Ok(plan)
            })
            .await
    }
}

fn values(args: &[Arg]) -> Vec<Value> {
    args.iter()
        .map(|arg| match arg {
            Arg::Time(at) => Value::Integer(micros(*at)),
            Arg::Id(id) => Value::Text(id.to_string()),
            Arg::Text(text) => Value::Text(text.clone()),
            Arg::Count(count) => Value::Integer(*count),
        })
        .collect()
}

#[async_trait]
impl ToolCallLog for SqliteToolCallLog {
    async fn record(&self, entry: &ToolCallEntry) -> Result<(), AuditError> {
        let entry = entry.clone();
        self.connection
            .run(move |c| {
                c.execute(
                    &format!(
                        "INSERT INTO tool_calls ({TOOL_CALL_COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                    ),
                    params![
                        entry.id.to_string(),
                        micros(entry.at),
                        entry.caller,
                        entry.session_id,
                        entry.job_id,
                        entry.tool,
                        entry.arguments.to_string(),
                        entry.decision.as_str(),
                        entry.is_error,
                        signed(entry.output_bytes),
                        signed(entry.duration_ms),
                        entry.instance
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn page(&self, query: &ToolCallQuery) -> Result<ToolCallPage, AuditError> {
        let page = PageQuery::new(query, '?')?;
        self.connection
            .run(move |c| {
                let mut statement = c.prepare(&page.sql)?;
                let mut found = statement.query(params_from_iter(values(&page.args)))?;
                let mut entries = Vec::new();
                while let Some(row) = found.next()? {
                    entries.push(rows::entry_from(row)?);
                }
                Ok(page.cut(entries))
            })
            .await
    }
}
