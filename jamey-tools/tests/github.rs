//! The GitHub connector against a scripted GitHub on 127.0.0.1 that speaks GitHub's JSON,
//! `Link` pagination and rate-limit answers: every tool, pagination, rate limits, errors, the
//! repository scope, the token's handling and cancellation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use jamey_core::secrets::Secret;
use jamey_tools::github::scripted::{Fault, ScriptedGithub};
use jamey_tools::github::*;
use jamey_tools::{CallContext, CallOrigin, Caller, Permission, Tool, ToolError};
use serde_json::{json, Value};

const TOKEN: &str = "ghp_scriptedTokenValue0123456789abcdef";

fn context() -> CallContext {
    CallContext::new(Caller::Owner, CallOrigin::Direct, Duration::from_secs(30))
}

fn client_with(server: &ScriptedGithub, token: Option<&str>, scope: RepoScope) -> GithubClient {
    GithubClient::new(
        GithubClientConfig {
            api_url: server.api_url(),
            repositories: scope,
            timeout: Duration::from_secs(10),
            ..Default::default()
        },
        token.map(Secret::from),
    )
    .unwrap()
}

fn client(server: &ScriptedGithub) -> GithubClient {
    client_with(server, Some(TOKEN), RepoScope::All)
}

/// A server with the token set and `octo/app` (public), `octo/secret` (private), `acme/site`.
async fn server() -> ScriptedGithub {
    let server = ScriptedGithub::start().await.unwrap();
    server.set_token(TOKEN);
    server.add_repo("octo/app", false);
    server.add_repo("octo/secret", true);
    server.add_repo("acme/site", false);
    server
}

/// Runs `tool` with `args` parsed as the registry would, and checks no output holds the token.
async fn run<T: Tool>(tool: &T, args: Value) -> Result<Value, ToolError> {
    run_in(tool, args, &context()).await
}

async fn run_in<T: Tool>(tool: &T, args: Value, context: &CallContext) -> Result<Value, ToolError> {
    let args: T::Args = serde_json::from_value(args).unwrap();
    let result = tool.call(args, context).await;
    let text = match &result {
        Ok(output) => output.clone(),
        Err(error) => error.to_string(),
    };
    assert!(!text.contains(TOKEN), "the token leaked into {text}");
    result.map(|output| serde_json::from_str(&output).unwrap())
}

fn failed(result: Result<Value, ToolError>) -> String {
    match result {
        Err(ToolError::Failed(text)) => text,
        other => panic!("expected a failed call, got {other:?}"),
    }
}

#[tokio::test]
async fn requests_carry_the_bearer_token_and_githubs_headers() {
    let server = server().await;
    let out = run(&GithubListRepos::new(client(&server)), json!({"limit": 10}))
        .await
        .unwrap();
    let names: Vec<&str> = out["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|repo| repo["repo"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["octo/app", "octo/secret", "acme/site"]);
    assert_eq!(out["repositories"][1]["private"], true);
    let request = &server.requests()[0];
    assert_eq!(request.path, "/user/repos");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        request.header("accept"),
        Some("application/vnd.github+json")
    );
    assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
    assert!(request.header("user-agent").unwrap().starts_with("jamey/"));
    assert_eq!(request.query_param("per_page"), Some("10"));
}

#[tokio::test]
async fn an_owners_repositories_are_listed_without_a_token_but_the_users_own_need_one() {
    let server = server().await;
    let anonymous = client_with(&server, None, RepoScope::All);
    let out = run(
        &GithubListRepos::new(anonymous.clone()),
        json!({"owner": "octo"}),
    )
    .await
    .unwrap();
    // The private one is invisible without the token.
    assert_eq!(out["count"], 1);
    assert_eq!(out["repositories"][0]["repo"], "octo/app");
    assert_eq!(server.requests()[0].header("authorization"), None);
    assert_eq!(server.requests()[0].path, "/users/octo/repos");

    let text = failed(run(&GithubListRepos::new(anonymous), json!({})).await);
    assert!(text.contains("jamey secret set github_token"), "{text}");
    assert_eq!(server.request_count(), 1, "no request without a token");
}

