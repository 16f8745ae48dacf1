//! Opaque keyset cursors for messages (after a message id) and sessions (before an activity
//! time and id). A checksum rejects cursors that were altered or made up.

use super::ConversationError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

const MESSAGE_TAG: &str = "m";
const SESSION_TAG: &str = "s";

fn seal(tag: &str, payload: &str) -> String {
    let body = format!("{tag}|{payload}");
    let sum = Sha256::digest(body.as_bytes());
    URL_SAFE_NO_PAD.encode(format!("{body}|{}", hex::encode(&sum[..6])))
}

fn open<'a>(tag: &str, cursor: &str, text: &'a mut String) -> Result<&'a str, ConversationError> {
    let invalid = || ConversationError::InvalidCursor("not a cursor this server issued".into());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    *text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (body, sum) = text.rsplit_once('|').ok_or_else(invalid)?;
    let expected = Sha256::digest(body.as_bytes());
    if hex::encode(&expected[..6]) != sum {
        return Err(invalid());
    }
    let (found_tag, payload) = body.split_once('|').ok_or_else(invalid)?;
    if found_tag != tag {
        return Err(invalid());
    }
    Ok(payload)
}

/// The cursor that continues after message `id`.
pub(crate) fn encode_message(id: i64) -> String {
    seal(MESSAGE_TAG, &id.to_string())
}

pub(crate) fn decode_message(cursor: &str) -> Result<i64, ConversationError> {
    let mut text = String::new();
    let payload = open(MESSAGE_TAG, cursor, &mut text)?;
    payload
        .parse()
        .map_err(|_| ConversationError::InvalidCursor("not a cursor this server issued".into()))
}

/// The cursor that continues with sessions active before (`micros`, `id`).
pub(crate) fn encode_session(micros: i64, id: &str) -> String {
    seal(SESSION_TAG, &format!("{micros}|{id}"))
}

pub(crate) fn decode_session(cursor: &str) -> Result<(i64, String), ConversationError> {
    let mut text = String::new();
    let payload = open(SESSION_TAG, cursor, &mut text)?;
    let invalid = || ConversationError::InvalidCursor("not a cursor this server issued".into());
    let (micros, id) = payload.split_once('|').ok_or_else(invalid)?;
    Ok((micros.parse().map_err(|_| invalid())?, id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
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
