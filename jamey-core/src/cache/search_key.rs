//! Keys of cached search results: the normalized query text, mode, filter, limit and keyword
//! weight, plus the generation of the scope the search reads, so a write that bumps the
//! generation makes every older result unreachable without finding it.

use jamey_protocol::{MemoryFilter, SearchMode};

/// The query as it is searched and cached: surrounding and repeated whitespace removed.
pub fn normalize_query(query: &str) -> String {
    query.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The session a search is confined to, which decides the generation it reads.
pub(crate) fn scope(filter: &MemoryFilter) -> Option<&str> {
    filter.session_id.as_deref()
}

/// One unambiguous string for everything that decides a search's results.
pub(crate) fn search_key(
    generation: u64,
    normalized_query: &str,
    mode: SearchMode,
    filter: &MemoryFilter,
    limit: u32,
    keyword_weight: Option<f32>,
) -> String {
    let mut tags = filter.tags.clone().unwrap_or_default();
    tags.sort();
    tags.dedup();
    // JSON escaping keeps the parts apart whatever the query and tags contain.
    serde_json::json!([
        generation,
        mode.as_str(),
        limit,
        keyword_weight.map(f32::to_bits),
        tags,
        filter.kind,
        filter.session_id,
        normalized_query,
    ])
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_searches_share_a_key_and_different_ones_do_not() {
        assert_eq!(
            normalize_query("  where  is\tthe key \n"),
            "where is the key"
        );
        let filter = |tags: &[&str]| MemoryFilter {
            tags: Some(tags.iter().map(|t| t.to_string()).collect()),
            ..Default::default()
        };
        let key = |g, q: &str, mode, f: &MemoryFilter, limit| {
            search_key(g, &normalize_query(q), mode, f, limit, None)
        };
        let base = key(1, "a b", SearchMode::Hybrid, &filter(&["x", "y"]), 5);
        assert_eq!(
            base,
            key(
                1,
                " a  b ",
                SearchMode::Hybrid,
                &filter(&["y", "x", "x"]),
                5
            )
        );
        for other in [
            key(2, "a b", SearchMode::Hybrid, &filter(&["x", "y"]), 5),
            key(1, "a c", SearchMode::Hybrid, &filter(&["x", "y"]), 5),
            key(1, "a b", SearchMode::Vector, &filter(&["x", "y"]), 5),
            key(1, "a b", SearchMode::Hybrid, &filter(&["x"]), 5),
            key(1, "a b", SearchMode::Hybrid, &filter(&["x", "y"]), 6),
            search_key(
                1,
                "a b",
                SearchMode::Hybrid,
                &filter(&["x", "y"]),
                5,
                Some(0.2),
            ),
        ] {
            assert_ne!(base, other);
        }
    }
}
