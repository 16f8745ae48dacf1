//! Synthetic memories for load tests: clustered unit vectors (like real embeddings, which bunch
//! by topic) and varied text with a rare token in each, so keyword search has work to do.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TOPICS: &[&str] = &[
    "dentist",
    "groceries",
    "flight",
    "birthday",
    "invoice",
    "garden",
    "piano",
    "mortgage",
    "vet",
    "marathon",
    "recipe",
    "laptop",
    "insurance",
    "school",
    "concert",
    "plumber",
    "tax",
    "holiday",
];
const VERBS: &[&str] = &[
    "remember", "book", "call", "pay", "buy", "fix", "plan", "check", "send", "cancel",
];
const PEOPLE: &[&str] = &[
    "Anna", "Marek", "Priya", "Tom", "Keiko", "Lars", "Amara", "Diego", "Wen", "Olu",
];
const WHEN: &[&str] = &[
    "on Monday",
    "next week",
    "before Friday",
    "in March",
    "tomorrow",
    "after work",
    "this weekend",
];

pub(crate) struct Corpus {
    pub(crate) dim: usize,
    centers: Vec<Vec<f32>>,
    rng: StdRng,
}

impl Corpus {
    pub(crate) fn new(dim: usize, clusters: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let centers = (0..clusters.max(1))
            .map(|_| unit(&mut rng, dim, None, 1.0))
            .collect();
        Self { dim, centers, rng }
    }

    /// A vector near a random cluster centre.
    pub(crate) fn vector(&mut self) -> Vec<f32> {
        let center = self.rng.random_range(0..self.centers.len());
        let center = self.centers[center].clone();
        unit(&mut self.rng, self.dim, Some(&center), 0.05)
    }

    /// The text of memory `i`; its rare token is `token(i)`.
    pub(crate) fn text(&mut self, i: usize) -> String {
        let r = &mut self.rng;
        format!(
            "{} to {} {} about the {} {} (ref {})",
            PEOPLE[r.random_range(0..PEOPLE.len())],
            VERBS[r.random_range(0..VERBS.len())],
            PEOPLE[r.random_range(0..PEOPLE.len())],
            TOPICS[r.random_range(0..TOPICS.len())],
            WHEN[r.random_range(0..WHEN.len())],
            token(i)
        )
    }

    /// A keyword-bearing question about memory `i`.
    pub(crate) fn question(&mut self, i: usize) -> String {
        let r = &mut self.rng;
        format!(
            "what about the {} and {}",
            TOPICS[r.random_range(0..TOPICS.len())],
            token(i)
        )
    }
}

/// A unique, rare-looking token for memory `i`.
pub(crate) fn token(i: usize) -> String {
    format!("zq{i:x}k")
}

fn unit(rng: &mut StdRng, dim: usize, center: Option<&[f32]>, spread: f32) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim)
        .map(|d| {
            // Sum of uniforms: a cheap, roughly normal sample.
            let noise: f32 = (0..4).map(|_| rng.random::<f32>() - 0.5).sum::<f32>() * spread;
            center.map_or(0.0, |c| c[d]) * 1.0 + noise
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}