#[tokio::test]
async fn get_file_decodes_text_lists_directories_and_describes_binary_and_large_files() {
    let server = server().await;
    server.add_file("octo/app", "README.md", "# App\nHéllo, wörld.\n".repeat(10));
    server.add_file("octo/app", "src/main.rs", "fn main() {}\n");
    server.add_file("octo/app", "src/lib/mod.rs", "pub mod x;\n");
    server.add_file(
        "octo/app",
        "logo.png",
        vec![0x89, b'P', b'N', b'G', 0, 0, 1, 2],
    );
    server.add_file("octo/app", "big.txt", vec![b'a'; 1024 * 1024 + 10]);
    let tool = GithubGetFile::new(client(&server));

    let out = run(&tool, json!({"repo": "octo/app", "path": "README.md"}))
        .await
        .unwrap();
    assert_eq!(out["type"], "file");
    assert_eq!(out["content"], "# App\nHéllo, wörld.\n".repeat(10));
    assert_eq!(out["truncated"], false);

    let out = run(
        &tool,
        json!({"repo": "octo/app", "path": "src", "ref": "main"}),
    )
    .await
    .unwrap();
    assert_eq!(out["type"], "dir");
    assert_eq!(
        out["entries"],
        json!([
            {"name": "lib", "type": "dir", "size": 0},
            {"name": "main.rs", "type": "file", "size": 13},
        ])
    );
    let request = server.requests().pop().unwrap();
    assert_eq!(request.path, "/repos/octo/app/contents/src");
    assert_eq!(request.query_param("ref"), Some("main"));

    let out = run(&tool, json!({"repo": "octo/app", "path": "logo.png"}))
        .await
        .unwrap();
    assert!(out["note"].as_str().unwrap().contains("binary"), "{out}");
    assert!(out.get("content").is_none());

    let out = run(&tool, json!({"repo": "octo/app", "path": "big.txt"}))
        .await
        .unwrap();
    assert!(out["note"].as_str().unwrap().contains("too large"), "{out}");

    let text = failed(
        run(
            &tool,
            json!({"repo": "octo/app", "path": "README.md", "ref": "nope"}),
        )
        .await,
    );
    assert!(
        text.contains("404") && text.contains("\"README.md\"") && text.contains("\"nope\""),
        "{text}"
    );

    let before = server.request_count();
    let error = run(
        &tool,
        json!({"repo": "octo/app", "path": "../../user/repos"}),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, ToolError::InvalidArguments { ref field, .. } if field.as_deref() == Some("path")),
        "{error:?}"
    );
    assert_eq!(server.request_count(), before);
}

#[tokio::test]
async fn search_code_in_a_repository_and_without_a_token() {
    let server = server().await;
    server.add_file("octo/app", "src/config.rs", "fn parse_config() {}");
    server.add_file("acme/site", "config.js", "function parse_config() {}");
    let out = run(
        &GithubSearchCode::new(client(&server)),
        json!({"query": "parse_config", "repo": "octo/app"}),
    )
    .await
    .unwrap();
    assert_eq!(out["count"], 1);
    assert_eq!(out["matches"][0]["repo"], "octo/app");
    assert_eq!(out["matches"][0]["path"], "src/config.rs");
    let request = server.requests().pop().unwrap();
    assert_eq!(request.path, "/search/code");
    assert_eq!(request.query_param("q"), Some("parse_config repo:octo/app"));

    let out = run(
        &GithubSearchCode::new(client(&server)),
        json!({"query": "parse_config"}),
    )
    .await
    .unwrap();
    assert_eq!(out["total_count"], 2);

    let anonymous = client_with(&server, None, RepoScope::All);
    let text = failed(run(&GithubSearchCode::new(anonymous), json!({"query": "x"})).await);
    assert!(
        text.contains("401") && text.contains("jamey secret set github_token"),
        "{text}"
    );
}

#[tokio::test]
async fn listings_follow_link_pages_up_to_the_limit_when_pages_are_smaller_than_asked() {
    let server = server().await;
    server.set_page_size(3);
    for n in 1..=10 {
        server.add_issue("octo/app", &format!("issue {n}"), "body", "alice");
    }
    let tool = GithubListIssues::new(client(&server));
    let out = run(&tool, json!({"repo": "octo/app", "limit": 7}))
        .await
        .unwrap();
    let numbers: Vec<u64> = out["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [10, 9, 8, 7, 6, 5, 4]);
    assert_eq!(out["more"], true);
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "3 + 3 + 1");
    assert_eq!(requests[0].query_param("per_page"), Some("7"));
    assert_eq!(requests[0].query_param("state"), Some("open"));
    assert_eq!(requests[1].query_param("page"), Some("2"));
    assert_eq!(requests[2].query_param("page"), Some("3"));

    let out = run(&tool, json!({"repo": "octo/app", "limit": 50}))
        .await
        .unwrap();
    assert_eq!(out["count"], 10);
    assert_eq!(out["more"], false);
    assert_eq!(
        server.request_count(),
        3 + 4,
        "stops when there is no next page"
    );
}

