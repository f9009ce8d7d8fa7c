//! Tool-search benchmark: retrieval quality on the Berkeley Function Calling Leaderboard (BFCL)
//! data and speed/size at 1,000 and 10,000 tools. Run it with `bench/search.sh` (installs the
//! data and the model), or:
//!
//! ```text
//! cargo run --release -p toolyard-gateway --example search_bench -- \
//!     --bfcl ~/.cache/toolyard/bfcl --model ~/.cache/toolyard/models/all-MiniLM-L6-v2 [--tune]
//! ```
//!
//! Quality: every function of the single-turn function-calling categories is pooled into one
//! corpus (deduplicated by name and description); every question is a query whose relevant
//! tools are its ground-truth function(s) (the version of the function given with that
//! question). Recall@5 and nDCG@10 (binary relevance) for BM25, dense and hybrid (RRF).
//!
//! Speed: the corpus is replicated (names suffixed) to 1,000 and 10,000 tools; p50/p99 query
//! latency over BFCL questions for BM25 alone, hybrid given the query vector, and hybrid
//! end-to-end (query embedding included); index build time; memory (RSS deltas).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use toolyard_gateway::search::embed::local::LocalEmbedder;
use toolyard_gateway::search::embed::{Embedder, EmbeddingCache, normalize};
use toolyard_gateway::search::fusion::Fusion;
use toolyard_gateway::search::{DenseText, SearchIndex, ToolText};

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

type Error = Box<dyn std::error::Error>;

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

fn tool_text(f: &Function) -> ToolText<'_> {
    ToolText {
        name: &f.name,
        title: None,
        description: Some(&f.description),
        input_schema: Some(&f.schema),
        target_description: None,
    }
}

fn bm25_index(corpus: &[Function]) -> SearchIndex {
    SearchIndex::build(corpus.iter().enumerate().map(|(i, f)| (i, tool_text(f))))
}

#[derive(Default, Clone, Copy)]
struct Quality {
    recall5: f64,
    ndcg10: f64,
}

