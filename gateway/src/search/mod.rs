//! The built-in search tool: which listed tools match a free-text query. Pure (no server stack):
//! the runtime snapshot builds a [`SearchIndex`] during a reload and the MCP handler queries it.
//!
//! Two engines, fused by normalised scores ([`fusion`]):
//! - BM25 over the tool's words ([`lexical`]) — always on, needs no model; a tool whose whole
//!   name the query says gets a boost (name coverage);
//! - dense embeddings ([`dense`], vectors from [`embed`]) — when a model is configured or
//!   bundled. Queries are embedded on the request path; tools during the reload, through a cache
//!   keyed by text hash so a reload embeds only the tools whose text changed.
//!
//! Deprecated tools (their source says so, or their description) rank below their replacements
//! in both engines ([`FieldWeights::deprecated`]), and so, a little, do tools of a pre-release
//! API version (`…V1beta1…`: [`FieldWeights::prerelease`]).

pub mod dense;
pub mod embed;
pub mod fusion;
pub mod lexical;
mod quantize;
pub mod simd;
pub mod text;
pub mod views;

use std::sync::Arc;

use serde_json::{Map, Value};

use dense::DenseIndex;
use embed::{EmbedError, Embedder};
use fusion::Fusion;
use lexical::{Bm25Builder, Bm25Index};

/// What each part of a tool contributes to BM25: the weights of a BM25F-style weighted term
/// frequency (a word in a field of weight 3 counts as three occurrences, and the document length
/// is the weighted length).
///
/// Name words and the summary say what a tool does; long descriptions and parameter lists mostly
/// say how, and in large real APIs (Stripe's descriptions run to paragraphs of HTML) they both
/// drown the name and match any query. The defaults were chosen on half of the real-API
/// evaluation set (`bench/search.sh --tune`, bench/search-results.md); the name-coverage boost
/// and the deprecated factor sit beside the field weights because they, too, say how much a
/// part of the tool's description counts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FieldWeights {
    /// Words of the tool's own name (after the target prefix).
    pub name: f32,
    /// Words of the target prefix in the tool name.
    pub prefix: f32,
    /// The display title (an OpenAPI summary).
    pub title: f32,
    /// The first sentence of the description.
    pub summary: f32,
    /// The rest of the description.
    pub description: f32,
    /// Parameter names (nested properties count half).
    pub param_name: f32,
    /// Parameter descriptions (nested properties count half).
    pub param_description: f32,
    /// The target's description.
    pub target_description: f32,
    /// Weight of the operation verb an everyday query word stands for ("remove" → delete,
    /// "show" → get/list; `lexical::VERB_SYNONYMS`); 0 turns query synonyms off.
    pub synonyms: f32,
    /// How much a tool's BM25 score grows with the share of the words of its own name that the
    /// query says (`1 + name_coverage × share`, `lexical::Bm25Index::set_name_coverage`); 0
    /// turns it off.
    pub name_coverage: f32,
    /// Factor on the scores of a deprecated tool in both rankings (its source marks it
    /// deprecated, or its description says so: `text::says_deprecated`); 1 leaves it alone.
    pub deprecated: f32,
    /// Factor on the scores of a tool whose name carries a pre-release API version
    /// (`…V1beta1…`, `…V2alpha1…`: [`names_prerelease_version`]) in both rankings; 1 leaves it
    /// alone.
    pub prerelease: f32,
}

impl FieldWeights {
    /// The weights before the real-API evaluation (every description word as much as a summary
    /// word, parameters strongly): kept for the benchmark's comparison.
    pub const BEFORE: FieldWeights = FieldWeights {
        name: 3.0,
        prefix: 1.0,
        title: 1.5,
        summary: 1.0,
        description: 1.0,
        param_name: 1.5,
        param_description: 0.5,
        target_description: 0.5,
        synonyms: 0.0,
        name_coverage: 0.0,
        deprecated: 1.0,
        prerelease: 1.0,
    };
}

impl Default for FieldWeights {
    fn default() -> Self {
        Self {
            name: 4.0,
            prefix: 1.0,
            title: 3.0,
            summary: 3.0,
            description: 0.6,
            param_name: 0.5,
            param_description: 0.0,
            target_description: 0.3,
            synonyms: 0.5,
            // Weights 1 to 4 tie on the tuning half (macro MRR@10 within 0.006, about one
            // intent); 1 is best on the combined catalog on both halves and costs BFCL, which
            // was never tuned on, least (bench/search-results.md, 2026-12-07).
            name_coverage: 1.0,
            // Flat on the tuning half from 0.9 down to 0.5; a mild factor keeps a deprecated
            // tool findable when the query names it.
            deprecated: 0.8,
            // A user means the stable version of a resource unless they name another; the
            // versions of one operation differ in nothing else a query says (and the embedded
            // text leaves the version out). Flat on the tuning half from 1 down to 0.85 (0.659),
            // lower at 0.8; at 0.9 the held-out half gains 0.010 and Kubernetes' hybrid is above
            // its dense ranking again (bench/search-results.md, 2026-12-07).
            prerelease: 0.9,
        }
    }
}

