//! The scripted GitHub's routes: authentication, visibility, each endpoint the connector uses,
//! `Link` pagination, GitHub's error bodies and the rate-limit answers of queued faults.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::state::{
    comment_json, entry_json, file_json, issue_json, pull_file_json, pull_json, repo_json, Data,
    IssueData, RepoData,
};
use super::{percent_decode, Fault, Shared};

const DOCS: &str = "https://docs.github.com/rest";

/// Who a request is, by its `Authorization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    Anonymous,
    Valid,
    Invalid,
}

/// What a route needs to answer.
struct Request<'a> {
    shared: &'a Shared,
    auth: Auth,
    path: &'a str,
    query: &'a [(String, String)],
    body: &'a Value,
}

impl Request<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

pub(super) fn dispatch(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &Value,
) -> Response {
    let auth = authenticate(shared, headers);
    if auth == Auth::Invalid {
        return error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    let Some(rest) = path.strip_prefix(shared.prefix.as_str()) else {
        return not_found();
    };
    let segments: Vec<String> = rest
        .trim_start_matches('/')
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(|segment| percent_decode(segment, false))
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let request = Request {
        shared,
        auth,
        path,
        query,
        body,
    };
    let mut data = shared.data.lock();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["user", "repos"]) => {
            if auth != Auth::Valid {
                return requires_authentication();
            }
            let repos: Vec<Value> = data
                .repos
                .iter()
                .map(|r| repo_json(&shared.origin, &shared.prefix, r))
                .collect();
            paginate(&request, repos)
        }
        ("GET", ["users", owner, "repos"]) => {
            let repos: Vec<Value> = data
                .repos
                .iter()
                .filter(|r| {
                    r.owner.eq_ignore_ascii_case(owner) && (!r.private || auth == Auth::Valid)
                })
                .map(|r| repo_json(&shared.origin, &shared.prefix, r))
                .collect();
            if repos.is_empty()
                && !data
                    .repos
                    .iter()
                    .any(|r| r.owner.eq_ignore_ascii_case(owner))
            {
                return not_found();
            }
            paginate(&request, repos)
        }
        ("GET", ["search", "code"]) => search_code(&request, &data),
        ("GET", ["repos", owner, name, "contents", path @ ..]) => {
            with_repo(&request, &data, owner, name, |repo| {
                contents(&request, repo, &path.join("/"))
            })
        }
        ("GET", ["repos", owner, name, "issues"]) => {
            with_repo(&request, &data, owner, name, |repo| {
                let state = request.param("state").unwrap_or("open");
                let issues = repo
                    .issues
                    .iter()
                    .rev()
                    .filter(|issue| state == "all" || issue.state == state)
                    .map(|issue| issue_json(&shared.origin, &shared.prefix, repo, issue))
                    .collect();
                paginate(&request, issues)
            })
        }
        ("POST", ["repos", owner, name, "issues"]) => {
            let full = format!("{owner}/{name}");
            if visible(&request, &data, &full).is_none() {
                return not_found();
            }
            if auth != Auth::Valid {
                return requires_authentication();
            }
            let title = body["title"].as_str().unwrap_or_default();
            if title.trim().is_empty() {
                return validation_failed("Issue", "title", "missing_field");
            }
            let issue = IssueData::new(title, body["body"].as_str().map(str::to_owned), "octocat");
            let number = data.add_issue(&full, issue);
            let (repo, issue) = match data.find_issue(&full, number) {
                Some(found) => found,
                None => return not_found(),
            };
            json_response(
                StatusCode::CREATED,
                issue_json(&shared.origin, &shared.prefix, repo, issue),
                &[],
            )
        }
        ("GET", ["repos", owner, name, "issues", number]) => {
            with_repo(&request, &data, owner, name, |repo| {
                match number.parse().ok().and_then(|n| repo.issue(n)) {
                    Some(issue) => ok(issue_json(&shared.origin, &shared.prefix, repo, issue)),
                    None => not_found(),
                }
            })
        }
        ("PATCH", ["repos", owner, name, "issues", number]) => {
            let full = format!("{owner}/{name}");
            update_issue(&request, &mut data, &full, number)
        }
        ("GET", ["repos", owner, name, "issues", number, "comments"]) => {
            with_repo(&request, &data, owner, name, |repo| {
                let Some(issue) = number.parse().ok().and_then(|n| repo.issue(n)) else {
                    return not_found();
                };
                let comments = repo
                    .comments
                    .iter()
                    .filter(|comment| comment.issue == issue.number)
                    .map(|comment| comment_json(&shared.origin, &shared.prefix, repo, comment))
                    .collect();
                paginate(&request, comments)
            })
        }
        ("POST", ["repos", owner, name, "issues", number, "comments"]) => {
            let full = format!("{owner}/{name}");
            let Some(number) = visible(&request, &data, &full)
                .and_then(|repo| number.parse().ok().and_then(|n| repo.issue(n)))
                .map(|issue| issue.number)
            else {
                return not_found();
            };
            if auth != Auth::Valid {
                return requires_authentication();
            }
            let Some(text) = body["body"].as_str().filter(|text| !text.trim().is_empty()) else {
                return validation_failed("IssueComment", "body", "missing_field");
            };
            let id = data.add_comment(&full, number, text, "octocat");
            let Some(repo) = data.repo(&full) else {
                return not_found();
            };
            match repo.comments.iter().find(|comment| comment.id == id) {
                Some(comment) => json_response(
                    StatusCode::CREATED,
                    comment_json(&shared.origin, &shared.prefix, repo, comment),
                    &[],
                ),
                None => not_found(),
            }
        }
        ("GET", ["repos", owner, name, "pulls"]) => {
            with_repo(&request, &data, owner, name, |repo| {
                let state = request.param("state").unwrap_or("open");
                let pulls = repo
                    .issues
                    .iter()
                    .rev()
                    .filter(|issue| {
                        issue.pull.is_some() && (state == "all" || issue.state == state)
                    })
                    .map(|issue| pull_json(&shared.origin, &shared.prefix, repo, issue, false))
                    .collect();
                paginate(&request, pulls)
            })
        }
        ("GET", ["repos", owner, name, "pulls", number]) => {
            with_repo(&request, &data, owner, name, |repo| {
                match pull(repo, number) {
                    Some(issue) => ok(pull_json(&shared.origin, &shared.prefix, repo, issue, true)),
                    None => not_found(),
                }
            })
        }
        ("GET", ["repos", owner, name, "pulls", number, "files"]) => {
            with_repo(&request, &data, owner, name, |repo| {
                match pull(repo, number).and_then(|issue| issue.pull.as_ref()) {
                    Some(pull) => {
                        let files = pull
                            .files
                            .iter()
                            .map(|file| pull_file_json(&shared.origin, repo, file))
                            .collect();
                        paginate(&request, files)
                    }
                    None => not_found(),
                }
            })
        }
        _ => not_found(),
    }
}

