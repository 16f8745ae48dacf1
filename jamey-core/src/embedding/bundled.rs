//! The default embedder: paraphrase-MiniLM-L3-v2 (4-bit, 384 dimensions) compiled into the binary
//! by `pocket-encoder`, so Jamey embeds offline with no download and no set-up.

use super::{EmbedError, Embedder, EmbedderIdentity};
use std::fmt;

/// Model id stored with data embedded by the bundled model.
pub const BUNDLED_MODEL_ID: &str = "bundled/paraphrase-MiniLM-L3-v2-q4";

/// The bundled paraphrase-MiniLM-L3-v2 model.
#[derive(Clone)]
pub struct BundledEmbedder {
    encoder: pocket_encoder::Encoder,
    identity: EmbedderIdentity,
}

impl fmt::Debug for BundledEmbedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BundledEmbedder")
            .field("identity", &self.identity)
            .finish()
    }
}

impl BundledEmbedder {
    /// Loads the weights compiled into the binary.
    pub fn load() -> Result<Self, EmbedError> {
        let encoder =
            pocket_encoder::Encoder::new().map_err(|e| EmbedError::Load(e.to_string()))?;
        Ok(Self {
            encoder,
            identity: EmbedderIdentity {
                model: BUNDLED_MODEL_ID.into(),
                dimensions: pocket_encoder::model_info().dimensions,
            },
        })
    }
}

impl Embedder for BundledEmbedder {
    fn identity(&self) -> &EmbedderIdentity {
        &self.identity
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        // The encoder runs one text at a time; spread a batch over the machine's cores.
        let threads = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
            .min(texts.len().max(1));
        if threads <= 1 || texts.len() < 4 {
            return self.embed_serial(texts);
        }
        let chunk = texts.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = texts
                .chunks(chunk)
                .map(|part| scope.spawn(move || self.embed_serial(part)))
                .collect();
            let mut out = Vec::with_capacity(texts.len());
            for worker in workers {
                let part = worker
                    .join()
                    .map_err(|_| EmbedError::Inference("embedding thread panicked".into()))??;
                out.extend(part);
            }
            Ok(out)
        })
    }
}

impl BundledEmbedder {
    fn embed_serial(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.encoder.embed(texts).map_err(|e| match e {
            pocket_encoder::Error::Input(reason) => EmbedError::Input(reason.into()),
            other => EmbedError::Inference(other.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedding::cosine;

    #[test]
    fn bundled_model_embeds_paraphrases_close_together() {
        let embedder = BundledEmbedder::load().unwrap();
        let v = embedder
            .embed(&[
                "A man is eating food.",
                "A man is eating a piece of bread.",
                "The stock market fell sharply today.",
            ])
            .unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].len(), 384);
        let close = cosine(&v[0], &v[1]);
        let far = cosine(&v[0], &v[2]);
        assert!((close - 0.78).abs() < 0.05, "cos = {close}");
        assert!(far < close - 0.3, "unrelated cos = {far}");
    }
}
