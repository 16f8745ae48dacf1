//! `jamey-bench quality`: how often each search mode ranks the right memory first (recall@1) and
//! in the top five (recall@5), on question sets of paraphrases and rare names. Reciprocal rank
//! fusion (k=60) of the vector and keyword rankings is measured beside the store's own modes.

use crate::stats::round;
use anyhow::Context;
use jamey_core::embedding::{BundledEmbedder, Embedder, LocalBertEmbedder};
use jamey_core::memory::{
    fusion, EmbeddedMemoryStore, EmbeddedStoreConfig, MemoryLimits, PgMemoryStore, PgStoreConfig,
};
use jamey_core::{Memories, MemoryStore};
use jamey_protocol::{MemoryId, NewMemory, SearchMode, SearchRequest};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args)]
pub(crate) struct QualityArgs {
    /// Question sets (JSON: {"memories": [{key, content}], "questions": [{query, answer, kind}]}).
    #[arg(long, required = true)]
    dataset: Vec<PathBuf>,
    /// A sentence-transformers folder; the bundled model when absent.
    #[arg(long, env = "JAMEY_EMBEDDING_MODEL_DIR")]
    model_dir: Option<PathBuf>,
    /// Keyword weights to try for hybrid search (the default weight when absent).
    #[arg(long, value_delimiter = ',')]
    keyword_weight: Vec<f32>,
    /// Memories of another question set to load as extra distractors (their questions are not asked).
    #[arg(long)]
    distractors: Vec<PathBuf>,
    /// Print each question whose answer hybrid search does not rank first.
    #[arg(long)]
    show_misses: bool,
    /// Measure on PostgreSQL (a database used as it is; its memories table must be empty) instead of the embedded store.
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Deserialize)]
struct Dataset {
    memories: Vec<DatasetMemory>,
    questions: Vec<Question>,
}

#[derive(Deserialize)]
struct DatasetMemory {
    key: String,
    content: String,
}

#[derive(Deserialize)]
struct Question {
    query: String,
    answer: String,
    kind: String,
}

#[derive(Default, Clone, Copy)]
struct Tally {
    questions: usize,
    at_1: usize,
    at_5: usize,
}

impl Tally {
    fn add(&mut self, rank: Option<usize>) {
        self.questions += 1;
        self.at_1 += usize::from(rank == Some(0));
        self.at_5 += usize::from(rank.is_some_and(|r| r < 5));
    }

    fn recall(&self) -> (f64, f64) {
        let n = self.questions.max(1) as f64;
        (
            round(self.at_1 as f64 / n, 3),
            round(self.at_5 as f64 / n, 3),
        )
    }
}

pub(crate) fn run(args: QualityArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(measure(args))
}

