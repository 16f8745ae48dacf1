//! Reading a memory back from a row of the `memories` table: the columns every query selects and
//! their decoding, which fails on a malformed row instead of panicking.

use crate::memory::StoreError;
use jamey_protocol::Memory;
use tokio_postgres::Row;

/// The columns a [`Memory`] is decoded from, in the order queries select them.
pub(super) const COLUMNS: &str =
    "id, content, kind, tags, metadata, session_id, importance, created_at, updated_at";

pub(super) fn memory_from_row(row: &Row) -> Result<Memory, StoreError> {
    Ok(Memory {
        id: row.try_get("id")?,
        content: row.try_get("content")?,
        kind: row.try_get("kind")?,
        tags: row.try_get("tags")?,
        metadata: row.try_get("metadata")?,
        session_id: row.try_get("session_id")?,
        importance: row.try_get("importance")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