/// The searchable text of one tool.
#[derive(Clone, Copy, Debug, Default)]
pub struct ToolText<'a> {
    /// Served name (`<prefix>___<tool>`).
    pub name: &'a str,
    /// Display title.
    pub title: Option<&'a str>,
    /// Description.
    pub description: Option<&'a str>,
    /// JSON Schema of the arguments (`properties` are searched, and their nested `properties`
    /// one level down).
    pub input_schema: Option<&'a Map<String, Value>>,
    /// The target's description.
    pub target_description: Option<&'a str>,
    /// The source marks the operation deprecated (OpenAPI `deprecated: true`).
    pub deprecated: bool,
}

impl ToolText<'_> {
    /// Whether the tool is deprecated: its source says so, or its description does.
    fn is_deprecated(&self) -> bool {
        self.deprecated
            || self
                .description
                .is_some_and(|d| text::says_deprecated(&text::plain(d)))
    }

    /// The weighted text fields of this tool.
    fn fields(&self, w: &FieldWeights) -> Vec<(String, f32)> {
        let mut fields = Vec::with_capacity(8);
        match self.name.split_once("___") {
            Some((prefix, rest)) => {
                fields.push((prefix.to_string(), w.prefix));
                fields.push((rest.to_string(), w.name));
            }
            None => fields.push((self.name.to_string(), w.name)),
        }
        if let Some(t) = self.title {
            fields.push((text::plain(t), w.title));
        }
        if let Some(d) = self.description {
            let d = text::plain(d);
            fields.push((text::first_sentence(&d, usize::MAX).to_string(), w.summary));
            fields.push((text::after_first_sentence(&d).to_string(), w.description));
        }
        if let Some(schema) = self.input_schema {
            push_properties(schema, schema, &mut fields, 0, w);
        }
        if let Some(d) = self.target_description {
            fields.push((d.to_string(), w.target_description));
        }
        fields
    }
}

impl ToolText<'_> {
    /// The text embedded for dense search: the tool name split into words, the title and the
    /// first sentence of the description, without markup. Chosen on the real-API evaluation set
    /// (`bench/search.sh --tune`): a sentence-embedding model sees one meaning per text, and the
    /// paragraphs and parameter lists of real API operations pull every tool towards the same
    /// generic "API request" meaning. The target description is left out: it is the same for
    /// every tool of a target and blurs the differences between them. The gateway blends this
    /// text's vector with a longer text's ([`views::DenseViews`]), which adds the details back at
    /// half weight.
    pub fn dense_text(&self) -> String {
        self.dense_text_with(DenseText::default())
    }

    /// [`ToolText::dense_text`] with explicit choices (the benchmark compares them).
    pub fn dense_text_with(&self, style: DenseText) -> String {
        let name = self.name.rsplit_once("___").map_or(self.name, |(_, n)| n);
        let mut out = String::new();
        if style.name {
            let words = split_identifier(name);
            if style.api_versions {
                out.push_str(&words);
            } else {
                out.push_str(&without_api_versions(&words));
            }
        }
        if let Some(t) = self.title.filter(|_| style.name) {
            push_sentence(&mut out, &text::plain(t));
        }
        if let Some(d) = self.description {
            let d = text::plain(d);
            if style.full_description {
                push_sentence(&mut out, &d);
            } else {
                push_sentence(&mut out, text::first_sentence(&d, DENSE_SUMMARY_CHARS));
            }
        }
        if style.parameters
            && let Some(Value::Object(props)) = self.input_schema.and_then(|s| s.get("properties"))
            && !props.is_empty()
        {
            let mut params = Vec::with_capacity(props.len());
            for (pname, prop) in props {
                let mut p = split_identifier(pname);
                let described = self
                    .input_schema
                    .map_or(prop, |root| shared_definition(root, prop));
                if style.parameter_descriptions
                    && let Some(Value::String(d)) = prop
                        .get("description")
                        .or_else(|| described.get("description"))
                {
                    p.push_str(" (");
                    p.push_str(&text::plain(d));
                    p.push(')');
                }
                params.push(p);
            }
            push_sentence(&mut out, &format!("Parameters: {}", params.join(", ")));
        }
        if style.target
            && let Some(d) = self.target_description
        {
            push_sentence(&mut out, d);
        }
        if let Some(max) = style.max_words {
            let kept = text::first_words(&out, max).len();
            out.truncate(kept);
        }
        out
    }
}

