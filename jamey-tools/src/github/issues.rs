//! The issue tools: `github_list_issues` and `github_get_issue` read; `github_create_issue`,
//! `github_comment_issue` and `github_close_issue` change GitHub, so they need a token and
//! are `ask` by default.

use async_trait::async_trait;
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::args::{limit, non_empty, number, ItemState};
use super::client::{cut_chars, GithubClient};
use super::error::GithubError;
use super::page::PageShape;
use super::wire::{login, Comment, Issue};
use crate::{CallContext, Permission, Tool, ToolError};

/// The most of an issue's body `github_get_issue` returns.
const MAX_BODY_CHARS: usize = 4000;
/// The most of a comment's body.
const MAX_COMMENT_CHARS: usize = 1000;
/// Comments `github_get_issue` returns, oldest first.
const MAX_COMMENTS: usize = 30;

/// Lists a repository's issues (not its pull requests).
#[derive(Debug, Clone)]
pub struct GithubListIssues {
    client: GithubClient,
}

/// Reads one issue with its comments.
#[derive(Debug, Clone)]
pub struct GithubGetIssue {
    client: GithubClient,
}

/// Opens an issue.
#[derive(Debug, Clone)]
pub struct GithubCreateIssue {
    client: GithubClient,
}

/// Comments on an issue or pull request.
#[derive(Debug, Clone)]
pub struct GithubCommentIssue {
    client: GithubClient,
}

/// Closes an issue.
#[derive(Debug, Clone)]
pub struct GithubCloseIssue {
    client: GithubClient,
}

macro_rules! constructors {
    ($($tool:ident),*) => {$(
        impl $tool {
            pub fn new(client: GithubClient) -> Self {
                Self { client }
            }
        }
    )*};
}
constructors!(
    GithubListIssues,
    GithubGetIssue,
    GithubCreateIssue,
    GithubCommentIssue,
    GithubCloseIssue
);

/// Arguments of `github_list_issues`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListIssuesArgs {
    /// The repository, `owner/name`.
    pub repo: String,
    /// `open` (default), `closed` or `all`.
    #[serde(default)]
    pub state: Option<ItemState>,
    /// How many issues to return (1 to 100, default 20), newest first.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Arguments of `github_get_issue` and `github_close_issue`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueArgs {
    /// The repository, `owner/name`.
    pub repo: String,
    /// The issue number.
    pub number: u64,
}

/// Arguments of `github_create_issue`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIssueArgs {
    /// The repository, `owner/name`.
    pub repo: String,
    pub title: String,
    /// Markdown.
    #[serde(default)]
    pub body: Option<String>,
}

/// Arguments of `github_comment_issue`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentIssueArgs {
    /// The repository, `owner/name`.
    pub repo: String,
    /// The issue (or pull request) number.
    pub number: u64,
    /// The comment, Markdown.
    pub body: String,
}

#[async_trait]
impl Tool for GithubListIssues {
    type Args = ListIssuesArgs;

    fn name(&self) -> &'static str {
        "github_list_issues"
    }

    fn description(&self) -> &'static str {
        "List a GitHub repository's issues (pull requests are left out), newest first: number, \
         title, state, author, labels, comment count, dates and URL."
    }

    fn default_permission(&self) -> Permission {
        Permission::Allow
    }

    async fn call(&self, args: ListIssuesArgs, context: &CallContext) -> Result<String, ToolError> {
        list_issues(&self.client, args, context)
            .await
            .map_err(|error| error.into_tool_error(self.name()))
    }
}

async fn list_issues(
    client: &GithubClient,
    args: ListIssuesArgs,
    context: &CallContext,
) -> Result<String, GithubError> {
    let repo = client.repo(&args.repo)?;
    let limit = limit(args.limit)?;
    let state = args.state.unwrap_or_default();
    let mut url = client.endpoint(&["repos", repo.owner(), repo.name(), "issues"]);
    url.query_pairs_mut().append_pair("state", state.as_str());
    let listing = client
        .list::<Issue>(
            url,
            PageShape::Array,
            limit,
            &format!("repository {repo}"),
            |issue| issue.pull_request.is_none(),
            context,
        )
        .await?;
    let issues: Vec<_> = listing.items.iter().map(summary).collect();
    Ok(json!({
        "repo": repo.to_string(),
        "state": state.as_str(),
        "count": issues.len(),
        "more": listing.more,
        "issues": issues,
    })
    .to_string())
}

fn summary(issue: &Issue) -> serde_json::Value {
    json!({
        "number": issue.number,
        "title": issue.title,
        "state": issue.state,
        "author": login(&issue.user),
        "labels": issue.labels.iter().map(|label| label.name.as_str()).collect::<Vec<_>>(),
        "comments": issue.comments,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "url": issue.html_url,
    })
}

#[async_trait]
impl Tool for GithubGetIssue {
    type Args = IssueArgs;

    fn name(&self) -> &'static str {
        "github_get_issue"
    }

    fn description(&self) -> &'static str {
        "Read one GitHub issue: title, state, author, labels, body and its comments (oldest \
         first, up to 30)."
    }

    fn default_permission(&self) -> Permission {
        Permission::Allow
    }

    async fn call(&self, args: IssueArgs, context: &CallContext) -> Result<String, ToolError> {
        get_issue(&self.client, args, context)
            .await
            .map_err(|error| error.into_tool_error(self.name()))
    }
}