fn authenticate(shared: &Shared, headers: &HeaderMap) -> Auth {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Auth::Anonymous;
    };
    let sent = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("token "))
        .unwrap_or_default();
    match &*shared.token.lock() {
        Some(token) if token != sent => Auth::Invalid,
        _ => Auth::Valid,
    }
}

/// The repository if this caller may see it (a private one only with the token).
fn visible<'a>(request: &Request<'_>, data: &'a Data, full: &str) -> Option<&'a RepoData> {
    data.repo(full)
        .filter(|repo| !repo.private || request.auth == Auth::Valid)
}

fn with_repo(
    request: &Request<'_>,
    data: &Data,
    owner: &str,
    name: &str,
    answer: impl FnOnce(&RepoData) -> Response,
) -> Response {
    match visible(request, data, &format!("{owner}/{name}")) {
        Some(repo) => answer(repo),
        None => not_found(),
    }
}

fn pull<'a>(repo: &'a RepoData, number: &str) -> Option<&'a IssueData> {
    number
        .parse()
        .ok()
        .and_then(|n| repo.issue(n))
        .filter(|issue| issue.pull.is_some())
}

fn update_issue(request: &Request<'_>, data: &mut Data, full: &str, number: &str) -> Response {
    let Some(number) = visible(request, data, full)
        .and_then(|repo| number.parse().ok().and_then(|n| repo.issue(n)))
        .map(|issue| issue.number)
    else {
        return not_found();
    };
    if request.auth != Auth::Valid {
        return requires_authentication();
    }
    match request.body["state"].as_str() {
        None => {}
        Some("closed") => data.with_issue(full, number, IssueData::close),
        Some("open") => data.with_issue(full, number, |issue| {
            issue.state = "open";
            issue.state_reason = Some("reopened".into());
            issue.closed_at = None;
        }),
        Some(_) => return validation_failed("Issue", "state", "invalid"),
    }
    match data.find_issue(full, number) {
        Some((repo, issue)) => ok(issue_json(
            &request.shared.origin,
            &request.shared.prefix,
            repo,
            issue,
        )),
        None => not_found(),
    }
}