/// At most this many characters of the description's first sentence are embedded.
const DENSE_SUMMARY_CHARS: usize = 300;

/// What goes into a tool's embedded text (see [`ToolText::dense_text`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenseText {
    /// The tool name (split into words) and title.
    pub name: bool,
    /// API versions in the name (`createAppsV1beta1NamespacedDeployment` → `… v 1 beta 1 …`);
    /// without them it is `create apps namespaced deployment` ([`without_api_versions`]).
    pub api_versions: bool,
    /// The whole description (else its first sentence).
    pub full_description: bool,
    /// Parameter names.
    pub parameters: bool,
    /// Parameter descriptions (only with `parameters`).
    pub parameter_descriptions: bool,
    /// The target's description.
    pub target: bool,
    /// At most this many words (whitespace-separated) of the text, or all of them. The
    /// encoder's cost grows with the token count, and a long description's later sentences
    /// add little to its vector.
    pub max_words: Option<usize>,
}

impl DenseText {
    /// The embedded text before the real-API evaluation: name, whole description, parameter
    /// names (chosen on BFCL, whose descriptions are one sentence).
    pub const BEFORE: DenseText = DenseText {
        name: true,
        api_versions: true,
        full_description: true,
        parameters: true,
        parameter_descriptions: false,
        target: false,
        max_words: None,
    };

    /// The second, longer view blended into each tool's vector ([`views::DenseViews`]): the
    /// name without API versions, the title, the whole description and the parameter names, cut
    /// at 64 words. The cut won on the tuning half (hybrid MRR@10 0.675 against 0.668 uncut and
    /// 0.658 at 32 words; `bench/search.sh --tune`) and embeds 108 long texts a second on one
    /// core against 65-75 uncut.
    pub const LONG: DenseText = DenseText {
        api_versions: false,
        max_words: Some(64),
        ..DenseText::BEFORE
    };
}

impl Default for DenseText {
    fn default() -> Self {
        Self {
            name: true,
            // A sentence model reads `v 1 beta 1` as four words, and a query rarely says them.
            // Embedded without them: dense alone +0.008 / +0.011 MRR@10 (tuning / held-out
            // half) and hybrid +0.000 / +0.005 with MiniLM, +0.008 / +0.011 and +0.005 / +0.013
            // with bge-small (bench/search-results.md, 2026-12-07, before the pre-release factor).
            // BM25 still indexes them.
            api_versions: false,
            full_description: false,
            parameters: false,
            parameter_descriptions: false,
            target: false,
            max_words: None,
        }
    }
}

fn push_sentence(out: &mut String, text: &str) {
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push_str(if out.ends_with(['.', '!', '?', ':']) {
            " "
        } else {
            ". "
        });
    }
    out.push_str(text);
}

/// Whether a tool name carries a pre-release API version: `v`, a number, `alpha` or `beta` and a
/// number (`createBatchV1beta1NamespacedCronJob`).
pub fn names_prerelease_version(name: &str) -> bool {
    let words = split_identifier(name);
    let words: Vec<&str> = words.split(' ').collect();
    (0..words.len()).any(|i| api_version_at(&words, i) == Some((4, true)))
}

/// `words` (a [`split_identifier`] result) without API versions (`create apps v 1 beta 1
/// deployment` → `create apps deployment`).
fn without_api_versions(words: &str) -> String {
    let words: Vec<&str> = words.split(' ').collect();
    let mut kept = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        match api_version_at(&words, i) {
            Some((len, _)) => i += len,
            None => {
                kept.push(words[i]);
                i += 1;
            }
        }
    }
    kept.join(" ")
}

/// The API version that starts at `words[i]`, as (how many words, whether it is a pre-release):
/// `v` and a number, then optionally `alpha` or `beta` and a number (`v 1`, `v 2 alpha 1`).
fn api_version_at(words: &[&str], i: usize) -> Option<(usize, bool)> {
    let number = |j: usize| {
        words
            .get(j)
            .is_some_and(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()))
    };
    if words.get(i) != Some(&"v") || !number(i + 1) {
        return None;
    }
    let pre = matches!(words.get(i + 2), Some(&("alpha" | "beta"))) && number(i + 3);
    Some(if pre { (4, true) } else { (2, false) })
}

/// `getUserById` / `get_user.by-id` → `get user by id`.
pub fn split_identifier(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let mut prev: Option<char> = None;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
            prev = None;
            continue;
        }
        if let Some(p) = prev
            && ((p.is_lowercase() && c.is_uppercase()) || (p.is_alphabetic() != c.is_alphabetic()))
            && !out.ends_with(' ')
        {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
        prev = Some(c);
    }
    out.trim_end().to_string()
}

