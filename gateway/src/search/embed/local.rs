//! A local sentence-embedding model: a BERT encoder (for example all-MiniLM-L6-v2) from a
//! sentence-transformers model directory, run on the CPU in pure Rust with candle. Output is the
//! mean of the token vectors (or the first token's, if the directory's pooling config says so),
//! L2-normalised — the same as sentence-transformers.
//!
//! The directory needs `model.safetensors`, `tokenizer.json` and `config.json`;
//! `sentence_bert_config.json` (max sequence length), `1_Pooling/config.json` and
//! `config_sentence_transformers.json` (its `prompts.query`: an instruction put before every
//! search query, as `SentenceTransformer.encode(q, prompt_name="query")` does; bge-small-en-v1.5
//! is trained with one) and `toolyard_search.json` (its `min_similarity`: the cosine under which
//! a query-tool pair is noise for this model; see [`Embedder::min_similarity`]) are optional.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder};
use tokenizers::{Tokenizer, TruncationParams};

use super::query_encoder::{Parts, QueryEncoder};
use super::{BoxFuture, EmbedError, Embedder, normalize};

/// The subset of a BERT `config.json` the encoder needs.
#[derive(Debug, serde::Deserialize)]
struct BertConfig {
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    vocab_size: usize,
    max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    type_vocab_size: usize,
    #[serde(default = "default_eps")]
    layer_norm_eps: f64,
    #[serde(default)]
    hidden_act: Option<String>,
    #[serde(default)]
    model_type: Option<String>,
}

fn default_type_vocab() -> usize {
    2
}

fn default_eps() -> f64 {
    1e-12
}

#[derive(Debug, Default, serde::Deserialize)]
struct SentenceBertConfig {
    #[serde(default)]
    max_seq_length: Option<usize>,
}

/// The part of `config_sentence_transformers.json` the encoder uses.
#[derive(Debug, Default, serde::Deserialize)]
struct SentenceTransformersConfig {
    #[serde(default)]
    prompts: Prompts,
}

#[derive(Debug, Default, serde::Deserialize)]
struct Prompts {
    /// Put before each search query; tool texts get none (they are the passages).
    #[serde(default)]
    query: Option<String>,
}

/// `toolyard_search.json`: what tool search needs to know about the model beyond
/// sentence-transformers' files.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchConfig {
    #[serde(default)]
    min_similarity: Option<f32>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
}

/// Default when `sentence_bert_config.json` is absent (sentence-transformers' MiniLM setting).
const DEFAULT_MAX_TOKENS: usize = 256;

