//! Query terms for keyword search and their rarity (inverse document frequency), shared by both
//! backends so they rank keyword evidence the same way.

/// Most terms taken from one query; later terms are ignored.
pub const MAX_QUERY_TERMS: usize = 16;

/// Document frequencies are counted up to this many matches: beyond it a term is common and its
/// exact count changes its weight very little, while counting it fully would cost a scan.
pub const DF_CAP: u64 = 100;

/// English function words that carry no evidence of which memory is meant.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "doing", "for",
    "from", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i",
    "if", "in", "into", "is", "it", "its", "just", "me", "my", "myself", "no", "nor", "not", "of",
    "off", "on", "once", "only", "or", "other", "our", "ours", "out", "over", "own", "same", "she",
    "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "then",
    "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up",
    "us", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom",
    "why", "will", "with", "would", "you", "your", "yours", "yourself",
];

/// The distinct, lowercased content words of `query`, in order of first appearance.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in query.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        let word = word.to_lowercase();
        let single_letter = word.chars().count() < 2 && !word.chars().all(|c| c.is_ascii_digit());
        if single_letter || STOPWORDS.contains(&word.as_str()) || terms.contains(&word) {
            continue;
        }
        terms.push(word);
        if terms.len() == MAX_QUERY_TERMS {
            break;
        }
    }
    terms
}

/// BM25's inverse document frequency of a term found in `df` of `total` memories.
pub fn idf(df: u64, total: u64) -> f32 {
    let total = total.max(df) as f64;
    let df = df as f64;
    (1.0 + (total - df + 0.5) / (df + 0.5)).ln() as f32
}

/// A query's terms with their weights; scores how much of the query's keyword evidence a memory
/// carries.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedTerms {
    pub terms: Vec<String>,
    pub weights: Vec<f32>,
}

impl WeightedTerms {
    /// Weights terms by `idf(df, total)`; `dfs[i]` is the (capped) frequency of `terms[i]`.
    pub fn new(terms: Vec<String>, dfs: &[u64], total: u64) -> Self {
        let weights = dfs.iter().map(|df| idf(*df, total)).collect();
        Self { terms, weights }
    }

    /// The share, from 0 to 1, of the query's IDF weight that a memory matches; `matched[i]`
    /// says whether it contains `terms[i]`.
    pub fn coverage(&self, matched: &[bool]) -> f32 {
        let total: f32 = self.weights.iter().sum();
        if total <= 0.0 {
            return 0.0;
        }
        let hit: f32 = self
            .weights
            .iter()
            .zip(matched)
            .filter(|(_, m)| **m)
            .map(|(w, _)| *w)
            .sum();
        (hit / total).clamp(0.0, 1.0)
    }

    /// Indices of the terms that are present in the store but not common, most specific first:
    /// the terms worth fetching keyword candidates for.
    pub fn distinctive(&self, dfs: &[u64], limit: usize) -> Vec<usize> {
        let mut picks: Vec<usize> = (0..self.terms.len())
            .filter(|i| dfs[*i] > 0 && dfs[*i] < DF_CAP)
            .collect();
        picks.sort_by_key(|i| dfs[*i]);
        picks.truncate(limit);
        picks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_drop_stopwords_and_duplicates() {
        assert_eq!(
            query_terms("What did Zarkowski say about the RX-7731 and the rx?"),
            vec!["zarkowski", "say", "rx", "7731"]
        );
        assert!(query_terms("what is it?").is_empty());
    }

    #[test]
    fn rarer_terms_weigh_more() {
        assert!(idf(1, 100_000) > idf(1_000, 100_000));
        let terms = WeightedTerms::new(vec!["dentist".into(), "okonkwo".into()], &[50, 1], 1_000);
        assert!(terms.coverage(&[false, true]) > terms.coverage(&[true, false]));
        assert!((terms.coverage(&[true, true]) - 1.0).abs() < 1e-6);
        assert_eq!(terms.distinctive(&[50, 1], 5), vec![1, 0]);
    }
}
