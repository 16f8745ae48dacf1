//! The default embedder: paraphrase-MiniLM-L3-v2 (4-bit weights in groups of 32 with f16 scales,
//! 384 dimensions) compiled into the binary, so Jamey embeds offline with no download and no
//! set-up. The weights are the ones `pocket-encoder` 0.1 published (see
//! `assets/bundled-minilm-l3/NOTICE`); inference is candle's BERT, and the vectors are the same,
//! bit for bit, as pocket-encoder's, so stores written by earlier versions stay valid.
//!
//! Memory: the word-embedding table (30,522 x 384, two thirds of the model) stays 4-bit inside the
//! binary; only the rows of a text's tokens are dequantized, per call. The three encoder layers
//! are dequantized to F32 once at load (about 21 MB). Dequantizing the whole table, as before,
//! held another 47 MB for the life of the process.

use super::{EmbedError, Embedder, EmbedderIdentity};
use candle_core::{DType, Device, Tensor};
use candle_nn::{Embedding, Module, VarBuilder};
use candle_transformers::models::bert::{BertEncoder, Config};
use candle_transformers::models::with_tracing::{layer_norm, LayerNorm};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use tokenizers::{Tokenizer, TruncationParams};

/// Model id stored with data embedded by the bundled model.
pub const BUNDLED_MODEL_ID: &str = "bundled/paraphrase-MiniLM-L3-v2-q4";

const WEIGHTS: &[u8] = include_bytes!("../../assets/bundled-minilm-l3/model.safetensors");
const SHAPES: &str = include_str!("../../assets/bundled-minilm-l3/shapes.json");
const CONFIG: &str = include_str!("../../assets/bundled-minilm-l3/config.json");
const TOKENIZER: &[u8] = include_bytes!("../../assets/bundled-minilm-l3/tokenizer.json");

/// Longest input in tokens, special tokens included; longer texts are cut at the right.
const MAX_TOKENS: usize = 128;
/// Largest text accepted, a bound on tokenizer work.
const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Values per 4-bit group sharing one f16 scale.
const GROUP: usize = 32;
const WORD_EMBEDDINGS: &str = "embeddings.word_embeddings.weight";

/// The bundled paraphrase-MiniLM-L3-v2 model. Clones share the weights.
#[derive(Clone)]
pub struct BundledEmbedder {
    model: Arc<Model>,
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
        let model = Model::load().map_err(|e| EmbedError::Load(format!("bundled model: {e}")))?;
        Ok(Self {
            identity: EmbedderIdentity {
                model: BUNDLED_MODEL_ID.into(),
                dimensions: model.hidden,
            },
            model: Arc::new(model),
        })
    }
}

impl Embedder for BundledEmbedder {
    fn identity(&self) -> &EmbedderIdentity {
        &self.identity
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        for text in texts {
            if text.trim().is_empty() {
                return Err(EmbedError::Input("text must not be empty".into()));
            }
            if text.len() > MAX_TEXT_BYTES {
                return Err(EmbedError::Input(format!(
                    "text is {} bytes, the bundled model takes at most {MAX_TEXT_BYTES}",
                    text.len()
                )));
            }
        }
        // One text per forward pass (no padding); spread a batch over the machine's cores.
        let threads = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
            .min(texts.len().max(1));
        if threads <= 1 || texts.len() < 4 {
            return texts.iter().map(|t| self.model.embed_one(t)).collect();
        }
        let chunk = texts.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = texts
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|t| self.model.embed_one(t))
                            .collect::<Result<Vec<_>, _>>()
                    })
                })
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

/// The 4-bit word-embedding table, read in place from the binary.
struct QuantizedTable {
    /// Two values per byte, the lower nibble first; a value is `(nibble - 8) * scale`.
    packed: &'static [u8],
    /// One little-endian f16 scale per group of 32 values.
    scales: &'static [u8],
    rows: usize,
    width: usize,
}

impl QuantizedTable {
    /// Row `row`, dequantized.
    fn row_into(&self, row: usize, out: &mut Vec<f32>) -> Result<(), EmbedError> {
        if row >= self.rows {
            return Err(EmbedError::Inference(format!(
                "token id {row} is outside the vocabulary"
            )));
        }
        let start = row * self.width;
        out.extend((start..start + self.width).map(|i| dequantize(self.packed, self.scales, i)));
        Ok(())
    }
}

fn dequantize(packed: &[u8], scales: &[u8], i: usize) -> f32 {
    let nibble = (packed[i / 2] >> ((i % 2) * 4)) & 15;
    let group = i / GROUP;
    let scale = half::f16::from_le_bytes([scales[2 * group], scales[2 * group + 1]]).to_f32();
    (nibble as i16 - 8) as f32 * scale
}

struct Model {
    tokenizer: Tokenizer,
    words: QuantizedTable,
    token_types: Embedding,
    positions: Embedding,
    norm: LayerNorm,
    encoder: BertEncoder,
    hidden: usize,
}

