//! `github_list_repos` and `github_search_code`: finding repositories and code. Results outside
//! `[github] repositories` are left out, so the model only sees what it may touch.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::args::limit;
use super::client::GithubClient;
use super::error::GithubError;
use super::page::PageShape;
use super::scope::{check_owner, RepoName};
use super::wire::{CodeHit, Repo};
use crate::{CallContext, Permission, Tool, ToolError};

/// Lists the user's repositories, or an owner's.
#[derive(Debug, Clone)]
pub struct GithubListRepos {
    client: GithubClient,
}

impl GithubListRepos {
    pub fn new(client: GithubClient) -> Self {
        Self { client }
    }
}

/// Arguments of `github_list_repos`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListReposArgs {
    /// A user or organisation whose public repositories to list; unset: the repositories the
    /// token's user can reach.
    #[serde(default)]
    pub owner: Option<String>,
    /// How many repositories to return (1 to 100, default 20), most recently updated first.
    #[serde(default)]
    pub limit: Option<u32>,
}

#[async_trait]
impl Tool for GithubListRepos {
    type Args = ListReposArgs;

    fn name(&self) -> &'static str {
        "github_list_repos"
    }

    fn description(&self) -> &'static str {
        "List GitHub repositories: the user's own (no owner) or those of a user or organisation \
         (owner), most recently updated first, with description, language, visibility and URL."
    }

    fn default_permission(&self) -> Permission {
        Permission::Allow
    }

    async fn call(&self, args: ListReposArgs, context: &CallContext) -> Result<String, ToolError> {
        list_repos(&self.client, args, context)
            .await
            .map_err(|error| error.into_tool_error(self.name()))
    }
}

async fn list_repos(
    client: &GithubClient,
    args: ListReposArgs,
    context: &CallContext,
) -> Result<String, GithubError> {
    let limit = limit(args.limit)?;
    let (mut url, what) = match &args.owner {
        Some(owner) => {
            check_owner(owner).map_err(|reason| GithubError::InvalidArgument {
                field: "owner",
                reason,
            })?;
            (
                client.endpoint(&["users", owner, "repos"]),
                format!("user or organisation {owner}"),
            )
        }
        None => {
            client.require_token(
                "listing your own repositories (give `owner` to list someone's public ones)",
            )?;
            (
                client.endpoint(&["user", "repos"]),
                "repositories of the token's user".into(),
            )
        }
    };
    url.query_pairs_mut().append_pair("sort", "updated");
    let scope = client.config().repositories.clone();
    let listing = client
        .list::<Repo>(
            url,
            PageShape::Array,
            limit,
            &what,
            |repo| {
                repo.full_name
                    .parse::<RepoName>()
                    .is_ok_and(|name| scope.allows(&name))
            },
            context,
        )
        .await?;
    let repos: Vec<_> = listing
        .items
        .iter()
        .map(|repo| {
            json!({
                "repo": repo.full_name,
                "description": repo.description,
                "private": repo.private,
                "fork": repo.fork,
                "archived": repo.archived,
                "default_branch": repo.default_branch,
                "language": repo.language,
                "stars": repo.stargazers_count,
                "updated_at": repo.updated_at,
                "url": repo.html_url,
            })
        })
        .collect();
    Ok(json!({"count": repos.len(), "more": listing.more, "repositories": repos}).to_string())
}

/// Searches code with GitHub's code search.
#[derive(Debug, Clone)]
pub struct GithubSearchCode {
    client: GithubClient,
}

impl GithubSearchCode {
    pub fn new(client: GithubClient) -> Self {
        Self { client }
    }
}

/// Arguments of `github_search_code`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchCodeArgs {
    /// GitHub code search syntax, e.g. `parse_config language:rust`.
    pub query: String,
    /// Only this repository (`owner/name`).
    #[serde(default)]
    pub repo: Option<String>,
    /// How many matches to return (1 to 100, default 20).
    #[serde(default)]
    pub limit: Option<u32>,
}

#[async_trait]
impl Tool for GithubSearchCode {
    type Args = SearchCodeArgs;

    fn name(&self) -> &'static str {
        "github_search_code"
    }

    fn description(&self) -> &'static str {
        "Search code on GitHub (GitHub's code search syntax), optionally in one repository. \
         Returns the matching files: repository, path and URL. Read one with github_get_file."
    }

    fn default_permission(&self) -> Permission {
        Permission::Allow
    }

    async fn call(&self, args: SearchCodeArgs, context: &CallContext) -> Result<String, ToolError> {
        search_code(&self.client, args, context)
            .await
            .map_err(|error| error.into_tool_error(self.name()))
    }
}

async fn search_code(
    client: &GithubClient,
    args: SearchCodeArgs,
    context: &CallContext,
) -> Result<String, GithubError> {
    super::args::non_empty("query", &args.query)?;
    let limit = limit(args.limit)?;
    let mut query = args.query.trim().to_owned();
    if let Some(repo) = &args.repo {
        let repo = client.repo(repo)?;
        query.push_str(&format!(" repo:{repo}"));
    }
    let mut url = client.endpoint(&["search", "code"]);
    url.query_pairs_mut().append_pair("q", &query);
    let scope = client.config().repositories.clone();
    // The query may name any repository itself (`repo:` qualifiers): the scope filters hits.
    let listing = client
        .list::<CodeHit>(
            url,
            PageShape::SearchItems,
            limit,
            "code search results",
            |hit| {
                hit.repository
                    .full_name
                    .parse::<RepoName>()
                    .is_ok_and(|name| scope.allows(&name))
            },
            context,
        )
        .await?;
    let hits: Vec<_> = listing
        .items
        .iter()
        .map(|hit| {
            json!({
                "repo": hit.repository.full_name,
                "path": hit.path,
                "name": hit.name,
                "sha": hit.sha,
                "url": hit.html_url,
            })
        })
        .collect();
    Ok(json!({
        "query": query,
        "total_count": listing.total_count,
        "count": hits.len(),
        "more": listing.more,
        "matches": hits,
    })
    .to_string())
}
