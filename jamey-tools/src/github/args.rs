//! Argument pieces the GitHub tools share: `limit`, `state`, issue numbers and file paths,
//! each checked with a message naming the field.

use schemars::JsonSchema;
use serde::Deserialize;

use super::error::GithubError;

/// Results a listing returns when the model names no limit.
pub(crate) const DEFAULT_LIMIT: u32 = 20;
/// The most one call may ask for.
pub(crate) const MAX_LIMIT: u32 = 100;

/// Which issues or pull requests to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ItemState {
    #[default]
    Open,
    Closed,
    All,
}

impl ItemState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::All => "all",
        }
    }
}

/// `limit` within 1..=100, 20 when unset.
pub(crate) fn limit(limit: Option<u32>) -> Result<usize, GithubError> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n as usize),
        n => Err(GithubError::InvalidArgument {
            field: "limit",
            reason: format!("limit must be from 1 to {MAX_LIMIT}, got {n}"),
        }),
    }
}

/// An issue or pull request number: 1 or more.
pub(crate) fn number(number: u64) -> Result<String, GithubError> {
    if number == 0 {
        return Err(GithubError::InvalidArgument {
            field: "number",
            reason: "issue and pull request numbers start at 1".into(),
        });
    }
    Ok(number.to_string())
}

/// A text argument that must say something.
pub(crate) fn non_empty(field: &'static str, text: &str) -> Result<(), GithubError> {
    if text.trim().is_empty() {
        Err(GithubError::InvalidArgument {
            field,
            reason: format!("{field} must not be empty"),
        })
    } else {
        Ok(())
    }
}

/// A path inside a repository as its segments: no `.` or `..` (they would climb out of the
/// contents endpoint), no empty segments; a leading `/` is dropped; empty is the root.
pub(crate) fn path_segments(path: &str) -> Result<Vec<&str>, GithubError> {
    let path = path.trim().trim_start_matches('/').trim_end_matches('/');
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments
        .iter()
        .any(|segment| segment.is_empty() || *segment == "." || *segment == "..")
    {
        return Err(GithubError::InvalidArgument {
            field: "path",
            reason: format!(
                "{path:?} is not a path inside the repository (no empty, `.` or `..` parts)"
            ),
        });
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn limits_numbers_and_paths_are_checked() {
        assert_eq!(limit(None).unwrap(), 20);
        assert_eq!(limit(Some(100)).unwrap(), 100);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(101)).is_err());
        assert!(number(0).is_err());
        assert_eq!(path_segments("/src/lib.rs").unwrap(), ["src", "lib.rs"]);
        assert!(path_segments("").unwrap().is_empty());
        for bad in ["../x", "a/../../user", "a//b", "./a"] {
            assert!(path_segments(bad).is_err(), "{bad}");
        }
    }
}
