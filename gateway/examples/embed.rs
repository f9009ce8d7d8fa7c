//! Embeds texts with a local sentence-embedding model the way the gateway does (the tests compare
//! its vectors with an independent numpy implementation):
//!
//! ```text
//! echo '["read a file", "send an email"]' | cargo run --release -p toolyard-gateway --example embed -- MODEL_DIR
//! ```
//!
//! Reads a JSON array of strings on stdin, prints a JSON array of vectors.

use std::io::Read;

use toolyard_gateway::search::embed::local::BertEncoder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: embed MODEL_DIR < texts.json")?;
    let encoder = BertEncoder::load(&dir)?;
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let texts: Vec<String> = serde_json::from_str(&input)?;
    let vectors = encoder.embed(&texts)?;
    println!("{}", serde_json::to_string(&vectors)?);
    Ok(())
}