fn model_err(path: &Path, message: impl std::fmt::Display) -> EmbedError {
    EmbedError::Model {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

fn inference(e: candle_core::Error) -> EmbedError {
    EmbedError::Inference(e.to_string())
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// The loaded model (weights + tokenizer).
pub struct BertEncoder {
    id: String,
    tokenizer: Tokenizer,
    words: Embedding,
    positions: Embedding,
    token_types: Embedding,
    embeddings_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_dim: usize,
    cls_pooling: bool,
    /// Put before each search query (empty: none).
    query_prompt: String,
    /// From `toolyard_search.json`.
    min_similarity: Option<f32>,
    device: Device,
    /// The same model for one short text at a time (search queries), in 8 bits.
    query: QueryEncoder,
}

impl std::fmt::Debug for BertEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertEncoder")
            .field("id", &self.id)
            .field("layers", &self.layers.len())
            .finish_non_exhaustive()
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, EmbedError> {
    let text = std::fs::read_to_string(path).map_err(|e| model_err(path, e))?;
    serde_json::from_str(&text).map_err(|e| model_err(path, e))
}

fn read_optional_json<T: serde::de::DeserializeOwned + Default>(
    path: &Path,
) -> Result<T, EmbedError> {
    if path.exists() {
        read_json(path)
    } else {
        Ok(T::default())
    }
}

impl BertEncoder {
    /// Revision of the 8-bit path's arithmetic (search queries and catalog texts). A change of
    /// the arithmetic moves vectors in their last digits, so a store of vectors keyed by model
    /// and text (the search benchmark's vector file) keys by this too and re-embeds instead of
    /// mixing revisions. 2: the bias starts each sum and the input's step is factored out.
    pub const EIGHT_BIT_REVISION: u32 = 2;

    /// Loads a model directory. Takes about a second for MiniLM (90 MB of weights).
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, EmbedError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(model_err(dir, "not a directory"));
        }
        let config: BertConfig = read_json(&dir.join("config.json"))?;
        if let Some(t) = &config.model_type
            && !matches!(t.as_str(), "bert")
        {
            return Err(model_err(
                &dir.join("config.json"),
                format!("model_type {t:?} is not supported (only BERT encoders)"),
            ));
        }
        if let Some(act) = &config.hidden_act
            && act != "gelu"
        {
            return Err(model_err(
                &dir.join("config.json"),
                format!("hidden_act {act:?} is not supported (only gelu)"),
            ));
        }
        if config.num_attention_heads == 0
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
        {
            return Err(model_err(
                &dir.join("config.json"),
                "hidden_size must be a multiple of num_attention_heads",
            ));
        }
        let st: SentenceBertConfig = read_optional_json(&dir.join("sentence_bert_config.json"))?;
        let pooling: PoolingConfig = read_optional_json(&dir.join("1_Pooling/config.json"))?;
        let prompts: SentenceTransformersConfig =
            read_optional_json(&dir.join("config_sentence_transformers.json"))?;
        let search_path = dir.join("toolyard_search.json");
        let search: SearchConfig = read_optional_json(&search_path)?;
        if let Some(m) = search.min_similarity
            && !(-1.0..=1.0).contains(&m)
        {
            return Err(model_err(
                &search_path,
                format!("min_similarity {m} is not a cosine similarity (-1 to 1)"),
            ));
        }
        let max_tokens = st
            .max_seq_length
            .unwrap_or(DEFAULT_MAX_TOKENS)
            .min(config.max_position_embeddings);

        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| model_err(&tok_path, e))?;
        // The file may carry fixed-length padding and a shorter truncation: pad per batch
        // ourselves and truncate where sentence-transformers does.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| model_err(&tok_path, e))?;

        let weights_path = dir.join("model.safetensors");
        let bytes = std::fs::read(&weights_path).map_err(|e| model_err(&weights_path, e))?;
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &device)
            .map_err(|e| model_err(&weights_path, e))?;
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("bert")
        };
        let bad = |e: candle_core::Error| model_err(&weights_path, e);
        let h = config.hidden_size;
        let emb = vb.pp("embeddings");
        let words =
            candle_nn::embedding(config.vocab_size, h, emb.pp("word_embeddings")).map_err(bad)?;
        let positions = candle_nn::embedding(
            config.max_position_embeddings,
            h,
            emb.pp("position_embeddings"),
        )
        .map_err(bad)?;
        let token_types =
            candle_nn::embedding(config.type_vocab_size, h, emb.pp("token_type_embeddings"))
                .map_err(bad)?;
        let eps = config.layer_norm_eps;
        let embeddings_norm = candle_nn::layer_norm(h, eps, emb.pp("LayerNorm")).map_err(bad)?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let att = l.pp("attention");
            layers.push(Layer {
                query: candle_nn::linear(h, h, att.pp("self.query")).map_err(bad)?,
                key: candle_nn::linear(h, h, att.pp("self.key")).map_err(bad)?,
                value: candle_nn::linear(h, h, att.pp("self.value")).map_err(bad)?,
                attention_out: candle_nn::linear(h, h, att.pp("output.dense")).map_err(bad)?,
                attention_norm: candle_nn::layer_norm(h, eps, att.pp("output.LayerNorm"))
                    .map_err(bad)?,
                intermediate: candle_nn::linear(
                    h,
                    config.intermediate_size,
                    l.pp("intermediate.dense"),
                )
                .map_err(bad)?,
                output: candle_nn::linear(config.intermediate_size, h, l.pp("output.dense"))
                    .map_err(bad)?,
                output_norm: candle_nn::layer_norm(h, eps, l.pp("output.LayerNorm"))
                    .map_err(bad)?,
            });
        }
        let query = QueryEncoder::new(Parts {
            words: &words,
            positions: &positions,
            token_types: &token_types,
            embeddings_norm: &embeddings_norm,
            layers: layers
                .iter()
                .map(|l| {
                    (
                        [
                            &l.query,
                            &l.key,
                            &l.value,
                            &l.attention_out,
                            &l.intermediate,
                            &l.output,
                        ],
                        [&l.attention_norm, &l.output_norm],
                    )
                })
                .collect(),
            heads: config.num_attention_heads,
            cls_pooling: pooling.pooling_mode_cls_token,
        })
        .map_err(bad)?;
        let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| PathBuf::from(dir));
        Ok(Self {
            id: format!("local:{}", canonical.display()),
            tokenizer,
            words,
            positions,
            token_types,
            embeddings_norm,
            layers,
            heads: config.num_attention_heads,
            head_dim: h / config.num_attention_heads,
            cls_pooling: pooling.pooling_mode_cls_token,
            query_prompt: prompts.prompts.query.unwrap_or_default(),
            min_similarity: search.min_similarity,
            device,
            query,
        })
    }

    /// The model's id (`local:` and the directory).
    pub fn model_id(&self) -> &str {
        &self.id
    }

    /// The tokenizer (padding off, truncated at the model's limit).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Embeds one search query, L2-normalised, with the 8-bit path (about 4× faster than the
    /// 32-bit [`embed_reference`](Self::embed_reference) for a query; vectors within the
    /// quantization's error of it). The model's query prompt, if it has one, goes first.
    pub fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        if self.query_prompt.is_empty() {
            self.encode_one(text)
        } else {
            self.encode_one(&format!("{}{text}", self.query_prompt))
        }
    }

    /// One text through the 8-bit path, as it is (no prompt), L2-normalised.
    fn encode_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| EmbedError::Inference(format!("tokenizing failed: {e}")))?;
        let mut v = self.query.encode(enc.get_ids()).map_err(inference)?;
        normalize(&mut v);
        Ok(v)
    }

    /// Bytes the 8-bit query path holds besides the model's own tensors.
    pub fn query_path_bytes(&self) -> usize {
        self.query.bytes()
    }

    /// The instruction set the query path's products run with on this CPU.
    pub fn query_path_kernel(&self) -> &'static str {
        super::int8::kernel()
    }

    /// Pooled, unnormalised vectors of token id sequences (padded to the longest of the batch).
    pub fn forward_ids(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.forward(batch).map_err(inference)
    }

    /// The vector size.
    pub fn dim(&self) -> usize {
        self.heads * self.head_dim
    }

    /// Embeds catalog texts (same order), L2-normalised, without the query prompt: each text
    /// through the 8-bit path, one text per thread of rayon's pool.
    ///
    /// Why not the 32-bit batches: on one core the 8-bit path embeds the default tool text ~2.7×
    /// as fast (236 against 88 tools/s, `bench/search-results.md`), and the search quality with
    /// 8-bit catalog vectors is the 32-bit one to within one intent of 210. Texts are independent,
    /// so they spread over the cores without padding any of them to a batch's longest.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        use rayon::prelude::*;
        texts.par_iter().map(|t| self.encode_one(t)).collect()
    }

    /// Embeds texts (same order), L2-normalised, through the tensor library in 32 bits: the
    /// reference computation the 8-bit path is measured against (the benchmark's
    /// `--catalog-32bit`). Texts of similar length are batched together so little padding is
    /// computed.
    pub fn embed_reference(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut ids: Vec<(usize, Vec<u32>)> = Vec::with_capacity(texts.len());
        for (i, t) in texts.iter().enumerate() {
            let enc = self
                .tokenizer
                .encode(t.as_str(), true)
                .map_err(|e| EmbedError::Inference(format!("tokenizing failed: {e}")))?;
            ids.push((i, enc.get_ids().to_vec()));
        }
        ids.sort_by_key(|(_, t)| t.len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in ids.chunks(16) {
            let batch: Vec<&[u32]> = chunk.iter().map(|(_, t)| t.as_slice()).collect();
            let vectors = self.forward(&batch).map_err(inference)?;
            for ((i, _), mut v) in chunk.iter().zip(vectors) {
                normalize(&mut v);
                out[*i] = v;
            }
        }
        Ok(out)
    }

    /// One padded batch through the encoder, pooled.
    fn forward(&self, batch: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let b = batch.len();
        let n = batch.iter().map(|t| t.len()).max().unwrap_or(0).max(1);
        let mut flat = Vec::with_capacity(b * n);
        let mut mask = Vec::with_capacity(b * n);
        for t in batch {
            flat.extend_from_slice(t);
            flat.extend(std::iter::repeat_n(0u32, n - t.len()));
            mask.extend(std::iter::repeat_n(1f32, t.len()));
            mask.extend(std::iter::repeat_n(0f32, n - t.len()));
        }
        let dev = &self.device;
        let input = Tensor::from_vec(flat, (b, n), dev)?;
        let mask = Tensor::from_vec(mask, (b, n), dev)?;
        let pos = Tensor::arange(0u32, n as u32, dev)?;
        let types = Tensor::zeros((b, n), DType::U32, dev)?;
        let x = self
            .words
            .forward(&input)?
            .broadcast_add(&self.positions.forward(&pos)?)?
            .add(&self.token_types.forward(&types)?)?;
        let mut x = self.embeddings_norm.forward(&x)?;
        // Additive attention bias: 0 for tokens, a large negative number for padding.
        let bias = mask
            .affine(1e4, -1e4)?
            .reshape((b, 1, 1, n))?
            .contiguous()?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        for layer in &self.layers {
            let split = |t: Tensor| -> candle_core::Result<Tensor> {
                t.reshape((b, n, self.heads, self.head_dim))?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let q = split(layer.query.forward(&x)?)?;
            let k = split(layer.key.forward(&x)?)?;
            let v = split(layer.value.forward(&x)?)?;
            let scores = (q.matmul(&k.t()?.contiguous()?)? * scale)?.broadcast_add(&bias)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let ctx = probs.matmul(&v)?.transpose(1, 2)?.contiguous()?.reshape((
                b,
                n,
                self.heads * self.head_dim,
            ))?;
            let attended = layer
                .attention_norm
                .forward(&(layer.attention_out.forward(&ctx)? + &x)?)?;
            let inner = layer.intermediate.forward(&attended)?.gelu_erf()?;
            x = layer
                .output_norm
                .forward(&(layer.output.forward(&inner)? + &attended)?)?;
        }
        let pooled = if self.cls_pooling {
            x.narrow(1, 0, 1)?.squeeze(1)?
        } else {
            let m = mask.unsqueeze(2)?;
            let summed = x.broadcast_mul(&m)?.sum(1)?;
            let counts = m.sum(1)?.clamp(1e-9, f64::MAX)?;
            summed.broadcast_div(&counts)?
        };
        pooled.to_vec2::<f32>()
    }
}

/// [`Embedder`] over a shared [`BertEncoder`].
#[derive(Clone, Debug)]
pub struct LocalEmbedder {
    encoder: Arc<BertEncoder>,
}

impl LocalEmbedder {
    /// Loads the model directory.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, EmbedError> {
        Ok(Self {
            encoder: Arc::new(BertEncoder::load(dir)?),
        })
    }

    /// The encoder.
    pub fn encoder(&self) -> &BertEncoder {
        &self.encoder
    }
}

