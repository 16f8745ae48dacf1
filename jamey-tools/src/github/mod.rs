//! The GitHub connector: ten tools on GitHub's REST API (repositories, files, code search,
//! issues, pull requests) sharing one `GithubClient` for `[github] api_url`, authenticated by
//! the secret `github_token`, scoped by `[github] repositories`. Reads are `allow` by default,
//! the three writes `ask`. `scripted` (feature `scripted`) is a GitHub for tests.

mod args;
mod client;
mod contents;
mod error;
mod issues;
mod page;
mod pulls;
mod rate_limit;
mod repos;
mod scope;
mod wire;

#[cfg(feature = "scripted")]
pub mod scripted;

pub use args::ItemState;
pub use client::{check_api_url, GithubClient, GithubClientConfig, DEFAULT_API_URL};
pub use contents::{GetFileArgs, GithubGetFile};
pub use error::{GithubError, RateLimitKind, SET_TOKEN_HINT};
pub use issues::{
    CommentIssueArgs, CreateIssueArgs, GithubCloseIssue, GithubCommentIssue, GithubCreateIssue,
    GithubGetIssue, GithubListIssues, IssueArgs, ListIssuesArgs,
};
pub use pulls::{GetPullArgs, GithubGetPull, GithubListPulls, ListPullsArgs};
pub use repos::{GithubListRepos, GithubSearchCode, ListReposArgs, SearchCodeArgs};
pub use scope::{check_owner, RepoName, RepoPattern, RepoScope};

/// The Secret Manager name of the token.
pub const TOKEN_SECRET: &str = "github_token";

/// Every GitHub tool's name, for checking `[tools.permissions]`.
pub const TOOL_NAMES: [&str; 10] = [
    "github_list_repos",
    "github_get_file",
    "github_search_code",
    "github_list_issues",
    "github_get_issue",
    "github_create_issue",
    "github_comment_issue",
    "github_close_issue",
    "github_list_pulls",
    "github_get_pull",
];
