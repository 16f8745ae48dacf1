//! Secrets masked out of tool arguments before they are shown (an approval prompt) or kept
//! (the audit trail): values under names that hold secrets, and values that look like tokens
//! or credentials wherever they appear.

use serde_json::Value;

/// What a masked value is replaced with.
pub const MASK: &str = "[redacted]";

/// Parts of a key name that mark its value as a secret (compared in lower case, with `-`
/// and `_` removed).
const SECRET_KEY_PARTS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "cookie",
    "credential",
    "privatekey",
    "passphrase",
    "session_key",
    "xapikey",
];

/// Prefixes of well-known credential formats.
const TOKEN_PREFIXES: &[&str] = &[
    "jmy_",
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "github_pat_",
    "sk-",
    "xoxb-",
    "xoxp-",
    "AKIA",
    "glpat-",
];

/// `arguments` with every secret replaced by `MASK`.
pub fn mask_arguments(arguments: &Value) -> Value {
    match arguments {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let masked = if is_secret_key(key) && !value.is_null() {
                        Value::String(MASK.into())
                    } else {
                        mask_arguments(value)
                    };
                    (key.clone(), masked)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(mask_arguments).collect()),
        Value::String(text) => Value::String(mask_text(text)),
        other => other.clone(),
    }
}

/// Whether a key's value is a secret by its name alone.
pub fn is_secret_key(key: &str) -> bool {
    let folded: String = key
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_KEY_PARTS
        .iter()
        .any(|part| folded.contains(&part.replace('_', "")))
}

/// Text with credential-looking words, `Bearer ...` values and URL passwords masked.
fn mask_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_bearer = false;
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if after_bearer || looks_like_token(word) {
            out.push_str(MASK);
        } else {
            out.push_str(&mask_url_password(word));
        }
        after_bearer = word.eq_ignore_ascii_case("bearer") || word.eq_ignore_ascii_case("basic");
    }
    out
}

fn looks_like_token(word: &str) -> bool {
    TOKEN_PREFIXES
        .iter()
        .any(|prefix| word.starts_with(prefix) && word.len() >= prefix.len() + 8)
}

/// `scheme://user:password@host` with the password masked.
fn mask_url_password(word: &str) -> String {
    let Some(scheme_end) = word.find("://") else {
        return word.to_string();
    };
    let rest = &word[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return word.to_string();
    };
    let Some(colon) = authority[..at].find(':') else {
        return word.to_string();
    };
    format!(
        "{}{}:{MASK}{}",
        &word[..scheme_end + 3],
        &authority[..colon],
        &word[scheme_end + 3 + at..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_by_name_by_shape_and_inside_urls() {
        let masked = mask_arguments(&json!({
            "url": "https://bob:hunter2@example.com/x?q=1",
            "headers": {"Authorization": "Bearer abc", "X-Api-Key": "k", "Accept": "text/html"},
            "body": "token ghp_0123456789abcdef here",
            "github_token": null,
            "pid": 4242,
            "items": ["Bearer xyz", "plain"],
        }));
        assert_eq!(masked["url"], "https://bob:[redacted]@example.com/x?q=1");
        assert_eq!(masked["headers"]["Authorization"], MASK);
        assert_eq!(masked["headers"]["X-Api-Key"], MASK);
        assert_eq!(masked["headers"]["Accept"], "text/html");
        assert_eq!(masked["body"], "token [redacted] here");
        assert_eq!(masked["github_token"], Value::Null);
        assert_eq!(masked["pid"], 4242);
        assert_eq!(masked["items"], json!(["Bearer [redacted]", "plain"]));
    }
}