impl Embedder for LocalEmbedder {
    fn model_id(&self) -> &str {
        &self.encoder.id
    }

    fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.encoder.embed(texts)
    }

    fn embed_query_blocking(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.encoder.embed_query(text)
    }

    fn query_prompt(&self) -> &str {
        &self.encoder.query_prompt
    }

    fn min_similarity(&self) -> Option<f32> {
        self.encoder.min_similarity
    }

    fn embed_query<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Vec<f32>, EmbedError>> {
        let encoder = self.encoder.clone();
        let text = text.to_string();
        Box::pin(async move {
            // Milliseconds of CPU: keep it off the async workers.
            tokio::task::spawn_blocking(move || encoder.embed_query(&text))
                .await
                .map_err(|e| EmbedError::Inference(e.to_string()))?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_is_a_clear_error() {
        let e = BertEncoder::load("/nonexistent/model")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent/model") && e.contains("not a directory"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("toolyard-empty-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = BertEncoder::load(&dir).unwrap_err().to_string();
        assert!(e.contains("config.json"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_similarity_floor_outside_minus_one_to_one_is_refused() {
        let dir = std::env::temp_dir().join(format!("toolyard-bad-floor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.json"),
            r#"{"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
                "intermediate_size": 16, "vocab_size": 10, "max_position_embeddings": 16}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("toolyard_search.json"),
            r#"{"min_similarity": 55}"#,
        )
        .unwrap();
        let e = BertEncoder::load(&dir).unwrap_err().to_string();
        assert!(
            e.contains("toolyard_search.json") && e.contains("min_similarity 55"),
            "{e}"
        );
        std::fs::write(
            dir.join("toolyard_search.json"),
            r#"{"min_similarity": "high"}"#,
        )
        .unwrap();
        let e = BertEncoder::load(&dir).unwrap_err().to_string();
        assert!(e.contains("toolyard_search.json"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
