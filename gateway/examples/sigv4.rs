//! Cost of what the gateway adds to each Lambda call on its side: building the client context
//! and SigV4-signing the Invoke request (the credentials are cached, so this is pure CPU).
//!
//!     cargo run -p toolyard-gateway --release --example sigv4

use std::time::{Duration, Instant, SystemTime};

use toolyard_gateway::aws::{Credentials, Signer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let signer = Signer::new("lambda", "us-east-1");
    let creds = Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        Some("session-token".repeat(20)),
        None,
        "bench",
    );
    let url = toolyard_gateway::runtime::endpoint::invoke_url(
        "https://lambda.us-east-1.amazonaws.com",
        "arn:aws:lambda:us-east-1:123456789012:function:orders:live",
    )?;
    let body =
        br#"{"orderId":"123","note":"a typical small tool call event with a few arguments"}"#;
    let client = reqwest::Client::new();
    let mut samples = Vec::with_capacity(20_000);
    for i in 0..22_000 {
        let mut req = client
            .post(url.clone())
            .header("content-type", "application/json")
            .header("x-amz-invocation-type", "RequestResponse")
            .header("x-amz-client-context", "eyJjdXN0b20iOnt9fQ==")
            .body(body.to_vec())
            .build()?;
        let start = Instant::now();
        signer.sign_with(&mut req, &creds, SystemTime::now())?;
        let took = start.elapsed();
        if i >= 2_000 {
            samples.push(took);
        }
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "SigV4 sign of a Lambda Invoke request ({} samples): p50 {:.1} µs, p99 {:.1} µs",
        samples.len(),
        us(pct(0.5)),
        us(pct(0.99))
    );
    Ok(())
}