async fn measure(args: QualityArgs) -> anyhow::Result<()> {
    let embedder: Arc<dyn Embedder> = match &args.model_dir {
        Some(dir) => Arc::new(
            LocalBertEmbedder::load(dir).with_context(|| format!("loading {}", dir.display()))?,
        ),
        None => Arc::new(BundledEmbedder::load()?),
    };
    let weights = if args.keyword_weight.is_empty() {
        vec![fusion::DEFAULT_KEYWORD_WEIGHT]
    } else {
        args.keyword_weight.clone()
    };
    // (mode label, question kind) -> tally
    let mut tallies: HashMap<(String, String), Tally> = HashMap::new();
    let mut distractors = Vec::new();
    for path in &args.distractors {
        distractors.extend(load(path)?.memories.into_iter().map(|m| m.content));
    }
    for path in &args.dataset {
        let dataset = load(path)?;
        for (w_index, weight) in weights.iter().enumerate() {
            let temp = tempfile::tempdir()?;
            let store: Arc<dyn MemoryStore> = match &args.database_url {
                Some(url) => {
                    let mut config = PgStoreConfig::new(url.clone());
                    config.keyword_weight = *weight;
                    Arc::new(PgMemoryStore::connect(&config, embedder.identity()).await?)
                }
                None => {
                    let mut config = EmbeddedStoreConfig::new(temp.path());
                    config.keyword_weight = *weight;
                    Arc::new(EmbeddedMemoryStore::open(&config, embedder.identity())?)
                }
            };
            if store.count().await? != 0 {
                anyhow::bail!("the store must start empty");
            }
            let memories = Memories::new(store.clone(), embedder.clone(), MemoryLimits::default());
            let ids = memories
                .add_batch(
                    dataset
                        .memories
                        .iter()
                        .map(|m| NewMemory::from_content(m.content.clone()))
                        .collect(),
                )
                .await?;
            let key_of: HashMap<MemoryId, &str> = ids
                .iter()
                .zip(&dataset.memories)
                .map(|(id, m)| (*id, m.key.as_str()))
                .collect();
            let mut extra = Vec::new();
            if !distractors.is_empty() {
                extra = memories
                    .add_batch(
                        distractors
                            .iter()
                            .map(|c| NewMemory::from_content(c.clone()))
                            .collect(),
                    )
                    .await?;
            }
            for question in &dataset.questions {
                let ranked = |mode| {
                    let memories = memories.clone();
                    let query = question.query.clone();
                    async move {
                        let hits = memories
                            .search(SearchRequest {
                                query,
                                limit: Some(50),
                                mode,
                                filter: None,
                            })
                            .await?;
                        anyhow::Ok(hits.into_iter().map(|h| h.memory.id).collect::<Vec<_>>())
                    }
                };
                let rank_of = |list: &[MemoryId]| {
                    list.iter()
                        .position(|id| key_of.get(id) == Some(&question.answer.as_str()))
                };
                let hybrid = ranked(SearchMode::Hybrid).await?;
                tallies
                    .entry((format!("hybrid@{weight}"), question.kind.clone()))
                    .or_default()
                    .add(rank_of(&hybrid));
                if w_index == 0 {
                    let vector = ranked(SearchMode::Vector).await?;
                    let keyword = ranked(SearchMode::Keyword).await?;
                    tallies
                        .entry(("vector".into(), question.kind.clone()))
                        .or_default()
                        .add(rank_of(&vector));
                    tallies
                        .entry(("keyword".into(), question.kind.clone()))
                        .or_default()
                        .add(rank_of(&keyword));
                    let rrf = reciprocal_rank_fusion(&vector, &keyword);
                    tallies
                        .entry(("rrf".into(), question.kind.clone()))
                        .or_default()
                        .add(rank_of(&rrf));
                    if args.show_misses && rank_of(&hybrid).is_none_or(|r| r > 0) {
                        let answer = dataset
                            .memories
                            .iter()
                            .find(|m| m.key == question.answer)
                            .map_or("?", |m| m.content.as_str());
                        eprintln!(
                            "miss [{}] hybrid {:?} vector {:?} keyword {:?}: {:?} -> {:?}",
                            question.kind,
                            rank_of(&hybrid),
                            rank_of(&vector),
                            rank_of(&keyword),
                            question.query,
                            answer
                        );
                    }
                }
            }
            if args.database_url.is_some() {
                for id in ids.into_iter().chain(extra) {
                    store.delete(id).await?;
                }
            }
        }
    }
    let mut modes: Vec<String> = tallies.keys().map(|(m, _)| m.clone()).collect();
    modes.sort();
    modes.dedup();
    let mut report = serde_json::Map::new();
    report.insert("embedder".into(), embedder.identity().model.clone().into());
    for mode in &modes {
        let mut all = Tally::default();
        let mut per_kind = serde_json::Map::new();
        for ((m, kind), tally) in &tallies {
            if m == mode {
                all.questions += tally.questions;
                all.at_1 += tally.at_1;
                all.at_5 += tally.at_5;
                let (r1, r5) = tally.recall();
                per_kind.insert(
                    kind.clone(),
                    serde_json::json!({"recall_at_1": r1, "recall_at_5": r5}),
                );
            }
        }
        let (r1, r5) = all.recall();
        eprintln!(
            "{mode:>14}: recall@1 {r1:.3}  recall@5 {r5:.3}  ({} questions) {}",
            all.questions,
            serde_json::Value::Object(per_kind.clone())
        );
        report.insert(mode.clone(), serde_json::json!({"recall_at_1": r1, "recall_at_5": r5, "questions": all.questions, "by_kind": per_kind}));
    }
    println!("{}", serde_json::Value::Object(report));
    Ok(())
}

fn load(path: &PathBuf) -> anyhow::Result<Dataset> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn reciprocal_rank_fusion(vector: &[MemoryId], keyword: &[MemoryId]) -> Vec<MemoryId> {
    let mut ids: Vec<MemoryId> = vector.iter().chain(keyword).copied().collect();
    ids.sort();
    ids.dedup();
    let scored = ids
        .into_iter()
        .map(|id| {
            let ranks = [
                vector.iter().position(|x| *x == id),
                keyword.iter().position(|x| *x == id),
            ];
            (id, fusion::reciprocal_rank(&ranks))
        })
        .collect();
    fusion::best_first(scored, 50)
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}
