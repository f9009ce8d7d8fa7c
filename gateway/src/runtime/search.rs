//! The search tool's embeddings across reloads: the configured embedder (kept while its config
//! and API key are unchanged, so a local model loads once) and the vector cache (so a reload
//! embeds only the tools whose text changed). Used by the reload path only, never by requests.

use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};
use toolyard_crds::config::EmbeddingConfig;

use crate::search::embed::{CachingEmbedder, EmbedError, Embedder, EmbeddingCache};
use crate::search::views::DenseViews;
use toolyard_compile::manifests::SecretValues;

/// Where the gateway image carries its default sentence-embedding model (all-MiniLM-L6-v2):
/// `spec.search` without an `embedding` uses it when the directory exists
/// (`--default-embedding-model`).
pub const DEFAULT_MODEL_DIR: &str = "/usr/share/toolyard/models/all-MiniLM-L6-v2";

/// Builds the embedder for a config (tests replace it with a fake).
pub type EmbedderFactory =
    dyn Fn(&EmbeddingConfig, &SecretValues) -> Result<Arc<dyn Embedder>, EmbedError> + Send + Sync;

/// The embedder the gateway builds for a config: a local model directory or an
/// OpenAI-compatible endpoint (API key from the referenced Secret).
pub fn default_factory(
    config: &EmbeddingConfig,
    secrets: &SecretValues,
) -> Result<Arc<dyn Embedder>, EmbedError> {
    match config {
        EmbeddingConfig::LocalModel { path } => local_model(path),
        EmbeddingConfig::OpenAi {
            url,
            model,
            api_key,
        } => {
            let key = match api_key {
                None => None,
                Some(r) => Some(
                    secrets
                        .get(&(r.secret.clone(), r.key.clone()))
                        .cloned()
                        .ok_or_else(|| EmbedError::MissingSecret {
                            secret: r.secret.clone(),
                            key: r.key.clone(),
                        })?,
                ),
            };
            Ok(Arc::new(crate::search::embed::openai::OpenAiEmbedder::new(
                url, model, key,
            )?))
        }
    }
}

#[cfg(feature = "embeddings")]
fn local_model(path: &str) -> Result<Arc<dyn Embedder>, EmbedError> {
    Ok(Arc::new(crate::search::embed::local::LocalEmbedder::load(
        path,
    )?))
}

#[cfg(not(feature = "embeddings"))]
fn local_model(_path: &str) -> Result<Arc<dyn Embedder>, EmbedError> {
    Err(EmbedError::NotBuiltIn)
}

/// The state of dense search, for `/readyz` and metrics.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EmbeddingStatus {
    /// Whether the served search index is hybrid (BM25 + dense). `false` with an `error` means
    /// search fell back to BM25.
    pub active: bool,
    /// Why embeddings are not in use (cleared by a reload that embeds successfully).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Reloads whose embedding failed.
    pub failures: u64,
    /// Texts embedded since the gateway started (cache misses).
    pub embedded_texts: u64,
    /// Vectors held in the cache.
    pub cached_vectors: usize,
    /// Tool texts are being embedded in the background; BM25 serves until they are done.
    pub pending: bool,
    /// Texts the pending job still has to embed.
    #[serde(skip_serializing_if = "is_zero")]
    pub pending_texts: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Tool texts that still need vectors: embedded off the reload path ([`SearchEmbeddings::prepare`]
/// hands it out, the runtime's background job embeds and stores it), so a reload never waits for
/// a model.
pub struct EmbedJob {
    /// The embedder to use.
    pub embedder: Arc<dyn Embedder>,
    /// Every text of the index, in index order ([`DenseViews::texts`] of each tool).
    pub texts: Vec<String>,
    /// How the texts' vectors become one per tool.
    pub views: DenseViews,
    /// The distinct texts without a cached vector.
    pub missing: Vec<String>,
}

impl std::fmt::Debug for EmbedJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbedJob")
            .field("texts", &self.texts.len())
            .field("missing", &self.missing.len())
            .finish_non_exhaustive()
    }
}

/// What [`SearchEmbeddings::prepare`] found.
#[derive(Debug)]
pub enum Prepared {
    /// Every vector was cached: the index can be hybrid at once (one vector per tool).
    Ready(Arc<dyn Embedder>, Vec<Arc<[f32]>>),
    /// Some texts must be embedded first.
    Embed(EmbedJob),
}