fn contents(request: &Request<'_>, repo: &RepoData, path: &str) -> Response {
    if let Some(git_ref) = request.param("ref") {
        if git_ref != "main" {
            return error(
                StatusCode::NOT_FOUND,
                &format!("No commit found for the ref {git_ref}"),
            );
        }
    }
    let (origin, prefix) = (&request.shared.origin, &request.shared.prefix);
    if let Some(file) = repo.files.get(path) {
        return ok(file_json(origin, prefix, repo, path, file));
    }
    let dir = if path.is_empty() {
        String::new()
    } else {
        format!("{path}/")
    };
    let mut entries: Vec<Value> = Vec::new();
    let mut seen_dirs: Vec<String> = Vec::new();
    for (file_path, file) in &repo.files {
        let Some(rest) = file_path.strip_prefix(&dir) else {
            continue;
        };
        match rest.split_once('/') {
            None => entries.push(entry_json(
                origin,
                prefix,
                repo,
                file_path,
                "file",
                file.content.len(),
            )),
            Some((sub, _)) => {
                let sub_path = format!("{dir}{sub}");
                if !seen_dirs.contains(&sub_path) {
                    entries.push(entry_json(origin, prefix, repo, &sub_path, "dir", 0));
                    seen_dirs.push(sub_path);
                }
            }
        }
    }
    if entries.is_empty() {
        return not_found();
    }
    ok(Value::Array(entries))
}

fn search_code(request: &Request<'_>, data: &Data) -> Response {
    if request.auth != Auth::Valid {
        return json_response(
            StatusCode::UNAUTHORIZED,
            json!({
                "message": "Requires authentication",
                "errors": [{"message": "Must be authenticated to access the code search API", "resource": "Search", "field": "q", "code": "invalid"}],
                "documentation_url": format!("{DOCS}/search/search#search-code"),
                "status": "401",
            }),
            &[],
        );
    }
    let query = request.param("q").unwrap_or_default();
    let mut repos = Vec::new();
    let mut terms = Vec::new();
    for word in query.split_whitespace() {
        match word.split_once(':') {
            Some(("repo", repo)) => repos.push(repo.to_ascii_lowercase()),
            Some(_) => {}
            None => terms.push(word.to_ascii_lowercase()),
        }
    }
    if terms.is_empty() {
        return validation_failed("Search", "q", "missing");
    }
    let mut items = Vec::new();
    for repo in data
        .repos
        .iter()
        .filter(|repo| !repo.private || request.auth == Auth::Valid)
    {
        let full = repo.full_name();
        if !repos.is_empty() && !repos.contains(&full.to_ascii_lowercase()) {
            continue;
        }
        for (path, file) in &repo.files {
            let text = String::from_utf8_lossy(&file.content).to_ascii_lowercase();
            if terms
                .iter()
                .all(|term| text.contains(term) || path.to_ascii_lowercase().contains(term))
            {
                items.push(json!({
                    "name": path.rsplit('/').next().unwrap_or(path),
                    "path": path,
                    "sha": super::state::fake_sha(&file.content),
                    "url": format!("{}{}/repos/{full}/contents/{path}?ref=main", request.shared.origin, request.shared.prefix),
                    "html_url": format!("{}/{full}/blob/main/{path}", request.shared.origin),
                    "repository": repo_json(&request.shared.origin, &request.shared.prefix, repo),
                    "score": 1.0,
                }));
            }
        }
    }
    paginate(request, items)
}

