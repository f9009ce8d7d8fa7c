//! Tool-search benchmark. Run it with `bench/search.sh` (installs the data and the model), or:
//!
//! ```text
//! cargo run --release -p toolyard-gateway --example search_bench -- \
//!     --specs ~/.cache/toolyard/real-specs --eval bench/search-eval \
//!     --bfcl ~/.cache/toolyard/bfcl --model ~/.cache/toolyard/models/all-MiniLM-L6-v2 [--tune]
//! ```
//!
//! 1. **Real APIs** (the main set): Stripe, Kubernetes, Slack and Jira compiled into tools as a
//!    GatewayTarget would be, with intents written by hand in users' words
//!    (bench/search-eval/*.tsv, graded relevance; see [`metrics`]). Each API is its own catalog,
//!    and all four together are a fifth. Methods: BM25, dense, hybrid; each as before this
//!    evaluation and as now. `--tune` chooses the field weights, the embedded text and the
//!    fusion on the even-numbered intents of each file and reports the odd-numbered ones apart.
//! 2. **BFCL** (second set): every function of the single-turn categories of the Berkeley
//!    Function Calling Leaderboard in one catalog, each question a query.
//! 3. **Speed and size**: the real-API tools replicated to 1,000 and 10,000; query latency on one
//!    thread for BM25, hybrid given the query vector, and hybrid end-to-end with the query
//!    embedding (uncached and from the query cache); index build and reload times; memory.

mod metrics;
mod real_apis;
mod vectors;
mod vocab;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use toolyard_gateway::search::embed::local::LocalEmbedder;
use toolyard_gateway::search::embed::{Embedder, EmbeddingCache, QueryCache, normalize};
use toolyard_gateway::search::fusion::{Fusion, FusionMethod};
use toolyard_gateway::search::views::{DenseViews, weighted_sum};
use toolyard_gateway::search::{DenseText, FieldWeights, SearchIndex, ToolText, with_model_floor};

use metrics::Quality;
use real_apis::{Catalog, Intent, Kind, Tool};
use vectors::VectorFile;
use vocab::VocabEmbedder;

type Error = Box<dyn std::error::Error>;

/// The BFCL single-turn function-calling categories (questions with a ground-truth call).
const CATEGORIES: &[&str] = &[
    "simple_python",
    "simple_java",
    "simple_javascript",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
];

struct Function {
    name: String,
    description: String,
    schema: Map<String, Value>,
}

struct Query {
    text: String,
    relevant: HashSet<usize>,
}

fn read_jsonl(path: &Path) -> Result<Vec<Value>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{}: {e}", path.display()).into()))
        .collect()
}

/// Loads the corpus and the queries.
fn load_bfcl(dir: &Path) -> Result<(Vec<Function>, Vec<Query>), Error> {
    let mut corpus: Vec<Function> = Vec::new();
    let mut by_key: HashMap<(String, String), usize> = HashMap::new();
    let mut queries = Vec::new();
    for cat in CATEGORIES {
        let items = read_jsonl(&dir.join(format!("BFCL_v4_{cat}.json")))?;
        let answers = read_jsonl(&dir.join(format!("possible_answer/BFCL_v4_{cat}.json")))?;
        let truth: HashMap<String, HashSet<String>> = answers
            .iter()
            .filter_map(|a| {
                let id = a["id"].as_str()?.to_string();
                let names = a["ground_truth"]
                    .as_array()?
                    .iter()
                    .filter_map(|call| call.as_object()?.keys().next().cloned())
                    .collect();
                Some((id, names))
            })
            .collect();
        for item in items {
            let Some(id) = item["id"].as_str() else {
                continue;
            };
            let Some(names) = truth.get(id) else { continue };
            let mut local: HashMap<String, usize> = HashMap::new();
            for f in item["function"].as_array().into_iter().flatten() {
                let name = f["name"].as_str().unwrap_or_default().to_string();
                let description = f["description"].as_str().unwrap_or_default().to_string();
                let key = (name.clone(), description.clone());
                let doc = *by_key.entry(key).or_insert_with(|| {
                    corpus.push(Function {
                        name: name.clone(),
                        description,
                        schema: f["parameters"].as_object().cloned().unwrap_or_default(),
                    });
                    corpus.len() - 1
                });
                local.insert(name, doc);
            }
            let relevant: HashSet<usize> =
                names.iter().filter_map(|n| local.get(n).copied()).collect();
            // The first turn's user messages.
            let text = item["question"][0]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|m| m["role"] == "user")
                .filter_map(|m| m["content"].as_str())
                .collect::<Vec<_>>()
                .join("\n");
            if !relevant.is_empty() && !text.trim().is_empty() {
                queries.push(Query { text, relevant });
            }
        }
    }
    Ok((corpus, queries))
}

fn tool_text(t: &Tool) -> ToolText<'_> {
    ToolText {
        name: &t.name,
        title: t.title.as_deref(),
        description: t.description.as_deref(),
        input_schema: Some(&t.schema),
        target_description: None,
        deprecated: t.deprecated,
    }
}

fn bfcl_tools(corpus: &[Function]) -> Vec<Tool> {
    corpus
        .iter()
        .map(|f| Tool {
            name: f.name.clone(),
            title: None,
            description: Some(f.description.clone()),
            schema: f.schema.clone(),
            deprecated: false,
        })
        .collect()
}

/// Resident set size in bytes (Linux).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn percentile(times: &mut [Duration], p: f64) -> Duration {
    times.sort();
    let i = ((times.len() as f64 - 1.0) * p).round() as usize;
    times.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

struct Args {
    bfcl: Option<PathBuf>,
    specs: PathBuf,
    eval: PathBuf,
    model: PathBuf,
    vectors: Option<PathBuf>,
    /// Search with the vocabulary table distilled from the model (cached in this file).
    vocab: Option<PathBuf>,
    tune: bool,
    /// Catalog texts through the 32-bit reference path instead of the 8-bit one the gateway
    /// takes: what the quantization costs in quality.
    catalog_32bit: bool,
    /// List the intents the default hybrid misses at rank 5 (all four APIs in one catalog).
    misses: bool,
    /// The quality tables (off with `--speed-only`).
    quality: bool,
    speed: bool,
    latency_queries: usize,
}

