//! Opaque keyset cursors: the (created_at, id) of the last memory on a page, with a checksum so a
//! truncated or edited cursor is rejected rather than silently returning the wrong page.

use super::StoreError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use uuid::Uuid;

const VERSION: u8 = 1;
const LEN: usize = 1 + 8 + 16 + 4;

/// Where a newest-first listing continues: strictly older than (`created_at`, `id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Microseconds since the Unix epoch.
    pub created_at_micros: i64,
    pub id: Uuid,
}

impl Cursor {
    pub fn new(created_at: DateTime<Utc>, id: Uuid) -> Self {
        Self {
            created_at_micros: created_at.timestamp_micros(),
            id,
        }
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.created_at_micros).unwrap_or_default()
    }

    /// The URL-safe text handed to clients.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.created_at_micros.to_be_bytes());
        bytes.extend_from_slice(self.id.as_bytes());
        let sum = checksum(&bytes);
        bytes.extend_from_slice(&sum.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Parses a cursor from `encode`; anything else is `StoreError::InvalidCursor`.
    pub fn decode(text: &str) -> Result<Self, StoreError> {
        let invalid = |why: &str| {
            StoreError::InvalidCursor(format!("{why}; use the next_cursor of a previous page"))
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| invalid("not a cursor issued by this server"))?;
        if bytes.len() != LEN || bytes[0] != VERSION {
            return Err(invalid("not a cursor issued by this server"));
        }
        let (body, sum) = bytes.split_at(LEN - 4);
        let sum = u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]]);
        if checksum(body) != sum {
            return Err(invalid("the cursor was altered"));
        }
        let mut micros = [0u8; 8];
        micros.copy_from_slice(&body[1..9]);
        let mut id = [0u8; 16];
        id.copy_from_slice(&body[9..25]);
        let created_at_micros = i64::from_be_bytes(micros);
        if DateTime::from_timestamp_micros(created_at_micros).is_none() {
            return Err(invalid("the cursor holds an impossible time"));
        }
        Ok(Self {
            created_at_micros,
            id: Uuid::from_bytes(id),
        })
    }
}

/// FNV-1a, folded to 32 bits: detects edits, not an authentication code.
fn checksum(bytes: &[u8]) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash ^ (hash >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cursors_round_trip(micros in -62_135_596_800_000_000i64..253_402_300_799_000_000, id in any::<u128>()) {
            let cursor = Cursor { created_at_micros: micros, id: Uuid::from_u128(id) };
            prop_assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        }

        #[test]
        fn an_edited_cursor_is_rejected(micros in 0i64..4_000_000_000_000_000, id in any::<u128>(), at in 0usize..38, with in "[A-Za-z0-9_-]") {
            let text = Cursor { created_at_micros: micros, id: Uuid::from_u128(id) }.encode();
            let mut edited: Vec<char> = text.chars().collect();
            let at = at % edited.len();
            let replacement = with.chars().next().unwrap();
            prop_assume!(edited[at] != replacement);
            edited[at] = replacement;
            let edited: String = edited.into_iter().collect();
            // The final character carries only padding bits in base64; changing those may still decode.
            if let Ok(decoded) = Cursor::decode(&edited) {
                prop_assert_eq!(decoded.encode(), text);
            }
        }

        #[test]
        fn garbage_never_panics(text in ".{0,60}") {
            let _ = Cursor::decode(&text);
        }
    }

    #[test]
    fn garbage_is_an_invalid_cursor() {
        assert!(matches!(
            Cursor::decode("hello"),
            Err(StoreError::InvalidCursor(_))
        ));
        assert!(matches!(
            Cursor::decode(""),
            Err(StoreError::InvalidCursor(_))
        ));
    }
}
