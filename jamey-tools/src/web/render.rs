//! How a response reads to the model: the status line, the headers worth knowing, and the
//! body as text when it is text (described by type and size when it is not), with a cut body
//! marked before the body starts, so a later cut of the output cannot hide it.

use crate::net::WebResponse;
use reqwest::header::HeaderMap;
use std::fmt::Write;
use url::Url;

/// Headers shown, in this order.
const SHOWN_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "content-encoding",
    "content-language",
    "location",
    "last-modified",
    "etag",
    "cache-control",
    "expires",
    "retry-after",
    "www-authenticate",
];

/// The response as text; `with_body` is false for HEAD.
pub(super) fn render_response(response: &WebResponse, with_body: bool) -> String {
    let mut out = String::new();
    let status = &response.status;
    let _ = writeln!(
        out,
        "HTTP {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let _ = write!(out, "url: {}", display_url(&response.url));
    if response.redirects > 0 {
        let _ = write!(out, " (after {} redirects)", response.redirects);
    }
    out.push('\n');
    for name in SHOWN_HEADERS {
        for value in response.headers.get_all(*name) {
            let _ = writeln!(out, "{name}: {}", String::from_utf8_lossy(value.as_bytes()));
        }
    }
    if !with_body {
        return out;
    }
    let content_type = content_type(&response.headers);
    let size = response.body.len();
    let cut = response
        .cut
        .map(|cut| format!(", {cut}"))
        .unwrap_or_default();
    match body_text(&response.body, content_type.as_deref()) {
        Some(text) => {
            let _ = writeln!(out, "body: {size} bytes{cut}\n");
            out.push_str(&text);
        }
        None => {
            let _ = writeln!(
                out,
                "body: {size} bytes of {} (binary, not shown){cut}",
                content_type.as_deref().unwrap_or("unknown type")
            );
        }
    }
    out
}

/// The media type, lowercase, without parameters.
pub(super) fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(reqwest::header::CONTENT_TYPE)?.to_str().ok()?;
    let media = value.split(';').next()?.trim().to_ascii_lowercase();
    (!media.is_empty()).then_some(media)
}

/// The body as text when its type is textual (or, untyped, when it decodes as UTF-8 without
/// control bytes).
pub(super) fn body_text(body: &[u8], content_type: Option<&str>) -> Option<String> {
    let textual = match content_type {
        Some(media) => is_textual(media),
        None => looks_like_text(body),
    };
    textual.then(|| String::from_utf8_lossy(body).into_owned())
}

fn is_textual(media: &str) -> bool {
    media.starts_with("text/")
        || media.ends_with("+json")
        || media.ends_with("+xml")
        || matches!(
            media,
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/ecmascript"
                | "application/x-www-form-urlencoded"
                | "application/yaml"
                | "application/x-yaml"
                | "application/toml"
                | "application/x-ndjson"
                | "application/graphql"
                | "image/svg+xml"
        )
}

fn looks_like_text(body: &[u8]) -> bool {
    let sample = &body[..body.len().min(4096)];
    match std::str::from_utf8(sample) {
        Ok(text) => !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')),
        // A sample cut inside a character is still text.
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 >= sample.len(),
    }
}

/// The URL without userinfo, which is never shown or logged.
pub(super) fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textual_types_are_text_and_binary_ones_are_not() {
        assert!(body_text(b"{}", Some("application/json")).is_some());
        assert!(body_text(b"<a/>", Some("application/atom+xml")).is_some());
        assert!(body_text(b"hi", Some("text/plain")).is_some());
        assert!(body_text(b"\x89PNG\r\n", Some("image/png")).is_none());
        assert!(body_text(b"plain words", None).is_some());
        assert!(body_text(b"\x00\x01\x02binary", None).is_none());
    }

    #[test]
    fn userinfo_is_never_displayed() {
        let url = Url::parse("http://user:secret@example.com/a?b=1").unwrap();
        assert_eq!(display_url(&url), "http://example.com/a?b=1");
    }
}
