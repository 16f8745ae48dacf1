//! `jamey-bench embed`: sentences per second of the local embedders, batched as the store does.

use crate::stats::round;
use anyhow::Context;
use jamey_core::embedding::{BundledEmbedder, Embedder, LocalBertEmbedder};
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub(crate) struct EmbedArgs {
    /// Sentences to embed per model.
    #[arg(long, default_value_t = 512)]
    sentences: usize,
    /// Sentences per call.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// A sentence-transformers folder (e.g. all-MiniLM-L6-v2) to measure besides the bundled model.
    #[arg(long, env = "JAMEY_EMBEDDING_MODEL_DIR")]
    model_dir: Option<PathBuf>,
}

pub(crate) fn run(args: EmbedArgs) -> anyhow::Result<()> {
    let sentences: Vec<String> = (0..args.sentences)
        .map(|i| format!("Note {i}: remember to call the dentist about the appointment moved to week {} and bring the forms.", i % 52))
        .collect();
    let mut report = serde_json::Map::new();
    let bundled = BundledEmbedder::load()?;
    report.insert(
        "bundled_sentences_per_s".into(),
        rate(&bundled, &sentences, args.batch)?.into(),
    );
    if let Some(dir) = &args.model_dir {
        let local =
            LocalBertEmbedder::load(dir).with_context(|| format!("loading {}", dir.display()))?;
        report.insert("local_model".into(), local.identity().model.clone().into());
        report.insert(
            "local_sentences_per_s".into(),
            rate(&local, &sentences, args.batch)?.into(),
        );
    }
    println!("{}", serde_json::Value::Object(report));
    Ok(())
}

fn rate(embedder: &dyn Embedder, sentences: &[String], batch: usize) -> anyhow::Result<f64> {
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    embedder.embed(&refs[..refs.len().min(8)])?; // warm-up
    let started = Instant::now();
    for chunk in refs.chunks(batch.max(1)) {
        embedder.embed(chunk)?;
    }
    let per_s = sentences.len() as f64 / started.elapsed().as_secs_f64();
    eprintln!("{}: {per_s:.0} sentences/s", embedder.identity());
    Ok(round(per_s, 1))
}
