//! Opaque keyset cursors shared by every store that pages: a tag naming what the cursor pages
//! through, the position as text, and a checksum that rejects cursors that were altered, made
//! up, or issued for another list.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The cursor for `payload` in the list named by `tag`.
pub(crate) fn seal(tag: &str, payload: &str) -> String {
    let body = format!("{tag}|{payload}");
    let sum = Sha256::digest(body.as_bytes());
    URL_SAFE_NO_PAD.encode(format!("{body}|{}", hex::encode(&sum[..6])))
}

/// The payload of a cursor [`seal`] made for `tag`; `None` for anything else.
pub(crate) fn open(tag: &str, cursor: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (body, sum) = text.rsplit_once('|')?;
    let expected = Sha256::digest(body.as_bytes());
    if hex::encode(&expected[..6]) != sum {
        return None;
    }
    let (found_tag, payload) = body.split_once('|')?;
    (found_tag == tag).then(|| payload.to_string())
}

/// The cursor for a list ordered by (time, id) descending: continue before (`micros`, `id`).
pub(crate) fn seal_time_id(tag: &str, micros: i64, id: &str) -> String {
    seal(tag, &format!("{micros}|{id}"))
}

/// The (`micros`, `id`) of a cursor [`seal_time_id`] made for `tag`.
pub(crate) fn open_time_id(tag: &str, cursor: &str) -> Option<(i64, String)> {
    let payload = open(tag, cursor)?;
    let (micros, id) = payload.split_once('|')?;
    Some((micros.parse().ok()?, id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn time_id_cursors_round_trip(micros in any::<i64>(), id in "[a-zA-Z0-9:._|-]{1,64}") {
            let cursor = seal_time_id("x", micros, &id);
            prop_assert_eq!(open_time_id("x", &cursor), Some((micros, id)));
        }
    }

    #[test]
    fn altered_foreign_or_made_up_cursors_are_rejected() {
        let cursor = seal("a", "41");
        assert_eq!(open("a", &cursor).as_deref(), Some("41"));
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(&cursor).unwrap()).unwrap();
        assert_eq!(
            open("a", &URL_SAFE_NO_PAD.encode(text.replacen("41", "42", 1))),
            None
        );
        assert_eq!(open("b", &cursor), None, "another list's cursor");
        assert_eq!(open("a", "!!"), None);
        assert_eq!(
            open("a", &URL_SAFE_NO_PAD.encode("a|41")),
            None,
            "no checksum"
        );
    }
}
