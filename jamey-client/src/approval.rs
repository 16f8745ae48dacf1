//! What both chat frontends say and accept when a tool call waits for the user: the question
//! (`Allow process_kill {"pid": 4242}? [y/N/s=session]`), the answer a key stands for, and how a
//! decision reads afterwards, so `jamey chat` and the TUI ask and answer alike.

use jamey_protocol::{Approval, Decision, DecisionRequest, Remember};

/// The keys the question offers, as shown after it.
pub const ANSWER_KEYS: &str = "[y/N/s=session]";

/// `Allow TOOL ARGUMENTS?`, the arguments as one line of JSON.
pub fn question(approval: &Approval) -> String {
    format!(
        "Allow {} {}?",
        approval.tool,
        one_line_json(&approval.arguments)
    )
}

/// What an answer means: `y` approves this call, `s` approves this exact call for the rest of
/// the session, anything else (an empty line included) denies it.
pub fn answer(typed: &str) -> DecisionRequest {
    match typed.trim() {
        "y" | "Y" | "yes" | "Yes" | "YES" => DecisionRequest {
            decision: Decision::Approve,
            remember: Remember::Once,
        },
        "s" | "S" | "session" => DecisionRequest {
            decision: Decision::Approve,
            remember: Remember::Session,
        },
        _ => DecisionRequest {
            decision: Decision::Deny,
            remember: Remember::Once,
        },
    }
}

/// A decision as the past tense a transcript shows: `approved`, `approved for this session`,
/// `denied`, `expired` (an `approval_resolved` decision: `approve`, `deny` or `expired`).
pub fn resolved_word(decision: &str) -> String {
    match decision {
        "approve" => "approved".into(),
        "deny" => "denied".into(),
        "expired" => "expired (denied)".into(),
        other => other.to_string(),
    }
}

/// `value` as JSON on one line with a space after `:` and `,`, as people write it.
pub fn one_line_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_json(value, &mut out);
    out
}

fn write_json(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            out.push('{');
            for (i, (key, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(": ");
                write_json(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn approval(tool: &str, arguments: serde_json::Value) -> Approval {
        Approval {
            id: uuid::Uuid::nil(),
            tool: tool.into(),
            arguments,
            fingerprint: "ab".into(),
            session_id: None,
            job_id: None,
            caller: "owner".into(),
            created_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            expires_at: chrono::DateTime::from_timestamp(300, 0).unwrap(),
        }
    }

    #[test]
    fn the_question_names_the_tool_and_its_arguments_on_one_line() {
        assert_eq!(
            question(&approval("process_kill", json!({"pid": 4242}))),
            "Allow process_kill {\"pid\": 4242}?"
        );
        assert_eq!(
            one_line_json(
                &json!({"headers": {"a": "b\n"}, "n": [1, 2.5, null, true], "url": "https://x"})
            ),
            "{\"headers\": {\"a\": \"b\\n\"}, \"n\": [1, 2.5, null, true], \"url\": \"https://x\"}"
        );
        assert_eq!(one_line_json(&json!({})), "{}");
    }

    #[test]
    fn y_approves_once_s_for_the_session_and_anything_else_denies() {
        assert_eq!(answer("y\n").decision, Decision::Approve);
        assert_eq!(answer("y").remember, Remember::Once);
        let session = answer(" s ");
        assert_eq!(
            (session.decision, session.remember),
            (Decision::Approve, Remember::Session)
        );
        for typed in ["", "\n", "n", "N", "no", "maybe", "yy"] {
            assert_eq!(answer(typed).decision, Decision::Deny, "{typed:?}");
        }
        assert_eq!(resolved_word("approve"), "approved");
        assert_eq!(resolved_word("expired"), "expired (denied)");
    }
}