fn push_properties(
    root: &Map<String, Value>,
    schema: &Map<String, Value>,
    fields: &mut Vec<(String, f32)>,
    depth: u8,
    w: &FieldWeights,
) {
    let Some(Value::Object(props)) = schema.get("properties") else {
        return;
    };
    let weight = if depth == 0 { 1.0 } else { 0.5 };
    for (name, prop) in props {
        fields.push((name.clone(), w.param_name * weight));
        // A property may be a reference to one of the schema's shared `$defs`: its description
        // and properties are the definition's (a description beside the `$ref` wins).
        let shared = shared_definition(root, prop);
        let Value::Object(shared) = shared else {
            continue;
        };
        if let Some(Value::String(d)) = prop
            .get("description")
            .or_else(|| shared.get("description"))
        {
            fields.push((text::plain(d), w.param_description * weight));
        }
        if depth == 0 {
            push_properties(root, shared, fields, 1, w);
            if let Some(items) = shared.get("items")
                && let Value::Object(items) = shared_definition(root, items)
            {
                push_properties(root, items, fields, 1, w);
            }
        }
    }
}

/// `schema`, or the definition of `root`'s `$defs` it refers to (`{"$ref": "#/$defs/<name>"}`,
/// followed a few times for a definition that is itself a reference).
fn shared_definition<'s>(root: &'s Map<String, Value>, schema: &'s Value) -> &'s Value {
    let mut current = schema;
    for _ in 0..4 {
        let Some(name) = toolyard_compile::schema_defs::def_name(current) else {
            break;
        };
        match root.get("$defs").and_then(|defs| defs.get(name)) {
            Some(definition) => current = definition,
            None => break,
        }
    }
    current
}

/// A search index over listed tools, each remembered by its position in the served tool list.
#[derive(Debug, Default)]
pub struct SearchIndex {
    /// Shared with the hybrid index that replaces this one when the vectors are ready.
    bm25: Arc<Bm25Index>,
    /// Document id → position in the caller's tool list.
    positions: Arc<[usize]>,
    /// Dense vectors and the embedder for queries, when embeddings are configured and worked.
    dense: Option<DenseSearch>,
    fusion: Fusion,
}

/// The dense half of a hybrid index.
#[derive(Debug)]
struct DenseSearch {
    index: DenseIndex,
    embedder: Arc<dyn Embedder>,
}

/// The result of a search.
#[derive(Debug, Default)]
pub struct SearchResult {
    /// Positions of the found tools, best first.
    pub positions: Vec<usize>,
    /// Set when the query could not be embedded: the results are BM25 only.
    pub dense_error: Option<EmbedError>,
}