fn quality(queries: &[Query], ranked: impl Fn(usize) -> Vec<usize>) -> Quality {
    let mut q = Quality::default();
    for (i, query) in queries.iter().enumerate() {
        let top = ranked(i);
        let hits5 = top
            .iter()
            .take(5)
            .filter(|d| query.relevant.contains(d))
            .count();
        q.recall5 += hits5 as f64 / query.relevant.len() as f64;
        let dcg: f64 = top
            .iter()
            .take(10)
            .enumerate()
            .filter(|(_, d)| query.relevant.contains(d))
            .map(|(r, _)| 1.0 / ((r + 2) as f64).log2())
            .sum();
        let ideal: f64 = (0..query.relevant.len().min(10))
            .map(|r| 1.0 / ((r + 2) as f64).log2())
            .sum();
        q.ndcg10 += dcg / ideal;
    }
    let n = queries.len().max(1) as f64;
    Quality {
        recall5: q.recall5 / n,
        ndcg10: q.ndcg10 / n,
    }
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

/// Vectors, one per text.
type Vectors = Vec<Arc<[f32]>>;

fn embed_all(e: &LocalEmbedder, texts: &[String]) -> Result<(Vectors, Duration), Error> {
    let mut cache = EmbeddingCache::new();
    let started = Instant::now();
    let v = cache.resolve(e, texts)?;
    Ok((v, started.elapsed()))
}

struct Args {
    bfcl: PathBuf,
    model: PathBuf,
    tune: bool,
    latency_queries: usize,
}

fn args() -> Result<Args, Error> {
    let mut bfcl = None;
    let mut model = None;
    let mut tune = false;
    let mut latency_queries = 500;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bfcl" => bfcl = it.next().map(PathBuf::from),
            "--model" => model = it.next().map(PathBuf::from),
            "--tune" => tune = true,
            "--latency-queries" => {
                latency_queries = it.next().and_then(|n| n.parse().ok()).unwrap_or(500)
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(Args {
        bfcl: bfcl.ok_or("--bfcl DIR (the bfcl_eval/data folder) is required")?,
        model: model.ok_or("--model DIR (a sentence-transformers model folder) is required")?,
        tune,
        latency_queries,
    })
}

/// Made-up queries that name no tool: a good search answers them with (almost) nothing.
const NONSENSE_QUERIES: [&str; 12] = [
    "xyzzy plugh",
    "zxqv blorptic wumbfrazzle",
    "flibber jabberwock snarf",
    "qwerty asdf",
    "lorem ipsum dolor sit amet",
    "grelp vantish okomuru",
    "bzzt frobnicate the glimmerwax",
    "snorkel wimble dripfang",
    "ptarmigan quux zorp",
    "wibble wobble",
    "kzzzt",
    "mrrph hnnng",
];

/// The hybrid ranking's quality and its answers to nonsense per dense-similarity floor (hits
/// only the dense ranking found need the floor; see `Fusion::min_dense_similarity`).
fn similarity_floors(
    model: &LocalEmbedder,
    index: &SearchIndex,
    queries: &[Query],
    query_vectors: &Vectors,
    k: usize,
) -> Result<(), Error> {
    let texts: Vec<String> = NONSENSE_QUERIES.iter().map(|q| q.to_string()).collect();
    let (nonsense, _) = embed_all(model, &texts)?;
    println!(
        "\n### Dense-similarity floor (hybrid, default text and RRF; {} nonsense queries)\n",
        NONSENSE_QUERIES.len()
    );
    println!(
        "| floor for dense-only hits | Recall@5 | nDCG@10 | nonsense queries with hits | hits per nonsense query (top-{k}) |"
    );
    println!("|---|---|---|---|---|");
    for floor in [-1.0, 0.1, 0.15, 0.2, 0.25, 0.3] {
        let f = Fusion {
            min_dense_similarity: floor,
            ..Fusion::default()
        };
        let q = quality(queries, |i| {
            index.rank_with(&queries[i].text, Some(&query_vectors[i]), k, &|_| true, &f)
        });
        let hits: Vec<usize> = NONSENSE_QUERIES
            .iter()
            .zip(nonsense.iter())
            .map(|(text, v)| index.rank_with(text, Some(v), k, &|_| true, &f).len())
            .collect();
        let with_hits = hits.iter().filter(|&&n| n > 0).count();
        let mean = hits.iter().sum::<usize>() as f64 / hits.len() as f64;
        let label = if floor < -0.5 {
            "none".to_string()
        } else if f == Fusion::default() {
            format!("{floor} (default)")
        } else {
            format!("{floor}")
        };
        println!(
            "| {label} | {:.3} | {:.3} | {with_hits}/{} | {mean:.1} |",
            q.recall5,
            q.ndcg10,
            hits.len()
        );
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let args = args()?;
    let (corpus, queries) = load_bfcl(&args.bfcl)?;
    println!(
        "BFCL corpus: {} functions (deduplicated), {} queries from {} categories",
        corpus.len(),
        queries.len(),
        CATEGORIES.len()
    );

    let rss0 = rss();
    let t = Instant::now();
    let model = LocalEmbedder::load(&args.model)?;
    let load = t.elapsed();
    let model_rss = rss().saturating_sub(rss0);
    println!(
        "model {}: loaded in {} ms, +{:.1} MiB RSS",
        model.model_id(),
        ms(load),
        mib(model_rss)
    );

    let query_texts: Vec<String> = queries.iter().map(|q| q.text.clone()).collect();
    let (query_vectors, qtime) = embed_all(&model, &query_texts)?;
    println!(
        "embedded {} queries in {:.1} s ({:.0}/s)",
        queries.len(),
        qtime.as_secs_f64(),
        queries.len() as f64 / qtime.as_secs_f64()
    );

    let styles: Vec<(&str, DenseText)> = if args.tune {
        vec![
            (
                "description only",
                DenseText {
                    name: false,
                    parameters: false,
                    parameter_descriptions: false,
                    target: false,
                },
            ),
            (
                "name + description",
                DenseText {
                    name: true,
                    parameters: false,
                    parameter_descriptions: false,
                    target: false,
                },
            ),
            (
                "name + description + parameter names (default)",
                DenseText::default(),
            ),
            (
                "name + description + parameters with descriptions",
                DenseText {
                    name: true,
                    parameters: true,
                    parameter_descriptions: true,
                    target: false,
                },
            ),
        ]
    } else {
        vec![(
            "name + description + parameter names (default)",
            DenseText::default(),
        )]
    };

    let k = 10;
    let mut chosen: Option<(SearchIndex, Duration)> = None;
    println!(
        "\n## Quality (BFCL, {} queries, {} tools)\n",
        queries.len(),
        corpus.len()
    );
    println!("| method | embedded text | fusion | Recall@5 | nDCG@10 |");
    println!("|---|---|---|---|---|");
    let base = bm25_index(&corpus);
    let q = quality(&queries, |i| {
        base.rank(&queries[i].text, None, k, &|_| true)
    });
    println!("| BM25 | - | - | {:.3} | {:.3} |", q.recall5, q.ndcg10);
    for (label, style) in &styles {
        let texts: Vec<String> = corpus
            .iter()
            .map(|f| tool_text(f).dense_text_with(*style))
            .collect();
        let (vectors, etime) = embed_all(&model, &texts)?;
        let mut index = bm25_index(&corpus);
        index.set_dense(Arc::new(model.clone()), &vectors);
        // The plain dense ranking (no similarity floor), as before the floor existed.
        let dense_only = Fusion {
            bm25_weight: 0.0,
            min_dense_similarity: -1.0,
            ..Fusion::default()
        };
        let q = quality(&queries, |i| {
            index.rank_with(
                &queries[i].text,
                Some(&query_vectors[i]),
                k,
                &|_| true,
                &dense_only,
            )
        });
        println!(
            "| dense | {label} | - | {:.3} | {:.3} |",
            q.recall5, q.ndcg10
        );
        let fusions: Vec<Fusion> = if args.tune {
            let mut v = Vec::new();
            for rrf_k in [5.0, 20.0, 60.0, 100.0] {
                for (wb, wd) in [(1.0, 1.0), (1.0, 0.5), (0.5, 1.0)] {
                    v.push(Fusion {
                        k: rrf_k,
                        bm25_weight: wb,
                        dense_weight: wd,
                        ..Fusion::default()
                    });
                }
            }
            v
        } else {
            vec![Fusion::default()]
        };
        for f in fusions {
            let q = quality(&queries, |i| {
                index.rank_with(&queries[i].text, Some(&query_vectors[i]), k, &|_| true, &f)
            });
            let tag = if f == Fusion::default() {
                " (default)"
            } else {
                ""
            };
            println!(
                "| hybrid | {label} | RRF k={}, w_bm25={}, w_dense={}{tag} | {:.3} | {:.3} |",
                f.k, f.bm25_weight, f.dense_weight, q.recall5, q.ndcg10
            );
        }
        if *style == DenseText::default() {
            similarity_floors(&model, &index, &queries, &query_vectors, k)?;
            chosen = Some((index, etime));
        }
    }
    let Some((_, embed_time)) = chosen else {
        return Err("the default embedded-text style was not run".into());
    };
    let throughput = corpus.len() as f64 / embed_time.as_secs_f64();
    println!(
        "\ntool embedding throughput: {} tools in {:.1} s = {:.0} tools/s",
        corpus.len(),
        embed_time.as_secs_f64(),
        throughput
    );

    // ---- speed and size ----
    let default_texts: Vec<String> = corpus.iter().map(|f| tool_text(f).dense_text()).collect();
    let (base_vectors, _) = embed_all(&model, &default_texts)?;
    println!(
        "\n## Speed and size (top-10, {} BFCL queries per run)\n",
        args.latency_queries
    );
    println!(
        "| tools | BM25 p50 / p99 ms | hybrid p50 / p99 ms (query vector given) | hybrid end-to-end p50 / p99 ms (incl. query embedding) | BM25 build ms | reload, all vectors cached, ms | embedding all tools, s (measured throughput) | BM25 index MiB | vectors MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for n in [1_000usize, 10_000] {
        let tools: Vec<Function> = (0..n)
            .map(|i| {
                let f = &corpus[i % corpus.len()];
                let copy = i / corpus.len();
                Function {
                    name: if copy == 0 {
                        f.name.clone()
                    } else {
                        format!("{}_v{copy}", f.name)
                    },
                    description: f.description.clone(),
                    schema: f.schema.clone(),
                }
            })
            .collect();
        let rss_before = rss();
        let t = Instant::now();
        let mut index = bm25_index(&tools);
        let bm25_build = t.elapsed();
        let bm25_rss = rss().saturating_sub(rss_before);
        // Replicated tools reuse their original's vector, with a small deterministic tilt so
        // copies are not exact ties.
        let vectors: Vec<Arc<[f32]>> = (0..n)
            .map(|i| {
                let mut v = base_vectors[i % corpus.len()].to_vec();
                let j = i % v.len();
                v[j] += 1e-3 * (i / corpus.len()) as f32;
                normalize(&mut v);
                v.into()
            })
            .collect();
        // A reload with every text cached: hashing + lookups + index build.
        let texts: Vec<String> = tools.iter().map(|f| tool_text(f).dense_text()).collect();
        let mut cache = EmbeddingCache::new();
        let fake = Precomputed {
            model: model.model_id().to_string(),
            by_text: texts.iter().cloned().zip(vectors.iter().cloned()).collect(),
        };
        cache.resolve(&fake, &texts)?;
        let t = Instant::now();
        let cached = cache.resolve(&fake, &texts)?;
        let mut reload_index = bm25_index(&tools);
        reload_index.set_dense(Arc::new(model.clone()), &cached);
        let reload = t.elapsed();
        drop(reload_index);
        index.set_dense(Arc::new(model.clone()), &vectors);
        let vec_mib = mib(index.dense_bytes() as u64);

        let sample: Vec<usize> = (0..args.latency_queries)
            .map(|i| (i * 7919) % queries.len())
            .collect();
        let (mut lex, mut hyb, mut e2e) = (Vec::new(), Vec::new(), Vec::new());
        for &qi in &sample {
            let text = &queries[qi].text;
            let t = Instant::now();
            std::hint::black_box(index.rank(text, None, k, &|_| true));
            lex.push(t.elapsed());
            let t = Instant::now();
            std::hint::black_box(index.rank(text, Some(&query_vectors[qi]), k, &|_| true));
            hyb.push(t.elapsed());
            let t = Instant::now();
            let mut qv = model.encoder().embed(std::slice::from_ref(text))?;
            let qv = qv.pop().unwrap_or_default();
            std::hint::black_box(index.rank(text, Some(&qv), k, &|_| true));
            e2e.push(t.elapsed());
        }
        println!(
            "| {n} | {} / {} | {} / {} | {} / {} | {} | {} | {:.1} | {:.1} | {:.1} |",
            ms(percentile(&mut lex, 0.5)),
            ms(percentile(&mut lex, 0.99)),
            ms(percentile(&mut hyb, 0.5)),
            ms(percentile(&mut hyb, 0.99)),
            ms(percentile(&mut e2e, 0.5)),
            ms(percentile(&mut e2e, 0.99)),
            ms(bm25_build),
            ms(reload),
            n as f64 / throughput,
            mib(bm25_rss),
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
