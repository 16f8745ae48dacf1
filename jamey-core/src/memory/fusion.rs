//! How hybrid search combines semantic similarity with keyword evidence.
//!
//! Equal-weight reciprocal rank fusion was measured to rank the right memory first less often
//! than vector search alone (docs/adr/0003-hybrid-fusion.md): it lets a memory that shares only
//! common words outrank a close paraphrase. Here the cosine similarity stays the backbone and
//! keyword evidence adds a bounded bonus proportional to the share of the query's IDF weight a
//! memory matches, so an exact match of a rare name promotes a memory, while matches of common
//! words barely move it.

/// Weight of the keyword bonus relative to cosine similarity (which spans about 0 to 1).
pub const DEFAULT_KEYWORD_WEIGHT: f32 = 0.1;

/// RRF's smoothing constant, as in the literature.
pub const RRF_K: f32 = 60.0;

/// The hybrid score of a memory: its cosine similarity plus the weighted keyword coverage.
pub fn hybrid_score(cosine: f32, keyword_coverage: f32, keyword_weight: f32) -> f32 {
    cosine + keyword_weight * keyword_coverage
}

/// Reciprocal rank fusion of ranked lists (0-based ranks), for comparison in benchmarks:
/// `sum(1 / (k + rank + 1))` over the lists that hold the item.
pub fn reciprocal_rank(ranks: &[Option<usize>]) -> f32 {
    ranks
        .iter()
        .flatten()
        .map(|rank| 1.0 / (RRF_K + *rank as f32 + 1.0))
        .sum()
}

/// Sorts `(item, score)` pairs best first, ties broken by the item's own order, and keeps `limit`.
pub fn best_first<T: Ord>(mut scored: Vec<(T, f32)>, limit: usize) -> Vec<(T, f32)> {
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    scored.truncate(limit);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn keyword_evidence_never_lowers_a_score(cos in -1.0f32..1.0, kw in 0.0f32..1.0, w in 0.0f32..1.0) {
            prop_assert!(hybrid_score(cos, kw, w) >= cos);
        }

        #[test]
        fn a_full_keyword_match_beats_a_cosine_gap_smaller_than_the_weight(cos in 0.0f32..0.9, gap in 0.0f32..0.2) {
            let w = 0.25;
            let semantic_only = hybrid_score(cos + gap, 0.0, w);
            let exact = hybrid_score(cos, 1.0, w);
            prop_assert!(exact > semantic_only);
        }

        #[test]
        fn rrf_rewards_better_ranks(a in 0usize..100, b in 0usize..100) {
            prop_assume!(a < b);
            prop_assert!(reciprocal_rank(&[Some(a)]) > reciprocal_rank(&[Some(b)]));
            prop_assert!(reciprocal_rank(&[Some(a), Some(b)]) > reciprocal_rank(&[Some(a), None]));
        }

        #[test]
        fn best_first_is_sorted_and_bounded(scores in proptest::collection::vec(-1.0f32..2.0, 0..50), limit in 0usize..60) {
            let items: Vec<(usize, f32)> = scores.iter().copied().enumerate().collect();
            let ranked = best_first(items, limit);
            prop_assert!(ranked.len() <= limit.min(scores.len()));
            prop_assert!(ranked.windows(2).all(|w| w[0].1 >= w[1].1));
        }
    }
}