/// Embedder + cache, owned by the runtime and used under its reload lock.
pub struct SearchEmbeddings {
    factory: Box<EmbedderFactory>,
    /// The embedder and the fingerprint of the config (and API key) it was built for.
    current: Option<([u8; 32], Arc<dyn Embedder>)>,
    cache: EmbeddingCache,
    status: EmbeddingStatus,
}

impl Default for SearchEmbeddings {
    fn default() -> Self {
        Self::new(Box::new(default_factory))
    }
}

impl std::fmt::Debug for SearchEmbeddings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchEmbeddings")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Identifies a config and the API key value it resolves to (hashed: the key is not kept).
fn fingerprint(config: &EmbeddingConfig, secrets: &SecretValues) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(config).unwrap_or_default());
    if let EmbeddingConfig::OpenAi {
        api_key: Some(r), ..
    } = config
        && let Some(v) = secrets.get(&(r.secret.clone(), r.key.clone()))
    {
        h.update([1]);
        h.update(v.0.as_bytes());
    }
    h.finalize().into()
}

impl SearchEmbeddings {
    /// With a custom embedder factory.
    pub fn new(factory: Box<EmbedderFactory>) -> Self {
        Self {
            factory,
            current: None,
            cache: EmbeddingCache::new(),
            status: EmbeddingStatus::default(),
        }
    }

    /// The status after the last reload.
    pub fn status(&self) -> &EmbeddingStatus {
        &self.status
    }

    /// The embedder for `config` (built once per config and key) and either every tool's vector
    /// from the cache or the job that embeds the missing texts. `texts` are the tools'
    /// [`DenseViews::texts`], tool after tool. Never embeds.
    pub fn prepare(
        &mut self,
        config: &EmbeddingConfig,
        secrets: &SecretValues,
        views: DenseViews,
        texts: Vec<String>,
    ) -> Result<Prepared, EmbedError> {
        let embedder = self.embedder(config, secrets)?;
        if let Some(v) = self.cache.cached(embedder.model_id(), &texts) {
            return Ok(Prepared::Ready(embedder, views.combine(&v)));
        }
        let missing = self.cache.missing(embedder.model_id(), &texts);
        self.status.active = false;
        self.status.pending = true;
        self.status.pending_texts = missing.len();
        Ok(Prepared::Embed(EmbedJob {
            embedder,
            texts,
            views,
            missing,
        }))
    }

    /// Stores vectors a background job embedded (`texts` and `vectors` in the same order).
    pub fn store(
        &mut self,
        model: &str,
        texts: &[String],
        vectors: Vec<Vec<f32>>,
    ) -> Result<(), EmbedError> {
        self.cache.insert(model, texts, vectors)?;
        self.status.pending_texts = self.status.pending_texts.saturating_sub(texts.len());
        self.status.embedded_texts = self.cache.embedded();
        Ok(())
    }

    /// Every tool's vector of a finished job, from the cache (`None` if one is missing).
    pub fn finish(&mut self, job: &EmbedJob) -> Option<Vec<Arc<[f32]>>> {
        let vectors = self.cache.cached(job.embedder.model_id(), &job.texts)?;
        Some(job.views.combine(&vectors))
    }

    /// A background job ended (finished, failed or superseded).
    pub fn job_done(&mut self) {
        self.status.pending = false;
        self.status.pending_texts = 0;
    }

    fn embedder(
        &mut self,
        config: &EmbeddingConfig,
        secrets: &SecretValues,
    ) -> Result<Arc<dyn Embedder>, EmbedError> {
        let fp = fingerprint(config, secrets);
        match &self.current {
            Some((f, e)) if *f == fp => Ok(e.clone()),
            _ => {
                self.current = None;
                // Query vectors are cached for as long as this embedder is kept.
                let e: Arc<dyn Embedder> =
                    Arc::new(CachingEmbedder::new((self.factory)(config, secrets)?));
                self.current = Some((fp, e.clone()));
                Ok(e)
            }
        }
    }

    /// Records the outcome of a reload's embedding step.
    pub fn record(&mut self, outcome: Result<(), &EmbedError>) {
        match outcome {
            Ok(()) => {
                self.status.active = true;
                self.status.error = None;
            }
            Err(e) => {
                self.status.active = false;
                self.status.error = Some(e.to_string());
                self.status.failures += 1;
            }
        }
        self.status.embedded_texts = self.cache.embedded();
        self.status.cached_vectors = self.cache.len();
    }

