//! Embeds texts with a local sentence-embedding model the way the gateway does (the tests compare
//! its vectors with an independent numpy implementation):
//!
//! ```text
//! echo '["read a file", "send an email"]' | cargo run --release -p toolyard-gateway --example embed -- MODEL_DIR
//! ```
//!
//! Reads a JSON array of strings on stdin, prints a JSON array of vectors. With `--query` after
//! the directory, each text goes through the search tool's query path (8-bit, one text at a time,
//! after the model's query prompt if it has one) instead of the batch path catalog texts take.

use std::io::Read;

use toolyard_gateway::search::embed::local::BertEncoder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: embed MODEL_DIR [--query] < texts.json";
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or(usage)?;
    let query = match args.next().as_deref() {
        None => false,
        Some("--query") => true,
        Some(_) => return Err(usage.into()),
    };
    let encoder = BertEncoder::load(&dir)?;
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let texts: Vec<String> = serde_json::from_str(&input)?;
    let vectors = if query {
        texts
            .iter()
            .map(|t| encoder.embed_query(t))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        encoder.embed(&texts)?
    };
    println!("{}", serde_json::to_string(&vectors)?);
    Ok(())
}
