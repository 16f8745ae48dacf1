//! `ClientError`: why a request to the runtime failed, each message one line that says what to
//! do, and the SPEC's error body mapped into `Api`.

use jamey_protocol::ErrorCode;
use std::error::Error as StdError;
use std::path::PathBuf;

/// Why talking to the runtime failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `JAMEY_HOME` has no certificates: nothing to connect with.
    #[error("not initialised at {}: run `jamey init`", home.display())]
    NotInitialised { home: PathBuf },
    /// A certificate or key file cannot be read or used.
    #[error("cannot use {}: {reason}: run `jamey init --force` to recreate the certificates", path.display())]
    Credentials { path: PathBuf, reason: String },
    /// `config.toml` or `JAMEY_LISTEN` cannot be used to find the runtime.
    #[error("{path}: {reason}")]
    Config { path: String, reason: String },
    /// `--url` is not an http(s) URL.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// Nothing listens at the address.
    #[error("runtime not running at {url}: run `jamey start`")]
    NotRunning { url: String },
    /// The runtime refused our client certificate (another CA, or revoked).
    #[error("certificate rejected by the runtime at {url} ({reason}): run `jamey init`")]
    CertificateRejected { url: String, reason: String },
    /// The runtime's certificate is not signed by our CA: another home's runtime listens there.
    #[error("the runtime at {url} is not trusted by this home's CA ({reason}): is it another JAMEY_HOME's runtime? Use the same JAMEY_HOME, or run `jamey stop` and `jamey start`")]
    ServerNotTrusted { url: String, reason: String },
    /// The runtime did not answer in time.
    #[error("the runtime at {url} did not answer in time: check `jamey status`")]
    Timeout { url: String },
    /// Any other network failure.
    #[error("cannot reach the runtime at {url}: {reason}")]
    Transport { url: String, reason: String },
    /// The runtime answered with the SPEC's error body.
    #[error("{}", api_message(*.status, *.code, message, field.as_deref(), request_id.as_deref()))]
    Api {
        status: u16,
        code: ErrorCode,
        message: String,
        /// The request field at fault, for `invalid_field`.
        field: Option<String>,
        /// Seconds to wait, for `rate_limited`.
        retry_after_secs: Option<u64>,
        /// The runtime's request id, under which its log has the details of a 5xx.
        request_id: Option<String>,
    },
    /// The runtime answered something that is not what the API promises.
    #[error("unexpected answer from the runtime ({status}): {reason}")]
    UnexpectedResponse { status: u16, reason: String },
}

fn api_message(
    status: u16,
    code: ErrorCode,
    message: &str,
    field: Option<&str>,
    request_id: Option<&str>,
) -> String {
    let line = match code {
        ErrorCode::Unauthenticated => {
            format!("certificate rejected ({message}): run `jamey init`")
        }
        ErrorCode::RateLimited => format!("{message} (HTTP {status})"),
        ErrorCode::Unavailable => format!("{message}: check `jamey status`"),
        _ => match field {
            Some(field) if !message.contains(field) => format!("{field}: {message}"),
            _ => message.to_string(),
        },
    };
    // A 5xx body is a fixed message; the id finds its details in the runtime's log.
    match request_id {
        Some(id) if status >= 500 => format!("{line} (request {id})"),
        _ => line,
    }
}

impl ClientError {
    /// True when no runtime answers at the address (`jamey status` exits 3).
    pub fn is_not_running(&self) -> bool {
        matches!(self, Self::NotRunning { .. })
    }

    /// The stable error code, when the runtime sent one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Classifies a transport failure by what caused it: nothing listening, a TLS refusal on
    /// either side, a timeout, or something else.
    pub(crate) fn from_transport(url: &str, error: &reqwest::Error) -> Self {
        let url = url.to_string();
        if error.is_timeout() {
            return Self::Timeout { url };
        }
        let mut refused = false;
        let mut tls = None;
        visit_causes(error, &mut |cause| {
            if let Some(found) = cause.downcast_ref::<rustls::Error>() {
                tls.get_or_insert(found.clone());
            }
            if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                refused |= matches!(
                    io.kind(),
                    std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
                );
            }
        });
        if let Some(tls) = tls {
            return Self::from_tls(url, &tls);
        }
        if refused {
            return Self::NotRunning { url };
        }
        Self::Transport {
            url,
            reason: innermost(error),
        }
    }

    fn from_tls(url: String, error: &rustls::Error) -> Self {
        match error {
            rustls::Error::InvalidCertificate(_) => Self::ServerNotTrusted {
                url,
                reason: error.to_string(),
            },
            rustls::Error::AlertReceived(_) | rustls::Error::NoCertificatesPresented => {
                Self::CertificateRejected {
                    url,
                    reason: error.to_string(),
                }
            }
            other => Self::Transport {
                url,
                reason: format!("TLS: {other}"),
            },
        }
    }
}

/// Calls `visit` on `error` and every error inside it: its sources, and the error an
/// `io::Error` wraps, which `io::Error::source` skips.
fn visit_causes(
    error: &(dyn StdError + 'static),
    visit: &mut dyn FnMut(&(dyn StdError + 'static)),
) {
    visit(error);
    if let Some(inner) = error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        visit_causes(inner, visit);
    }
    if let Some(source) = error.source() {
        visit_causes(source, visit);
    }
}

/// `error` and its sources, outermost first.
fn causes<'a>(error: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut chain = Vec::new();
    let mut next = Some(error);
    while let Some(cause) = next {
        chain.push(cause);
        next = cause.source();
    }
    chain
}

/// The most specific cause's message; reqwest's own is a generic "error sending request".
fn innermost(error: &reqwest::Error) -> String {
    causes(error)
        .last()
        .map(|e| e.to_string())
        .unwrap_or_else(|| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_read_as_one_actionable_line() {
        let err = ClientError::Api {
            status: 401,
            code: ErrorCode::Unauthenticated,
            message: "client certificate `owner` has been revoked".into(),
            field: None,
            retry_after_secs: None,
            request_id: None,
        };
        assert_eq!(
            err.to_string(),
            "certificate rejected (client certificate `owner` has been revoked): run `jamey init`"
        );
        let err = ClientError::Api {
            status: 422,
            code: ErrorCode::InvalidField,
            message: "must not be empty".into(),
            field: Some("content".into()),
            retry_after_secs: None,
            request_id: Some("r-1".into()),
        };
        assert_eq!(err.to_string(), "content: must not be empty");
        let upstream = ClientError::Api {
            status: 502,
            code: ErrorCode::UpstreamError,
            message: "the model provider failed; retry later".into(),
            field: None,
            retry_after_secs: None,
            request_id: Some("r-2".into()),
        };
        assert_eq!(
            upstream.to_string(),
            "the model provider failed; retry later (request r-2)"
        );
        assert_eq!(err.code(), Some(ErrorCode::InvalidField));
        let not_running = ClientError::NotRunning {
            url: "https://127.0.0.1:3000".into(),
        };
        assert!(not_running.is_not_running());
        assert_eq!(
            not_running.to_string(),
            "runtime not running at https://127.0.0.1:3000: run `jamey start`"
        );
    }
}
