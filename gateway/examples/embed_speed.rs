//! How long one search query takes to embed: every intent of the evaluation set
//! (`bench/search-eval/*.tsv`) embedded on its own, the way the search tool embeds a new query,
//! on the calling thread only.
//!
//! ```text
//! cargo run --release -p toolyard-gateway --example embed_speed -- MODEL_DIR bench/search-eval [ROUNDS] [tensor]
//! ```
//!
//! By default each query goes through the gateway's query path ([`BertEncoder::embed_query`]: 8-bit
//! dense layers, no tensor library), and the output also gives the lowest and median cosine of its
//! vectors to the 32-bit batch path's; with `tensor` the 32-bit batch path is timed instead.
//!
//! Prints the token counts and the p50 / p90 / p99 time per query. `bench/search.sh` measures the
//! same inside a whole search; this isolates the encoder for profiling
//! (`valgrind --tool=callgrind` on this example counts its instructions).

use std::path::Path;
use std::time::{Duration, Instant};

use toolyard_gateway::search::embed::local::BertEncoder;

fn intents(dir: &Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
        .collect();
    files.sort();
    for f in files {
        for line in std::fs::read_to_string(&f)?.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if let Some(query) = line.split('\t').nth(1) {
                out.push(query.to_string());
            }
        }
    }
    Ok(out)
}

fn pct(times: &mut [Duration], p: f64) -> f64 {
    times.sort();
    let i = ((times.len() as f64 - 1.0) * p).round() as usize;
    times[i].as_secs_f64() * 1e3
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: embed_speed MODEL_DIR EVAL_DIR [ROUNDS]";
    let model = args.next().ok_or(usage)?;
    let eval = args.next().ok_or(usage)?;
    let rounds: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(3);
    let tensor = match args.next().as_deref() {
        None | Some("query") => false,
        Some("tensor") => true,
        Some(other) => return Err(format!("path {other:?}: query or tensor").into()),
    };
    let encoder = BertEncoder::load(&model)?;
    let queries = intents(Path::new(&eval))?;
    if queries.is_empty() {
        return Err(format!("no intents in {eval}").into());
    }
    let embed = |q: &String| -> Result<Vec<f32>, Box<dyn std::error::Error>> {
        Ok(if tensor {
            encoder.embed(std::slice::from_ref(q))?.remove(0)
        } else {
            encoder.embed_query(q)?
        })
    };
    if !tensor {
        let exact = encoder.embed(&queries)?;
        let approx = queries.iter().map(embed).collect::<Result<Vec<_>, _>>()?;
        let mut cosines: Vec<f32> = exact
            .iter()
            .zip(&approx)
            .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).sum())
            .collect();
        cosines.sort_by(f32::total_cmp);
        println!(
            "cosine to the f32 vectors: min {:.5} median {:.5}",
            cosines[0],
            cosines[cosines.len() / 2]
        );
    }
    let mut tokens: Vec<usize> = queries
        .iter()
        .map(|q| {
            encoder
                .tokenizer()
                .encode(q.as_str(), true)
                .map(|e| e.get_ids().len())
        })
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    // Warm-up: page the weights in, size the allocator's pools.
    for q in queries.iter().take(20) {
        embed(q)?;
    }
    let mut times = Vec::with_capacity(rounds * queries.len());
    for _ in 0..rounds {
        for q in &queries {
            let t = Instant::now();
            std::hint::black_box(embed(q)?);
            times.push(t.elapsed());
        }
    }
    tokens.sort();
    println!(
        "query path: {} kernel, {:.1} MiB of 8-bit layers",
        encoder.query_path_kernel(),
        encoder.query_path_bytes() as f64 / (1024.0 * 1024.0)
    );
    println!(
        "{} queries x {rounds} rounds; tokens per query p50 {} max {}; ms per query p50 {:.3} p90 {:.3} p99 {:.3}",
        queries.len(),
        tokens[tokens.len() / 2],
        tokens[tokens.len() - 1],
        pct(&mut times, 0.5),
        pct(&mut times, 0.9),
        pct(&mut times, 0.99),
    );
    Ok(())
}