impl SearchIndex {
    /// Indexes `(position, text)` pairs (BM25; add vectors with [`SearchIndex::set_dense`]).
    pub fn build<'a>(tools: impl IntoIterator<Item = (usize, ToolText<'a>)>) -> Self {
        Self::build_with(tools, &FieldWeights::default())
    }

    /// [`SearchIndex::build`] with explicit field weights (the benchmark compares them).
    pub fn build_with<'a>(
        tools: impl IntoIterator<Item = (usize, ToolText<'a>)>,
        weights: &FieldWeights,
    ) -> Self {
        let mut builder = Bm25Builder::new();
        let mut positions = Vec::new();
        let mut priors = Vec::new();
        for (pos, text) in tools {
            let own = text.name.rsplit_once("___").map_or(text.name, |(_, n)| n);
            builder.add_named(text.name, own, &text.fields(weights));
            positions.push(pos);
            let mut prior = 1.0;
            if text.is_deprecated() {
                prior *= weights.deprecated;
            }
            if weights.prerelease != 1.0 && names_prerelease_version(own) {
                prior *= weights.prerelease;
            }
            priors.push(prior);
        }
        let mut bm25 = builder.finish_with(weights.synonyms);
        bm25.set_name_coverage(weights.name_coverage);
        if priors.iter().any(|p| *p != 1.0) {
            bm25.set_priors(priors);
        }
        Self {
            bm25: Arc::new(bm25),
            positions: positions.into(),
            dense: None,
            fusion: Fusion::default(),
        }
    }

    /// Adds dense vectors, one per indexed tool in indexing order, and the embedder that embeds
    /// queries the same way. Vectors of the wrong count leave the index BM25-only.
    pub fn set_dense(&mut self, embedder: Arc<dyn Embedder>, vectors: &[Arc<[f32]>]) {
        if vectors.len() == self.positions.len() {
            self.fusion = with_model_floor(self.fusion, &*embedder);
            self.dense = Some(DenseSearch {
                index: DenseIndex::new(vectors),
                embedder,
            });
        }
    }

    /// A hybrid copy of this index (the BM25 half shared, not rebuilt): what the gateway swaps
    /// in when the tool vectors computed in the background are ready. `None` when the vector
    /// count does not match.
    pub fn with_dense(&self, embedder: Arc<dyn Embedder>, vectors: &[Arc<[f32]>]) -> Option<Self> {
        if vectors.len() != self.positions.len() {
            return None;
        }
        Some(Self {
            bm25: self.bm25.clone(),
            positions: self.positions.clone(),
            dense: Some(DenseSearch {
                index: DenseIndex::new(vectors),
                embedder: embedder.clone(),
            }),
            fusion: with_model_floor(self.fusion, &*embedder),
        })
    }

    /// Replaces the fusion parameters (the benchmark tunes them).
    pub fn set_fusion(&mut self, fusion: Fusion) {
        self.fusion = fusion;
    }

    /// Whether dense vectors are present (hybrid search).
    pub fn is_hybrid(&self) -> bool {
        self.dense.is_some()
    }

    /// The embedder of the dense half.
    pub fn embedder(&self) -> Option<&Arc<dyn Embedder>> {
        self.dense.as_ref().map(|d| &d.embedder)
    }

    /// Approximate heap bytes of the dense vectors.
    pub fn dense_bytes(&self) -> usize {
        self.dense.as_ref().map_or(0, |d| d.index.bytes())
    }

    /// Number of indexed tools.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Whether no tool is indexed.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// BM25 alone: positions of the at most `k` most relevant tools for `query`, best first
    /// (equal scores in name order). Tools sharing no word with the query are left out.
    pub fn search(&self, query: &str, k: usize) -> Vec<usize> {
        self.rank(query, None, k, &|_| true)
    }

    /// Hybrid search among the positions `visible` accepts (the tools the caller may list):
    /// embeds the query (off the async workers for a local model) and fuses BM25 with the dense
    /// ranking. If the query cannot be embedded, BM25 alone answers and the error is returned
    /// alongside.
    pub async fn search_hybrid(
        &self,
        query: &str,
        k: usize,
        visible: &(dyn Fn(usize) -> bool + Sync),
    ) -> SearchResult {
        let (vector, dense_error) = match &self.dense {
            None => (None, None),
            Some(d) => match d.embedder.embed_query(query).await {
                Ok(mut v) => {
                    embed::normalize(&mut v);
                    (Some(v), None)
                }
                Err(e) => (None, Some(e)),
            },
        };
        SearchResult {
            positions: self.rank(query, vector.as_deref(), k, visible),
            dense_error,
        }
    }

    /// The ranking core: BM25 alone without a query vector (or without dense vectors), else
    /// reciprocal rank fusion of both rankings.
    pub fn rank(
        &self,
        query: &str,
        query_vector: Option<&[f32]>,
        k: usize,
        visible: &dyn Fn(usize) -> bool,
    ) -> Vec<usize> {
        self.rank_with(query, query_vector, k, visible, &self.fusion)
    }

    /// [`SearchIndex::rank`] with explicit fusion parameters.
    pub fn rank_with(
        &self,
        query: &str,
        query_vector: Option<&[f32]>,
        k: usize,
        visible: &dyn Fn(usize) -> bool,
        fusion: &Fusion,
    ) -> Vec<usize> {
        let keep = |doc: u32| {
            self.positions
                .get(doc as usize)
                .is_some_and(|&p| visible(p))
        };
        let dense = match (&self.dense, query_vector) {
            (Some(d), Some(q)) if fusion.dense_weight > 0.0 => Some((d, q)),
            _ => None,
        };
        let docs: Vec<u32> = match dense {
            None => self
                .bm25
                .search_filtered(query, k, &keep)
                .into_iter()
                .map(|h| h.0)
                .collect(),
            Some((d, q)) => {
                let depth = fusion.depth.max(k);
                let lexical = if fusion.bm25_weight > 0.0 {
                    self.bm25.search_filtered(query, depth, &keep)
                } else {
                    Vec::new()
                };
                let semantic = d.index.search(q, depth, &keep);
                fusion.fuse_with_priors(&lexical, &semantic, k, &|doc| self.bm25.prior(doc))
            }
        };
        docs.into_iter()
            .filter_map(|doc| self.positions.get(doc as usize).copied())
            .collect()
    }
}

