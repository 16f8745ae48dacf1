//! Repository names and the `[github] repositories` scope: which repositories the GitHub tools
//! may touch. Names are checked before any request, so a call outside the scope never reaches
//! GitHub.

use std::fmt;
use std::str::FromStr;

/// A repository as `owner/name`, checked for GitHub's characters (so neither part can carry a
/// path of its own into the API URL).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoName {
    owner: String,
    name: String,
}

impl RepoName {
    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

impl FromStr for RepoName {
    /// What is wrong with the text, for a message that also names the value.
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let Some((owner, name)) = text.trim().split_once('/') else {
            return Err("a repository is written owner/name".into());
        };
        check_owner(owner)?;
        check_repo_name(name)?;
        Ok(Self {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }
}

/// Checks a user or organisation name: letters, digits, `-` and `_` (enterprise managed
/// users), 1 to 39 characters, not starting with `-`.
pub fn check_owner(owner: &str) -> Result<(), String> {
    let valid = (1..=39).contains(&owner.len())
        && !owner.starts_with('-')
        && owner
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{owner}` is not a GitHub owner: 1 to 39 letters, digits, `-` or `_`"
        ))
    }
}

fn check_repo_name(name: &str) -> Result<(), String> {
    let valid = (1..=100).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a GitHub repository name: 1 to 100 letters, digits, `-`, `_` or `.`"
        ))
    }
}

/// One entry of `[github] repositories`: `owner/name`, or `owner/*` for all of an owner's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoPattern {
    Exact(RepoName),
    Owner(String),
}

impl RepoPattern {
    /// GitHub's names are case-insensitive, and so is the match.
    pub fn matches(&self, repo: &RepoName) -> bool {
        match self {
            Self::Exact(exact) => {
                exact.owner.eq_ignore_ascii_case(&repo.owner)
                    && exact.name.eq_ignore_ascii_case(&repo.name)
            }
            Self::Owner(owner) => owner.eq_ignore_ascii_case(&repo.owner),
        }
    }
}

impl fmt::Display for RepoPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(repo) => repo.fmt(f),
            Self::Owner(owner) => write!(f, "{owner}/*"),
        }
    }
}

impl FromStr for RepoPattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().strip_suffix("/*") {
            Some(owner) => check_owner(owner).map(|()| Self::Owner(owner.to_owned())),
            None => text.parse().map(Self::Exact),
        }
    }
}

/// The repositories the tools may touch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RepoScope {
    /// Every repository the token can reach (`repositories` unset).
    #[default]
    All,
    /// Only those matching one of the patterns.
    Only(Vec<RepoPattern>),
}

impl RepoScope {
    pub fn allows(&self, repo: &RepoName) -> bool {
        match self {
            Self::All => true,
            Self::Only(patterns) => patterns.iter().any(|pattern| pattern.matches(repo)),
        }
    }

    /// The patterns as written, for messages: `octo/app, acme/*`.
    pub fn describe(&self) -> String {
        match self {
            Self::All => "every repository".into(),
            Self::Only(patterns) => patterns
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_are_owner_slash_name_without_paths() {
        let repo: RepoName = "octo-org/hello.world_2".parse().unwrap();
        assert_eq!(repo.owner(), "octo-org");
        assert_eq!(repo.to_string(), "octo-org/hello.world_2");
        for bad in [
            "",
            "octo",
            "/x",
            "octo/",
            "octo/a/b",
            "octo/..",
            "octo/.",
            "-octo/x",
            "oc to/x",
            "octo/x?y",
            "octo/x#y",
            "../x",
            "octo/%2e%2e",
        ] {
            assert!(bad.parse::<RepoName>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn patterns_match_case_insensitively_and_owner_stars_match_the_owner_only() {
        let scope = RepoScope::Only(vec!["octo/app".parse().unwrap(), "acme/*".parse().unwrap()]);
        assert!(scope.allows(&"Octo/App".parse().unwrap()));
        assert!(scope.allows(&"acme/anything".parse().unwrap()));
        assert!(!scope.allows(&"octo/other".parse().unwrap()));
        assert!(!scope.allows(&"acme-evil/x".parse().unwrap()));
        assert_eq!(scope.describe(), "octo/app, acme/*");
        assert!(RepoScope::All.allows(&"any/one".parse().unwrap()));
        assert!("*/*".parse::<RepoPattern>().is_err());
        assert!("octo/a*".parse::<RepoPattern>().is_err());
    }
}
