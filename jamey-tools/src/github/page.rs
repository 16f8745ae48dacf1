//! Following GitHub's `Link: <...>; rel="next"` pages until a call has the `limit` it asked
//! for. A server may send fewer per page than asked, so the count, not the page size, decides
//! when to stop.

use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use super::client::GithubClient;
use super::error::GithubError;
use crate::CallContext;

/// GitHub's largest page.
const MAX_PER_PAGE: usize = 100;
/// A bound on requests for one listing, whatever the server's page size.
const MAX_PAGES: usize = 30;

/// Items gathered across pages.
#[derive(Debug)]
pub(crate) struct Listing<T> {
    pub(crate) items: Vec<T>,
    /// Whether GitHub has more than were kept.
    pub(crate) more: bool,
    /// The search API's `total_count`.
    pub(crate) total_count: Option<u64>,
}

/// How a page's items arrive.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PageShape {
    /// A JSON array (most list endpoints).
    Array,
    /// `{total_count, incomplete_results, items}` (the search API).
    SearchItems,
}

#[derive(serde::Deserialize)]
struct SearchPage<T> {
    total_count: u64,
    items: Vec<T>,
}

impl GithubClient {
    /// Up to `limit` items from `url` and the pages after it, keeping those `keep` accepts.
    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        mut url: Url,
        shape: PageShape,
        limit: usize,
        what: &str,
        mut keep: impl FnMut(&T) -> bool,
        context: &CallContext,
    ) -> Result<Listing<T>, GithubError> {
        url.query_pairs_mut()
            .append_pair("per_page", &limit.clamp(1, MAX_PER_PAGE).to_string());
        let mut listing = Listing {
            items: Vec::new(),
            more: false,
            total_count: None,
        };
        let mut next = Some(url);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            let reply = self.request(Method::GET, url, None, what, context).await?;
            let decode_error = |error: serde_json::Error| GithubError::Decode {
                what: what.into(),
                reason: error.to_string(),
            };
            let items: Vec<T> = match shape {
                PageShape::Array => serde_json::from_slice(&reply.body).map_err(decode_error)?,
                PageShape::SearchItems => {
                    let page: SearchPage<T> =
                        serde_json::from_slice(&reply.body).map_err(decode_error)?;
                    listing.total_count = Some(page.total_count);
                    page.items
                }
            };
            let following = next_link(&reply.headers)
                .and_then(|link| Url::parse(&link).ok())
                .filter(|link| {
                    let same = self.same_origin(link);
                    if !same {
                        tracing::warn!("GitHub's next-page link leaves api_url; not followed");
                    }
                    same
                });
            for item in items {
                if !keep(&item) {
                    continue;
                }
                if listing.items.len() == limit {
                    listing.more = true;
                    break;
                }
                listing.items.push(item);
            }
            if listing.items.len() >= limit || pages >= MAX_PAGES {
                listing.more |= following.is_some();
                break;
            }
            next = following;
        }
        Ok(listing)
    }
}

/// The `rel="next"` target of a `Link` header, if any.
pub(crate) fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(find_next)
}

/// `<url>; rel="next", <url>; rel="last"`: URLs are inside angle brackets, so commas in them
/// do not split entries.
fn find_next(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>')?;
        let target = &after[..end];
        let params_end = after[end..].find('<').map_or(after.len(), |i| end + i);
        let params = &after[end + 1..params_end];
        let is_next = params.split(';').any(|param| {
            param
                .trim()
                .trim_end_matches(',')
                .trim()
                .strip_prefix("rel=")
                .is_some_and(|rel| {
                    rel.trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|rel| rel.eq_ignore_ascii_case("next"))
                })
        });
        if is_next {
            return Some(target.to_owned());
        }
        rest = &after[params_end..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_found_among_the_others() {
        let header = r#"<https://api.github.com/repositories/1/issues?page=1>; rel="prev", <https://api.github.com/repositories/1/issues?q=a,b&page=3>; rel="next", <https://api.github.com/repositories/1/issues?page=9>; rel="last""#;
        assert_eq!(
            find_next(header).as_deref(),
            Some("https://api.github.com/repositories/1/issues?q=a,b&page=3")
        );
        assert_eq!(find_next(r#"<https://x/?page=9>; rel="last""#), None);
        assert_eq!(
            find_next(r#"<https://x/?page=2>; rel="next last""#).as_deref(),
            Some("https://x/?page=2")
        );
        assert_eq!(find_next("garbage <without end"), None);
    }
}
