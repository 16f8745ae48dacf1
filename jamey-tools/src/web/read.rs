//! `web_read`: fetches an HTML page through the guard and gives it back as readable text: the
//! title, the text without scripts, styles or markup (headings, paragraphs and list items on
//! their own lines), and the page's links as absolute URLs.

use super::render::{body_text, content_type, display_url};
use super::tool_error;
use crate::net::{GuardedClient, WebRequest};
use crate::{CallContext, Permission, Tool, ToolError};
use async_trait::async_trait;
use ego_tree::iter::Edge;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::Method;
use schemars::JsonSchema;
use scraper::{Html, Node};
use serde::Deserialize;
use std::fmt::Write;
use url::Url;

/// Links listed at most.
const MAX_LINKS: usize = 200;
/// Characters of a link's text shown at most.
const MAX_LINK_TEXT: usize = 80;

/// Reads a web page as text.
#[derive(Debug, Clone)]
pub struct WebRead {
    client: GuardedClient,
}

impl WebRead {
    pub fn new(client: GuardedClient) -> Self {
        Self { client }
    }
}

/// Arguments of `web_read`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebReadArgs {
    /// The http or https URL of the page.
    pub url: String,
}

#[async_trait]
impl Tool for WebRead {
    type Args = WebReadArgs;