fn args() -> Result<Args, Error> {
    let mut bfcl = None;
    let mut specs = None;
    let mut eval = None;
    let mut model = None;
    let mut vectors = None;
    let mut vocab = None;
    let mut tune = false;
    let mut catalog_32bit = false;
    let mut misses = false;
    let mut speed = true;
    let mut quality = true;
    let mut latency_queries = 500;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bfcl" => bfcl = it.next().map(PathBuf::from),
            "--specs" => specs = it.next().map(PathBuf::from),
            "--eval" => eval = it.next().map(PathBuf::from),
            "--model" => model = it.next().map(PathBuf::from),
            "--vectors" => vectors = it.next().map(PathBuf::from),
            "--vocab" => vocab = it.next().map(PathBuf::from),
            "--tune" => tune = true,
            "--catalog-32bit" => catalog_32bit = true,
            "--misses" => misses = true,
            "--no-speed" => speed = false,
            "--speed-only" => quality = false,
            "--no-bfcl" => bfcl = None,
            "--latency-queries" => {
                latency_queries = it.next().and_then(|n| n.parse().ok()).unwrap_or(500)
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(Args {
        bfcl,
        specs: specs.ok_or("--specs DIR (the real-specs cache) is required")?,
        eval: eval.ok_or("--eval DIR (bench/search-eval) is required")?,
        model: model.ok_or("--model DIR (a sentence-transformers model folder) is required")?,
        vectors,
        vocab,
        tune,
        catalog_32bit,
        misses,
        quality,
        speed,
        latency_queries,
    })
}

/// One configuration of the search: BM25 field weights, embedded text, fusion.
#[derive(Clone, Copy)]
struct Config {
    weights: FieldWeights,
    /// The embedded texts and how they make each tool's vector.
    dense: DenseViews,
    fusion: Fusion,
    /// Share of the catalog's mean vector taken off every tool and query vector (0: none).
    center: f32,
    /// Pseudo-relevance feedback: the query vector plus this weight times the mean vector of
    /// the first `n` hits, then ranked again.
    prf: Option<(usize, f32)>,
}

/// What a configuration ranks with.
#[derive(Clone, Copy, PartialEq)]
enum Method {
    Bm25,
    Dense,
    Hybrid,
}

impl Method {
    fn label(self) -> &'static str {
        match self {
            Method::Bm25 => "BM25",
            Method::Dense => "dense",
            Method::Hybrid => "hybrid",
        }
    }
}

/// One query: text, graded relevance, kind, and whether it is in the tuning half.
type EvalQuery<'a> = (&'a str, &'a HashMap<usize, u8>, Option<Kind>, bool);

/// Queries over one catalog.
struct Eval<'a> {
    name: String,
    tools: &'a [Tool],
    queries: Vec<EvalQuery<'a>>,
    query_vectors: Vec<Arc<[f32]>>,
}

/// Embeds what a configuration needs and ranks every query; returns quality on all queries,
/// on the tuning half and on the held-out half, and per kind.
struct Run {
    all: Quality,
    tune: Quality,
    held_out: Quality,
    by_kind: HashMap<Kind, Quality>,
    /// Per query, the rank (from 0) of its first fully relevant tool within [`DEPTH`].
    first: Vec<Option<usize>>,
}

/// How deep each query is ranked: the metrics read the first 10, the depth table
/// ([`depth_table`]) all of them.
const DEPTH: usize = 50;

struct Bench {
    model: Arc<dyn Embedder>,
    vectors: VectorFile,
    /// The local model, for its 32-bit reference path (none with `--vocab`).
    reference: Option<LocalEmbedder>,
    /// `--catalog-32bit`.
    catalog_32bit: bool,
}

impl Bench {
    /// One vector per tool, as the gateway makes them with `views`.
    fn tool_vectors(
        &mut self,
        tools: &[Tool],
        views: DenseViews,
    ) -> Result<Vec<Arc<[f32]>>, Error> {
        let texts: Vec<String> = tools
            .iter()
            .flat_map(|t| views.texts(&tool_text(t)).collect::<Vec<_>>())
            .collect();
        if self.catalog_32bit {
            let reference = self
                .reference
                .as_ref()
                .ok_or("--catalog-32bit needs the model itself, not --vocab")?;
            return Ok(views.combine(&self.vectors.get_reference(reference.encoder(), &texts)?));
        }
        Ok(views.combine(&self.vectors.get(&*self.model, &texts)?))
    }

    fn run(&mut self, eval: &Eval<'_>, method: Method, c: &Config) -> Result<Run, Error> {
        let mut centred_mean: Option<Arc<[f32]>> = None;
        let mut tool_vectors: Vec<Arc<[f32]>> = Vec::new();
        let mut index = SearchIndex::build_with(
            eval.tools
                .iter()
                .enumerate()
                .map(|(i, t)| (i, tool_text(t))),
            &c.weights,
        );
        if method != Method::Bm25 {
            let mut v = self.tool_vectors(eval.tools, c.dense)?;
            if c.center > 0.0 {
                let mean = mean_vector(&v);
                v = v
                    .iter()
                    .map(|x| weighted_sum(x, 1.0, &mean, -c.center))
                    .collect();
                centred_mean = Some(mean);
            }
            index.set_dense(self.model.clone(), &v);
            tool_vectors = v;
        }
        let fusion = match method {
            Method::Bm25 => c.fusion,
            Method::Dense => Fusion {
                bm25_weight: 0.0,
                dense_weight: 1.0,
                min_dense_similarity: -1.0,
                ..c.fusion
            },
            Method::Hybrid => with_model_floor(c.fusion, &*self.model),
        };
        let mut run = Run {
            all: Quality::default(),
            tune: Quality::default(),
            held_out: Quality::default(),
            by_kind: HashMap::new(),
            first: Vec::with_capacity(eval.queries.len()),
        };
        for (i, (text, grades, kind, tuning)) in eval.queries.iter().enumerate() {
            let qv = (method != Method::Bm25).then(|| {
                let q = eval.query_vectors[i].clone();
                match &centred_mean {
                    Some(m) => weighted_sum(&q, 1.0, m, -c.center),
                    None => q,
                }
            });
            let mut ranked = index.rank_with(text, qv.as_deref(), DEPTH, &|_| true, &fusion);
            if let (Some((n, w)), Some(q)) = (c.prf, &qv) {
                let top: Vec<Arc<[f32]>> = ranked
                    .iter()
                    .take(n)
                    .map(|&d| tool_vectors[d].clone())
                    .collect();
                if !top.is_empty() {
                    let fed = weighted_sum(q, 1.0, &mean_vector(&top), w);
                    ranked = index.rank_with(text, Some(&fed), DEPTH, &|_| true, &fusion);
                }
            }
            run.first
                .push(ranked.iter().position(|d| grades.get(d) == Some(&2)));
            run.all.add(grades, &ranked);
            if *tuning {
                run.tune.add(grades, &ranked);
            } else {
                run.held_out.add(grades, &ranked);
            }
            if let Some(k) = kind {
                run.by_kind.entry(*k).or_default().add(grades, &ranked);
            }
        }
        Ok(run)
    }
}

