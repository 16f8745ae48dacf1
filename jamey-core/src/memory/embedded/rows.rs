//! Memory rows in SQLite: how a `Memory` maps to columns, and the statements that read and write
//! them.

use super::vectors::to_blob;
use crate::memory::{Cursor, MemoryRecord, PageRequest, StoreError};
use chrono::{DateTime, Utc};
use jamey_protocol::{Memory, MemoryId, MemoryPage};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::collections::HashMap;
use uuid::Uuid;

/// The columns `read_row` expects, from the `memories` table aliased `m`.
const COLUMNS: &str =
    "m.rowid, m.id, m.content, m.kind, m.tags, m.metadata, m.session_id, m.importance, m.created_at, m.updated_at";

const NEWEST_FIRST: &str = "ORDER BY m.created_at DESC, m.id DESC";

/// The current time at the store's precision (microseconds), so a returned memory equals a later
/// read of it.
pub(super) fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// Inserts `record` and returns its rowid.
pub(super) fn insert(
    conn: &Connection,
    id: MemoryId,
    record: &MemoryRecord,
    at: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let mut statement = conn.prepare_cached(
        "INSERT INTO memories \
         (id, content, kind, tags, metadata, session_id, importance, embedding, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )?;
    let rowid = statement.insert(params![
        id.as_bytes().as_slice(),
        record.content,
        record.kind,
        tags_json(&record.tags),
        record.metadata.to_string(),
        record.session_id,
        f64::from(record.importance),
        to_blob(&record.embedding),
        at.timestamp_micros(),
    ])?;
    Ok(rowid)
}

/// Writes the fields of `memory` (all but its content, id and creation time), and its content
/// when `content_changed`: rewriting unchanged content would needlessly re-index it for keywords.
pub(super) fn update(
    conn: &Connection,
    rowid: i64,
    memory: &Memory,
    content_changed: bool,
    embedding: Option<&[f32]>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE memories SET kind = ?2, tags = ?3, metadata = ?4, importance = ?5, updated_at = ?6 \
         WHERE rowid = ?1",
    )?
    .execute(params![
        rowid,
        memory.kind,
        tags_json(&memory.tags),
        memory.metadata.to_string(),
        f64::from(memory.importance),
        memory.updated_at.timestamp_micros(),
    ])?;
    if content_changed {
        conn.prepare_cached("UPDATE memories SET content = ?2 WHERE rowid = ?1")?
            .execute(params![rowid, memory.content])?;
    }
    if let Some(embedding) = embedding {
        conn.prepare_cached("UPDATE memories SET embedding = ?2 WHERE rowid = ?1")?
            .execute(params![rowid, to_blob(embedding)])?;
    }
    Ok(())
}

/// Deletes the memory `id`; its rowid if it existed.
pub(super) fn delete(conn: &Connection, id: MemoryId) -> Result<Option<i64>, StoreError> {
    let rowid: Option<i64> = conn
        .prepare_cached("SELECT rowid FROM memories WHERE id = ?1")?
        .query_row([id.as_bytes().as_slice()], |row| row.get(0))
        .optional()?;
    if let Some(rowid) = rowid {
        conn.prepare_cached("DELETE FROM memories WHERE rowid = ?1")?
            .execute([rowid])?;
    }
    Ok(rowid)
}

/// The memory `id` with its rowid.
pub(super) fn get(conn: &Connection, id: MemoryId) -> Result<Option<(i64, Memory)>, StoreError> {
    let raw = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM memories AS m WHERE m.id = ?1"
        ))?
        .query_row([id.as_bytes().as_slice()], read_row)
        .optional()?;
    raw.map(|raw| Ok((raw.rowid, raw.into_memory()?)))
        .transpose()
}

/// The memories with these rowids, by rowid; rowids without a memory are left out.
pub(super) fn by_rowids(
    conn: &Connection,
    rowids: &[i64],
) -> Result<HashMap<i64, Memory>, StoreError> {
    if rowids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM memories AS m WHERE m.rowid IN (SELECT value FROM json_each(?1))"
    ))?;
    let rows = statement.query_map([json_array(rowids)], read_row)?;
    let mut memories = HashMap::with_capacity(rowids.len());
    for raw in rows {
        let raw = raw?;
        memories.insert(raw.rowid, raw.into_memory()?);
    }
    Ok(memories)
}

