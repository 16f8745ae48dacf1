//! Text embeddings: the `Embedder` trait and its backends (a model bundled in the binary, a local
//! sentence-transformers folder, and OpenAI-compatible `/embeddings` servers).

#[cfg(feature = "bundled-embedder")]
mod bundled;
#[cfg(feature = "local-embedder")]
mod local_bert;
#[cfg(feature = "remote-embedder")]
mod remote;

#[cfg(feature = "bundled-embedder")]
pub use bundled::{BundledEmbedder, BUNDLED_MODEL_ID};
#[cfg(feature = "local-embedder")]
pub use local_bert::LocalBertEmbedder;
#[cfg(feature = "remote-embedder")]
pub use remote::{RemoteEmbedder, RemoteEmbedderConfig};

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which model produced a set of vectors. Stored with the data so that vectors from two different
/// models are never compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedderIdentity {
    /// A stable model id, e.g. `sentence-transformers/all-MiniLM-L6-v2`.
    pub model: String,
    pub dimensions: usize,
}

impl fmt::Display for EmbedderIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} dimensions)", self.model, self.dimensions)
    }
}

/// Why an embedding could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The text cannot be embedded (empty, too long for the model's input limits).
    #[error("cannot embed this text: {0}")]
    Input(String),
    /// The model files could not be read or are not a supported model.
    #[error("cannot load the embedding model: {0}")]
    Load(String),
    /// Inference failed inside the model.
    #[error("embedding model failed: {0}")]
    Inference(String),
    /// A remote embedding server failed or could not be reached.
    #[error("embedding server error: {message}")]
    Remote {
        message: String,
        /// True when trying again later may succeed (timeouts, 429, 5xx).
        retryable: bool,
    },
}

impl EmbedError {
    /// True when the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Remote {
                retryable: true,
                ..
            }
        )
    }
}

/// Turns texts into unit-length vectors of a fixed dimension. Implementations may block the
/// thread (local inference); callers on an async runtime use `spawn_blocking`.
pub trait Embedder: Send + Sync + fmt::Debug {
    fn identity(&self) -> &EmbedderIdentity;

    /// One vector per text, in order, each L2-normalized.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// Scales `vector` to unit length; fails on zero or non-finite vectors.
pub fn normalize(vector: &mut [f32]) -> Result<(), EmbedError> {
    let norm = vector
        .iter()
        .map(|v| f64::from(*v) * f64::from(*v))
        .sum::<f64>()
        .sqrt();
    if !norm.is_finite() || norm <= f64::EPSILON {
        return Err(EmbedError::Inference(
            "model produced a zero or non-finite vector".into(),
        ));
    }
    for v in vector.iter_mut() {
        *v = (f64::from(*v) / norm) as f32;
    }
    Ok(())
}

/// Cosine similarity of two unit vectors (their dot product).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_makes_unit_vectors_and_rejects_zero() {
        let mut v = vec![3.0, 4.0];
        normalize(&mut v).unwrap();
        assert!((cosine(&v, &v) - 1.0).abs() < 1e-6);
        assert!(normalize(&mut [0.0, 0.0]).is_err());
        assert!(normalize(&mut [f32::NAN, 1.0]).is_err());
    }
}
