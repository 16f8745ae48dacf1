//! How a memory is stored in Redis: one version byte, then the fields in postcard (a compact
//! varint encoding). Metadata travels as its JSON text because postcard cannot describe a
//! free-form JSON value. Version 0 is a tombstone: "deleted here, do not refill from a stale read".
//! `jamey-bench cache` prints the sizes and decode times of this encoding next to plain JSON.

use chrono::{DateTime, Utc};
use jamey_protocol::Memory;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

const TOMBSTONE: u8 = 0;
const POSTCARD_V1: u8 = 1;

/// What an L2 value holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stored {
    Memory(Memory),
    /// The memory was deleted; the key is held so a racing reader cannot put it back.
    Tombstone,
}

/// A value that is not in a version this build reads.
#[derive(Debug, thiserror::Error)]
#[error("cache value cannot be decoded: {0}")]
pub struct DecodeError(String);

#[derive(Serialize, Deserialize)]
struct WireMemoryV1<'a> {
    id: [u8; 16],
    #[serde(borrow)]
    content: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    tags: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    metadata_json: Cow<'a, str>,
    #[serde(borrow)]
    session_id: Option<Cow<'a, str>>,
    importance: f32,
    created: (i64, u32),
    updated: (i64, u32),
}

pub(crate) fn tombstone() -> Vec<u8> {
    vec![TOMBSTONE]
}

/// The bytes stored in Redis for `memory`.
pub fn encode_memory(memory: &Memory) -> Vec<u8> {
    let wire = WireMemoryV1 {
        id: *memory.id.as_bytes(),
        content: Cow::Borrowed(&memory.content),
        kind: Cow::Borrowed(&memory.kind),
        tags: memory
            .tags
            .iter()
            .map(|t| Cow::Borrowed(t.as_str()))
            .collect(),
        metadata_json: Cow::Owned(memory.metadata.to_string()),
        session_id: memory.session_id.as_deref().map(Cow::Borrowed),
        importance: memory.importance,
        created: split(memory.created_at),
        updated: split(memory.updated_at),
    };
    let mut bytes = vec![POSTCARD_V1];
    // Serializing plain strings, numbers and sequences into a Vec cannot fail.
    if let Ok(body) = postcard::to_allocvec(&wire) {
        bytes.extend_from_slice(&body);
    }
    bytes
}

/// Decodes what `encode_memory` or `tombstone` wrote.
pub fn decode_memory(bytes: &[u8]) -> Result<Option<Memory>, DecodeError> {
    match decode(bytes)? {
        Stored::Memory(memory) => Ok(Some(memory)),
        Stored::Tombstone => Ok(None),
    }
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Stored, DecodeError> {
    match bytes.split_first() {
        Some((&TOMBSTONE, [])) => Ok(Stored::Tombstone),
        Some((&POSTCARD_V1, body)) => {
            let wire: WireMemoryV1<'_> =
                postcard::from_bytes(body).map_err(|e| DecodeError(e.to_string()))?;
            let metadata = serde_json::from_str(&wire.metadata_json)
                .map_err(|e| DecodeError(format!("metadata: {e}")))?;
            Ok(Stored::Memory(Memory {
                id: uuid::Uuid::from_bytes(wire.id),
                content: wire.content.into_owned(),
                kind: wire.kind.into_owned(),
                tags: wire.tags.into_iter().map(Cow::into_owned).collect(),
                metadata,
                session_id: wire.session_id.map(Cow::into_owned),
                importance: wire.importance,
                created_at: join(wire.created)?,
                updated_at: join(wire.updated)?,
            }))
        }
        Some((version, _)) => Err(DecodeError(format!("unknown version {version}"))),
        None => Err(DecodeError("empty value".into())),
    }
}

fn split(at: DateTime<Utc>) -> (i64, u32) {
    (at.timestamp(), at.timestamp_subsec_nanos())
}

fn join((secs, nanos): (i64, u32)) -> Result<DateTime<Utc>, DecodeError> {
    DateTime::from_timestamp(secs, nanos)
        .ok_or_else(|| DecodeError(format!("timestamp {secs}.{nanos} out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Memory {
        Memory {
            id: uuid::Uuid::new_v4(),
            content: "Anna is allergic to peanuts — ünïcode too".into(),
            kind: "fact".into(),
            tags: vec!["family".into(), "health".into()],
            metadata: serde_json::json!({"source": "chat", "n": [1, 2.5, null]}),
            session_id: Some("s-1".into()),
            importance: 0.75,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn a_memory_round_trips_exactly() {
        let m = memory();
        let bytes = encode_memory(&m);
        assert_eq!(bytes[0], POSTCARD_V1);
        assert_eq!(decode_memory(&bytes).unwrap(), Some(m.clone()));
        let json = serde_json::to_vec(&m).unwrap();
        assert!(
            bytes.len() < json.len(),
            "{} vs {}",
            bytes.len(),
            json.len()
        );
    }

    #[test]
    fn tombstones_and_foreign_versions_are_told_apart() {
        assert_eq!(decode(&tombstone()).unwrap(), Stored::Tombstone);
        assert!(decode(&[]).is_err());
        assert!(decode(&[9, 1, 2]).is_err());
        let mut cut = encode_memory(&memory());
        cut.truncate(cut.len() / 2);
        assert!(decode(&cut).is_err());
    }
}
