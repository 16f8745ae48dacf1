//! Opaque keyset cursors for messages (after a message id) and sessions (before an activity
//! time and id), sealed by [`crate::db::cursor`].

use super::ConversationError;
use crate::db::cursor;

const MESSAGE_TAG: &str = "m";
const SESSION_TAG: &str = "s";

fn invalid() -> ConversationError {
    ConversationError::InvalidCursor("not a cursor this server issued".into())
}

/// The cursor that continues after message `id`.
pub(crate) fn encode_message(id: i64) -> String {
    cursor::seal(MESSAGE_TAG, &id.to_string())
}

pub(crate) fn decode_message(cursor: &str) -> Result<i64, ConversationError> {
    cursor::open(MESSAGE_TAG, cursor)
        .and_then(|payload| payload.parse().ok())
        .ok_or_else(invalid)
}

/// The cursor that continues with sessions active before (`micros`, `id`).
pub(crate) fn encode_session(micros: i64, id: &str) -> String {
    cursor::seal_time_id(SESSION_TAG, micros, id)
}

pub(crate) fn decode_session(cursor: &str) -> Result<(i64, String), ConversationError> {
    cursor::open_time_id(SESSION_TAG, cursor).ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn message_cursors_round_trip(id in any::<i64>()) {
            prop_assert_eq!(decode_message(&encode_message(id)).unwrap(), id);
        }

        #[test]
        fn session_cursors_round_trip(micros in any::<i64>(), id in "[a-zA-Z0-9:._-]{1,64}") {
            prop_assert_eq!(decode_session(&encode_session(micros, &id)).unwrap(), (micros, id));
        }
    }

    #[test]
    fn altered_or_foreign_cursors_are_rejected() {
        let cursor = encode_message(41);
        let mut text = String::from_utf8(URL_SAFE_NO_PAD.decode(&cursor).unwrap()).unwrap();
        text = text.replacen("41", "42", 1);
        assert!(decode_message(&URL_SAFE_NO_PAD.encode(text)).is_err());
        assert!(decode_message(&encode_session(1, "a")).is_err());
        assert!(decode_session("!!").is_err());
    }
}