    fn name(&self) -> &'static str {
        "web_read"
    }

    fn description(&self) -> &'static str {
        "Read a web page: returns its title, its text without markup, scripts or styles, and \
         its links as absolute URLs. Use http_fetch for APIs and raw files."
    }

    fn default_permission(&self) -> Permission {
        Permission::Allow
    }

    async fn call(&self, args: WebReadArgs, context: &CallContext) -> Result<String, ToolError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml;q=0.9,text/*;q=0.5"),
        );
        let request = WebRequest {
            method: Method::GET,
            url: args.url,
            headers,
            body: None,
        };
        let response = self
            .client
            .send(request, &context.cancel, context.deadline)
            .await
            .map_err(|e| tool_error(self.name(), e))?;
        let media = content_type(&response.headers);
        let status = response.status;
        let mut out = String::new();
        if !status.is_success() {
            let _ = writeln!(
                out,
                "HTTP {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            );
        }
        let html = matches!(
            media.as_deref(),
            Some("text/html" | "application/xhtml+xml")
        );
        let Some(text) = body_text(&response.body, media.as_deref()) else {
            return Err(ToolError::Failed(format!(
                "{} is not a web page: {} bytes of {}",
                display_url(&response.url),
                response.body.len(),
                media.as_deref().unwrap_or("unknown type")
            )));
        };
        let page = if html || media.is_none() {
            read_html(&text, &response.url)
        } else {
            Page {
                title: None,
                text,
                links: Vec::new(),
            }
        };
        let _ = writeln!(out, "Title: {}", page.title.as_deref().unwrap_or("(none)"));
        let _ = writeln!(out, "URL: {}", display_url(&response.url));
        if let Some(cut) = response.cut {
            let _ = writeln!(out, "(page {cut})");
        }
        let _ = writeln!(out, "\n{}", page.text.trim());
        if !page.links.is_empty() {
            let _ = writeln!(out, "\nLinks:");
            for link in &page.links {
                let _ = if link.text.is_empty() {
                    writeln!(out, "- {}", link.url)
                } else {
                    writeln!(out, "- {} -> {}", link.text, link.url)
                };
            }
        }
        Ok(out)
    }
}

/// What `web_read` takes from a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) title: Option<String>,
    pub(crate) text: String,
    pub(crate) links: Vec<Link>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) text: String,
    pub(crate) url: String,
}

/// Elements whose content is not text a reader sees.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "head", "svg", "canvas", "iframe", "object",
    "select", "math",
];

/// Elements that stand on lines of their own.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "nav",
    "aside",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "table",
    "tr",
    "blockquote",
    "pre",
    "figure",
    "figcaption",
    "form",
    "fieldset",
    "address",
    "details",
    "summary",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
];

/// Walks the document once (iteratively: a deeply nested page cannot exhaust the stack),
/// collecting the title, the visible text and the links.
pub(crate) fn read_html(source: &str, page_url: &Url) -> Page {
    let document = Html::parse_document(source);
    let mut title: Option<String> = None;
    let mut base: Option<Url> = None;
    let mut text = String::new();
    let mut raw_links: Vec<(String, String)> = Vec::new();
    // The link being read: its href and the length of `text` when it opened.
    let mut open_link: Option<(String, usize)> = None;
    let mut skip = 0usize;
    let mut in_title = false;
    let mut in_pre = 0usize;
    for edge in document.tree.root().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Element(element) => {
                    let name = element.name();
                    if name == "title" && title.is_none() {
                        in_title = true;
                        title = Some(String::new());
                    }
                    if name == "base" && base.is_none() {
                        base = element.attr("href").and_then(|h| page_url.join(h).ok());
                    }
                    if SKIPPED.contains(&name) {
                        skip += 1;
                        continue;
                    }
                    if skip > 0 {
                        continue;
                    }
                    if name == "pre" {
                        in_pre += 1;
                    }
                    if name == "br" {
                        text.push('\n');
                    } else if BLOCKS.contains(&name) {
                        text.push('\n');
                        match name {
                            "li" => text.push_str("- "),
                            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                                let level = name[1..].parse::<usize>().unwrap_or(1);
                                text.push_str(&"#".repeat(level));
                                text.push(' ');
                            }
                            _ => {}
                        }
                    } else if matches!(name, "td" | "th") {
                        text.push_str(" | ");
                    }
                    if name == "a" {
                        if let Some(href) = element.attr("href") {
                            open_link = Some((href.to_string(), text.len()));
                        }
                    }
                }
                Node::Text(fragment) => {
                    if in_title {
                        if let Some(title) = title.as_mut() {
                            title.push_str(fragment);
                        }
                    }
                    if skip > 0 {
                        continue;
                    }
                    if in_pre > 0 {
                        text.push_str(fragment);
                    } else {
                        push_collapsed(&mut text, fragment);
                    }
                }
                _ => {}
            },
            Edge::Close(node) => {
                let Node::Element(element) = node.value() else {
                    continue;
                };
                let name = element.name();
                if name == "title" {
                    in_title = false;
                }
                if SKIPPED.contains(&name) {
                    skip = skip.saturating_sub(1);
                    continue;
                }
                if skip > 0 {
                    continue;
                }
                if name == "pre" {
                    in_pre = in_pre.saturating_sub(1);
                }
                if BLOCKS.contains(&name) {
                    text.push('\n');
                }
                if name == "a" {
                    if let Some((href, start)) = open_link.take() {
                        let label = collapse(text.get(start..).unwrap_or_default());
                        raw_links.push((href, label));
                    }
                }
            }
        }
    }
    let base = base.unwrap_or_else(|| page_url.clone());
    let mut links: Vec<Link> = Vec::new();
    for (href, label) in raw_links {
        let Ok(url) = base.join(href.trim()) else {
            continue;
        };
        if !matches!(url.scheme(), "http" | "https") {
            continue;
        }
        let url = display_url(&url);
        if links.iter().any(|l| l.url == url) {
            continue;
        }
        links.push(Link {
            text: label.chars().take(MAX_LINK_TEXT).collect(),
            url,
        });
        if links.len() == MAX_LINKS {
            break;
        }
    }
    Page {
        title: title.map(|t| collapse(&t)).filter(|t| !t.is_empty()),
        text: tidy_lines(&text),
        links,
    }
}

/// Appends `fragment` with runs of whitespace as one space.
fn push_collapsed(text: &mut String, fragment: &str) {
    let space = |text: &mut String| {
        if !text.is_empty() && !text.ends_with([' ', '\n']) {
            text.push(' ');
        }
    };
    if fragment.starts_with(char::is_whitespace) {
        space(text);
    }
    for (i, word) in fragment.split_whitespace().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(word);
    }
    if fragment.ends_with(char::is_whitespace) {
        space(text);
    }
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Trims each line and keeps at most one blank line between paragraphs.
fn tidy_lines(text: &str) -> String {
    let mut out = String::new();
    let mut blank = true;
    for line in text.lines() {
        let line = line.trim_end();
        let line = line.trim_start_matches(' ');
        if line.is_empty() || line == "|" {
            if !blank {
                out.push('\n');
                blank = true;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
        blank = false;
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_reads_as_title_text_and_absolute_links() {
        let html = r#"<!doctype html><html><head><title> The  Page </title>
            <style>body { color: red }</style><script>var secret = 1;</script></head>
            <body><h1>Hello</h1><p>First <b>bold</b> paragraph.</p>
            <script>alert("no")</script><noscript>enable js</noscript>
            <ul><li><a href="/a">Link A</a></li><li><a href="https://other.example/b">B</a></li>
            <li><a href="javascript:void(0)">js</a></li><li><a href="/a">again</a></li></ul>
            </body></html>"#;
        let page = read_html(html, &Url::parse("http://site.example/dir/page").unwrap());
        assert_eq!(page.title.as_deref(), Some("The Page"));
        assert!(page.text.contains("# Hello"), "{}", page.text);
        assert!(page.text.contains("First bold paragraph."), "{}", page.text);
        assert!(page.text.contains("- Link A"), "{}", page.text);
        for hidden in ["secret", "alert", "color", "enable js"] {
            assert!(!page.text.contains(hidden), "{hidden}: {}", page.text);
        }
        assert_eq!(
            page.links,
            vec![
                Link {
                    text: "Link A".into(),
                    url: "http://site.example/a".into()
                },
                Link {
                    text: "B".into(),
                    url: "https://other.example/b".into()
                },
            ]
        );
    }

    #[test]
    fn a_base_element_sets_where_relative_links_point() {
        let html = r#"<html><head><base href="https://cdn.example/root/"></head>
            <body><a href="x.html">x</a></body></html>"#;
        let page = read_html(html, &Url::parse("http://site.example/").unwrap());
        assert_eq!(page.links[0].url, "https://cdn.example/root/x.html");
    }

    #[test]
    fn deep_nesting_does_not_exhaust_the_stack() {
        let html = format!("{}deep{}", "<div>".repeat(20_000), "</div>".repeat(20_000));
        let page = read_html(&html, &Url::parse("http://site.example/").unwrap());
        assert_eq!(page.text, "deep");
    }
}
