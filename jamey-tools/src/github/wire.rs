//! The parts of GitHub's REST JSON the tools read. Unknown fields are ignored (GitHub adds them
//! freely); fields GitHub may omit or null have defaults.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    pub(crate) login: String,
}

/// The login of an optional user (GitHub nulls deleted accounts: "ghost").
pub(crate) fn login(user: &Option<User>) -> &str {
    user.as_ref().map_or("ghost", |user| user.login.as_str())
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Repo {
    pub(crate) full_name: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) private: bool,
    #[serde(default)]
    pub(crate) fork: bool,
    #[serde(default)]
    pub(crate) archived: bool,
    #[serde(default)]
    pub(crate) default_branch: Option<String>,
    #[serde(default)]
    pub(crate) language: Option<String>,
    #[serde(default)]
    pub(crate) stargazers_count: u64,
    #[serde(default)]
    pub(crate) updated_at: Option<String>,
    pub(crate) html_url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Label {
    pub(crate) name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Issue {
    pub(crate) number: u64,
    pub(crate) title: String,
    pub(crate) state: String,
    #[serde(default)]
    pub(crate) state_reason: Option<String>,
    #[serde(default)]
    pub(crate) user: Option<User>,
    #[serde(default)]
    pub(crate) labels: Vec<Label>,
    #[serde(default)]
    pub(crate) comments: u64,
    pub(crate) created_at: String,
    #[serde(default)]
    pub(crate) updated_at: Option<String>,
    #[serde(default)]
    pub(crate) closed_at: Option<String>,
    #[serde(default)]
    pub(crate) body: Option<String>,
    pub(crate) html_url: String,
    /// Present on pull requests, which the issues API lists too.
    #[serde(default)]
    pub(crate) pull_request: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Comment {
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) user: Option<User>,
    #[serde(default)]
    pub(crate) body: Option<String>,
    pub(crate) created_at: String,
    pub(crate) html_url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PullRef {
    #[serde(rename = "ref")]
    pub(crate) name: String,
    pub(crate) sha: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Pull {
    pub(crate) number: u64,
    pub(crate) title: String,
    pub(crate) state: String,
    #[serde(default)]
    pub(crate) draft: bool,
    #[serde(default)]
    pub(crate) user: Option<User>,
    #[serde(default)]
    pub(crate) body: Option<String>,
    pub(crate) created_at: String,
    #[serde(default)]
    pub(crate) updated_at: Option<String>,
    #[serde(default)]
    pub(crate) closed_at: Option<String>,
    #[serde(default)]
    pub(crate) merged_at: Option<String>,
    pub(crate) head: PullRef,
    pub(crate) base: PullRef,
    pub(crate) html_url: String,
    /// Only on a single pull request, not in lists.
    #[serde(default)]
    pub(crate) merged: Option<bool>,
    #[serde(default)]
    pub(crate) mergeable: Option<bool>,
    #[serde(default)]
    pub(crate) commits: Option<u64>,
    #[serde(default)]
    pub(crate) additions: Option<u64>,
    #[serde(default)]
    pub(crate) deletions: Option<u64>,
    #[serde(default)]
    pub(crate) changed_files: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PullFile {
    pub(crate) filename: String,
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) additions: u64,
    #[serde(default)]
    pub(crate) deletions: u64,
    #[serde(default)]
    pub(crate) previous_filename: Option<String>,
}

/// One entry of the contents API: a file (with its content) or a directory's member.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ContentItem {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) size: u64,
    #[serde(default)]
    pub(crate) sha: Option<String>,
    #[serde(default)]
    pub(crate) html_url: Option<String>,
    /// `base64`, or `none` for a file over 1 MB.
    #[serde(default)]
    pub(crate) encoding: Option<String>,
    #[serde(default)]
    pub(crate) content: Option<String>,
    /// A symlink's target.
    #[serde(default)]
    pub(crate) target: Option<String>,
    #[serde(default)]
    pub(crate) submodule_git_url: Option<String>,
}

/// A file or a directory listing.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Contents {
    Directory(Vec<ContentItem>),
    Entry(Box<ContentItem>),
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CodeHit {
    pub(crate) name: String,
    pub(crate) path: String,
    #[serde(default)]
    pub(crate) sha: Option<String>,
    pub(crate) html_url: String,
    pub(crate) repository: RepoRef,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RepoRef {
    pub(crate) full_name: String,
}