/// `fusion` with the model's own similarity floor, if it states one
/// ([`Embedder::min_similarity`]).
pub fn with_model_floor(fusion: Fusion, embedder: &dyn Embedder) -> Fusion {
    Fusion {
        min_dense_similarity: embedder
            .min_similarity()
            .unwrap_or(fusion.min_dense_similarity),
        ..fusion
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    struct Def {
        name: &'static str,
        description: &'static str,
        schema: Map<String, Value>,
        target: &'static str,
    }

    fn defs() -> Vec<Def> {
        let user_id = schema(
            json!({"type": "object", "properties": {"userId": {"type": "string", "description": "The user's id"}}}),
        );
        let order_id =
            schema(json!({"type": "object", "properties": {"orderId": {"type": "string"}}}));
        vec![
            Def {
                name: "users___getUser",
                description: "Get user information\n\nReturns one user by id.",
                schema: user_id.clone(),
                target: "User directory API",
            },
            Def {
                name: "users___listUsers",
                description: "List users",
                schema: schema(
                    json!({"type": "object", "properties": {"limit": {"type": "integer"}}}),
                ),
                target: "User directory API",
            },
            Def {
                name: "LambdaUsingSDK___get_order_tool",
                description: "tool to get the order",
                schema: order_id.clone(),
                target: "Lambda Target using SDK",
            },
            Def {
                name: "LambdaUsingSDK___update_order_tool",
                description: "tool to update the orderId",
                schema: order_id,
                target: "Lambda Target using SDK",
            },
            Def {
                name: "shipping___createShipment",
                description: "Create a shipment",
                schema: schema(
                    json!({"type": "object", "properties": {"address": {"type": "object", "properties": {"postalCode": {"type": "string", "description": "ZIP or postal code"}}}}}),
                ),
                target: "Parcel carrier",
            },
            Def {
                name: "echo___failWithStatus",
                description: "Answers with the given HTTP status",
                schema: schema(
                    json!({"type": "object", "properties": {"code": {"type": "integer"}}}),
                ),
                target: "Echo backend",
            },
        ]
    }

    fn index(defs: &[Def]) -> SearchIndex {
        SearchIndex::build(defs.iter().enumerate().map(|(i, d)| {
            (
                i + 1, // position 0 is the search tool itself
                ToolText {
                    name: d.name,
                    title: None,
                    description: Some(d.description),
                    input_schema: Some(&d.schema),
                    target_description: Some(d.target),
                    deprecated: false,
                },
            )
        }))
    }

    /// A two-dimensional fake model (whether the text starts with "a", and a constant) that
    /// states a similarity floor.
    #[derive(Debug)]
    struct Floored(Option<f32>);

    impl Embedder for Floored {
        fn model_id(&self) -> &str {
            "floored"
        }
        fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, embed::EmbedError> {
            Ok(texts
                .iter()
                .map(|t| vec![f32::from(t.starts_with('a')), 1.0])
                .collect())
        }
        fn embed_query<'a>(
            &'a self,
            text: &'a str,
        ) -> embed::BoxFuture<'a, Result<Vec<f32>, embed::EmbedError>> {
            Box::pin(async move { Ok(vec![f32::from(text.starts_with('a')), 1.0]) })
        }
        fn min_similarity(&self) -> Option<f32> {
            self.0
        }
    }

    #[test]
    fn the_model_states_its_similarity_floor() {
        let defs = defs();
        let bm25 = index(&defs);
        let vectors: Vec<Arc<[f32]>> = (0..bm25.positions.len())
            .map(|_| Arc::from(vec![0.0f32, 1.0]))
            .collect();
        let default = bm25.with_dense(Arc::new(Floored(None)), &vectors).unwrap();
        assert_eq!(
            default.fusion.min_dense_similarity,
            fusion::DEFAULT_MIN_DENSE_SIMILARITY
        );
        let high = bm25
            .with_dense(Arc::new(Floored(Some(0.9))), &vectors)
            .unwrap();
        assert_eq!(high.fusion.min_dense_similarity, 0.9);
        let mut set = index(&defs);
        set.set_dense(Arc::new(Floored(Some(0.55))), &vectors);
        assert_eq!(set.fusion.min_dense_similarity, 0.55);
        // A query sharing no word with any tool: every tool's cosine is 0.71, above the default
        // floor and below the model's 0.9.
        let q = [std::f32::consts::FRAC_1_SQRT_2; 2];
        assert!(!default.rank("zzz", Some(&q), 5, &|_| true).is_empty());
        assert!(high.rank("zzz", Some(&q), 5, &|_| true).is_empty());
    }

    #[test]
    fn deprecated_tools_rank_below_their_twins_in_both_rankings() {
        let schema = schema(json!({"type": "object"}));
        // Twins but for the flag (positions 1 and 2), and one whose description says it.
        // (Single letters are not words: all three names say "list cards".)
        let tools = [
            ("cards___listCardsA", "List the cards of a customer.", true),
            ("cards___listCardsB", "List the cards of a customer.", false),
            (
                "cards___listCardsC",
                "List the cards of a customer. Deprecated, use listCardsB.",
                false,
            ),
        ];
        let idx = SearchIndex::build(tools.iter().enumerate().map(|(i, (name, d, dep))| {
            (
                i + 1,
                ToolText {
                    name,
                    title: None,
                    description: Some(d),
                    input_schema: Some(&schema),
                    target_description: None,
                    deprecated: *dep,
                },
            )
        }));
        assert_eq!(idx.search("list cards of a customer", 3)[0], 2);
        let no_prior = SearchIndex::build_with(
            tools.iter().enumerate().map(|(i, (name, d, dep))| {
                (
                    i + 1,
                    ToolText {
                        name,
                        description: Some(d),
                        deprecated: *dep,
                        ..ToolText::default()
                    },
                )
            }),
            &FieldWeights {
                deprecated: 1.0,
                ..FieldWeights::default()
            },
        );
        assert_eq!(
            no_prior.search("list cards of a customer", 3)[0],
            1,
            "name order"
        );
        // Dense alone: every vector the same, so only the prior separates them.
        let vectors: Vec<Arc<[f32]>> = (0..3).map(|_| Arc::from(vec![0.0f32, 1.0])).collect();
        let hybrid = idx.with_dense(Arc::new(Floored(None)), &vectors).unwrap();
        let dense_only = Fusion {
            bm25_weight: 0.0,
            dense_weight: 1.0,
            ..Fusion::default()
        };
        let top = hybrid.rank_with("zzz", Some(&[0.0, 1.0]), 3, &|_| true, &dense_only);
        assert_eq!(top[0], 2, "{top:?}");
    }

    #[test]
    fn a_stable_api_version_ranks_above_its_pre_release_twins() {
        // The same operation in three versions, the stable one last (so name order would put it
        // last); the query names no version.
        let names = [
            "k8s___createBatchV2alpha1NamespacedCronJob",
            "k8s___createBatchV1beta1NamespacedCronJob",
            "k8s___createBatchV1NamespacedCronJob",
        ];
        let build = |prerelease: f32| {
            SearchIndex::build_with(
                names.iter().enumerate().map(|(i, name)| {
                    (
                        i,
                        ToolText {
                            name,
                            description: Some("create a CronJob"),
                            ..ToolText::default()
                        },
                    )
                }),
                &FieldWeights {
                    prerelease,
                    ..FieldWeights::default()
                },
            )
        };
        assert_eq!(build(0.9).search("create a cron job", 3)[0], 2);
        // Dense alone, every vector the same (the embedded text leaves versions out): only the
        // factor separates them.
        let vectors: Vec<Arc<[f32]>> = (0..3).map(|_| Arc::from(vec![0.0f32, 1.0])).collect();
        let dense_only = Fusion {
            bm25_weight: 0.0,
            dense_weight: 1.0,
            ..Fusion::default()
        };
        let first = |prerelease: f32| {
            let idx = build(prerelease)
                .with_dense(Arc::new(Floored(None)), &vectors)
                .unwrap();
            idx.rank_with("zzz", Some(&[0.0, 1.0]), 3, &|_| true, &dense_only)[0]
        };
        assert_eq!(first(0.9), 2);
        assert_eq!(first(1.0), 0, "without the factor, document order");
        for (name, pre) in [
            ("createBatchV1beta1NamespacedCronJob", true),
            ("listV2alpha3Things", true),
            ("createBatchV1NamespacedCronJob", false),
            ("getBetaFeatures", false),
            ("v1beta", false),
        ] {
            assert_eq!(names_prerelease_version(name), pre, "{name}");
        }
    }

    #[test]
    fn check_order_status_prefers_the_order_tool() {
        let defs = defs();
        let idx = index(&defs);
        let top = idx.search("check order status", 10);
        let rank = |top: &[usize], p: usize| top.iter().position(|&x| x == p).unwrap_or(usize::MAX);
        assert!(rank(&top, 3) < rank(&top, 1), "{top:?}");
        assert!(!top.contains(&0), "the search tool is never a result");
        // A repeated query word weighs more: the order tool beats a tool matching only "status".
        let top = idx.search("check the order status for order id 123", 10);
        assert!(matches!(top[0], 3 | 4), "{top:?}");
        assert!(rank(&top, 3) < rank(&top, 6), "{top:?}");
    }

    #[test]
    fn parameters_and_target_descriptions_are_searched() {
        let defs = defs();
        let idx = index(&defs);
        // Nested parameter name only (parameter descriptions weigh 0 by default).
        assert_eq!(idx.search("postal code", 3)[0], 5);
        // Target description only.
        assert_eq!(idx.search("parcel carrier", 3), vec![5]);
        assert_eq!(idx.search("find a user by their id", 1), vec![1]);
        assert_eq!(idx.search("list all users", 1), vec![2]);
    }

    #[test]
    fn deterministic_and_bounded() {
        let defs = defs();
        let a = index(&defs).search("get", 10);
        let b = index(&defs).search("get", 10);
        assert_eq!(a, b);
        assert!(index(&defs).search("get", 2).len() <= 2);
        assert!(index(&defs).search("   ", 10).is_empty());
        assert!(SearchIndex::default().search("user", 10).is_empty());
    }

    #[test]
    fn the_embedded_text_is_the_name_title_and_first_sentence_without_api_versions() {
        let tool = ToolText {
            name: "k8s___createAppsV1beta1NamespacedDeployment",
            title: Some("Create a <b>Deployment</b>"),
            description: Some("Creates a Deployment. The body is the whole object."),
            ..ToolText::default()
        };
        assert_eq!(
            tool.dense_text(),
            "create apps namespaced deployment. Create a Deployment. Creates a Deployment."
        );
        let with_versions = DenseText {
            api_versions: true,
            ..DenseText::default()
        };
        let capped = DenseText {
            max_words: Some(3),
            ..DenseText::default()
        };
        assert_eq!(tool.dense_text_with(capped), "create apps namespaced");
        assert!(
            tool.dense_text_with(with_versions)
                .starts_with("create apps v 1 beta 1 namespaced deployment.")
        );
        for (words, without) in [
            ("get v 2 users", "get users"),
            ("list v 2 alpha 1 cron jobs", "list cron jobs"),
            // Only a `v` followed by a number is a version.
            ("get v alpha item", "get v alpha item"),
            ("create v 1 beta", "create beta"),
            ("move tv 2 channel", "move tv 2 channel"),
        ] {
            assert_eq!(without_api_versions(words), without, "{words}");
        }
    }

    /// A rough latency print (no timed assertion): `cargo test --release -p toolyard-gateway
    /// --lib search::tests::latency -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn latency() {
        const WORDS: &[&str] = &[
            "user",
            "order",
            "invoice",
            "payment",
            "shipment",
            "product",
            "catalog",
            "inventory",
            "customer",
            "account",
            "report",
            "ticket",
            "message",
            "email",
            "calendar",
            "event",
            "file",
            "folder",
            "document",
            "image",
            "weather",
            "forecast",
            "price",
            "quote",
            "status",
            "address",
            "refund",
            "discount",
            "coupon",
            "review",
            "rating",
            "session",
        ];
        const VERBS: &[&str] = &[
            "get", "list", "create", "update", "delete", "search", "cancel", "approve",
        ];
        for n in [1_000usize, 10_000] {
            let mut seed = 42u64;
            let mut rnd = |m: usize| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((seed >> 33) as usize) % m
            };
            let mut names = Vec::new();
            let mut descs = Vec::new();
            let mut schemas = Vec::new();
            for i in 0..n {
                let (v, a, b) = (
                    VERBS[rnd(VERBS.len())],
                    WORDS[rnd(WORDS.len())],
                    WORDS[rnd(WORDS.len())],
                );
                names.push(format!(
                    "target{}___{v}{}{}{i}",
                    i % 50,
                    capital(a),
                    capital(b)
                ));
                descs.push(format!(
                    "{v} the {a} of a {b}; returns the {a} with its {} and {}",
                    WORDS[rnd(WORDS.len())],
                    WORDS[rnd(WORDS.len())]
                ));
                schemas.push(schema(json!({"type": "object", "properties": {format!("{a}Id"): {"type": "string", "description": format!("id of the {a}")}, "limit": {"type": "integer"}}})));
            }
            let started = std::time::Instant::now();
            let idx = SearchIndex::build((0..n).map(|i| {
                (
                    i,
                    ToolText {
                        name: &names[i],
                        title: None,
                        description: Some(&descs[i]),
                        input_schema: Some(&schemas[i]),
                        target_description: Some("a business API"),
                        deprecated: false,
                    },
                )
            }));
            let build = started.elapsed();
            let queries = [
                "check order status",
                "refund a payment for a customer",
                "weather forecast",
                "list invoices of an account",
                "find the user by email address",
                "cancel my shipment",
            ];
            let mut times = Vec::new();
            for r in 0..200 {
                let q = queries[r % queries.len()];
                let t = std::time::Instant::now();
                let hits = idx.search(q, 10);
                times.push(t.elapsed());
                assert!(!hits.is_empty());
            }
            times.sort();
            println!(
                "bm25 n={n}: build {:?}, terms {}, p50 {:?}, p99 {:?}",
                build,
                idx.bm25.terms(),
                times[times.len() / 2],
                times[times.len() * 99 / 100]
            );
        }
    }

    fn capital(s: &str) -> String {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    }
}