    /// Embeddings are not configured (any more): forget the embedder and the vectors.
    pub fn clear(&mut self) {
        self.current = None;
        self.cache.clear();
        self.status.active = false;
        self.status.error = None;
        self.status.cached_vectors = 0;
        self.status.pending = false;
        self.status.pending_texts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Runtime;
    use crate::search::embed::tests::Letters;
    use std::path::Path;
    use std::sync::Mutex;
    use std::sync::atomic::Ordering;

    const GATEWAY: &str = r#"
apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata: {name: g}
spec:
  search:
    type: Semantic
    embedding:
      openAi:
        url: http://127.0.0.1:9
        model: text-embedding-3-small
        apiKeySecretRef: {name: embed-key, key: token}
  inboundAuth: {none: {}}
---
apiVersion: v1
kind: Secret
metadata: {name: embed-key}
stringData: {token: sk-test}
"#;

    fn target(name: &str, prefix: &str, description: &str, tools: &[&str]) -> String {
        target_v(name, prefix, description, tools, "")
    }

    /// `version` is appended to every tool description.
    fn target_v(
        name: &str,
        prefix: &str,
        description: &str,
        tools: &[&str],
        version: &str,
    ) -> String {
        let mut s = format!(
            "apiVersion: toolyard.dev/v1alpha1\nkind: GatewayTarget\nmetadata: {{name: {name}}}\nspec:\n  gatewayRef: {{name: g}}\n  toolPrefix: {prefix}\n  description: {description}\n  lambda:\n    functionArn: arn:aws:lambda:us-east-1:123456789012:function:{name}\n    toolSchema:\n      inline:\n"
        );
        for t in tools {
            s.push_str(&format!(
                "        - name: {t}\n          description: {t} tool{version}\n          inputSchema: {{type: object, properties: {{id: {{type: string}}}}}}\n"
            ));
        }
        s
    }

    fn write(dir: &Path, files: &[(&str, String)]) {
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }

    /// Applies the directory and waits for the background embedding (if any) to finish.
    fn apply(runtime: &Runtime, dir: &Path) -> u64 {
        let (config, secrets, _) = crate::source::watch::load(dir, None).unwrap();
        let generation = runtime.apply(config, &secrets).unwrap();
        assert!(runtime.wait_for_search_embeddings(std::time::Duration::from_secs(30)));
        generation
    }

    fn hybrid(runtime: &Runtime) -> bool {
        runtime
            .snapshot()
            .unwrap()
            .search
            .as_ref()
            .unwrap()
            .load()
            .is_hybrid()
    }

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "toolyard-search-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A reload that changes one target embeds only that target's tools; an unchanged reload
    /// embeds nothing; the embedder is built once for an unchanged config and key.
    #[test]
    fn a_reload_embeds_only_the_changed_targets_tools() {
        let fake = Arc::new(Letters::default());
        let built = Arc::new(Mutex::new(Vec::<EmbeddingConfig>::new()));
        let (f, b) = (fake.clone(), built.clone());
        let runtime = Runtime::with_embedder_factory(Box::new(move |config, secrets| {
            // The OpenAI config and its key arrive compiled from the manifests.
            assert!(
                matches!(config, EmbeddingConfig::OpenAi { model, .. } if model == "text-embedding-3-small")
            );
            let key = secrets.get(&("embed-key".to_string(), "token".to_string()));
            assert_eq!(key.map(|k| k.0.as_str()), Some("sk-test"));
            b.lock().unwrap().push(config.clone());
            Ok(f.clone() as Arc<dyn Embedder>)
        }));
        let dir = temp_dir("reload");
        write(
            &dir,
            &[
                ("g.yaml", GATEWAY.to_string()),
                (
                    "a.yaml",
                    target(
                        "a",
                        "A",
                        "Orders",
                        &["get_order", "cancel_order", "list_orders"],
                    ),
                ),
                (
                    "b.yaml",
                    target("b", "B", "Users", &["get_user", "delete_user"]),
                ),
            ],
        );
        // Each tool embeds a short and a long text (`DenseViews`; they differ for these tools).
        let views = DenseViews::default().per_tool() as u64;
        apply(&runtime, &dir);
        assert_eq!(
            fake.texts.load(Ordering::SeqCst),
            5 * views,
            "first load embeds every tool"
        );
        let snapshot = runtime.snapshot().unwrap();
        assert!(hybrid(&runtime));
        assert_eq!(snapshot.search_error, None);
        let status = runtime.status().search_embedding.unwrap();
        assert!(status.active && status.error.is_none());
        assert_eq!(status.embedded_texts, 5 * views);

        // Same config again: nothing to embed.
        apply(&runtime, &dir);
        assert_eq!(fake.texts.load(Ordering::SeqCst), 5 * views);

        // Target b's description changes (part of no embedded text) and a's tools stay: still
        // nothing. Then b gets a new tool list: only b's tools are embedded.
        write(
            &dir,
            &[(
                "b.yaml",
                target("b", "B", "User directory", &["get_user", "delete_user"]),
            )],
        );
        apply(&runtime, &dir);
        assert_eq!(fake.texts.load(Ordering::SeqCst), 5 * views);
        write(
            &dir,
            &[(
                "b.yaml",
                target(
                    "b",
                    "B",
                    "Users",
                    &["get_user", "delete_user", "rename_user"],
                ),
            )],
        );
        apply(&runtime, &dir);
        assert_eq!(
            fake.texts.load(Ordering::SeqCst),
            (5 + 1) * views,
            "only the new tool of the changed target is embedded"
        );
        // Every tool of b gets a new description: exactly b's three tools are embedded, none of a's.
        write(
            &dir,
            &[(
                "b.yaml",
                target_v(
                    "b",
                    "B",
                    "Users",
                    &["get_user", "delete_user", "rename_user"],
                    " (v2)",
                ),
            )],
        );
        apply(&runtime, &dir);
        assert_eq!(fake.texts.load(Ordering::SeqCst), (6 + 3) * views);
        // A new prefix renames b's tools but leaves their embedded text alone: nothing to embed.
        write(
            &dir,
            &[(
                "b.yaml",
                target_v(
                    "b",
                    "People",
                    "Users",
                    &["get_user", "delete_user", "rename_user"],
                    " (v2)",
                ),
            )],
        );
        apply(&runtime, &dir);
        assert_eq!(fake.texts.load(Ordering::SeqCst), 9 * views);
        assert_eq!(
            runtime
                .snapshot()
                .unwrap()
                .search
                .as_ref()
                .unwrap()
                .load()
                .len(),
            6
        );
        assert_eq!(built.lock().unwrap().len(), 1, "the embedder is built once");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A failing embedder never loses the config: the snapshot serves with BM25 and the status
    /// says why; the next good reload turns hybrid search back on.
    #[test]
    fn an_embedding_failure_falls_back_to_bm25_and_is_reported() {
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let fake = Arc::new(Letters::default());
        let (fl, f) = (fail.clone(), fake.clone());
        let runtime = Runtime::with_embedder_factory(Box::new(move |_, _| {
            if fl.load(Ordering::SeqCst) {
                Err(EmbedError::Endpoint {
                    url: "http://127.0.0.1:9/v1/embeddings".into(),
                    message: "request failed: connection refused".into(),
                })
            } else {
                Ok(f.clone() as Arc<dyn Embedder>)
            }
        }));
        let dir = temp_dir("fallback");
        write(
            &dir,
            &[
                ("g.yaml", GATEWAY.to_string()),
                (
                    "a.yaml",
                    target("a", "A", "Orders", &["get_order", "cancel_order"]),
                ),
            ],
        );
        let generation = apply(&runtime, &dir);
        let snapshot = runtime.snapshot().unwrap();
        assert_eq!(snapshot.generation, generation, "the config is served");
        let index = snapshot.search.as_ref().unwrap().load();
        assert!(!index.is_hybrid());
        assert!(
            !index.search("cancel order", 5).is_empty(),
            "BM25 still answers"
        );
        let e = snapshot.search_error.clone().unwrap();
        assert!(
            e.contains("connection refused") && !e.contains("sk-test"),
            "{e}"
        );
        let status = runtime.status();
        let emb = status.search_embedding.unwrap();
        assert!(!emb.active && emb.failures == 1 && emb.error.is_some());
        assert_eq!(status.last_error, None, "the reload itself succeeded");

        fail.store(false, Ordering::SeqCst);
        apply(&runtime, &dir);
        assert!(hybrid(&runtime));
        let emb = runtime.status().search_embedding.unwrap();
        assert!(emb.active && emb.error.is_none() && emb.failures == 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// An embedder that waits for a gate before embedding tool texts (a slow model).
    #[derive(Debug)]
    struct Gated {
        gate: Arc<(Mutex<bool>, std::sync::Condvar)>,
        inner: Letters,
    }

    impl Embedder for Gated {
        fn model_id(&self) -> &str {
            "gated"
        }
        fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
            let (open, cv) = &*self.gate;
            let guard = open.lock().unwrap();
            drop(cv.wait_while(guard, |o| !*o).unwrap());
            self.inner.embed_blocking(texts)
        }
        fn embed_query<'a>(
            &'a self,
            text: &'a str,
        ) -> crate::search::embed::BoxFuture<'a, Result<Vec<f32>, EmbedError>> {
            self.inner.embed_query(text)
        }
    }

    /// A reload does not wait for the model: BM25 serves at once, the status says embedding is
    /// pending, and the hybrid index replaces it in the same generation when the vectors are in.
    #[test]
    fn bm25_serves_at_once_and_the_hybrid_index_follows() {
        let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let g = gate.clone();
        let runtime = Runtime::with_embedder_factory(Box::new(move |_, _| {
            Ok(Arc::new(Gated {
                gate: g.clone(),
                inner: Letters::default(),
            }) as Arc<dyn Embedder>)
        }));
        let dir = temp_dir("background");
        write(
            &dir,
            &[
                ("g.yaml", GATEWAY.to_string()),
                (
                    "a.yaml",
                    target("a", "A", "Orders", &["get_order", "cancel_order"]),
                ),
            ],
        );
        let (config, secrets, _) = crate::source::watch::load(&dir, None).unwrap();
        let generation = runtime.apply(config, &secrets).unwrap();
        let snapshot = runtime.snapshot().unwrap();
        let index = snapshot.search.as_ref().unwrap().load_full();
        assert!(!index.is_hybrid(), "served before any tool is embedded");
        assert!(!index.search("cancel order", 5).is_empty(), "BM25 answers");
        let emb = runtime.status().search_embedding.unwrap();
        assert!(
            emb.pending && !emb.active && emb.pending_texts == 2 * DenseViews::default().per_tool(),
            "{emb:?}"
        );
        assert!(!runtime.wait_for_search_embeddings(std::time::Duration::from_millis(50)));

        let (open, cv) = &*gate;
        *open.lock().unwrap() = true;
        cv.notify_all();
        assert!(runtime.wait_for_search_embeddings(std::time::Duration::from_secs(30)));
        let snapshot = runtime.snapshot().unwrap();
        assert_eq!(snapshot.generation, generation, "no new generation");
        assert!(hybrid(&runtime));
        let emb = runtime.status().search_embedding.unwrap();
        assert!(emb.active && !emb.pending && emb.error.is_none(), "{emb:?}");

        // The same config again: every vector is cached, so the index is hybrid at once.
        let (config, secrets, _) = crate::source::watch::load(&dir, None).unwrap();
        runtime.apply(config, &secrets).unwrap();
        assert!(hybrid(&runtime), "no BM25 interlude on a reload");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `type: Semantic` without an `embedding` uses the image's default model when the gateway
    /// was started with one; a configured embedding wins over it.
    /// An OpenAPI operation marked `deprecated: true` ranks below its twin: the flag travels
    /// from the document through the compiled config to the index.
    #[test]
    fn a_deprecated_operation_ranks_below_its_replacement() {
        let runtime = Runtime::new();
        let dir = temp_dir("deprecated");
        let op = |id: &str, deprecated: bool| {
            format!(
                r#""/{id}": {{"get": {{"operationId": "{id}", "deprecated": {deprecated}, "summary": "List the cards of a customer", "responses": {{"200": {{"description": "ok"}}}}}}}}"#
            )
        };
        let document = format!(
            r#"{{"openapi": "3.0.3", "info": {{"title": "t", "version": "1"}}, "paths": {{{}, {}}}}}"#,
            op("listCardsA", true),
            op("listCardsB", false)
        );
        write(
            &dir,
            &[(
                "g.yaml",
                format!(
                    "apiVersion: toolyard.dev/v1alpha1\nkind: Gateway\nmetadata: {{name: g}}\nspec:\n  search: {{type: Semantic}}\n  inboundAuth: {{none: {{}}}}\n---\napiVersion: toolyard.dev/v1alpha1\nkind: GatewayTarget\nmetadata: {{name: t}}\nspec:\n  gatewayRef: {{name: g}}\n  toolPrefix: cards\n  openApi:\n    baseUrl: https://api.example.com\n    schema:\n      inline: '{document}'\n"
                ),
            )],
        );
        apply(&runtime, &dir);
        let snapshot = runtime.snapshot().unwrap();
        let index = snapshot.search.as_ref().unwrap().load();
        let names: Vec<&str> = index
            .search("list the cards of a customer", 2)
            .into_iter()
            .map(|p| snapshot.tools[p].name.as_ref())
            .collect();
        assert_eq!(names, ["cards___listCardsB", "cards___listCardsA"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn search_without_an_embedding_uses_the_default_model() {
        let built = Arc::new(Mutex::new(Vec::<EmbeddingConfig>::new()));
        let b = built.clone();
        let runtime = Runtime::with_embedder_factory(Box::new(move |config, _| {
            b.lock().unwrap().push(config.clone());
            Ok(Arc::new(Letters::default()) as Arc<dyn Embedder>)
        }));
        runtime.set_default_embedding("/usr/share/models/minilm".into());
        let dir = temp_dir("default-model");
        write(
            &dir,
            &[
                (
                    "g.yaml",
                    "apiVersion: toolyard.dev/v1alpha1\nkind: Gateway\nmetadata: {name: g}\nspec:\n  search: {type: Semantic}\n  inboundAuth: {none: {}}\n".to_string(),
                ),
                ("a.yaml", target("a", "A", "Orders", &["get_order"])),
            ],
        );
        apply(&runtime, &dir);
        assert!(hybrid(&runtime));
        assert_eq!(
            built.lock().unwrap().as_slice(),
            [EmbeddingConfig::LocalModel {
                path: "/usr/share/models/minilm".into()
            }]
        );
        // A configured embedding is used instead.
        write(&dir, &[("g.yaml", GATEWAY.to_string())]);
        apply(&runtime, &dir);
        assert!(matches!(
            built.lock().unwrap().last(),
            Some(EmbeddingConfig::OpenAi { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// In a cluster the operator compiles the same manifests with its credentials Secret: the
    /// API key reference points at the copy in the gateway's own Secret (`<secret>.<key>`),
    /// which is what the kube source hands the runtime.
    #[test]
    fn operator_compile_points_the_api_key_at_the_gateways_own_secret() {
        let dir = temp_dir("operator");
        write(&dir, &[("g.yaml", GATEWAY.to_string())]);
        let manifests = toolyard_compile::manifests::Manifests::load(&dir).unwrap();
        let ctx = toolyard_compile::gateway::CompileContext {
            credentials_secret: Some("g-toolyard-credentials".into()),
            ..Default::default()
        };
        let compiled = toolyard_compile::gateway::compile(
            &manifests.gateways[0],
            &[],
            &manifests.resolved_refs(),
            &ctx,
        )
        .unwrap();
        let Some(EmbeddingConfig::OpenAi {
            api_key: Some(r),
            url,
            ..
        }) = compiled.config.gateway.search.embedding
        else {
            panic!("no OpenAI embedding config");
        };
        assert_eq!(url, "http://127.0.0.1:9");
        assert_eq!(
            (r.secret.as_str(), r.key.as_str()),
            ("g-toolyard-credentials", "embed-key.token")
        );
        let config = EmbeddingConfig::OpenAi {
            url,
            model: "m".into(),
            api_key: Some(r),
        };
        let mut secrets = SecretValues::new();
        assert!(matches!(
            default_factory(&config, &secrets),
            Err(EmbedError::MissingSecret { .. })
        ));
        secrets.insert(
            ("g-toolyard-credentials".into(), "embed-key.token".into()),
            toolyard_compile::manifests::SecretValue("sk".into()),
        );
        assert!(default_factory(&config, &secrets).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Without the `embeddings` feature, or with a bad model directory, the error names the
    /// field and what to do.
    #[test]
    fn a_bad_local_model_is_reported_with_its_path() {
        let runtime = Runtime::new();
        let dir = temp_dir("local");
        write(
            &dir,
            &[
                (
                    "g.yaml",
                    "apiVersion: toolyard.dev/v1alpha1\nkind: Gateway\nmetadata: {name: g}\nspec:\n  search:\n    type: Semantic\n    embedding:\n      localModel: {path: /nonexistent/minilm}\n  inboundAuth: {none: {}}\n".to_string(),
                ),
                ("a.yaml", target("a", "A", "Orders", &["get_order"])),
            ],
        );
        apply(&runtime, &dir);
        let e = runtime.snapshot().unwrap().search_error.clone().unwrap();
        assert!(e.starts_with("search.embedding.localModel"), "{e}");
        #[cfg(feature = "embeddings")]
        assert!(e.contains("/nonexistent/minilm"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
