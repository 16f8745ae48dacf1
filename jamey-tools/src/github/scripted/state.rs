//! The scripted GitHub's data (repositories with their files, issues, pull requests and
//! comments) and its rendering in GitHub's JSON shapes.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use base64::Engine as _;
use serde_json::{json, Value};

/// The contents API sends no content for files over 1 MB.
pub(super) const CONTENTS_LIMIT: usize = 1024 * 1024;

#[derive(Debug, Default)]
pub(super) struct Data {
    pub(super) repos: Vec<RepoData>,
    next_id: u64,
}

#[derive(Debug)]
pub(super) struct RepoData {
    pub(super) id: u64,
    pub(super) owner: String,
    pub(super) name: String,
    pub(super) private: bool,
    pub(super) files: BTreeMap<String, FileData>,
    /// Issues and pull requests, by number from 1.
    pub(super) issues: Vec<IssueData>,
    pub(super) comments: Vec<CommentData>,
}

#[derive(Debug)]
pub(super) struct FileData {
    pub(super) content: Vec<u8>,
}

#[derive(Debug)]
pub(super) struct IssueData {
    pub(super) id: u64,
    pub(super) number: u64,
    pub(super) title: String,
    pub(super) body: Option<String>,
    pub(super) author: String,
    pub(super) state: &'static str,
    pub(super) state_reason: Option<String>,
    pub(super) created_at: String,
    pub(super) updated_at: String,
    pub(super) closed_at: Option<String>,
    pub(super) labels: Vec<String>,
    pub(super) pull: Option<PullData>,
}

#[derive(Debug)]
pub(super) struct PullData {
    pub(super) head: String,
    pub(super) base: String,
    /// `(path, additions, deletions)`.
    pub(super) files: Vec<(String, u64, u64)>,
}

#[derive(Debug)]
pub(super) struct CommentData {
    pub(super) id: u64,
    pub(super) issue: u64,
    pub(super) author: String,
    pub(super) body: String,
    pub(super) created_at: String,
}

pub(super) fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl IssueData {
    pub(super) fn new(title: &str, body: Option<String>, author: &str) -> Self {
        let at = now();
        Self {
            id: 0,
            number: 0,
            title: title.to_owned(),
            body,
            author: author.to_owned(),
            state: "open",
            state_reason: None,
            created_at: at.clone(),
            updated_at: at,
            closed_at: None,
            labels: vec!["bug".into()],
            pull: None,
        }
    }

    pub(super) fn close(&mut self) {
        let at = now();
        self.state = "closed";
        self.state_reason = Some("completed".into());
        self.closed_at = Some(at.clone());
        self.updated_at = at;
    }
}

impl Data {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        1000 + self.next_id
    }

    pub(super) fn add_repo(&mut self, full_name: &str, private: bool) {
        let (owner, name) = full_name.split_once('/').unwrap_or((full_name, full_name));
        let id = self.id();
        self.repos.push(RepoData {
            id,
            owner: owner.to_owned(),
            name: name.to_owned(),
            private,
            files: BTreeMap::new(),
            issues: Vec::new(),
            comments: Vec::new(),
        });
    }

    pub(super) fn repo(&self, full_name: &str) -> Option<&RepoData> {
        self.repos
            .iter()
            .find(|repo| repo.full_name().eq_ignore_ascii_case(full_name))
    }

    pub(super) fn repo_mut(&mut self, full_name: &str) -> Option<&mut RepoData> {
        self.repos
            .iter_mut()
            .find(|repo| repo.full_name().eq_ignore_ascii_case(full_name))
    }

    /// Runs `change` on the repository; a test naming an unknown one is a test bug: it panics.
    pub(super) fn with_repo(&mut self, full_name: &str, change: impl FnOnce(&mut RepoData)) {
        match self.repo_mut(full_name) {
            Some(repo) => change(repo),
            None => panic!("scripted GitHub: no repository {full_name}"),
        }
    }

    pub(super) fn with_issue(
        &mut self,
        repo: &str,
        number: u64,
        change: impl FnOnce(&mut IssueData),
    ) {
        self.with_repo(repo, |repo| match repo.issue_mut(number) {
            Some(issue) => change(issue),
            None => panic!("scripted GitHub: no issue #{number}"),
        });
    }

    pub(super) fn add_issue(&mut self, repo: &str, mut issue: IssueData) -> u64 {
        issue.id = self.id();
        let mut number = 0;
        self.with_repo(repo, |repo| {
            number = repo.issues.len() as u64 + 1;
            issue.number = number;
            repo.issues.push(issue);
        });
        number
    }

    pub(super) fn add_comment(&mut self, repo: &str, number: u64, body: &str, author: &str) -> u64 {
        let id = self.id();
        self.with_repo(repo, |repo| {
            repo.comments.push(CommentData {
                id,
                issue: number,
                author: author.to_owned(),
                body: body.to_owned(),
                created_at: now(),
            });
        });
        id
    }

    pub(super) fn find_issue(&self, repo: &str, number: u64) -> Option<(&RepoData, &IssueData)> {
        let repo = self.repo(repo)?;
        Some((repo, repo.issue(number)?))
    }
}

