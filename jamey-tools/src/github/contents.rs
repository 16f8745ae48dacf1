//! `github_get_file`: a file's text through the contents API (base64 decoded), what a binary or
//! over-large file is instead of its bytes, and a directory's entries.

use async_trait::async_trait;
use base64::Engine as _;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::args::path_segments;
use super::client::GithubClient;
use super::error::GithubError;
use super::wire::{ContentItem, Contents};
use crate::{CallContext, Permission, Tool, ToolError};

/// The most of a file's text returned; the rest is marked as cut.
const MAX_TEXT_BYTES: usize = 48 * 1024;
/// Bytes looked at for a NUL when deciding whether a file is binary.
const BINARY_SNIFF_BYTES: usize = 8000;

/// Reads a file or lists a directory in a repository.
#[derive(Debug, Clone)]
pub struct GithubGetFile {
    client: GithubClient,
}

impl GithubGetFile {
    pub fn new(client: GithubClient) -> Self {
        Self { client }
    }
}

/// Arguments of `github_get_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetFileArgs {
    /// The repository, `owner/name`.
    pub repo: String,
    /// The file or directory inside it, e.g. `src/main.rs`; empty for the root.
    pub path: String,
    /// A branch, tag or commit; unset: the default branch.
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
}

#[async_trait]
impl Tool for GithubGetFile {
    type Args = GetFileArgs;

    fn name(&self) -> &'static str {
        "github_get_file"
    }

    fn description(&self) -> &'static str {
        "Read a file from a GitHub repository as text (at a branch, tag or commit with `ref`), \
         or list a directory's entries. Binary and very large files are described, not shown."
    }

    fn default_permission(&self) -> Permission {
        Permission::Allow
    }

    async fn call(&self, args: GetFileArgs, context: &CallContext) -> Result<String, ToolError> {
        get_file(&self.client, args, context)
            .await
            .map_err(|error| error.into_tool_error(self.name()))
    }
}

async fn get_file(
    client: &GithubClient,
    args: GetFileArgs,
    context: &CallContext,
) -> Result<String, GithubError> {
    let repo = client.repo(&args.repo)?;
    let segments = path_segments(&args.path)?;
    let mut all = vec!["repos", repo.owner(), repo.name(), "contents"];
    all.extend(&segments);
    let mut url = client.endpoint(&all);
    let git_ref = args
        .git_ref
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if let Some(git_ref) = git_ref {
        url.query_pairs_mut().append_pair("ref", git_ref);
    }
    let path = segments.join("/");
    let what = match git_ref {
        Some(git_ref) => format!("path {path:?} in repository {repo} at ref {git_ref:?}"),
        None => format!("path {path:?} in repository {repo}"),
    };
    let contents: Contents = client.get(url, &what, context).await?;
    let base = json!({"repo": repo.to_string(), "path": path, "ref": git_ref});
    Ok(match contents {
        Contents::Directory(entries) => directory(base, &entries),
        Contents::Entry(item) => entry(base, &item, &what)?,
    }
    .to_string())
}

fn directory(mut out: serde_json::Value, entries: &[ContentItem]) -> serde_json::Value {
    let listed: Vec<_> = entries
        .iter()
        .map(|entry| json!({"name": entry.name, "type": entry.kind, "size": entry.size}))
        .collect();
    out["type"] = "dir".into();
    out["count"] = listed.len().into();
    out["entries"] = listed.into();
    out
}

fn entry(
    mut out: serde_json::Value,
    item: &ContentItem,
    what: &str,
) -> Result<serde_json::Value, GithubError> {
    out["type"] = item.kind.as_str().into();
    out["size"] = item.size.into();
    out["sha"] = item.sha.clone().into();
    out["url"] = item.html_url.clone().into();
    match item.kind.as_str() {
        "file" => {}
        "symlink" => {
            out["target"] = item.target.clone().into();
            return Ok(out);
        }
        "submodule" => {
            out["submodule_url"] = item.submodule_git_url.clone().into();
            return Ok(out);
        }
        _ => return Ok(out),
    }
    let encoded = item.content.as_deref().unwrap_or_default();
    if item.encoding.as_deref() != Some("base64") || (encoded.is_empty() && item.size > 0) {
        out["note"] = format!(
            "the file is {} bytes, too large for GitHub's contents API (over 1 MB); not shown",
            item.size
        )
        .into();
        return Ok(out);
    }
    let compact: String = encoded
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|error| GithubError::Decode {
            what: what.into(),
            reason: format!("the content is not base64: {error}"),
        })?;
    let has_nul = bytes[..bytes.len().min(BINARY_SNIFF_BYTES)].contains(&0);
    let text = match String::from_utf8(bytes) {
        Ok(text) if !has_nul => text,
        _ => {
            out["note"] = format!("a binary file of {} bytes; not shown", item.size).into();
            return Ok(out);
        }
    };
    if text.len() > MAX_TEXT_BYTES {
        let mut end = MAX_TEXT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        out["content"] = text[..end].into();
        out["truncated"] = true.into();
        out["note"] = format!("only the first {end} of {} bytes are shown", text.len()).into();
    } else {
        out["content"] = text.into();
        out["truncated"] = false.into();
    }
    Ok(out)
}
