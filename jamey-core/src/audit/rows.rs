//! What the two audit backends share: the columns they read, turning a row into a
//! [`ToolCallEntry`], and the page query (its keyset start, its filters, its cursor) written once
//! with numbered placeholders both databases accept.

use super::{AuditError, CallDecision, ToolCallEntry, ToolCallQuery, MAX_TOOL_CALL_PAGE};
use crate::db::cursor;
use crate::db::rows::{unsigned, StoredRow, Unreadable};
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub(super) const TOOL_CALL_COLUMNS: &str = "id, at, caller, session_id, job_id, tool, arguments, \
     decision, is_error, output_bytes, duration_ms, instance";

const CURSOR_TAG: &str = "t";

/// A row of [`TOOL_CALL_COLUMNS`].
pub(super) fn entry_from(row: &impl StoredRow) -> Result<ToolCallEntry, AuditError> {
    let decision: String = row.column("decision")?;
    Ok(ToolCallEntry {
        id: row.uuid("id")?,
        at: row.time("at")?,
        caller: row.column("caller")?,
        session_id: row.column("session_id")?,
        job_id: row.column("job_id")?,
        tool: row.column("tool")?,
        arguments: row.json("arguments")?,
        decision: decision
            .parse::<CallDecision>()
            .map_err(|reason| Unreadable::new("decision", reason))?,
        is_error: row.column("is_error")?,
        output_bytes: unsigned(row, "output_bytes")?,
        duration_ms: unsigned(row, "duration_ms")?,
        instance: row.column("instance")?,
    })
}

/// A value the page query binds, in the order of its placeholders.
pub(super) enum Arg {
    Time(DateTime<Utc>),
    Id(Uuid),
    Text(String),
    Count(i64),
}

/// The query for one page: SQL with placeholders `{mark}1`, `{mark}2`, ... and their values.
pub(super) struct PageQuery {
    pub(super) sql: String,
    pub(super) args: Vec<Arg>,
    limit: u32,
}

impl PageQuery {
    /// Checks `query` and writes its SQL; `mark` is the placeholder prefix (`$` or `?`).
    pub(super) fn new(query: &ToolCallQuery, mark: char) -> Result<Self, AuditError> {
        if query.limit == 0 || query.limit > MAX_TOOL_CALL_PAGE {
            return Err(AuditError::InvalidLimit(query.limit));
        }
        let before = query.cursor.as_deref().map(decode_cursor).transpose()?;
        let mut args = Vec::new();
        let mut bind = |arg: Arg| {
            args.push(arg);
            format!("{mark}{}", args.len())
        };
        let mut conditions = Vec::new();
        if let Some((at, id)) = before {
            let (at, id) = (bind(Arg::Time(at)), bind(Arg::Id(id)));
            conditions.push(format!("(at, id) < ({at}, {id})"));
        }
        if let Some(tool) = &query.tool {
            conditions.push(format!("tool = {}", bind(Arg::Text(tool.clone()))));
        }
        if let Some(session_id) = &query.session_id {
            let session_id = bind(Arg::Text(session_id.clone()));
            conditions.push(format!("session_id = {session_id}"));
        }
        if let Some(decision) = query.decision {
            let decision = bind(Arg::Text(decision.as_str().to_string()));
            conditions.push(format!("decision = {decision}"));
        }
        let limit = bind(Arg::Count(i64::from(query.limit) + 1));
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {} ", conditions.join(" AND "))
        };
        Ok(Self {
            sql: format!(
                "SELECT {TOOL_CALL_COLUMNS} FROM tool_calls {filter}ORDER BY at DESC, id DESC LIMIT {limit}"
            ),
            args,
            limit: query.limit,
        })
    }

    /// The page in `rows` (one more than the limit was fetched to tell whether another page
    /// follows) and the cursor that continues after it.
    pub(super) fn cut(&self, mut rows: Vec<ToolCallEntry>) -> super::ToolCallPage {
        let limit = self.limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(encode_cursor)
        } else {
            None
        };
        super::ToolCallPage {
            items: rows,
            next_cursor,
        }
    }
}

/// The cursor that continues with calls before `entry`.
fn encode_cursor(entry: &ToolCallEntry) -> String {
    cursor::seal_time_id(
        CURSOR_TAG,
        entry.at.timestamp_micros(),
        &entry.id.to_string(),
    )
}

fn decode_cursor(text: &str) -> Result<(DateTime<Utc>, Uuid), AuditError> {
    let (micros, id) = cursor::open_time_id(CURSOR_TAG, text).ok_or(AuditError::InvalidCursor)?;
    let at = DateTime::from_timestamp_micros(micros).ok_or(AuditError::InvalidCursor)?;
    let id = Uuid::parse_str(&id).map_err(|_| AuditError::InvalidCursor)?;
    Ok((at, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_bind_in_placeholder_order() {
        let entry = ToolCallEntry {
            id: Uuid::new_v4(),
            at: Utc::now(),
            caller: "owner".into(),
            session_id: None,
            job_id: None,
            tool: "system_info".into(),
            arguments: serde_json::json!({}),
            decision: CallDecision::Allowed,
            is_error: false,
            output_bytes: 0,
            duration_ms: 0,
            instance: None,
        };
        let query = ToolCallQuery {
            cursor: Some(encode_cursor(&entry)),
            tool: Some("system_info".into()),
            decision: Some(CallDecision::Denied),
            ..ToolCallQuery::default()
        };
        let page = PageQuery::new(&query, '?').unwrap();
        assert!(
            page.sql.ends_with(
                "WHERE (at, id) < (?1, ?2) AND tool = ?3 AND decision = ?4 \
                 ORDER BY at DESC, id DESC LIMIT ?5"
            ),
            "{}",
            page.sql
        );
        assert!(matches!(page.args[4], Arg::Count(51)));
        let unfiltered = PageQuery::new(&ToolCallQuery::default(), '$').unwrap();
        assert!(unfiltered
            .sql
            .ends_with("tool_calls ORDER BY at DESC, id DESC LIMIT $1"));
    }

    #[test]
    fn limits_and_cursors_are_checked() {
        for limit in [0, MAX_TOOL_CALL_PAGE + 1] {
            let query = ToolCallQuery {
                limit,
                ..ToolCallQuery::default()
            };
            assert!(matches!(
                PageQuery::new(&query, '$'),
                Err(AuditError::InvalidLimit(l)) if l == limit
            ));
        }
        let foreign = ToolCallQuery {
            cursor: Some(cursor::seal_time_id("s", 1, "not-a-uuid")),
            ..ToolCallQuery::default()
        };
        assert!(matches!(
            PageQuery::new(&foreign, '$'),
            Err(AuditError::InvalidCursor)
        ));
    }
}