impl RepoData {
    pub(super) fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    pub(super) fn issue(&self, number: u64) -> Option<&IssueData> {
        self.issues.iter().find(|issue| issue.number == number)
    }

    pub(super) fn issue_mut(&mut self, number: u64) -> Option<&mut IssueData> {
        self.issues.iter_mut().find(|issue| issue.number == number)
    }

    pub(super) fn comment_count(&self, number: u64) -> usize {
        self.comments.iter().filter(|c| c.issue == number).count()
    }
}

fn user_json(origin: &str, prefix: &str, login: &str) -> Value {
    json!({
        "login": login,
        "id": fake_id(login),
        "type": "User",
        "site_admin": false,
        "url": format!("{origin}{prefix}/users/{login}"),
        "html_url": format!("{origin}/{login}"),
    })
}

fn fake_id(text: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish() % 100_000_000
}

/// A 40-hex-digit stand-in for a git object id.
pub(super) fn fake_sha(content: &[u8]) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    content.hash(&mut hasher);
    let hash = hasher.finish();
    format!("{hash:016x}{hash:016x}{:08x}", hash >> 32)
}

pub(super) fn repo_json(origin: &str, prefix: &str, repo: &RepoData) -> Value {
    let full = repo.full_name();
    json!({
        "id": repo.id,
        "node_id": format!("R_{}", repo.id),
        "name": repo.name,
        "full_name": full,
        "private": repo.private,
        "owner": user_json(origin, prefix, &repo.owner),
        "html_url": format!("{origin}/{full}"),
        "description": format!("The {} project", repo.name),
        "fork": false,
        "url": format!("{origin}{prefix}/repos/{full}"),
        "language": "Rust",
        "stargazers_count": 42,
        "watchers_count": 42,
        "forks_count": 3,
        "open_issues_count": repo.issues.iter().filter(|i| i.state == "open").count(),
        "default_branch": "main",
        "archived": false,
        "disabled": false,
        "visibility": if repo.private { "private" } else { "public" },
        "created_at": "2020-01-26T19:01:12Z",
        "updated_at": "2024-05-01T10:00:00Z",
        "pushed_at": "2024-05-01T10:00:00Z",
    })
}

pub(super) fn issue_json(origin: &str, prefix: &str, repo: &RepoData, issue: &IssueData) -> Value {
    let full = repo.full_name();
    let api = format!("{origin}{prefix}/repos/{full}");
    let kind = if issue.pull.is_some() {
        "pull"
    } else {
        "issues"
    };
    let mut value = json!({
        "id": issue.id,
        "node_id": format!("I_{}", issue.id),
        "url": format!("{api}/issues/{}", issue.number),
        "repository_url": api,
        "comments_url": format!("{api}/issues/{}/comments", issue.number),
        "html_url": format!("{origin}/{full}/{kind}/{}", issue.number),
        "number": issue.number,
        "state": issue.state,
        "state_reason": issue.state_reason,
        "title": issue.title,
        "body": issue.body,
        "user": user_json(origin, prefix, &issue.author),
        "labels": issue.labels.iter().map(|name| json!({
            "id": fake_id(name), "name": name, "color": "d73a4a", "default": true,
            "description": "Something isn't working",
        })).collect::<Vec<_>>(),
        "assignee": null,
        "assignees": [],
        "milestone": null,
        "locked": false,
        "comments": repo.comment_count(issue.number),
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "closed_at": issue.closed_at,
        "author_association": "OWNER",
    });
    if issue.pull.is_some() {
        value["pull_request"] = json!({
            "url": format!("{api}/pulls/{}", issue.number),
            "html_url": format!("{origin}/{full}/pull/{}", issue.number),
            "diff_url": format!("{origin}/{full}/pull/{}.diff", issue.number),
            "patch_url": format!("{origin}/{full}/pull/{}.patch", issue.number),
            "merged_at": null,
        });
    }
    value
}

pub(super) fn comment_json(
    origin: &str,
    prefix: &str,
    repo: &RepoData,
    comment: &CommentData,
) -> Value {
    let full = repo.full_name();
    json!({
        "id": comment.id,
        "node_id": format!("IC_{}", comment.id),
        "url": format!("{origin}{prefix}/repos/{full}/issues/comments/{}", comment.id),
        "html_url": format!("{origin}/{full}/issues/{}#issuecomment-{}", comment.issue, comment.id),
        "issue_url": format!("{origin}{prefix}/repos/{full}/issues/{}", comment.issue),
        "user": user_json(origin, prefix, &comment.author),
        "created_at": comment.created_at,
        "updated_at": comment.created_at,
        "author_association": "OWNER",
        "body": comment.body,
    })
}