pub(super) fn count(conn: &Connection) -> Result<u64, StoreError> {
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM memories")?
        .query_row([], |row| row.get(0))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// One page of the newest-first listing; one extra row is fetched to learn whether more follow.
pub(super) fn list(conn: &Connection, page: &PageRequest) -> Result<MemoryPage, StoreError> {
    let (limit, raws) = match page {
        PageRequest::Keyset { limit, after: None } => {
            let sql = format!("SELECT {COLUMNS} FROM memories AS m {NEWEST_FIRST} LIMIT ?1");
            let mut statement = conn.prepare_cached(&sql)?;
            let rows = statement.query_map([i64::from(*limit) + 1], read_row)?;
            (*limit, rows.collect::<Result<Vec<_>, _>>()?)
        }
        PageRequest::Keyset {
            limit,
            after: Some(cursor),
        } => {
            // The id compares as a 16-byte BLOB, which sorts like the UUID it holds.
            let sql = format!(
                "SELECT {COLUMNS} FROM memories AS m WHERE (m.created_at, m.id) < (?1, ?2) {NEWEST_FIRST} LIMIT ?3"
            );
            let mut statement = conn.prepare_cached(&sql)?;
            let rows = statement.query_map(
                params![
                    cursor.created_at_micros,
                    cursor.id.as_bytes().as_slice(),
                    i64::from(*limit) + 1
                ],
                read_row,
            )?;
            (*limit, rows.collect::<Result<Vec<_>, _>>()?)
        }
        PageRequest::Offset { limit, offset } => {
            let sql =
                format!("SELECT {COLUMNS} FROM memories AS m {NEWEST_FIRST} LIMIT ?1 OFFSET ?2");
            let mut statement = conn.prepare_cached(&sql)?;
            let offset = i64::try_from(*offset).unwrap_or(i64::MAX);
            let rows = statement.query_map([i64::from(*limit) + 1, offset], read_row)?;
            (*limit, rows.collect::<Result<Vec<_>, _>>()?)
        }
    };
    let limit = limit as usize;
    let more = raws.len() > limit;
    let items = raws
        .into_iter()
        .take(limit)
        .map(RawMemory::into_memory)
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if more {
        items
            .last()
            .map(|m| Cursor::new(m.created_at, m.id).encode())
    } else {
        None
    };
    Ok(MemoryPage { items, next_cursor })
}

/// A JSON array of integers, for `json_each` parameters.
pub(super) fn json_array(values: &[i64]) -> String {
    let mut json = String::with_capacity(values.len() * 8 + 2);
    json.push('[');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&value.to_string());
    }
    json.push(']');
    json
}

fn tags_json(tags: &[String]) -> String {
    serde_json::Value::from(tags.to_vec()).to_string()
}

/// A row as SQLite returns it, before the checks that turn it into a `Memory`.
struct RawMemory {
    rowid: i64,
    id: Vec<u8>,
    content: String,
    kind: String,
    tags: String,
    metadata: String,
    session_id: Option<String>,
    importance: f64,
    created_at: i64,
    updated_at: i64,
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<RawMemory> {
    Ok(RawMemory {
        rowid: row.get(0)?,
        id: row.get(1)?,
        content: row.get(2)?,
        kind: row.get(3)?,
        tags: row.get(4)?,
        metadata: row.get(5)?,
        session_id: row.get(6)?,
        importance: row.get(7)?,
        created_at: row.get(8)?,
        updated_at: row.get(9)?,
    })
}

impl RawMemory {
    fn into_memory(self) -> Result<Memory, StoreError> {
        let rowid = self.rowid;
        let corrupt =
            |what: &str| StoreError::Sqlite(format!("memory row {rowid} has an invalid {what}"));
        let id = Uuid::from_slice(&self.id).map_err(|_| corrupt("id"))?;
        let tags: Vec<String> =
            serde_json::from_str(&self.tags).map_err(|_| corrupt("tags array"))?;
        let metadata: serde_json::Value =
            serde_json::from_str(&self.metadata).map_err(|_| corrupt("metadata"))?;
        let created_at = DateTime::from_timestamp_micros(self.created_at)
            .ok_or_else(|| corrupt("created_at"))?;
        let updated_at = DateTime::from_timestamp_micros(self.updated_at)
            .ok_or_else(|| corrupt("updated_at"))?;
        Ok(Memory {
            id,
            content: self.content,
            kind: self.kind,
            tags,
            metadata,
            session_id: self.session_id,
            importance: self.importance as f32,
            created_at,
            updated_at,
        })
    }
}
