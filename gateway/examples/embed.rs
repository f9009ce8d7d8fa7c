//! Embeds texts with a local sentence-embedding model the way the gateway does (the tests compare
//! its vectors with an independent numpy implementation):
//!
//! ```text
//! echo '["read a file", "send an email"]' | cargo run --release -p toolyard-gateway --example embed -- MODEL_DIR
//! ```
//!
//! Reads a JSON array of strings on stdin, prints a JSON array of vectors: as catalog texts (8-bit,
//! no prompt) by default; with `--query` after the directory, as search queries (8-bit, after the
//! model's query prompt if it has one); with `--reference`, through the 32-bit batch path the
//! 8-bit one is measured against.

use std::io::Read;

use toolyard_gateway::search::embed::local::BertEncoder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: embed MODEL_DIR [--query | --reference] < texts.json";
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or(usage)?;
    let mode = args.next();
    if args.next().is_some() {
        return Err(usage.into());
    }
    let encoder = BertEncoder::load(&dir)?;
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let texts: Vec<String> = serde_json::from_str(&input)?;
    let vectors = match mode.as_deref() {
        None => encoder.embed(&texts)?,
        Some("--query") => texts
            .iter()
            .map(|t| encoder.embed_query(t))
            .collect::<Result<Vec<_>, _>>()?,
        Some("--reference") => encoder.embed_reference(&texts)?,
        Some(_) => return Err(usage.into()),
    };
    println!("{}", serde_json::to_string(&vectors)?);
    Ok(())
}