#[tokio::test]
async fn list_issues_leaves_out_pull_requests_and_filters_by_state() {
    let server = server().await;
    server.set_page_size(2);
    let first = server.add_issue("octo/app", "first", "", "alice");
    server.add_pull("octo/app", "a pull", "feature", &[("a.rs", 1, 0)]);
    server.add_pull("octo/app", "another pull", "feature-2", &[("b.rs", 1, 0)]);
    server.add_issue("octo/app", "second", "", "bob");
    server.close("octo/app", first);
    let tool = GithubListIssues::new(client(&server));
    let out = run(
        &tool,
        json!({"repo": "octo/app", "state": "all", "limit": 10}),
    )
    .await
    .unwrap();
    let titles: Vec<&str> = out["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["second", "first"]);
    assert_eq!(out["issues"][0]["author"], "bob");
    assert_eq!(out["issues"][0]["labels"], json!(["bug"]));
    let out = run(&tool, json!({"repo": "octo/app", "state": "closed"}))
        .await
        .unwrap();
    assert_eq!(out["count"], 1);
    assert_eq!(out["issues"][0]["state"], "closed");
}

#[tokio::test]
async fn get_issue_returns_the_body_and_comments() {
    let server = server().await;
    server.set_page_size(2);
    let number = server.add_issue("octo/app", "Crash on start", "It crashes.", "alice");
    for n in 1..=3 {
        server.add_comment("octo/app", number, &format!("comment {n}"), "bob");
    }
    let out = run(
        &GithubGetIssue::new(client(&server)),
        json!({"repo": "octo/app", "number": number}),
    )
    .await
    .unwrap();
    assert_eq!(out["title"], "Crash on start");
    assert_eq!(out["body"], "It crashes.");
    assert_eq!(out["comments"], 3);
    assert_eq!(out["is_pull_request"], false);
    let bodies: Vec<&str> = out["comment_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["comment 1", "comment 2", "comment 3"]);
    assert_eq!(out["comment_list"][0]["author"], "bob");
}

#[tokio::test]
async fn the_writes_create_comment_and_close_issues() {
    let server = server().await;
    let github = client(&server);
    let out = run(
        &GithubCreateIssue::new(github.clone()),
        json!({"repo": "octo/app", "title": "From the twin", "body": "Details."}),
    )
    .await
    .unwrap();
    let number = out["number"].as_u64().unwrap();
    assert_eq!(out["state"], "open");
    let request = server.requests().pop().unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.body,
        json!({"title": "From the twin", "body": "Details."})
    );

    let out = run(
        &GithubCommentIssue::new(github.clone()),
        json!({"repo": "octo/app", "number": number, "body": "Looking into it."}),
    )
    .await
    .unwrap();
    assert!(out["url"].as_str().unwrap().contains("#issuecomment-"));
    assert_eq!(server.comments("octo/app", number), ["Looking into it."]);

    let out = run(
        &GithubCloseIssue::new(github),
        json!({"repo": "octo/app", "number": number}),
    )
    .await
    .unwrap();
    assert_eq!(out["state"], "closed");
    assert_eq!(server.issue("octo/app", number).unwrap()["state"], "closed");
    assert_eq!(server.requests().pop().unwrap().method, "PATCH");
}

#[tokio::test]
async fn writes_without_a_token_say_how_to_set_one_and_send_nothing() {
    let server = server().await;
    let anonymous = client_with(&server, None, RepoScope::All);
    let text = failed(
        run(
            &GithubCreateIssue::new(anonymous.clone()),
            json!({"repo": "octo/app", "title": "x"}),
        )
        .await,
    );
    assert!(
        text.contains("creating an issue") && text.contains("jamey secret set github_token"),
        "{text}"
    );
    failed(
        run(
            &GithubCommentIssue::new(anonymous.clone()),
            json!({"repo": "octo/app", "number": 1, "body": "x"}),
        )
        .await,
    );
    failed(
        run(
            &GithubCloseIssue::new(anonymous),
            json!({"repo": "octo/app", "number": 1}),
        )
        .await,
    );
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn a_validation_error_quotes_githubs_message_and_errors() {
    let server = server().await;
    server.push_fault(Fault::Status {
        status: 422,
        body: json!({
            "message": "Validation Failed",
            "errors": [{"resource": "Issue", "code": "invalid", "field": "labels"}],
            "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
            "status": "422",
        }),
    });
    let text = failed(
        run(
            &GithubCreateIssue::new(client(&server)),
            json!({"repo": "octo/app", "title": "x"}),
        )
        .await,
    );
    assert!(
        text.contains("422 Validation Failed: Issue labels invalid"),
        "{text}"
    );
}

#[tokio::test]
async fn pulls_are_listed_and_read_with_their_paginated_diff_summary() {
    let server = server().await;
    server.set_page_size(2);
    server.add_issue("octo/app", "an issue", "", "alice");
    let files = [
        ("src/a.rs", 10, 2),
        ("src/b.rs", 5, 0),
        ("README.md", 1, 1),
        ("c.rs", 3, 3),
        ("d.rs", 0, 7),
    ];
    let number = server.add_pull("octo/app", "Add things", "feature", &files);
    let out = run(
        &GithubListPulls::new(client(&server)),
        json!({"repo": "octo/app"}),
    )
    .await
    .unwrap();
    assert_eq!(out["count"], 1);
    assert_eq!(out["pulls"][0]["head"], "feature");
    assert_eq!(out["pulls"][0]["base"], "main");

    let out = run(
        &GithubGetPull::new(client(&server)),
        json!({"repo": "octo/app", "number": number}),
    )
    .await
    .unwrap();
    assert_eq!(out["title"], "Add things");
    assert_eq!(out["additions"], 19);
    assert_eq!(out["deletions"], 13);
    assert_eq!(out["changed_files"], 5);
    assert_eq!(out["files_shown"], 5);
    assert_eq!(
        out["files"][0],
        json!({"path": "src/a.rs", "status": "modified", "additions": 10, "deletions": 2})
    );
    assert_eq!(out["files"][4]["path"], "d.rs");
    let file_pages = server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/files"))
        .count();
    assert_eq!(file_pages, 3, "5 files at 2 a page");
}

#[tokio::test]
async fn a_429_with_a_short_retry_after_is_waited_out_and_retried() {
    let server = server().await;
    server.add_issue("octo/app", "one", "", "alice");
    server.push_fault(Fault::TooManyRequests {
        retry_after_secs: 1,
    });
    let started = Instant::now();
    let out = run(
        &GithubListIssues::new(client(&server)),
        json!({"repo": "octo/app"}),
    )
    .await
    .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out["count"], 1);
    assert_eq!(server.request_count(), 2);
}

#[tokio::test]
async fn a_secondary_limit_403_with_retry_after_is_waited_out_too() {
    let server = server().await;
    server.add_file("octo/app", "a.txt", "a");
    server.push_fault(Fault::SecondaryLimit {
        retry_after_secs: Some(1),
    });
    let started = Instant::now();
    let out = run(
        &GithubGetFile::new(client(&server)),
        json!({"repo": "octo/app", "path": "a.txt"}),
    )
    .await
    .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(out["content"], "a");
    assert_eq!(server.request_count(), 2);
}

#[tokio::test]
async fn retries_are_bounded() {
    let server = server().await;
    for _ in 0..3 {
        server.push_fault(Fault::TooManyRequests {
            retry_after_secs: 1,
        });
    }
    let text = failed(
        run(
            &GithubListIssues::new(client(&server)),
            json!({"repo": "octo/app"}),
        )
        .await,
    );
    assert!(
        text.contains("429") && text.contains("retry after"),
        "{text}"
    );
    assert_eq!(server.request_count(), 3, "the first try and two retries");
}

/// `retry after <RFC 3339> (in N s)`: the time parses and lies about N seconds ahead.
fn assert_retry_time(text: &str, seconds: i64) {
    let after = text.split("retry after ").nth(1).expect(text);
    let (at, rest) = after.split_once(" (in ").expect(text);
    let at = chrono::DateTime::parse_from_rfc3339(at).expect(text);
    let ahead = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    assert!(
        (seconds - 3..=seconds + 1).contains(&ahead),
        "{ahead} s ahead: {text}"
    );
    let n: i64 = rest.split(' ').next().unwrap().parse().expect(text);
    assert!((seconds - 2..=seconds).contains(&n), "{text}");
}

#[tokio::test]
async fn a_long_retry_after_comes_back_at_once_saying_when_to_retry() {
    let server = server().await;
    server.push_fault(Fault::TooManyRequests {
        retry_after_secs: 120,
    });
    let started = Instant::now();
    let text = failed(
        run(
            &GithubListIssues::new(client(&server)),
            json!({"repo": "octo/app"}),
        )
        .await,
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_retry_time(&text, 120);
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn an_exhausted_primary_limit_comes_back_with_its_reset_time() {
    let server = server().await;
    server.push_fault(Fault::PrimaryLimit { reset_in_secs: 300 });
    let anonymous = client_with(&server, None, RepoScope::All);
    let started = Instant::now();
    let text = failed(
        run(
            &GithubListIssues::new(anonymous),
            json!({"repo": "octo/app"}),
        )
        .await,
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(text.contains("rate limit is exhausted"), "{text}");
    assert!(text.contains("jamey secret set github_token"), "{text}");
    assert_retry_time(&text, 300);
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn a_secondary_limit_without_retry_after_past_the_deadline_is_an_error() {
    let server = server().await;
    server.push_fault(Fault::SecondaryLimit {
        retry_after_secs: None,
    });
    let started = Instant::now();
    let text = failed(
        run(
            &GithubListIssues::new(client(&server)),
            json!({"repo": "octo/app"}),
        )
        .await,
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(text.contains("secondary rate limit"), "{text}");
    assert_retry_time(&text, 60);
}

#[tokio::test]
async fn cancellation_during_a_rate_limit_wait_stops_promptly() {
    let server = server().await;
    server.push_fault(Fault::TooManyRequests {
        retry_after_secs: 20,
    });
    let call = context();
    let cancel = call.cancel.clone();
    let tool = GithubListIssues::new(client(&server));
    let started = Instant::now();
    let task = tokio::spawn(async move { run_in(&tool, json!({"repo": "octo/app"}), &call).await });
    while server.request_count() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    cancel.cancel();
    let result = tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(result, Err(ToolError::Cancelled(ref tool)) if tool == "github_list_issues"),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn not_found_says_what_was_missing() {
    let server = server().await;
    let text = failed(
        run(
            &GithubListIssues::new(client(&server)),
            json!({"repo": "octo/missing"}),
        )
        .await,
    );
    assert!(
        text.contains("GitHub found no repository octo/missing (404 Not Found)"),
        "{text}"
    );
    let text = failed(
        run(
            &GithubGetIssue::new(client(&server)),
            json!({"repo": "octo/app", "number": 99}),
        )
        .await,
    );
    assert!(text.contains("issue #99 in repository octo/app"), "{text}");
    // Without the token a private repository is a 404 too.
    let anonymous = client_with(&server, None, RepoScope::All);
    let text = failed(
        run(
            &GithubListIssues::new(anonymous),
            json!({"repo": "octo/secret"}),
        )
        .await,
    );
    assert!(text.contains("404"), "{text}");
}

#[tokio::test]
async fn repositories_outside_the_scope_are_refused_before_any_request() {
    let server = server().await;
    server.add_file("acme/site", "index.html", "<html>");
    let scope = RepoScope::Only(vec!["octo/*".parse().unwrap()]);
    let scoped = client_with(&server, Some(TOKEN), scope);
    let calls: Vec<Result<Value, ToolError>> = vec![
        run(
            &GithubGetFile::new(scoped.clone()),
            json!({"repo": "acme/site", "path": "index.html"}),
        )
        .await,
        run(
            &GithubListIssues::new(scoped.clone()),
            json!({"repo": "acme/site"}),
        )
        .await,
        run(
            &GithubCreateIssue::new(scoped.clone()),
            json!({"repo": "acme/site", "title": "x"}),
        )
        .await,
        run(
            &GithubGetPull::new(scoped.clone()),
            json!({"repo": "ACME/site", "number": 1}),
        )
        .await,
        run(
            &GithubSearchCode::new(scoped.clone()),
            json!({"query": "html", "repo": "acme/site"}),
        )
        .await,
    ];
    for (result, named) in calls.into_iter().zip([
        "acme/site",
        "acme/site",
        "acme/site",
        "ACME/site",
        "acme/site",
    ]) {
        assert_eq!(
            result.unwrap_err(),
            ToolError::Refused(format!(
                "repository {named} is outside [github] repositories (octo/*)"
            ))
        );
    }
    assert_eq!(server.request_count(), 0);

    // Listings leave out what the scope excludes, even when the query names it.
    let out = run(&GithubListRepos::new(scoped.clone()), json!({}))
        .await
        .unwrap();
    let names: Vec<&str> = out["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repo"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["octo/app", "octo/secret"]);
    let out = run(
        &GithubSearchCode::new(scoped),
        json!({"query": "html repo:acme/site"}),
    )
    .await
    .unwrap();
    assert_eq!(out["count"], 0);
}

#[tokio::test]
async fn a_bad_token_is_reported_without_showing_it_and_echoes_are_scrubbed() {
    let server = server().await;
    let wrong = "ghp_wrongTokenValue9876543210";
    let bad = client_with(&server, Some(wrong), RepoScope::All);
    let result = run(&GithubListIssues::new(bad), json!({"repo": "octo/app"})).await;
    let text = failed(result);
    assert!(
        text.contains("401 Bad credentials") && text.contains("jamey secret set github_token"),
        "{text}"
    );
    assert!(!text.contains(wrong));

    server.push_fault(Fault::Status {
        status: 500,
        body: json!({"message": format!("server saw Bearer {TOKEN}")}),
    });
    let text = failed(
        run(
            &GithubListIssues::new(client(&server)),
            json!({"repo": "octo/app"}),
        )
        .await,
    );
    assert!(text.contains("server saw Bearer [redacted]"), "{text}");
}

#[tokio::test]
async fn an_enterprise_api_url_keeps_its_path() {
    let server = ScriptedGithub::start_enterprise().await.unwrap();
    server.add_repo("corp/tool", false);
    server.add_issue("corp/tool", "enterprise issue", "", "carol");
    assert!(server.api_url().ends_with("/api/v3"));
    let github = client_with(&server, Some(TOKEN), RepoScope::All);
    let out = run(&GithubListIssues::new(github), json!({"repo": "corp/tool"}))
        .await
        .unwrap();
    assert_eq!(out["issues"][0]["title"], "enterprise issue");
    assert_eq!(server.requests()[0].path, "/api/v3/repos/corp/tool/issues");
}

#[tokio::test]
async fn reads_are_allowed_and_writes_ask_by_default() {
    let server = server().await;
    let github = client(&server);
    assert_eq!(
        GithubListRepos::new(github.clone()).default_permission(),
        Permission::Allow
    );
    assert_eq!(
        GithubGetFile::new(github.clone()).default_permission(),
        Permission::Allow
    );
    assert_eq!(
        GithubSearchCode::new(github.clone()).default_permission(),
        Permission::Allow
    );
    assert_eq!(
        GithubListIssues::new(github.clone()).default_permission(),
        Permission::Allow
    );
    assert_eq!(
        GithubGetIssue::new(github.clone()).default_permission(),
        Permission::Allow
    );
    assert_eq!(
        GithubListPulls::new(github.clone()).default_permission(),
        Permission::Allow
    );
    assert_eq!(
        GithubGetPull::new(github.clone()).default_permission(),
        Permission::Allow
    );
    assert_eq!(
        GithubCreateIssue::new(github.clone()).default_permission(),
        Permission::Ask
    );
    assert_eq!(
        GithubCommentIssue::new(github.clone()).default_permission(),
        Permission::Ask
    );
    assert_eq!(
        GithubCloseIssue::new(github.clone()).default_permission(),
        Permission::Ask
    );
    let names = [
        GithubListRepos::new(github.clone()).name(),
        GithubGetFile::new(github.clone()).name(),
        GithubSearchCode::new(github.clone()).name(),
        GithubListIssues::new(github.clone()).name(),
        GithubGetIssue::new(github.clone()).name(),
        GithubCreateIssue::new(github.clone()).name(),
        GithubCommentIssue::new(github.clone()).name(),
        GithubCloseIssue::new(github.clone()).name(),
        GithubListPulls::new(github.clone()).name(),
        GithubGetPull::new(github).name(),
    ];
    assert_eq!(names, TOOL_NAMES);
}
