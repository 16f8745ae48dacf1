//! The pull request tools: `github_list_pulls`, and `github_get_pull` with its diff summary
//! (each changed file with its additions and deletions, from `/pulls/N/files`).

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::args::{limit, number, ItemState};
use super::client::{cut_chars, GithubClient};
use super::error::GithubError;
use super::page::PageShape;
use super::wire::{login, Pull, PullFile};
use crate::{CallContext, Permission, Tool, ToolError};

/// The most of a pull request's body returned.
const MAX_BODY_CHARS: usize = 4000;
/// Changed files listed in the diff summary; the totals count them all.
const MAX_FILES: usize = 300;

/// Lists a repository's pull requests.
#[derive(Debug, Clone)]
pub struct GithubListPulls {
    client: GithubClient,
}

impl GithubListPulls {
    pub fn new(client: GithubClient) -> Self {
        Self { client }
    }
}

/// Reads one pull request with its diff summary.
#[derive(Debug, Clone)]
pub struct GithubGetPull {
    client: GithubClient,
}

impl GithubGetPull {
    pub fn new(client: GithubClient) -> Self {
        Self { client }
    }
}

/// Arguments of `github_list_pulls`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPullsArgs {
    /// The repository, `owner/name`.
    pub repo: String,
    /// `open` (default), `closed` or `all`.
    #[serde(default)]
    pub state: Option<ItemState>,
    /// How many pull requests to return (1 to 100, default 20), newest first.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Arguments of `github_get_pull`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetPullArgs {
    /// The repository, `owner/name`.
    pub repo: String,
    /// The pull request number.
    pub number: u64,
}

#[async_trait]
impl Tool for GithubListPulls {
    type Args = ListPullsArgs;

    fn name(&self) -> &'static str {
        "github_list_pulls"
    }

    fn description(&self) -> &'static str {
        "List a GitHub repository's pull requests, newest first: number, title, state, draft, \
         author, head and base branches, dates and URL."
    }

    fn default_permission(&self) -> Permission {
        Permission::Allow
    }

    async fn call(&self, args: ListPullsArgs, context: &CallContext) -> Result<String, ToolError> {
        list_pulls(&self.client, args, context)
            .await
            .map_err(|error| error.into_tool_error(self.name()))
    }
}

async fn list_pulls(
    client: &GithubClient,
    args: ListPullsArgs,
    context: &CallContext,
) -> Result<String, GithubError> {
    let repo = client.repo(&args.repo)?;
    let limit = limit(args.limit)?;
    let state = args.state.unwrap_or_default();
    let mut url = client.endpoint(&["repos", repo.owner(), repo.name(), "pulls"]);
    url.query_pairs_mut().append_pair("state", state.as_str());
    let listing = client
        .list::<Pull>(
            url,
            PageShape::Array,
            limit,
            &format!("repository {repo}"),
            |_| true,
            context,
        )
        .await?;
    let pulls: Vec<_> = listing.items.iter().map(summary).collect();
    Ok(json!({
        "repo": repo.to_string(),
        "state": state.as_str(),
        "count": pulls.len(),
        "more": listing.more,
        "pulls": pulls,
    })
    .to_string())
}

fn summary(pull: &Pull) -> serde_json::Value {
    json!({
        "number": pull.number,
        "title": pull.title,
        "state": pull.state,
        "draft": pull.draft,
        "author": login(&pull.user),
        "head": pull.head.name,
        "base": pull.base.name,
        "created_at": pull.created_at,
        "updated_at": pull.updated_at,
        "merged_at": pull.merged_at,
        "url": pull.html_url,
    })
}

#[async_trait]
impl Tool for GithubGetPull {
    type Args = GetPullArgs;

    fn name(&self) -> &'static str {
        "github_get_pull"
    }

    fn description(&self) -> &'static str {
        "Read one GitHub pull request: title, state, author, branches, body, merge state and the \
         diff summary (each changed file with its additions and deletions)."
    }

    fn default_permission(&self) -> Permission {
        Permission::Allow
    }

    async fn call(&self, args: GetPullArgs, context: &CallContext) -> Result<String, ToolError> {
        get_pull(&self.client, args, context)
            .await
            .map_err(|error| error.into_tool_error(self.name()))
    }
}

async fn get_pull(
    client: &GithubClient,
    args: GetPullArgs,
    context: &CallContext,
) -> Result<String, GithubError> {
    let repo = client.repo(&args.repo)?;
    let number = number(args.number)?;
    let what = format!("pull request #{number} in repository {repo}");
    let pull: Pull = client
        .get(
            client.endpoint(&["repos", repo.owner(), repo.name(), "pulls", &number]),
            &what,
            context,
        )
        .await?;
    let files = client
        .list::<PullFile>(
            client.endpoint(&[
                "repos",
                repo.owner(),
                repo.name(),
                "pulls",
                &number,
                "files",
            ]),
            PageShape::Array,
            MAX_FILES,
            &format!("files of {what}"),
            |_| true,
            context,
        )
        .await?;
    let mut out = summary(&pull);
    out["repo"] = repo.to_string().into();
    out["head_sha"] = pull.head.sha.clone().into();
    out["base_sha"] = pull.base.sha.clone().into();
    out["closed_at"] = pull.closed_at.clone().into();
    out["merged"] = pull.merged.into();
    out["mergeable"] = pull.mergeable.into();
    out["commits"] = pull.commits.into();
    out["additions"] = pull.additions.into();
    out["deletions"] = pull.deletions.into();
    out["changed_files"] = pull.changed_files.into();
    out["body"] = cut_chars(pull.body.as_deref().unwrap_or_default(), MAX_BODY_CHARS).into();
    out["files_shown"] = files.items.len().into();
    out["files_more"] = files.more.into();
    out["files"] = files
        .items
        .iter()
        .map(|file| {
            let mut entry = json!({
                "path": file.filename,
                "status": file.status,
                "additions": file.additions,
                "deletions": file.deletions,
            });
            if let Some(previous) = &file.previous_filename {
                entry["previous_path"] = previous.as_str().into();
            }
            entry
        })
        .collect::<Vec<_>>()
        .into();
    Ok(out.to_string())
}