/// A pull request; `full` adds what only `GET /pulls/N` sends (merge state, counts).
pub(super) fn pull_json(
    origin: &str,
    prefix: &str,
    repo: &RepoData,
    issue: &IssueData,
    full: bool,
) -> Value {
    let Some(pull) = &issue.pull else {
        return Value::Null;
    };
    let name = repo.full_name();
    let api = format!("{origin}{prefix}/repos/{name}");
    let branch = |branch: &str| {
        json!({
            "label": format!("{}:{branch}", repo.owner),
            "ref": branch,
            "sha": fake_sha(branch.as_bytes()),
            "user": user_json(origin, prefix, &repo.owner),
            "repo": repo_json(origin, prefix, repo),
        })
    };
    let mut value = json!({
        "url": format!("{api}/pulls/{}", issue.number),
        "id": issue.id,
        "node_id": format!("PR_{}", issue.id),
        "html_url": format!("{origin}/{name}/pull/{}", issue.number),
        "diff_url": format!("{origin}/{name}/pull/{}.diff", issue.number),
        "patch_url": format!("{origin}/{name}/pull/{}.patch", issue.number),
        "issue_url": format!("{api}/issues/{}", issue.number),
        "number": issue.number,
        "state": issue.state,
        "locked": false,
        "title": issue.title,
        "user": user_json(origin, prefix, &issue.author),
        "body": issue.body,
        "labels": [],
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "closed_at": issue.closed_at,
        "merged_at": null,
        "merge_commit_sha": null,
        "draft": false,
        "head": branch(&pull.head),
        "base": branch(&pull.base),
        "author_association": "OWNER",
    });
    if full {
        value["merged"] = false.into();
        value["mergeable"] = true.into();
        value["mergeable_state"] = "clean".into();
        value["comments"] = repo.comment_count(issue.number).into();
        value["review_comments"] = 0.into();
        value["commits"] = 1.into();
        value["additions"] = pull.files.iter().map(|f| f.1).sum::<u64>().into();
        value["deletions"] = pull.files.iter().map(|f| f.2).sum::<u64>().into();
        value["changed_files"] = pull.files.len().into();
    }
    value
}

pub(super) fn pull_file_json(origin: &str, repo: &RepoData, file: &(String, u64, u64)) -> Value {
    let (path, additions, deletions) = file;
    let name = repo.full_name();
    json!({
        "sha": fake_sha(path.as_bytes()),
        "filename": path,
        "status": if *deletions == 0 { "added" } else { "modified" },
        "additions": additions,
        "deletions": deletions,
        "changes": additions + deletions,
        "blob_url": format!("{origin}/{name}/blob/head/{path}"),
        "raw_url": format!("{origin}/{name}/raw/head/{path}"),
        "patch": format!("@@ -1,{deletions} +1,{additions} @@"),
    })
}

/// A file through the contents API: base64 in lines of 60, as GitHub sends it.
pub(super) fn file_json(
    origin: &str,
    prefix: &str,
    repo: &RepoData,
    path: &str,
    file: &FileData,
) -> Value {
    let name = repo.full_name();
    let too_large = file.content.len() > CONTENTS_LIMIT;
    let content = if too_large {
        String::new()
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&file.content);
        let mut lines = String::new();
        for chunk in encoded.as_bytes().chunks(60) {
            lines.push_str(&String::from_utf8_lossy(chunk));
            lines.push('\n');
        }
        lines
    };
    let file_name = path.rsplit('/').next().unwrap_or(path);
    json!({
        "type": "file",
        "encoding": if too_large { "none" } else { "base64" },
        "size": file.content.len(),
        "name": file_name,
        "path": path,
        "content": content,
        "sha": fake_sha(&file.content),
        "url": format!("{origin}{prefix}/repos/{name}/contents/{path}?ref=main"),
        "html_url": format!("{origin}/{name}/blob/main/{path}"),
        "download_url": format!("{origin}/raw/{name}/main/{path}"),
    })
}

/// A directory member of the contents API.
pub(super) fn entry_json(
    origin: &str,
    prefix: &str,
    repo: &RepoData,
    path: &str,
    kind: &str,
    size: usize,
) -> Value {
    let name = repo.full_name();
    json!({
        "type": kind,
        "size": size,
        "name": path.rsplit('/').next().unwrap_or(path),
        "path": path,
        "sha": fake_sha(path.as_bytes()),
        "url": format!("{origin}{prefix}/repos/{name}/contents/{path}?ref=main"),
        "html_url": format!("{origin}/{name}/tree/main/{path}"),
    })
}
