//! The `[github]` section: where the GitHub API is (`api_url`, GitHub Enterprise's
//! `https://HOST/api/v3` too), which repositories the tools may touch, and how long a request
//! may take. Raw (as written) and validated forms; the token is the secret `github_token`.

use super::{range as int, ConfigError};
use jamey_tools::github::{GithubClientConfig, RepoPattern, RepoScope, DEFAULT_API_URL};
use serde::Deserialize;
use std::time::Duration;

/// The GitHub connector's settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GithubConfig {
    /// Without a trailing slash.
    pub api_url: String,
    /// `owner/name` or `owner/*`; `None`: every repository the token can reach.
    pub repositories: Option<Vec<String>>,
    pub timeout_secs: u64,
}

impl Default for GithubConfig {
    fn default() -> Self {
        Self {
            api_url: DEFAULT_API_URL.into(),
            repositories: None,
            timeout_secs: 20,
        }
    }
}

impl GithubConfig {
    /// The connector's client configuration.
    pub fn client_config(&self) -> GithubClientConfig {
        let repositories = match &self.repositories {
            None => RepoScope::All,
            // Validated already: a pattern that does not parse cannot be here.
            Some(patterns) => RepoScope::Only(
                patterns
                    .iter()
                    .filter_map(|pattern| pattern.parse::<RepoPattern>().ok())
                    .collect(),
            ),
        };
        GithubClientConfig {
            api_url: self.api_url.clone(),
            repositories,
            timeout: Duration::from_secs(self.timeout_secs),
            ..GithubClientConfig::default()
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawGithub {
    pub api_url: Option<String>,
    pub repositories: Option<Vec<String>>,
    pub timeout_secs: Option<i64>,
}

impl RawGithub {
    pub fn validate(&self) -> Result<GithubConfig, ConfigError> {
        let defaults = GithubConfig::default();
        let api_url = match self.api_url.as_deref().map(str::trim) {
            None | Some("") => defaults.api_url,
            Some(text) => check_api_url(text)?,
        };
        let repositories = match &self.repositories {
            None => None,
            Some(patterns) => {
                let mut checked = Vec::with_capacity(patterns.len());
                for pattern in patterns {
                    let pattern = pattern.trim();
                    pattern.parse::<RepoPattern>().map_err(|reason| {
                        ConfigError::invalid(
                            "github.repositories",
                            pattern,
                            format!("owner/name or owner/* ({reason})"),
                        )
                    })?;
                    checked.push(pattern.to_owned());
                }
                Some(checked)
            }
        };
        Ok(GithubConfig {
            api_url,
            repositories,
            timeout_secs: int(
                "github.timeout_secs",
                self.timeout_secs,
                1,
                300,
                defaults.timeout_secs as i64,
            )? as u64,
        })
    }
}

/// An http(s) URL with a host and neither credentials nor query, without its trailing slash.
fn check_api_url(text: &str) -> Result<String, ConfigError> {
    jamey_tools::github::check_api_url(text).map_err(|reason| {
        // The value may hold a password: it is shown redacted.
        ConfigError::invalid(
            "github.api_url",
            jamey_core::db::redact_url(text),
            format!(
                "an http:// or https:// URL such as https://api.github.com or \
                 https://github.example.com/api/v3 ({reason})"
            ),
        )
    })?;
    Ok(text.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::RawConfig;

    #[test]
    fn an_empty_section_is_the_default_and_a_full_one_converts() {
        let raw = RawConfig::from_toml("[github]\n").unwrap();
        assert_eq!(raw.validate(true).unwrap().github, GithubConfig::default());
        let raw = RawConfig::from_toml(
            "[github]\napi_url = \"https://ghe.example/api/v3/\"\nrepositories = [\"octo/app\", \"acme/*\"]\ntimeout_secs = 5\n",
        )
        .unwrap();
        let github = raw.validate(true).unwrap().github;
        assert_eq!(github.api_url, "https://ghe.example/api/v3");
        let client = github.client_config();
        assert_eq!(client.timeout, Duration::from_secs(5));
        assert_eq!(
            client.repositories,
            RepoScope::Only(vec!["octo/app".parse().unwrap(), "acme/*".parse().unwrap()])
        );
        assert_eq!(
            GithubConfig::default().client_config().repositories,
            RepoScope::All
        );
    }

    #[test]
    fn bad_values_name_the_key_the_value_and_what_is_allowed() {
        let error = |toml: &str| {
            RawConfig::from_toml(toml)
                .unwrap()
                .validate(true)
                .unwrap_err()
                .to_string()
        };
        let text = error("[github]\napi_url = \"ftp://x\"\n");
        assert!(
            text.contains("github.api_url")
                && text.contains("ftp://x")
                && text.contains("https://"),
            "{text}"
        );
        let text = error("[github]\napi_url = \"https://me:hunter2@ghe.example/api/v3\"\n");
        assert!(
            text.contains("github.api_url") && !text.contains("hunter2"),
            "{text}"
        );
        let text = error("[github]\nrepositories = [\"octo/app\", \"octo\"]\n");
        assert!(
            text.contains("github.repositories")
                && text.contains("\"octo\"")
                && text.contains("owner/name or owner/*"),
            "{text}"
        );
        let text = error("[github]\ntimeout_secs = 0\n");
        assert!(text.contains("github.timeout_secs"), "{text}");
        let unknown = RawConfig::from_toml("[github]\ntoken = \"x\"\n").unwrap_err();
        assert!(unknown.contains("token"), "{unknown}");
    }
}
