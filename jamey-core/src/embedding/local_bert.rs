//! Sentence-transformers BERT models (e.g. all-MiniLM-L6-v2) loaded from a local folder holding
//! `config.json`, `tokenizer.json` and `model.safetensors`: mean pooling over the attention mask,
//! then L2 normalization, as sentence-transformers does.

use super::{normalize, EmbedError, Embedder, EmbedderIdentity};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::fmt;
use std::path::Path;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Longest input in tokens; sentence-transformers' MiniLM models are trained up to 256.
const DEFAULT_MAX_TOKENS: usize = 256;
/// Texts per forward pass; bounds the padded batch tensor.
const BATCH: usize = 32;

/// A BERT sentence-embedding model read from disk.
pub struct LocalBertEmbedder {
    model: BertModel,
    tokenizer: Tokenizer,
    identity: EmbedderIdentity,
}

impl fmt::Debug for LocalBertEmbedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalBertEmbedder")
            .field("identity", &self.identity)
            .finish()
    }
}

impl LocalBertEmbedder {
    /// Loads the model in `dir`. Its identity is `local/<folder name>`.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let read = |name: &str| {
            let path = dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(EmbedError::Load(format!(
                    "{} is missing (a sentence-transformers folder holds config.json, tokenizer.json and model.safetensors)",
                    path.display()
                )))
            }
        };
        let config_path = read("config.json")?;
        let tokenizer_path = read("tokenizer.json")?;
        let weights_path = read("model.safetensors")?;

        let config_text = std::fs::read_to_string(&config_path)
            .map_err(|e| EmbedError::Load(format!("{}: {e}", config_path.display())))?;
        let config: Config = serde_json::from_str(&config_text)
            .map_err(|e| EmbedError::Load(format!("{}: {e}", config_path.display())))?;
        let hidden_size = config.hidden_size;
        let max_tokens = max_tokens(dir).min(config.max_position_embeddings);

        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| EmbedError::Load(format!("{}: {e}", tokenizer_path.display())))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| EmbedError::Load(e.to_string()))?;

        let device = Device::Cpu;
        // Safe API: reads the file into memory rather than memory-mapping it.
        let weights = std::fs::read(&weights_path)
            .map_err(|e| EmbedError::Load(format!("{}: {e}", weights_path.display())))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| EmbedError::Load(format!("{}: {e}", weights_path.display())))?;
        let model = BertModel::load(vb, &config)
            .map_err(|e| EmbedError::Load(format!("{}: {e}", weights_path.display())))?;

        let folder = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "model".into());
        Ok(Self {
            model,
            tokenizer,
            identity: EmbedderIdentity {
                model: format!("local/{folder}"),
                dimensions: hidden_size,
            },
        })
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let inference = |e: candle_core::Error| EmbedError::Inference(e.to_string());
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Input(e.to_string()))?;
        let rows = encodings.len();
        let width = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(rows * width);
        let mut types = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * width);
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            types.extend_from_slice(encoding.get_type_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        let device = &self.model.device;
        let ids = Tensor::from_vec(ids, (rows, width), device).map_err(inference)?;
        let types = Tensor::from_vec(types, (rows, width), device).map_err(inference)?;
        let mask = Tensor::from_vec(mask, (rows, width), device).map_err(inference)?;

        let hidden = self
            .model
            .forward(&ids, &types, Some(&mask))
            .map_err(inference)?;
        // Mean over real tokens only: padding must not dilute short texts.
        let mask = mask
            .to_dtype(DType::F32)
            .and_then(|m| m.unsqueeze(2))
            .map_err(inference)?;
        let summed = hidden
            .broadcast_mul(&mask)
            .and_then(|t| t.sum(1))
            .map_err(inference)?;
        let counts = mask.sum(1).map_err(inference)?;
        let pooled = summed.broadcast_div(&counts).map_err(inference)?;
        let mut vectors: Vec<Vec<f32>> = pooled.to_vec2().map_err(inference)?;
        for vector in &mut vectors {
            normalize(vector)?;
        }
        Ok(vectors)
    }
}

/// `max_seq_length` from `sentence_bert_config.json` when present.
fn max_tokens(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("sentence_bert_config.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|value| value.get("max_seq_length")?.as_u64())
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(DEFAULT_MAX_TOKENS)
}

impl Embedder for LocalBertEmbedder {
    fn identity(&self) -> &EmbedderIdentity {
        &self.identity
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if let Some(index) = texts.iter().position(|t| t.trim().is_empty()) {
            return Err(EmbedError::Input(format!("text {index} is empty")));
        }
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            out.extend(self.embed_batch(chunk)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedding::cosine;

    #[test]
    fn missing_folder_names_the_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = LocalBertEmbedder::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("config.json"), "{err}");
    }

    /// Runs against all-MiniLM-L6-v2 when the test command has fetched it
    /// (`JAMEY_TEST_MINILM_DIR`); in CI the variable is always set.
    #[test]
    fn minilm_l6_matches_the_reference_similarity() {
        let Some(dir) = std::env::var_os("JAMEY_TEST_MINILM_DIR") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "JAMEY_TEST_MINILM_DIR must be set in CI (scripts/test.sh sets it)"
            );
            return;
        };
        let embedder = LocalBertEmbedder::load(Path::new(&dir)).unwrap();
        assert_eq!(embedder.identity().dimensions, 384);
        let texts = ["A man is eating food.", "A man is eating a piece of bread."];
        let batch = embedder.embed(&texts).unwrap();
        let close = cosine(&batch[0], &batch[1]);
        assert!((close - 0.7553).abs() < 0.002, "cos = {close}");
        // Padding in a batch must not change a text's vector.
        let alone = embedder.embed(&texts[..1]).unwrap();
        assert!(cosine(&alone[0], &batch[0]) > 0.9999);
    }
}