/// The mean of `vectors` (not normalised).
fn mean_vector(vectors: &[Arc<[f32]>]) -> Arc<[f32]> {
    let dim = vectors.first().map_or(0, |v| v.len());
    let mut m = vec![0f32; dim];
    for v in vectors {
        m.iter_mut().zip(v.iter()).for_each(|(a, b)| *a += b);
    }
    let n = vectors.len().max(1) as f32;
    m.iter_mut().for_each(|a| *a /= n);
    m.into()
}

fn real_eval<'a>(name: &str, catalog: &'a Catalog, bench: &mut Bench) -> Result<Eval<'a>, Error> {
    let texts: Vec<String> = catalog.intents.iter().map(|i| i.text.clone()).collect();
    let query_vectors = bench.vectors.get_queries(&*bench.model, &texts)?;
    Ok(Eval {
        name: name.to_string(),
        tools: &catalog.tools,
        queries: catalog
            .intents
            .iter()
            .map(|i: &Intent| {
                (
                    i.text.as_str(),
                    &i.grades,
                    Some(i.kind),
                    i.ordinal.is_multiple_of(2),
                )
            })
            .collect(),
        query_vectors,
    })
}

/// The shipped defaults, and the configuration before the real-API evaluation.
fn now() -> Config {
    Config {
        weights: FieldWeights::default(),
        dense: DenseViews::default(),
        fusion: Fusion::default(),
        center: 0.0,
        prf: None,
    }
}

fn before() -> Config {
    Config {
        weights: FieldWeights::BEFORE,
        dense: DenseViews::single(DenseText::BEFORE),
        fusion: Fusion::RRF,
        center: 0.0,
        prf: None,
    }
}

