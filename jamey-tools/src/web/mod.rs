//! The web tools: `http_fetch` (GET and HEAD), `http_request` (any method, with a body) and
//! `web_read` (an HTML page as readable text, its title and links). All three go through one
//! `GuardedClient`, so every URL and redirect passes the network guard.

mod fetch;
mod read;
mod render;

pub use fetch::{FetchMethod, HttpFetch, HttpFetchArgs, HttpRequest, HttpRequestArgs};
pub use read::{WebRead, WebReadArgs};

use crate::net::{GuardError, WebError};
use crate::ToolError;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::collections::BTreeMap;

/// Headers a caller may not set: they frame the message or steer the connection, which the
/// client owns.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
];

/// The `headers` argument as a header map.
fn request_headers(
    tool: &str,
    headers: Option<&BTreeMap<String, String>>,
) -> Result<HeaderMap, ToolError> {
    let invalid = |reason: String| ToolError::InvalidArguments {
        tool: tool.into(),
        field: Some("headers".into()),
        reason,
    };
    let mut map = HeaderMap::new();
    for (name, value) in headers.into_iter().flatten() {
        let header = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| invalid(format!("{name:?} is not a valid header name")))?;
        if RESERVED_HEADERS.contains(&header.as_str()) {
            return Err(invalid(format!(
                "the {header} header is set by the client and cannot be given"
            )));
        }
        // The value is never echoed: it may be a credential.
        let value = HeaderValue::from_str(value)
            .map_err(|_| invalid(format!("the value of {header} is not a valid header value")))?;
        map.append(header, value);
    }
    Ok(map)
}

/// A guarded request's failure as the tool's failure.
fn tool_error(tool: &str, error: WebError) -> ToolError {
    match error {
        WebError::Guard(GuardError::Refused(text)) => ToolError::Refused(text),
        WebError::Guard(GuardError::InvalidUrl(reason)) => ToolError::InvalidArguments {
            tool: tool.into(),
            field: Some("url".into()),
            reason: format!("not a valid absolute URL ({reason})"),
        },
        WebError::Timeout { seconds } => ToolError::Timeout {
            tool: tool.into(),
            seconds,
        },
        WebError::Cancelled => ToolError::Cancelled(tool.into()),
        other @ (WebError::Guard(GuardError::Resolve(_))
        | WebError::TooManyRedirects { .. }
        | WebError::BadRedirect { .. }
        | WebError::Http(_)) => ToolError::Failed(other.to_string()),
    }
}
