//! Dense text embeddings for the search tool: where vectors come from ([`Embedder`]: a local
//! sentence-embedding model or an OpenAI-compatible endpoint) and the cache that makes a reload
//! embed only the texts that changed ([`EmbeddingCache`]).
//!
//! Every vector is L2-normalised, so a dot product is the cosine similarity.

#[cfg(feature = "embeddings")]
pub mod local;
pub mod openai;

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// A boxed future (the embedder trait must be object safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why texts could not be embedded. The search tool keeps serving BM25 results when this happens.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model directory is missing a file or holds something unreadable.
    #[error(
        "search.embedding.localModel: {path}: {message}; mount a sentence-transformers BERT model directory (model.safetensors, tokenizer.json, config.json) there"
    )]
    Model {
        /// The file or directory.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// This gateway binary was built without local models.
    #[error(
        "search.embedding.localModel: this gateway was built without the `embeddings` feature; use an image built with it, or search.embedding.openAi"
    )]
    NotBuiltIn,
    /// Running the model failed.
    #[error("search.embedding.localModel: inference failed: {0}")]
    Inference(String),
    /// The endpoint could not be reached or answered with an error.
    #[error("search.embedding.openAi: {url}: {message}")]
    Endpoint {
        /// The embeddings URL.
        url: String,
        /// What failed (never the API key).
        message: String,
    },
    /// The API key Secret is missing.
    #[error(
        "search.embedding.openAi.apiKeySecretRef: Secret {secret} has no key {key:?}; create it or fix the reference"
    )]
    MissingSecret {
        /// Secret name.
        secret: String,
        /// Key.
        key: String,
    },
    /// The model returned vectors of different sizes, or the wrong number of them.
    #[error("search.embedding: {0}")]
    Shape(String),
}

/// A source of embeddings.
///
/// Reloads call [`Embedder::embed_blocking`] from a blocking thread (off the request path); the
/// search tool calls [`Embedder::embed_query`] for the query on the request path.
pub trait Embedder: Send + Sync + Debug {
    /// Identifies the model: vectors of different models never mix in the cache.
    fn model_id(&self) -> &str;

    /// Embeds `texts` (same order), blocking the calling thread.
    fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// Embeds one query without blocking the async executor.
    fn embed_query<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Vec<f32>, EmbedError>>;
}

/// L2-normalises `v` in place (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Cache key: the model and the text, hashed.
type Key = [u8; 32];

fn key(model: &str, text: &str) -> Key {
    let mut h = Sha256::new();
    h.update(model.as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    h.finalize().into()
}

/// Vectors by (model, text) hash, kept across reloads so a reload embeds only new texts.
#[derive(Debug, Default)]
pub struct EmbeddingCache {
    vectors: HashMap<Key, Arc<[f32]>>,
    /// Texts embedded since the process started (cache misses), for tests and metrics.
    embedded: u64,
}

/// How many texts to send to the embedder at once.
const BATCH: usize = 64;

impl EmbeddingCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Texts embedded so far (cache misses).
    pub fn embedded(&self) -> u64 {
        self.embedded
    }

    /// Drops every vector (the counter stays).
    pub fn clear(&mut self) {
        self.vectors.clear();
    }

    /// Vectors held.
    pub fn len(&self) -> usize {
        self.vectors.len()
    }

    /// Whether the cache holds no vector.
    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    /// The vectors of `texts` (same order), embedding only the ones not cached (each distinct
    /// text once). Afterwards the cache holds exactly these texts' vectors, so it never grows
    /// past one config's tools. On error nothing is dropped.
    pub fn resolve(
        &mut self,
        embedder: &dyn Embedder,
        texts: &[String],
    ) -> Result<Vec<Arc<[f32]>>, EmbedError> {
        let model = embedder.model_id();
        let keys: Vec<Key> = texts.iter().map(|t| key(model, t)).collect();
        let mut seen = HashSet::new();
        let missing: Vec<usize> = (0..texts.len())
            .filter(|&i| !self.vectors.contains_key(&keys[i]) && seen.insert(keys[i]))
            .collect();
        let mut dim = self.vectors.values().next().map(|v| v.len());
        for chunk in missing.chunks(BATCH) {
            let batch: Vec<String> = chunk.iter().map(|&i| texts[i].clone()).collect();
            let vectors = embedder.embed_blocking(&batch)?;
            if vectors.len() != batch.len() {
                return Err(EmbedError::Shape(format!(
                    "asked for {} embeddings, got {}",
                    batch.len(),
                    vectors.len()
                )));
            }
            for (&i, mut v) in chunk.iter().zip(vectors) {
                if *dim.get_or_insert(v.len()) != v.len() || v.is_empty() {
                    return Err(EmbedError::Shape(format!(
                        "vectors of different sizes ({} and {})",
                        dim.unwrap_or_default(),
                        v.len()
                    )));
                }
                normalize(&mut v);
                self.vectors.insert(keys[i], v.into());
            }
            self.embedded += chunk.len() as u64;
        }
        let mut out = Vec::with_capacity(texts.len());
        for k in &keys {
            match self.vectors.get(k) {
                Some(v) => out.push(v.clone()),
                None => return Err(EmbedError::Shape("a vector went missing".into())),
            }
        }
        let wanted: HashSet<Key> = keys.into_iter().collect();
        self.vectors.retain(|k, _| wanted.contains(k));
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A fake embedder: a bag-of-letters vector; counts the texts it embeds.
    #[derive(Debug, Default)]
    pub(crate) struct Letters {
        pub calls: AtomicU64,
        pub texts: AtomicU64,
    }

    pub(crate) fn letters(text: &str) -> Vec<f32> {
        let mut v = vec![0.0; 26];
        for c in text.to_ascii_lowercase().bytes() {
            if c.is_ascii_lowercase() {
                v[usize::from(c - b'a')] += 1.0;
            }
        }
        v[0] += 0.01;
        v
    }

    impl Embedder for Letters {
        fn model_id(&self) -> &str {
            "letters"
        }
        fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.texts.fetch_add(texts.len() as u64, Ordering::SeqCst);
            Ok(texts.iter().map(|t| letters(t)).collect())
        }
        fn embed_query<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Vec<f32>, EmbedError>> {
            Box::pin(async move { Ok(letters(text)) })
        }
    }

    #[test]
    fn resolve_embeds_only_new_texts_and_forgets_old_ones() {
        let e = Letters::default();
        let mut cache = EmbeddingCache::new();
        let texts: Vec<String> = ["a", "b", "c", "a"].map(String::from).to_vec();
        let v = cache.resolve(&e, &texts).unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(
            e.texts.load(Ordering::SeqCst),
            3,
            "duplicates embedded once"
        );
        let n: f32 = v[1].iter().map(|x| x * x).sum();
        assert!((n - 1.0).abs() < 1e-5, "normalised");
        let texts: Vec<String> = ["a", "b", "d"].map(String::from).to_vec();
        cache.resolve(&e, &texts).unwrap();
        assert_eq!(e.texts.load(Ordering::SeqCst), 4, "only d is new");
        assert_eq!(cache.len(), 3, "c is forgotten");
        assert_eq!(cache.embedded(), 4);
    }
}