async fn get_issue(
    client: &GithubClient,
    args: IssueArgs,
    context: &CallContext,
) -> Result<String, GithubError> {
    let repo = client.repo(&args.repo)?;
    let number = number(args.number)?;
    let what = format!("issue #{number} in repository {repo}");
    let issue: Issue = client
        .get(
            client.endpoint(&["repos", repo.owner(), repo.name(), "issues", &number]),
            &what,
            context,
        )
        .await?;
    let comments = if issue.comments > 0 {
        client
            .list::<Comment>(
                client.endpoint(&[
                    "repos",
                    repo.owner(),
                    repo.name(),
                    "issues",
                    &number,
                    "comments",
                ]),
                PageShape::Array,
                MAX_COMMENTS,
                &format!("comments of {what}"),
                |_| true,
                context,
            )
            .await?
            .items
    } else {
        Vec::new()
    };
    let mut out = summary(&issue);
    out["repo"] = repo.to_string().into();
    out["state_reason"] = issue.state_reason.clone().into();
    out["closed_at"] = issue.closed_at.clone().into();
    out["is_pull_request"] = issue.pull_request.is_some().into();
    out["body"] = cut_chars(issue.body.as_deref().unwrap_or_default(), MAX_BODY_CHARS).into();
    out["comments_shown"] = comments.len().into();
    out["comment_list"] = comments
        .iter()
        .map(|comment| {
            json!({
                "id": comment.id,
                "author": login(&comment.user),
                "created_at": comment.created_at,
                "body": cut_chars(comment.body.as_deref().unwrap_or_default(), MAX_COMMENT_CHARS),
            })
        })
        .collect::<Vec<_>>()
        .into();
    Ok(out.to_string())
}

#[async_trait]
impl Tool for GithubCreateIssue {
    type Args = CreateIssueArgs;

    fn name(&self) -> &'static str {
        "github_create_issue"
    }

    fn description(&self) -> &'static str {
        "Open a new issue in a GitHub repository with a title and an optional Markdown body. \
         Returns its number and URL."
    }

    async fn call(
        &self,
        args: CreateIssueArgs,
        context: &CallContext,
    ) -> Result<String, ToolError> {
        create_issue(&self.client, args, context)
            .await
            .map_err(|error| error.into_tool_error(self.name()))
    }
}

async fn create_issue(
    client: &GithubClient,
    args: CreateIssueArgs,
    context: &CallContext,
) -> Result<String, GithubError> {
    let repo = client.repo(&args.repo)?;
    non_empty("title", &args.title)?;
    client.require_token("creating an issue")?;
    let mut body = json!({"title": args.title});
    if let Some(text) = args.body {
        body["body"] = text.into();
    }
    let issue: Issue = client
        .send(
            Method::POST,
            client.endpoint(&["repos", repo.owner(), repo.name(), "issues"]),
            &body,
            &format!("repository {repo}"),
            context,
        )
        .await?;
    Ok(json!({
        "repo": repo.to_string(),
        "number": issue.number,
        "title": issue.title,
        "state": issue.state,
        "created_at": issue.created_at,
        "url": issue.html_url,
    })
    .to_string())
}

#[async_trait]
impl Tool for GithubCommentIssue {
    type Args = CommentIssueArgs;

    fn name(&self) -> &'static str {
        "github_comment_issue"
    }

    fn description(&self) -> &'static str {
        "Add a Markdown comment to a GitHub issue or pull request. Returns the comment's URL."
    }

    async fn call(
        &self,
        args: CommentIssueArgs,
        context: &CallContext,
    ) -> Result<String, ToolError> {
        comment_issue(&self.client, args, context)
            .await
            .map_err(|error| error.into_tool_error(self.name()))
    }
}

async fn comment_issue(
    client: &GithubClient,
    args: CommentIssueArgs,
    context: &CallContext,
) -> Result<String, GithubError> {
    let repo = client.repo(&args.repo)?;
    let number = number(args.number)?;
    non_empty("body", &args.body)?;
    client.require_token("commenting on an issue")?;
    let comment: Comment = client
        .send(
            Method::POST,
            client.endpoint(&[
                "repos",
                repo.owner(),
                repo.name(),
                "issues",
                &number,
                "comments",
            ]),
            &json!({"body": args.body}),
            &format!("issue #{number} in repository {repo}"),
            context,
        )
        .await?;
    Ok(json!({
        "repo": repo.to_string(),
        "number": args.number,
        "comment_id": comment.id,
        "created_at": comment.created_at,
        "url": comment.html_url,
    })
    .to_string())
}

#[async_trait]
impl Tool for GithubCloseIssue {
    type Args = IssueArgs;

    fn name(&self) -> &'static str {
        "github_close_issue"
    }

    fn description(&self) -> &'static str {
        "Close a GitHub issue (as completed)."
    }

    async fn call(&self, args: IssueArgs, context: &CallContext) -> Result<String, ToolError> {
        close_issue(&self.client, args, context)
            .await
            .map_err(|error| error.into_tool_error(self.name()))
    }
}

async fn close_issue(
    client: &GithubClient,
    args: IssueArgs,
    context: &CallContext,
) -> Result<String, GithubError> {
    let repo = client.repo(&args.repo)?;
    let number = number(args.number)?;
    client.require_token("closing an issue")?;
    let issue: Issue = client
        .send(
            Method::PATCH,
            client.endpoint(&["repos", repo.owner(), repo.name(), "issues", &number]),
            &json!({"state": "closed", "state_reason": "completed"}),
            &format!("issue #{number} in repository {repo}"),
            context,
        )
        .await?;
    Ok(json!({
        "repo": repo.to_string(),
        "number": issue.number,
        "title": issue.title,
        "state": issue.state,
        "state_reason": issue.state_reason,
        "closed_at": issue.closed_at,
        "url": issue.html_url,
    })
    .to_string())
}