/// One page of `items` by `page` and `per_page` (default 30, capped at the server's page size),
/// with GitHub's `Link` header; search results come wrapped as `{total_count, items}`.
fn paginate(request: &Request<'_>, items: Vec<Value>) -> Response {
    let asked: usize = request
        .param("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let per_page = asked
        .clamp(1, 100)
        .min(request.shared.page_size.load(Ordering::SeqCst));
    let page: usize = request
        .param("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let total = items.len();
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let link_to = |target: usize| {
        let mut pairs: Vec<String> = request
            .query
            .iter()
            .filter(|(key, _)| key != "page")
            .map(|(key, value)| format!("{key}={}", encode(value)))
            .collect();
        pairs.push(format!("page={target}"));
        format!(
            "<{}{}?{}>",
            request.shared.origin,
            request.path,
            pairs.join("&")
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
        links.push(format!("{}; rel=\"last\"", link_to(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", link_to(1)));
    }
    let body = if request.path.ends_with("/search/code") {
        json!({"total_count": total, "incomplete_results": false, "items": slice})
    } else {
        Value::Array(slice)
    };
    let link = links.join(", ");
    let headers: Vec<(&str, String)> = if link.is_empty() {
        Vec::new()
    } else {
        vec![("link", link)]
    };
    json_response(StatusCode::OK, body, &headers)
}

/// Percent-encodes a query value for a `Link` URL.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

pub(super) fn fault_response(fault: Fault) -> Response {
    let reset_at = |secs: u64| {
        (SystemTime::now() + Duration::from_secs(secs))
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
            .to_string()
    };
    match fault {
        Fault::TooManyRequests { retry_after_secs } => json_response(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"message": "Too Many Requests", "documentation_url": format!("{DOCS}/using-the-rest-api/rate-limits-for-the-rest-api"), "status": "429"}),
            &[
                ("retry-after", retry_after_secs.to_string()),
                ("x-ratelimit-remaining", "4000".into()),
            ],
        ),
        Fault::SecondaryLimit { retry_after_secs } => {
            let mut headers = vec![("x-ratelimit-remaining", "4000".to_owned())];
            if let Some(secs) = retry_after_secs {
                headers.push(("retry-after", secs.to_string()));
            }
            json_response(
                StatusCode::FORBIDDEN,
                json!({
                    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID C0DE:1234:5678.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                    "status": "403",
                }),
                &headers,
            )
        }
        Fault::PrimaryLimit { reset_in_secs } => json_response(
            StatusCode::FORBIDDEN,
            json!({
                "message": "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)",
                "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
            }),
            &[
                ("x-ratelimit-limit", "60".into()),
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", reset_at(reset_in_secs)),
                ("x-ratelimit-used", "60".into()),
                ("x-ratelimit-resource", "core".into()),
            ],
        ),
        Fault::Status { status, body } => json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
            &[],
        ),
    }
}

fn ok(body: Value) -> Response {
    json_response(StatusCode::OK, body, &[])
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

fn requires_authentication() -> Response {
    error(StatusCode::UNAUTHORIZED, "Requires authentication")
}

fn error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        json!({"message": message, "documentation_url": DOCS, "status": status.as_str()}),
        &[],
    )
}

fn validation_failed(resource: &str, field: &str, code: &str) -> Response {
    json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({
            "message": "Validation Failed",
            "errors": [{"resource": resource, "code": code, "field": field}],
            "documentation_url": DOCS,
            "status": "422",
        }),
        &[],
    )
}

fn json_response(status: StatusCode, body: Value, headers: &[(&str, String)]) -> Response {
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header("x-github-api-version-selected", "2022-11-28")
        .header("x-ratelimit-limit", "5000")
        .header("x-ratelimit-resource", "core");
    let has_remaining = headers
        .iter()
        .any(|(name, _)| *name == "x-ratelimit-remaining");
    if !has_remaining {
        builder = builder.header("x-ratelimit-remaining", "4999");
    }
    for (name, value) in headers {
        builder = builder.header(*name, value.as_str());
    }
    builder
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| {
            let mut response = Response::new(Body::from("scripted GitHub: bad response"));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
        })
}