impl Model {
    fn load() -> Result<Self, String> {
        let config: Config = serde_json::from_str(CONFIG).map_err(|e| e.to_string())?;
        let shapes: HashMap<String, Vec<usize>> =
            serde_json::from_str(SHAPES).map_err(|e| e.to_string())?;
        let file = safetensors::SafeTensors::deserialize(WEIGHTS).map_err(|e| e.to_string())?;
        let device = Device::Cpu;

        let mut tensors = HashMap::new();
        let mut words = None;
        for (name, shape) in &shapes {
            let count: usize = shape.iter().product();
            if shape.len() < 2 {
                let view = file.tensor(name).map_err(|e| e.to_string())?;
                let data: Vec<f32> = view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                if data.len() != count {
                    return Err(format!("{name}: {} values for shape {shape:?}", data.len()));
                }
                let tensor =
                    Tensor::from_vec(data, shape.as_slice(), &device).map_err(|e| e.to_string())?;
                tensors.insert(name.clone(), tensor);
                continue;
            }
            let packed = file
                .tensor(&format!("{name}.q4"))
                .map_err(|e| e.to_string())?
                .data();
            let scales = file
                .tensor(&format!("{name}.scales"))
                .map_err(|e| e.to_string())?
                .data();
            if packed.len() * 2 < count || scales.len() / 2 * GROUP < count {
                return Err(format!("{name}: quantized data too short for {shape:?}"));
            }
            if name == WORD_EMBEDDINGS {
                words = Some(QuantizedTable {
                    packed,
                    scales,
                    rows: shape[0],
                    width: shape[1],
                });
                continue;
            }
            let data: Vec<f32> = (0..count).map(|i| dequantize(packed, scales, i)).collect();
            let tensor =
                Tensor::from_vec(data, shape.as_slice(), &device).map_err(|e| e.to_string())?;
            tensors.insert(name.clone(), tensor);
        }
        let words = words.ok_or("the word-embedding table is missing")?;
        if words.width != config.hidden_size {
            return Err(format!(
                "word embeddings are {} wide, the model is {}",
                words.width, config.hidden_size
            ));
        }

        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let embeddings = vb.pp("embeddings");
        let token_types = candle_nn::embedding(
            config.type_vocab_size,
            config.hidden_size,
            embeddings.pp("token_type_embeddings"),
        )
        .map_err(|e| e.to_string())?;
        let positions = candle_nn::embedding(
            config.max_position_embeddings,
            config.hidden_size,
            embeddings.pp("position_embeddings"),
        )
        .map_err(|e| e.to_string())?;
        let norm = layer_norm(
            config.hidden_size,
            config.layer_norm_eps,
            embeddings.pp("LayerNorm"),
        )
        .map_err(|e| e.to_string())?;
        let encoder = BertEncoder::load(vb.pp("encoder"), &config).map_err(|e| e.to_string())?;

        let mut tokenizer = Tokenizer::from_bytes(TOKENIZER).map_err(|e| e.to_string())?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            tokenizer,
            words,
            token_types,
            positions,
            norm,
            encoder,
            hidden: config.hidden_size,
        })
    }

    /// One text's unit vector: BERT, the sum of the token states, L2-normalized.
    fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let encoded = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| EmbedError::Input(e.to_string()))?;
        let ids = encoded.get_ids();
        let mut words = Vec::with_capacity(ids.len() * self.hidden);
        for id in ids {
            self.words.row_into(*id as usize, &mut words)?;
        }
        let summed = self
            .forward(words, encoded.get_type_ids())
            .map_err(|e| EmbedError::Inference(e.to_string()))?;
        normalize(summed)
    }

    /// The summed final hidden states of one unpadded sequence, given its tokens' word
    /// embeddings: the operations of candle's `BertModel`, in the same order.
    fn forward(&self, words: Vec<f32>, types: &[u32]) -> candle_core::Result<Vec<f32>> {
        let device = Device::Cpu;
        let tokens = types.len();
        let words = Tensor::from_vec(words, (1, tokens, self.hidden), &device)?;
        let types = Tensor::new(types, &device)?.unsqueeze(0)?;
        let mut embeddings = (&words + self.token_types.forward(&types)?)?;
        let positions = Tensor::new(&(0..tokens as u32).collect::<Vec<_>>()[..], &device)?;
        embeddings = embeddings.broadcast_add(&self.positions.forward(&positions)?)?;
        let embeddings = self.norm.forward(&embeddings)?;
        // No padding, so the attention mask adds nothing: zeros, shaped as candle's BERT
        // expects its extended mask.
        let mask = Tensor::zeros((1, 1, 1, tokens), DType::F32, &device)?;
        let hidden = self.encoder.forward(&embeddings, &mask)?;
        hidden.sum(1)?.squeeze(0)?.to_vec1::<f32>()
    }
}

/// Unit length, computed in f64 as the vectors stored by earlier versions were.
fn normalize(summed: Vec<f32>) -> Result<Vec<f32>, EmbedError> {
    let norm = summed
        .iter()
        .map(|v| f64::from(*v).powi(2))
        .sum::<f64>()
        .sqrt();
    if !norm.is_finite() || norm <= 0.0 {
        return Err(EmbedError::Inference(
            "the model produced a zero or non-finite vector".into(),
        ));
    }
    Ok(summed
        .into_iter()
        .map(|v| (f64::from(v) / norm) as f32)
        .collect())
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

    #[test]
    fn vectors_are_those_pocket_encoder_stored() {
        // Stores written before this implementation hold pocket-encoder's vectors under the same
        // model id: they must compare equal, so nothing needs re-embedding.
        let ours = BundledEmbedder::load().unwrap();
        let theirs = pocket_encoder::Encoder::new().unwrap();
        let long = "word ".repeat(400);
        let texts = [
            "My sister Anna is allergic to peanuts",
            "what food can my sibling not eat?",
            "Zarkowski invoice RX-7731 due on 3 May, café naïve façade",
            long.as_str(),
        ];
        let a = ours.embed(&texts).unwrap();
        let b = theirs.embed(&texts).unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y);
        }
    }

    #[test]
    fn empty_and_oversized_texts_are_refused() {
        let embedder = BundledEmbedder::load().unwrap();
        assert!(matches!(embedder.embed(&["  "]), Err(EmbedError::Input(_))));
        let huge = "a".repeat(MAX_TEXT_BYTES + 1);
        assert!(matches!(
            embedder.embed(&[huge.as_str()]),
            Err(EmbedError::Input(_))
        ));
    }
}