/// Macro average of the tuning-half objective over the evaluations.
fn tune_score(
    bench: &mut Bench,
    evals: &[Eval<'_>],
    method: Method,
    c: &Config,
) -> Result<(f64, f64), Error> {
    let (mut t, mut h) = (0.0, 0.0);
    for e in evals {
        let r = bench.run(e, method, c)?;
        t += r.tune.objective();
        h += r.held_out.objective();
    }
    Ok((t / evals.len() as f64, h / evals.len() as f64))
}

fn weight_variants() -> Vec<(String, FieldWeights)> {
    let d = FieldWeights::default();
    let mut v = vec![
        ("before".to_string(), FieldWeights::BEFORE),
        ("default".to_string(), d),
    ];
    for description in [0.0, 0.3, 1.0] {
        v.push((
            format!("description {description}"),
            FieldWeights { description, ..d },
        ));
    }
    for summary in [1.5, 2.0, 4.0] {
        v.push((format!("summary {summary}"), FieldWeights { summary, ..d }));
    }
    for title in [2.0, 4.0] {
        v.push((format!("title {title}"), FieldWeights { title, ..d }));
    }
    for synonyms in [0.0, 0.3, 1.0] {
        v.push((
            format!("synonyms {synonyms}"),
            FieldWeights { synonyms, ..d },
        ));
    }
    for name in [3.0, 5.0] {
        v.push((format!("name {name}"), FieldWeights { name, ..d }));
    }
    for (param_name, param_description) in [(0.0, 0.0), (1.0, 0.0), (0.5, 0.1), (1.5, 0.5)] {
        v.push((
            format!("parameters {param_name}/{param_description}"),
            FieldWeights {
                param_name,
                param_description,
                ..d
            },
        ));
    }
    v
}

fn text_variants() -> Vec<(String, DenseText)> {
    let d = DenseText::default();
    // Longer variants (whole description, parameter lists) take minutes to embed on a busy
    // machine: `--tune` measures the two that decide the default, plus one shorter one.
    vec![
        (
            "before: name, whole description, parameter names".into(),
            DenseText::BEFORE,
        ),
        (
            "name, title, whole description".into(),
            DenseText {
                full_description: true,
                ..d
            },
        ),
        (
            "default: name without API versions, title, first sentence".into(),
            d,
        ),
        (
            "name with API versions, title, first sentence".into(),
            DenseText {
                api_versions: true,
                ..d
            },
        ),
        (
            "title and first sentence only".into(),
            DenseText { name: false, ..d },
        ),
    ]
}

fn fusion_variants() -> Vec<(String, Fusion)> {
    let mut v = Vec::new();
    for k in [10.0, 60.0] {
        for (b, d) in [(1.0, 1.0), (1.0, 2.0), (2.0, 1.0)] {
            v.push((
                format!("RRF k={k} w={b}:{d}"),
                Fusion {
                    method: FusionMethod::Rrf,
                    k,
                    bm25_weight: b,
                    dense_weight: d,
                    ..Fusion::default()
                },
            ));
        }
    }
    for i in 2..=9 {
        let d = i as f32 / 10.0;
        v.push((format!("scores dense weight {d}"), scores_fusion(d)));
    }
    v
}

/// One tuning table: a row per configuration, the tuning and held-out halves' macro MRR@10 for
/// each method in `methods`.
fn tune_table(
    bench: &mut Bench,
    evals: &[Eval<'_>],
    title: &str,
    what: &str,
    methods: &[Method],
    rows: Vec<(String, Config)>,
) -> Result<(), Error> {
    println!("\n### {title}\n");
    let mut header = format!("| {what} |");
    for m in methods {
        let m = m.label();
        header.push_str(&format!(" {m} tuning half | {m} held-out half |"));
    }
    println!("{header}");
    println!("|---|{}", "---|---|".repeat(methods.len()));
    for (label, c) in rows {
        let mut line = format!("| {label} |");
        for &m in methods {
            let (t, h) = tune_score(bench, evals, m, &c)?;
            line.push_str(&format!(" {t:.3} | {h:.3} |"));
        }
        println!("{line}");
    }
    Ok(())
}

/// `base` with other field weights.
fn weighted(base: Config, change: impl FnOnce(&mut FieldWeights)) -> Config {
    let mut weights = base.weights;
    change(&mut weights);
    Config { weights, ..base }
}

/// Score fusion with the given dense weight (BM25 gets the rest).
fn scores_fusion(dense_weight: f32) -> Fusion {
    Fusion {
        method: FusionMethod::Scores,
        bm25_weight: 1.0 - dense_weight,
        dense_weight,
        ..Fusion::default()
    }
}

fn tune(bench: &mut Bench, evals: &[Eval<'_>]) -> Result<(), Error> {
    use Method::{Bm25, Dense, Hybrid};
    println!(
        "\n## Tuning (macro MRR@10 over the four APIs; chosen on the tuning half, the held-out half beside it)\n"
    );
    let base = now();
    let rows = weight_variants()
        .into_iter()
        .map(|(label, weights)| (label, Config { weights, ..base }))
        .collect();
    tune_table(
        bench,
        evals,
        "BM25 field weights (changes from the default)",
        "weights",
        &[Bm25],
        rows,
    )?;
    let rows = text_variants()
        .into_iter()
        .map(|(label, text)| {
            let dense = DenseViews::single(text);
            (label, Config { dense, ..base })
        })
        .collect();
    tune_table(bench, evals, "Embedded text", "text", &[Dense], rows)?;
    let rows = fusion_variants()
        .into_iter()
        .map(|(label, fusion)| (label, Config { fusion, ..base }))
        .collect();
    tune_table(
        bench,
        evals,
        "Fusion (default weights and text)",
        "fusion",
        &[Hybrid],
        rows,
    )?;
    let rows = [1.0, 0.9, 0.8, 0.7, 0.5]
        .into_iter()
        .map(|f| (f.to_string(), weighted(base, |w| w.deprecated = f)))
        .collect();
    tune_table(
        bench,
        evals,
        "Deprecated tools' factor",
        "factor",
        &[Bm25, Hybrid],
        rows,
    )?;
    let mut rows = Vec::new();
    for name_coverage in [0.0, 1.0, 2.0, 3.0, 4.0] {
        for dense_weight in [0.4, 0.5, 0.6, 0.7] {
            let c = Config {
                fusion: scores_fusion(dense_weight),
                ..weighted(base, |w| w.name_coverage = name_coverage)
            };
            rows.push((format!("{name_coverage}, dense weight {dense_weight}"), c));
        }
    }
    tune_table(
        bench,
        evals,
        "Name coverage and the dense weight",
        "name coverage",
        &[Hybrid],
        rows,
    )?;
    let rows = [0.0, 1.0, 2.0, 3.0, 4.0]
        .into_iter()
        .map(|n| (n.to_string(), weighted(base, |w| w.name_coverage = n)))
        .collect();
    tune_table(
        bench,
        evals,
        "Name coverage (BM25 alone)",
        "name coverage",
        &[Bm25],
        rows,
    )?;
    let d = DenseText::default();
    let views = [
        ("none (the short text alone)", None),
        (
            "name without API versions, whole description, parameter names",
            Some(DenseText {
                max_words: None,
                ..DenseText::LONG
            }),
        ),
        ("default: the same, first 64 words", Some(DenseText::LONG)),
        (
            "the same, first 32 words",
            Some(DenseText {
                max_words: Some(32),
                ..DenseText::LONG
            }),
        ),
        (
            "name with API versions, whole description, parameter names",
            Some(DenseText::BEFORE),
        ),
        (
            "name, title, whole description",
            Some(DenseText {
                full_description: true,
                ..d
            }),
        ),
        (
            "title and first sentence only",
            Some(DenseText { name: false, ..d }),
        ),
    ];
    let mut rows = Vec::new();
    for (label, view) in views {
        let weights: &[f32] = if view.is_some() {
            &[0.3, 0.5, 0.7]
        } else {
            &[0.0]
        };
        for &w in weights {
            let dense = DenseViews {
                text: d,
                second: view.map(|v| (v, w)),
            };
            let label = match view {
                Some(_) => format!("{label}, weight {w}"),
                None => label.to_string(),
            };
            rows.push((label, Config { dense, ..base }));
        }
    }
    tune_table(
        bench,
        evals,
        "Blended tool vectors (the default text with a second view)",
        "second view",
        &[Dense, Hybrid],
        rows,
    )?;
    let rows = [1.0, 0.95, 0.9, 0.85, 0.8]
        .into_iter()
        .map(|f| (f.to_string(), weighted(base, |w| w.prerelease = f)))
        .collect();
    tune_table(
        bench,
        evals,
        "Pre-release API versions' factor",
        "factor",
        &[Hybrid],
        rows,
    )?;
    // The goal that set this factor: Kubernetes' hybrid not below its dense ranking.
    let k8s = evals
        .iter()
        .find(|e| e.name == "kubernetes")
        .ok_or("no Kubernetes set")?;
    let rows = [1.0, 0.9]
        .into_iter()
        .map(|f| (f.to_string(), weighted(base, |w| w.prerelease = f)))
        .collect();
    tune_table(
        bench,
        std::slice::from_ref(k8s),
        "Pre-release API versions' factor, Kubernetes alone",
        "factor",
        &[Dense, Hybrid],
        rows,
    )?;
    let rows = vec![
        ("as shipped".to_string(), base),
        // Every tool and query vector minus the catalog's mean vector, normalised: takes
        // away the direction all API operations share.
        (
            "catalog mean taken off (centred)".to_string(),
            Config {
                center: 1.0,
                ..base
            },
        ),
        // Pseudo-relevance feedback: the query vector moved towards the first hits' vectors.
        (
            "feedback: + 0.5 x the first hit".to_string(),
            Config {
                prf: Some((1, 0.5)),
                ..base
            },
        ),
        (
            "feedback: + 0.3 x the first three".to_string(),
            Config {
                prf: Some((3, 0.3)),
                ..base
            },
        ),
    ];
    tune_table(
        bench,
        evals,
        "The query vector and the catalog (rejected, kept for the record)",
        "variant",
        &[Hybrid],
        rows,
    )?;
    // A larger model can make more of a longer text (bge-small-en-v1.5 does, MiniLM does not):
    // score fusion once more with the whole description and parameter names embedded.
    let rows = (4..=8)
        .map(|i| {
            let d = i as f32 / 10.0;
            let c = Config {
                fusion: scores_fusion(d),
                dense: DenseViews::single(DenseText::BEFORE),
                ..base
            };
            (format!("dense weight {d}"), c)
        })
        .collect();
    tune_table(
        bench,
        evals,
        "Score fusion with name, whole description and parameter names embedded",
        "fusion",
        &[Hybrid],
        rows,
    )?;
    Ok(())
}

fn quality_tables(bench: &mut Bench, evals: &[Eval<'_>], held_out: bool) -> Result<(), Error> {
    let no_coverage = Config {
        weights: FieldWeights {
            name_coverage: 0.0,
            ..FieldWeights::default()
        },
        ..now()
    };
    let rows: [(&str, Method, Config); 8] = [
        ("BM25, before", Method::Bm25, before()),
        ("BM25 without name coverage", Method::Bm25, no_coverage),
        ("BM25", Method::Bm25, now()),
        ("dense, before", Method::Dense, before()),
        ("dense", Method::Dense, now()),
        ("hybrid (RRF), before", Method::Hybrid, before()),
        ("hybrid without name coverage", Method::Hybrid, no_coverage),
        ("hybrid (default)", Method::Hybrid, now()),
    ];
    println!("| catalog | tools | queries | method | Recall@1 | Recall@5 | MRR@10 | nDCG@10 |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut verdicts = Vec::new();
    for e in evals {
        let mut best_single: f64 = 0.0;
        let mut hybrid = 0.0;
        for (label, method, c) in &rows {
            let r = bench.run(e, *method, c)?;
            let q = if held_out { r.held_out } else { r.all };
            println!(
                "| {} | {} | {} | {label} | {} |",
                e.name,
                e.tools.len(),
                q.queries,
                q.cells()
            );
            if *label == "BM25" || *label == "dense" {
                best_single = best_single.max(q.objective());
            }
            if *label == "hybrid (default)" {
                hybrid = q.objective();
            }
        }
        verdicts.push(format!(
            "{}: hybrid MRR@10 {hybrid:.3}, best single ranker {best_single:.3} ({})",
            e.name,
            if hybrid + 1e-9 >= best_single {
                "not below"
            } else {
                "BELOW"
            }
        ));
    }
    println!();
    for v in verdicts {
        println!("- {v}");
    }
    Ok(())
}

fn kind_table(bench: &mut Bench, eval: &Eval<'_>) -> Result<(), Error> {
    println!("| kind | queries | BM25 R@1 / R@5 | dense R@1 / R@5 | hybrid R@1 / R@5 |");
    println!("|---|---|---|---|---|");
    let runs = [
        bench.run(eval, Method::Bm25, &now())?,
        bench.run(eval, Method::Dense, &now())?,
        bench.run(eval, Method::Hybrid, &now())?,
    ];
    for kind in [Kind::Direct, Kind::Paraphrase, Kind::NearMiss] {
        let cells: Vec<String> = runs
            .iter()
            .map(|r| {
                let q = r.by_kind.get(&kind).copied().unwrap_or_default().mean();
                format!("{:.3} / {:.3}", q.recall1, q.recall5)
            })
            .collect();
        let n = runs[0].by_kind.get(&kind).map_or(0, |q| q.queries);
        println!("| {} | {n} | {} |", kind.label(), cells.join(" | "));
    }
    Ok(())
}

/// Recall deeper than the top 5 (default settings): how many intents have a fully relevant tool
/// anywhere a reranker over the first k results could find it. It bounds what any reordering of
/// these rankings can reach, e.g. a cross-encoder over the hybrid's top 20; and the union of the
/// single rankers' top 5 bounds what a fusion that only reorders their first results can.
fn depth_table(bench: &mut Bench, eval: &Eval<'_>) -> Result<(), Error> {
    const KS: [usize; 4] = [5, 10, 20, DEPTH];
    let methods = [Method::Bm25, Method::Dense, Method::Hybrid];
    let runs = methods
        .iter()
        .map(|&m| bench.run(eval, m, &now()))
        .collect::<Result<Vec<_>, _>>()?;
    let header: Vec<String> = KS.iter().map(|k| format!("Recall@{k}")).collect();
    println!("| ranking | queries | {} |", header.join(" | "));
    println!("|---|---|{}", "---|".repeat(KS.len()));
    let row = |label: &str, ranks: &[Option<usize>]| {
        let cells: Vec<String> = KS
            .iter()
            .map(|&k| {
                let found = ranks.iter().filter(|r| r.is_some_and(|r| r < k)).count();
                format!("{:.3}", found as f64 / ranks.len().max(1) as f64)
            })
            .collect();
        println!("| {label} | {} | {} |", ranks.len(), cells.join(" | "));
    };
    for (m, r) in methods.iter().zip(&runs) {
        row(m.label(), &r.first);
    }
    // The better of the two single rankers' ranks, per query.
    let union: Vec<Option<usize>> = runs[0]
        .first
        .iter()
        .zip(&runs[1].first)
        .map(|(a, b)| a.iter().chain(b).min().copied())
        .collect();
    row("BM25 or dense (the better rank of the two)", &union);
    for kind in [Kind::Direct, Kind::Paraphrase, Kind::NearMiss] {
        let ranks: Vec<Option<usize>> = eval
            .queries
            .iter()
            .zip(&runs[2].first)
            .filter(|((_, _, k, _), _)| *k == Some(kind))
            .map(|(_, r)| *r)
            .collect();
        row(&format!("hybrid, {} intents", kind.label()), &ranks);
    }
    Ok(())
}

/// Every intent whose fully relevant tool is not in the default hybrid's top 5, with what came
/// first instead: where to look when the numbers move.
fn misses(bench: &mut Bench, eval: &Eval<'_>) -> Result<(), Error> {
    println!("\n## Misses at rank 5 (default hybrid, all four APIs in one catalog)\n");
    let mut index = SearchIndex::build_with(
        eval.tools
            .iter()
            .enumerate()
            .map(|(i, t)| (i, tool_text(t))),
        &FieldWeights::default(),
    );
    let v = bench.tool_vectors(eval.tools, DenseViews::default())?;
    index.set_dense(bench.model.clone(), &v);
    let fusion = with_model_floor(Fusion::default(), &*bench.model);
    for (i, (text, grades, kind, _)) in eval.queries.iter().enumerate() {
        let ranked = index.rank_with(
            text,
            Some(&eval.query_vectors[i][..]),
            10,
            &|_| true,
            &fusion,
        );
        let rank = ranked.iter().position(|d| grades.get(d) == Some(&2));
        if rank.is_some_and(|r| r < 5) {
            continue;
        }
        let want: Vec<&str> = grades
            .iter()
            .filter(|(_, g)| **g == 2)
            .map(|(d, _)| eval.tools[*d].name.as_str())
            .collect();
        let got: Vec<&str> = ranked
            .iter()
            .take(3)
            .map(|d| eval.tools[*d].name.as_str())
            .collect();
        println!(
            "- [{}] \"{text}\": want {} (rank {}); got {}",
            kind.map_or("?", |k| k.label()),
            want.join(" / "),
            rank.map_or("-".to_string(), |r| (r + 1).to_string()),
            got.join(", ")
        );
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let args = args()?;
    let rss0 = rss();
    let t = Instant::now();
    let encoder = LocalEmbedder::load(&args.model)?;
    println!(
        "query path: {} kernel, {:.1} MiB of 8-bit layers",
        encoder.encoder().query_path_kernel(),
        mib(encoder.encoder().query_path_bytes() as u64)
    );
    let model: Arc<dyn Embedder> = match &args.vocab {
        None => Arc::new(encoder.clone()),
        Some(path) => Arc::new(vocab_table(&encoder, &args.model, path)?),
    };
    let load = t.elapsed();
    let model_rss = rss().saturating_sub(rss0);
    println!(
        "model {}: loaded in {} ms, +{:.1} MiB RSS",
        model.model_id(),
        ms(load),
        mib(model_rss)
    );
    let vector_file = args
        .vectors
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("toolyard-search-bench.vectors"));
    let mut bench = Bench {
        model,
        vectors: VectorFile::open(vector_file),
        reference: args.vocab.is_none().then_some(encoder),
        catalog_32bit: args.catalog_32bit,
    };

    // ---- real APIs ----
    let mut catalogs = Vec::new();
    for api in real_apis::APIS {
        let c = real_apis::load(api, &args.specs, &args.eval)?;
        catalogs.push((api.name, c));
    }
    let mut everything = Vec::new();
    for api in real_apis::APIS {
        everything.push(real_apis::load(api, &args.specs, &args.eval)?);
    }
    let combined = real_apis::combined(everything);
    if args.quality {
        quality(&args, &mut bench, &catalogs, &combined)?;
    }
    if bench.vectors.embedded > 0 {
        println!(
            "\nembedded {} new texts in {:.1} s ({:.0}/s; the rest came from the vector file)",
            bench.vectors.embedded,
            bench.vectors.embed_time.as_secs_f64(),
            bench.vectors.embedded as f64 / bench.vectors.embed_time.as_secs_f64().max(1e-9)
        );
    }
    if args.speed {
        speed(&mut bench, &combined, args.latency_queries, model_rss, load)?;
    }
    Ok(())
}

/// The quality tables: the real APIs one by one and together, then BFCL.
fn quality(
    args: &Args,
    bench: &mut Bench,
    catalogs: &[(&str, Catalog)],
    combined: &Catalog,
) -> Result<(), Error> {
    let mut evals = Vec::new();
    for (name, c) in catalogs {
        evals.push(real_eval(name, c, bench)?);
    }
    let all_eval = real_eval("all four", combined, bench)?;
    println!(
        "\n# Real APIs: {} intents over {} tools ({})\n",
        combined.intents.len(),
        combined.tools.len(),
        catalogs
            .iter()
            .map(|(n, c)| format!("{n} {} tools / {} intents", c.tools.len(), c.intents.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if args.tune {
        tune(bench, &evals)?;
    }
    println!("\n## Quality, all intents (default settings unless marked \"before\")\n");
    let mut with_all: Vec<Eval<'_>> = evals;
    with_all.push(all_eval);
    quality_tables(bench, &with_all, false)?;
    println!(
        "\n## Quality, held-out half only (the odd-numbered intents of each file; never used for tuning)\n"
    );
    quality_tables(bench, &with_all, true)?;
    println!("\n## By kind of intent (all four APIs in one catalog, default settings)\n");
    kind_table(bench, &with_all[with_all.len() - 1])?;
    println!(
        "\n## Recall at depth (all four APIs in one catalog, default settings): what reordering the first k could reach\n"
    );
    depth_table(bench, &with_all[with_all.len() - 1])?;
    if args.misses {
        misses(bench, &with_all[with_all.len() - 1])?;
    }
    made_up_queries(bench, combined)?;

    // ---- BFCL ----
    if let Some(dir) = &args.bfcl {
        let (corpus, queries) = load_bfcl(dir)?;
        let tools = bfcl_tools(&corpus);
        let grades: Vec<HashMap<usize, u8>> = queries
            .iter()
            .map(|q| q.relevant.iter().map(|&d| (d, 2u8)).collect())
            .collect();
        let texts: Vec<String> = queries.iter().map(|q| q.text.clone()).collect();
        let query_vectors = bench.vectors.get_queries(&*bench.model, &texts)?;
        let eval = Eval {
            name: "BFCL".into(),
            tools: &tools,
            queries: queries
                .iter()
                .zip(&grades)
                .enumerate()
                .map(|(i, (q, g))| (q.text.as_str(), g, None, i % 2 == 0))
                .collect(),
            query_vectors,
        };
        println!(
            "\n# BFCL (second set): {} functions, {} queries from {} categories\n",
            tools.len(),
            queries.len(),
            CATEGORIES.len()
        );
        quality_tables(bench, std::slice::from_ref(&eval), false)?;
    }
    Ok(())
}

/// The vocabulary table of `encoder`: read from `path`, or distilled and written there.
fn vocab_table(encoder: &LocalEmbedder, dir: &Path, path: &Path) -> Result<VocabEmbedder, Error> {
    if path.exists() {
        return Ok(VocabEmbedder::load(path, dir, encoder.model_id())?);
    }
    let t = Instant::now();
    let table = VocabEmbedder::distill(encoder.encoder())?;
    println!(
        "distilled the vocabulary table in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    table.save(path)?;
    Ok(table)
}

/// Speed and size: the real-API tools replicated to 1,000 and 10,000.
fn speed(
    bench: &mut Bench,
    combined: &Catalog,
    latency_queries: usize,
    model_rss: u64,
    load: Duration,
) -> Result<(), Error> {
    let corpus = &combined.tools;
    let base_vectors = bench.tool_vectors(corpus, DenseViews::default())?;
    // Tool embedding throughput, measured on 256 tools (a fresh embedding, never from the file):
    // both views as the gateway embeds them, then each view alone.
    let views = DenseViews::default();
    let sample = &corpus[..corpus.len().min(256)];
    let per_second = |texts: &[String]| -> Result<f64, Error> {
        let t = Instant::now();
        bench.model.embed_blocking(texts)?;
        Ok(sample.len() as f64 / t.elapsed().as_secs_f64())
    };
    let both: Vec<String> = sample
        .iter()
        .flat_map(|t| views.texts(&tool_text(t)).collect::<Vec<_>>())
        .collect();
    let short: Vec<String> = sample.iter().map(|t| tool_text(t).dense_text()).collect();
    let long_text = views.second.map_or(views.text, |(text, _)| text);
    let long: Vec<String> = sample
        .iter()
        .map(|t| tool_text(t).dense_text_with(long_text))
        .collect();
    let throughput = per_second(&both)?;
    let (short_alone, long_alone) = (per_second(&short)?, per_second(&long)?);
    println!(
        "\n# Speed and size (top-10; real-API intents as queries, {latency_queries} per run, one thread)\n"
    );
    let reference = match &bench.reference {
        Some(r) => {
            let t = Instant::now();
            r.encoder().embed_reference(&short)?;
            format!(
                "; the short one through the 32-bit reference path {:.0} tools/s",
                sample.len() as f64 / t.elapsed().as_secs_f64()
            )
        }
        None => String::new(),
    };
    println!(
        "tool embedding throughput on {} threads: {throughput:.0} tools/s (both views); short text alone {short_alone:.0}, long text alone {long_alone:.0}{reference}",
        rayon::current_num_threads()
    );
    query_alone(&*bench.model, bench.reference.as_ref(), combined)?;
    println!(
        "| tools | BM25 p50 / p99 ms | hybrid p50 / p99 ms (query vector given) | hybrid end-to-end p50 / p99 ms (query embedded) | hybrid end-to-end p50 / p99 ms (query cache hit) | BM25 build ms | reload, all vectors cached, ms | embedding all tools, s | vectors MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let queries: Vec<&str> = combined.intents.iter().map(|i| i.text.as_str()).collect();
    for n in [1_000usize, 10_000] {
        let tools: Vec<Tool> = (0..n)
            .map(|i| {
                let t = &corpus[i % corpus.len()];
                let copy = i / corpus.len();
                Tool {
                    name: if copy == 0 {
                        t.name.clone()
                    } else {
                        format!("{}_v{copy}", t.name)
                    },
                    title: t.title.clone(),
                    description: t.description.clone(),
                    schema: t.schema.clone(),
                    deprecated: t.deprecated,
                }
            })
            .collect();
        let t = Instant::now();
        let mut index =
            SearchIndex::build(tools.iter().enumerate().map(|(i, t)| (i, tool_text(t))));
        let bm25_build = t.elapsed();
        // Replicated tools reuse their original's vector, slightly tilted so copies do not tie.
        let vectors: Vec<Arc<[f32]>> = (0..n)
            .map(|i| {
                let mut v = base_vectors[i % corpus.len()].to_vec();
                let j = i % v.len();
                v[j] += 1e-3 * (i / corpus.len()) as f32;
                normalize(&mut v);
                v.into()
            })
            .collect();
        let texts: Vec<String> = tools.iter().map(|t| tool_text(t).dense_text()).collect();
        let mut cache = EmbeddingCache::new();
        let fake = Precomputed {
            model: bench.model.model_id().to_string(),
            by_text: texts.iter().cloned().zip(vectors.iter().cloned()).collect(),
        };
        cache.resolve(&fake, &texts)?;
        let t = Instant::now();
        let cached = cache.resolve(&fake, &texts)?;
        let mut reload_index =
            SearchIndex::build(tools.iter().enumerate().map(|(i, t)| (i, tool_text(t))));
        reload_index.set_dense(bench.model.clone(), &cached);
        let reload = t.elapsed();
        drop(reload_index);
        index.set_dense(bench.model.clone(), &vectors);
        let vec_mib = mib(index.dense_bytes() as u64);

        let query_cache = QueryCache::new(1024);
        let (mut lex, mut hyb, mut e2e, mut hit) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for r in 0..latency_queries {
            let text = queries[(r * 7919) % queries.len()];
            let t = Instant::now();
            std::hint::black_box(index.rank(text, None, 10, &|_| true));
            lex.push(t.elapsed());
            // Uncached: the query is embedded.
            let t = Instant::now();
            let mut qv = bench.model.embed_query_blocking(text)?;
            normalize(&mut qv);
            let qv: Arc<[f32]> = qv.into();
            std::hint::black_box(index.rank(text, Some(&qv[..]), 10, &|_| true));
            e2e.push(t.elapsed());
            query_cache.insert(text, qv.clone());
            let t = Instant::now();
            std::hint::black_box(index.rank(text, Some(&qv[..]), 10, &|_| true));
            hyb.push(t.elapsed());
            let t = Instant::now();
            let v = query_cache.get(text).ok_or("query cache lost an entry")?;
            std::hint::black_box(index.rank(text, Some(&v[..]), 10, &|_| true));
            hit.push(t.elapsed());
        }
        println!(
            "| {n} | {} / {} | {} / {} | {} / {} | {} / {} | {} | {} | {:.1} | {:.1} |",
            ms(percentile(&mut lex, 0.5)),
            ms(percentile(&mut lex, 0.99)),
            ms(percentile(&mut hyb, 0.5)),
            ms(percentile(&mut hyb, 0.99)),
            ms(percentile(&mut e2e, 0.5)),
            ms(percentile(&mut e2e, 0.99)),
            ms(percentile(&mut hit, 0.5)),
            ms(percentile(&mut hit, 0.99)),
            ms(bm25_build),
            ms(reload),
            n as f64 / throughput,
            vec_mib,
        );
    }
    println!(
        "\nmodel: +{:.1} MiB RSS, loaded in {} ms; process RSS at the end: {:.1} MiB",
        mib(model_rss),
        ms(load),
        mib(rss())
    );
    Ok(())
}

/// Queries no tool answers. Hybrid search should return nothing (or next to nothing) for them,
/// not a full top-k: this is what the dense-similarity floor is for.
const MADE_UP_QUERIES: [&str; 12] = [
    "what is the airspeed velocity of an unladen swallow",
    "purple elephants dancing on the moon",
    "recipe for banana bread",
    "who won the world cup in 1998",
    "asdf qwerty zxcv",
    "translate good morning into klingon",
    "how tall is mount everest",
    "play some relaxing jazz",
    "tell me a joke about penguins",
    "best time to plant tomatoes",
    "lorem ipsum dolor sit amet",
    "why is the sky blue",
];

/// Hits of [`MADE_UP_QUERIES`] over the combined catalog: with the fusion's default floor and
/// with the model's own ([`Embedder::min_similarity`]), beside the highest cosine they reach.
fn made_up_queries(bench: &mut Bench, combined: &Catalog) -> Result<(), Error> {
    let c = now();
    let mut index = SearchIndex::build_with(
        combined
            .tools
            .iter()
            .enumerate()
            .map(|(i, t)| (i, tool_text(t))),
        &c.weights,
    );
    let vectors = bench.tool_vectors(&combined.tools, c.dense)?;
    index.set_dense(bench.model.clone(), &vectors);
    let model_floor = with_model_floor(c.fusion, &*bench.model);
    println!(
        "\n## Made-up queries ({} that no tool answers, all four APIs in one catalog)\n",
        MADE_UP_QUERIES.len()
    );
    println!("| floor for dense-only hits | queries with hits | hits per query (top-10) |");
    println!("|---|---|---|");
    let mut highest = f32::NEG_INFINITY;
    let mut rows = vec![("default", c.fusion)];
    if model_floor != c.fusion {
        rows.push(("the model's", model_floor));
    }
    let mut query_vectors = Vec::new();
    for q in MADE_UP_QUERIES {
        let mut v = bench.model.embed_query_blocking(q)?;
        normalize(&mut v);
        for t in &vectors {
            highest = highest.max(t.iter().zip(&v).map(|(a, b)| a * b).sum());
        }
        query_vectors.push(v);
    }
    for (label, fusion) in rows {
        let mut with_hits = 0;
        let mut hits = 0;
        for (q, v) in MADE_UP_QUERIES.iter().zip(&query_vectors) {
            let n = index.rank_with(q, Some(v), 10, &|_| true, &fusion).len();
            with_hits += usize::from(n > 0);
            hits += n;
        }
        println!(
            "| {label} ({}) | {with_hits}/{} | {:.1} |",
            fusion.min_dense_similarity,
            MADE_UP_QUERIES.len(),
            hits as f64 / MADE_UP_QUERIES.len() as f64
        );
    }
    println!("\nhighest cosine of a made-up query to any tool: {highest:.3}");
    Ok(())
}

/// The query embedding alone: each intent through the query path (3 rounds after a warm-up), and
/// how far its vectors are from the local model's 32-bit reference path.
fn query_alone(
    model: &dyn Embedder,
    reference: Option<&LocalEmbedder>,
    combined: &Catalog,
) -> Result<(), Error> {
    let queries: Vec<String> = combined.intents.iter().map(|i| i.text.clone()).collect();
    let prompted: Vec<String> = queries
        .iter()
        .map(|q| format!("{}{q}", model.query_prompt()))
        .collect();
    let exact = match reference {
        Some(r) => r.encoder().embed_reference(&prompted)?,
        None => model.embed_blocking(&prompted)?,
    };
    let mut lowest = f32::INFINITY;
    let mut cosines = Vec::with_capacity(queries.len());
    for (q, mut e) in queries.iter().zip(exact) {
        let mut v = model.embed_query_blocking(q)?;
        normalize(&mut v);
        normalize(&mut e);
        let cosine: f32 = v.iter().zip(&e).map(|(a, b)| a * b).sum();
        lowest = lowest.min(cosine);
        cosines.push(cosine);
    }
    cosines.sort_by(f32::total_cmp);
    let mut times = Vec::with_capacity(3 * queries.len());
    for round in 0..4 {
        for q in &queries {
            let t = Instant::now();
            std::hint::black_box(model.embed_query_blocking(q)?);
            if round > 0 {
                times.push(t.elapsed());
            }
        }
    }
    println!(
        "query embedding alone ({} intents x 3): p50 {} / p90 {} / p99 {} ms; cosine to the 32-bit reference path: lowest {lowest:.5}, median {:.5}\n",
        queries.len(),
        ms(percentile(&mut times, 0.5)),
        ms(percentile(&mut times, 0.9)),
        ms(percentile(&mut times, 0.99)),
        cosines[cosines.len() / 2]
    );
    Ok(())
}

/// Serves precomputed vectors (the speed runs replicate the corpus instead of re-embedding it).
#[derive(Debug)]
struct Precomputed {
    model: String,
    by_text: HashMap<String, Arc<[f32]>>,
}

impl Embedder for Precomputed {
    fn model_id(&self) -> &str {
        &self.model
    }
    fn embed_blocking(
        &self,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>, toolyard_gateway::search::embed::EmbedError> {
        Ok(texts
            .iter()
            .map(|t| self.by_text.get(t).map(|v| v.to_vec()).unwrap_or_default())
            .collect())
    }
    fn embed_query<'a>(
        &'a self,
        _text: &'a str,
    ) -> toolyard_gateway::search::embed::BoxFuture<
        'a,
        Result<Vec<f32>, toolyard_gateway::search::embed::EmbedError>,
    > {
        Box::pin(async { Ok(Vec::new()) })
    }
}
