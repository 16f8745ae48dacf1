//! `GithubError`: why a GitHub call failed, in words that tell the model what happened and what
//! to do (check a name, retry at a given time, ask the user for a token). No text here ever
//! holds the token.

use std::time::{Duration, SystemTime};

use crate::ToolError;

/// How to give the twin a token, quoted by every error that needs one.
pub const SET_TOKEN_HINT: &str = "set one with `jamey secret set github_token`";

/// Which of GitHub's limits stopped a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitKind {
    /// The hourly quota (`x-ratelimit-remaining: 0`).
    Primary,
    /// Too many requests too fast (a 403 naming a secondary rate limit).
    Secondary,
    /// A 429 Too Many Requests.
    TooManyRequests,
}

/// A failed GitHub call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GithubError {
    /// The configuration cannot be used (a bad `api_url`).
    #[error("the GitHub connector is misconfigured: {0}")]
    InvalidConfig(String),
    /// An argument is malformed; `field` names it.
    #[error("{field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    /// The repository is outside `[github] repositories`.
    #[error("repository {repo} is outside [github] repositories ({allowed})")]
    OutOfScope { repo: String, allowed: String },
    /// A write (or a read of the user's own repositories) without a token.
    #[error("{action} needs a GitHub token, and none is configured: {SET_TOKEN_HINT}")]
    TokenRequired { action: String },
    /// 404: the thing does not exist, or the token cannot see it.
    #[error("GitHub found no {what} (404 Not Found); check the name, and note that a private repository the token cannot see also answers 404")]
    NotFound { what: String },
    /// 401 with a token: GitHub rejected it.
    #[error("GitHub rejected the token (401 {message}); {SET_TOKEN_HINT}")]
    BadToken { message: String },
    /// 401 without a token: GitHub wants one for this.
    #[error("GitHub requires authentication for this (401 {message}); {SET_TOKEN_HINT}")]
    AuthenticationRequired { message: String },
    /// 403 that is not a rate limit: the token lacks a permission or the action is blocked.
    #[error("GitHub refused access to {what} (403 {message}); the token may lack the permission or scope for it")]
    Forbidden { what: String, message: String },
    /// 422: GitHub's validation message and errors.
    #[error("GitHub rejected the request as invalid (422 {message})")]
    Validation { message: String },
    /// A rate limit that is not worth waiting for inside this call.
    #[error("{}", rate_limit_text(*.kind, *.retry_at, *.wait, *.authenticated))]
    RateLimited {
        kind: RateLimitKind,
        /// When GitHub will take requests again.
        retry_at: SystemTime,
        /// How long that was from the moment of the error.
        wait: Duration,
        authenticated: bool,
    },
    /// Any other unsuccessful status.
    #[error("GitHub answered {status} for {what}: {message}")]
    Status {
        status: u16,
        what: String,
        message: String,
    },
    /// No answer: connection refused, TLS failure, a reset.
    #[error("cannot reach GitHub at {api_url}: {reason}")]
    Transport { api_url: String, reason: String },
    /// An answer that is not the JSON GitHub sends.
    #[error("GitHub's answer for {what} was not understood: {reason}")]
    Decode { what: String, reason: String },
    /// The call's deadline passed.
    #[error("GitHub did not answer within {seconds} s")]
    Timeout { seconds: u64 },
    /// Whoever asked is gone.
    #[error("the GitHub call was cancelled")]
    Cancelled,
}

impl GithubError {
    /// Whether trying the same call again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Transport { .. } | Self::Timeout { .. } => true,
            Self::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// How long to wait before trying again, for a rate limit.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_at, .. } => Some(
                retry_at
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO),
            ),
            _ => None,
        }
    }

    /// The tool error the model sees for a call of `tool`.
    pub fn into_tool_error(self, tool: &str) -> ToolError {
        match self {
            Self::OutOfScope { .. } => ToolError::Refused(self.to_string()),
            Self::InvalidArgument { field, reason } => ToolError::InvalidArguments {
                tool: tool.into(),
                field: Some(field.into()),
                reason,
            },
            Self::Timeout { seconds } => ToolError::Timeout {
                tool: tool.into(),
                seconds,
            },
            Self::Cancelled => ToolError::Cancelled(tool.into()),
            other => ToolError::Failed(other.to_string()),
        }
    }
}

impl From<GithubError> for ToolError {
    fn from(error: GithubError) -> Self {
        error.into_tool_error("github")
    }
}

fn rate_limit_text(
    kind: RateLimitKind,
    retry_at: SystemTime,
    wait: Duration,
    authenticated: bool,
) -> String {
    let what = match kind {
        RateLimitKind::Primary => "GitHub's rate limit is exhausted",
        RateLimitKind::Secondary => {
            "GitHub's secondary rate limit was hit (too many requests too fast)"
        }
        RateLimitKind::TooManyRequests => "GitHub answered 429 Too Many Requests",
    };
    let at = chrono::DateTime::<chrono::Utc>::from(retry_at)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let hint = if kind == RateLimitKind::Primary && !authenticated {
        format!(" (requests without a token get 60 an hour; {SET_TOKEN_HINT})")
    } else {
        String::new()
    };
    format!(
        "{what}; retry after {at} (in {} s){hint}",
        wait.as_secs_f64().ceil() as u64
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limit_says_when_to_retry_in_rfc3339_and_seconds() {
        let retry_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let error = GithubError::RateLimited {
            kind: RateLimitKind::Primary,
            retry_at,
            wait: Duration::from_secs(120),
            authenticated: false,
        };
        let text = error.to_string();
        assert!(
            text.contains("retry after 2023-11-14T22:13:20Z (in 120 s)"),
            "{text}"
        );
        assert!(text.contains("jamey secret set github_token"), "{text}");
        assert!(error.is_retryable());
    }

    #[test]
    fn scope_refusals_and_bad_arguments_become_their_tool_errors() {
        let refused = GithubError::OutOfScope {
            repo: "a/b".into(),
            allowed: "c/*".into(),
        }
        .into_tool_error("github_get_file");
        assert_eq!(
            refused,
            ToolError::Refused("repository a/b is outside [github] repositories (c/*)".into())
        );
        let invalid = GithubError::InvalidArgument {
            field: "repo",
            reason: "bad".into(),
        }
        .into_tool_error("github_get_file");
        assert!(matches!(
            invalid,
            ToolError::InvalidArguments { field: Some(ref f), .. } if f == "repo"
        ));
    }
}
