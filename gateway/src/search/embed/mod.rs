//! Dense text embeddings for the search tool: where vectors come from ([`Embedder`]: a local
//! sentence-embedding model or an OpenAI-compatible endpoint) and the cache that makes a reload
//! embed only the texts that changed ([`EmbeddingCache`]).
//!
//! Every vector is L2-normalised, so a dot product is the cosine similarity.

#[cfg(feature = "embeddings")]
mod int8;
#[cfg(feature = "embeddings")]
pub mod local;
pub mod openai;
#[cfg(feature = "embeddings")]
mod query_encoder;

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

    /// Embeds one query on the calling thread, the way [`Embedder::embed_query`] does (an
    /// embedder may have a faster path for a single short text); for benchmarks and tools.
    fn embed_query_blocking(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.embed_blocking(&[format!("{}{text}", self.query_prompt())])?
            .pop()
            .ok_or_else(|| EmbedError::Shape("no vector for the query".into()))
    }

    /// The instruction the model puts before a search query (empty: none). Tool texts get
    /// none; a query embedded with [`Embedder::embed_blocking`] needs it to match
    /// [`Embedder::embed_query`].
    fn query_prompt(&self) -> &str {
        ""
    }

    /// The cosine similarity under which this model's query-tool pairs are noise: hybrid search
    /// drops hits only the dense ranking found below it. Models differ widely (MiniLM puts
    /// unrelated texts near 0, bge-small-en-v1.5 near 0.4), so the model states it; `None`
    /// keeps the fusion's default ([`DEFAULT_MIN_DENSE_SIMILARITY`](super::fusion::DEFAULT_MIN_DENSE_SIMILARITY)).
    fn min_similarity(&self) -> Option<f32> {
        None
    }
}

/// L2-normalises `v` in place (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Recent query vectors by query text, so a repeated query skips the model (a local model
/// spends milliseconds of CPU per query; a remote one a round trip). Two generations: lookups
/// try the current one, then the previous one (a hit is carried over); when the current one is
/// full it becomes the previous one. So at most `2 × capacity` vectors are held, recently used
/// ones survive, and every operation is O(1).
#[derive(Debug)]
pub struct QueryCache {
    capacity: usize,
    generations: std::sync::Mutex<[HashMap<String, Arc<[f32]>>; 2]>,
}

impl QueryCache {
    /// A cache keeping at least the `capacity` most recently used queries.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            generations: std::sync::Mutex::new([HashMap::new(), HashMap::new()]),
        }
    }

    /// The cached vector of `query`.
    pub fn get(&self, query: &str) -> Option<Arc<[f32]>> {
        let mut g = self.generations.lock().ok()?;
        if let Some(v) = g[0].get(query) {
            return Some(v.clone());
        }
        let v = g[1].remove(query)?;
        Self::put(&mut g, self.capacity, query.to_string(), v.clone());
        Some(v)
    }

    /// Remembers the vector of `query`.
    pub fn insert(&self, query: &str, vector: Arc<[f32]>) {
        if let Ok(mut g) = self.generations.lock() {
            Self::put(&mut g, self.capacity, query.to_string(), vector);
        }
    }

    fn put(g: &mut [HashMap<String, Arc<[f32]>>; 2], capacity: usize, q: String, v: Arc<[f32]>) {
        if g[0].len() >= capacity && !g[0].contains_key(&q) {
            g[1] = std::mem::take(&mut g[0]);
        }
        g[0].insert(q, v);
    }

    /// Vectors held.
    pub fn len(&self) -> usize {
        self.generations
            .lock()
            .map_or(0, |g| g[0].len() + g[1].len())
    }

    /// Whether no vector is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How many recent queries [`CachingEmbedder`] keeps (about 1.5 KiB each at 384 dimensions).
pub const QUERY_CACHE_SIZE: usize = 4096;

/// An embedder whose query vectors are cached ([`QueryCache`]); tool texts go straight through
/// (the reload path has its own cache, [`EmbeddingCache`]).
#[derive(Debug)]
pub struct CachingEmbedder {
    inner: Arc<dyn Embedder>,
    queries: QueryCache,
}

impl CachingEmbedder {
    /// Wraps `inner` with a query cache of [`QUERY_CACHE_SIZE`].
    pub fn new(inner: Arc<dyn Embedder>) -> Self {
        Self {
            inner,
            queries: QueryCache::new(QUERY_CACHE_SIZE),
        }
    }

