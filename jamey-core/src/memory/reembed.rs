//! Re-embedding: after the configured embedder changes, every memory's vector is computed again
//! with the new model, so the store opens with it. Both backends write the new vectors beside the
//! old ones (resumable after an interruption) and swap them in with one transaction at the end,
//! so a store is never left holding vectors from two models under one identity.

use crate::embedding::{Embedder, EmbedderIdentity};
use crate::memory::StoreError;
use serde::Serialize;

/// Memories embedded per model call and written per transaction.
pub const REEMBED_BATCH: usize = 64;

/// How far a re-embedding has got: memories with a new vector, of all memories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReembedProgress {
    pub done: u64,
    pub total: u64,
}

/// What a re-embedding did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReembedReport {
    /// The model the vectors came from; `None` for a store that held no embedder yet.
    pub from: Option<EmbedderIdentity>,
    /// The model they come from now.
    pub to: EmbedderIdentity,
    /// Memories given a new vector (0 when the store already used `to`).
    pub reembedded: u64,
    /// Vectors computed by an earlier, interrupted run and kept.
    pub resumed: u64,
}

/// Embeds `contents` with `embedder`, checking that every vector has the embedder's dimension.
pub(crate) fn embed_batch(
    embedder: &dyn Embedder,
    contents: &[String],
) -> Result<Vec<Vec<f32>>, StoreError> {
    let texts: Vec<&str> = contents.iter().map(String::as_str).collect();
    let vectors = embedder.embed(&texts)?;
    let expected = embedder.identity().dimensions;
    if vectors.len() != contents.len() {
        return Err(StoreError::Migration(format!(
            "the embedder returned {} vectors for {} memories",
            vectors.len(),
            contents.len()
        )));
    }
    for vector in &vectors {
        super::check_vector(vector, expected)?;
    }
    Ok(vectors)
}