    /// The query cache.
    pub fn queries(&self) -> &QueryCache {
        &self.queries
    }
}

impl Embedder for CachingEmbedder {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.inner.embed_blocking(texts)
    }

    fn embed_query<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Vec<f32>, EmbedError>> {
        Box::pin(async move {
            if let Some(v) = self.queries.get(text) {
                return Ok(v.to_vec());
            }
            let v = self.inner.embed_query(text).await?;
            self.queries.insert(text, v.as_slice().into());
            Ok(v)
        })
    }

    fn embed_query_blocking(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.inner.embed_query_blocking(text)
    }

    fn query_prompt(&self) -> &str {
        self.inner.query_prompt()
    }

    fn min_similarity(&self) -> Option<f32> {
        self.inner.min_similarity()
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

/// A cached vector in 8 bits, one step per vector: a quarter of the 32-bit size. The cache holds
/// every embedded text of the config (two per tool) for as long as it serves, while the vectors
/// it hands out live only until the index is built (which keeps its own 8-bit copy). Read back,
/// a vector is within cosine 0.9999 of the one stored.
#[derive(Debug)]
struct Stored {
    step: f32,
    values: Box<[i8]>,
}

impl Stored {
    fn new(v: &[f32]) -> Self {
        let mut values = vec![0i8; v.len()].into_boxed_slice();
        let step = super::quantize::quantize_into(v, &mut values);
        Self { step, values }
    }

    /// The vector, normalised again (rounding moved its length by up to a few thousandths).
    fn vector(&self) -> Arc<[f32]> {
        let mut v: Vec<f32> = self
            .values
            .iter()
            .map(|&x| f32::from(x) * self.step)
            .collect();
        normalize(&mut v);
        v.into()
    }
}

/// Vectors by (model, text) hash, kept across reloads so a reload embeds only new texts.
#[derive(Debug, Default)]
pub struct EmbeddingCache {
    vectors: HashMap<Key, Stored>,
    /// Texts embedded since the process started (cache misses), for tests and metrics.
    embedded: u64,
}

/// How many texts to send to the embedder at once.
pub const BATCH: usize = 64;

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
        let missing = self.missing(model, texts);
        for chunk in missing.chunks(BATCH) {
            let vectors = embedder.embed_blocking(chunk)?;
            self.insert(model, chunk, vectors)?;
        }
        self.cached(model, texts)
            .ok_or_else(|| EmbedError::Shape("a vector went missing".into()))
    }

    /// The distinct texts of `texts` that have no cached vector for `model` (in order).
    pub fn missing(&self, model: &str, texts: &[String]) -> Vec<String> {
        let mut seen = HashSet::new();
        texts
            .iter()
            .filter(|t| {
                let k = key(model, t);
                !self.vectors.contains_key(&k) && seen.insert(k)
            })
            .cloned()
            .collect()
    }

    /// Stores freshly embedded `vectors` of `texts` (same order), normalised. Vectors of another
    /// size than the cached ones, empty ones, or the wrong count are refused (nothing stored).
    pub fn insert(
        &mut self,
        model: &str,
        texts: &[String],
        vectors: Vec<Vec<f32>>,
    ) -> Result<(), EmbedError> {
        if vectors.len() != texts.len() {
            return Err(EmbedError::Shape(format!(
                "asked for {} embeddings, got {}",
                texts.len(),
                vectors.len()
            )));
        }
        let mut dim = self.vectors.values().next().map(|v| v.values.len());
        for v in &vectors {
            if *dim.get_or_insert(v.len()) != v.len() || v.is_empty() {
                return Err(EmbedError::Shape(format!(
                    "vectors of different sizes ({} and {})",
                    dim.unwrap_or_default(),
                    v.len()
                )));
            }
        }
        for (t, mut v) in texts.iter().zip(vectors) {
            normalize(&mut v);
            self.vectors.insert(key(model, t), Stored::new(&v));
        }
        self.embedded += texts.len() as u64;
        Ok(())
    }

    /// The vectors of `texts` when every one is cached; afterwards the cache holds exactly
    /// these texts' vectors (so it never grows past one config's tools).
    pub fn cached(&mut self, model: &str, texts: &[String]) -> Option<Vec<Arc<[f32]>>> {
        let keys: Vec<Key> = texts.iter().map(|t| key(model, t)).collect();
        let out = keys
            .iter()
            .map(|k| self.vectors.get(k).map(Stored::vector))
            .collect::<Option<Vec<_>>>()?;
        let wanted: HashSet<Key> = keys.into_iter().collect();
        self.vectors.retain(|k, _| wanted.contains(k));
        Some(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// `v` normalised, as every stored and indexed vector is.
    pub(crate) fn unit(v: &[f32]) -> Arc<[f32]> {
        let mut v = v.to_vec();
        normalize(&mut v);
        v.into()
    }

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

    /// A model with a query prompt: its blocking query path embeds the prompted text, and a
    /// caching wrapper passes both through.
    #[derive(Debug)]
    struct Prompted;

    impl Embedder for Prompted {
        fn model_id(&self) -> &str {
            "prompted"
        }
        fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
            Ok(texts.iter().map(|t| letters(t)).collect())
        }
        fn embed_query<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Vec<f32>, EmbedError>> {
            Box::pin(async move { Ok(letters(&format!("zz {text}"))) })
        }
        fn query_prompt(&self) -> &str {
            "zz "
        }
    }

    #[test]
    fn a_query_prompt_goes_before_the_query_on_every_path() {
        let want = letters("zz refund");
        assert_eq!(Prompted.embed_query_blocking("refund").unwrap(), want);
        let cached = CachingEmbedder::new(Arc::new(Prompted));
        assert_eq!(cached.query_prompt(), "zz ");
        assert_eq!(cached.embed_query_blocking("refund").unwrap(), want);
        assert_eq!(ready(cached.embed_query("refund")).unwrap(), want);
        assert_eq!(Letters::default().query_prompt(), "");
    }

    #[test]
    fn the_query_cache_keeps_recent_queries_and_stays_bounded() {
        let c = QueryCache::new(2);
        let v = |x: f32| -> Arc<[f32]> { vec![x].into() };
        c.insert("a", v(1.0));
        c.insert("b", v(2.0));
        c.insert("c", v(3.0)); // a, b move to the previous generation
        assert_eq!(c.get("a").as_deref(), Some(&[1.0][..]), "carried over");
        c.insert("d", v(4.0)); // {c, a} retire; b is dropped
        assert!(c.get("b").is_none());
        assert!(c.get("c").is_some() && c.get("d").is_some());
        assert!(c.len() <= 4);
    }

    /// Polls a future that is ready at once (the fakes never wait).
    fn ready<T>(f: BoxFuture<'_, T>) -> T {
        let mut f = f;
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the fake embedder never waits"),
        }
    }

    /// An embedder that counts its queries.
    #[derive(Debug, Default)]
    struct CountingQueries(AtomicU64);

    impl Embedder for CountingQueries {
        fn model_id(&self) -> &str {
            "counting"
        }
        fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
            Ok(texts.iter().map(|t| letters(t)).collect())
        }
        fn embed_query<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Vec<f32>, EmbedError>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { Ok(letters(text)) })
        }
    }

    #[test]
    fn a_cached_query_is_embedded_once() {
        let inner = Arc::new(CountingQueries::default());
        let e = CachingEmbedder::new(inner.clone());
        let a = ready(e.embed_query("refund a payment")).unwrap();
        let b = ready(e.embed_query("refund a payment")).unwrap();
        assert_eq!(a, b);
        assert_eq!(inner.0.load(Ordering::SeqCst), 1);
        assert_eq!(e.queries().len(), 1);
        ready(e.embed_query("cancel an order")).unwrap();
        assert_eq!(inner.0.load(Ordering::SeqCst), 2);
        assert_eq!(e.queries().len(), 2);
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

    #[test]
    fn a_cached_vector_reads_back_within_the_8_bit_error() {
        // A 384-dimensional unit vector with values of mixed signs and sizes.
        let mut v: Vec<f32> = (0..384)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        normalize(&mut v);
        let back = Stored::new(&v).vector();
        let cosine: f32 = v.iter().zip(back.iter()).map(|(a, b)| a * b).sum();
        let length: f32 = back.iter().map(|x| x * x).sum();
        assert!(cosine > 0.9999, "cosine {cosine}");
        assert!((length - 1.0).abs() < 1e-5, "length² {length}");
        // A zero vector stays zero (no NaN from the step).
        assert!(Stored::new(&[0.0; 4]).vector().iter().all(|&x| x == 0.0));
    }
}
