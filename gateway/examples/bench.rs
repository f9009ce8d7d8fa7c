//! Gateway benchmark: `cargo run --release -p toolyard-gateway --example bench`.
//!
//! Starts a trivial HTTP backend (in this process, on its own single-threaded runtime) and the
//! release `toolyard-gateway` binary as a child process, both on loopback, then measures in one run,
//! so the numbers are comparable ratios on whatever machine runs it:
//! - `tools/call` latency through the gateway vs calling the backend directly (p50/p99 at 1 and 32
//!   concurrent clients) and the throughput ratio;
//! - `tools/list` latency with 1,000 tools (one page);
//! - reload time of 1,000 tools (manifest load + compile + snapshot build, in process);
//! - the gateway's RSS idle (quickstart config) and with 10,000 tools.
//!
//! Prints a Markdown table for the README. Not a test: nothing here asserts timings.
// A benchmark harness: failing loudly on a broken setup is the right behaviour.
#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1"}}"#;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

fn spec(ops: usize) -> String {
    let mut paths = String::new();
    for i in 0..ops {
        paths.push_str(&format!(
            "      /items{i}/{{id}}:\n        get:\n          operationId: getItem{i}\n          summary: Get item {i} by id\n          parameters:\n            - {{name: id, in: path, required: true, schema: {{type: string}}}}\n            - {{name: verbose, in: query, schema: {{type: boolean}}}}\n          responses:\n            \"200\": {{description: ok, content: {{application/json: {{schema: {{type: object, properties: {{ok: {{type: boolean}}}}}}}}}}}}\n"
        ));
    }
    format!("openapi: 3.0.3\n    info: {{title: bench, version: \"1\"}}\n    paths:\n{paths}")
}

fn write_config(dir: &Path, backend: u16, ops: usize) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let manifest = format!(
        "apiVersion: toolyard.dev/v1alpha1\nkind: Gateway\nmetadata: {{name: bench}}\nspec:\n  inboundAuth: {{none: {{}}}}\n  mcp: {{pageSize: 1000}}\n---\napiVersion: toolyard.dev/v1alpha1\nkind: GatewayTarget\nmetadata: {{name: b}}\nspec:\n  gatewayRef: {{name: bench}}\n  openApi:\n    baseUrl: http://127.0.0.1:{backend}\n    schema: {{configMapRef: {{name: spec, key: openapi.yaml}}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: spec}}\ndata:\n  openapi.yaml: |\n    {}",
        spec(ops)
    );
    // Write then rename, so the watcher never sees a half-written file.
    let tmp = dir.join(".gateway.yaml.tmp");
    std::fs::write(&tmp, manifest)?;
    std::fs::rename(tmp, dir.join("gateway.yaml"))
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

struct Run {
    p50: Duration,
    p99: Duration,
    rps: f64,
    errors: usize,
}

async fn load<F, Fut>(concurrency: usize, per_worker: usize, make: F) -> Run
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let make = Arc::new(make);
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..concurrency {
        let make = make.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_worker);
            let mut errors = 0;
            for _ in 0..per_worker {
                let t = Instant::now();
                if !make().await {
                    errors += 1;
                }
                lat.push(t.elapsed());
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        if let Ok((lat, e)) = h.await {
            all.extend(lat);
            errors += e;
        }
    }
    let elapsed = started.elapsed();
    all.sort();
    Run {
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        rps: all.len() as f64 / elapsed.as_secs_f64(),
        errors,
    }
}

fn start_backend(port: u16) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("backend runtime");
        rt.block_on(async move {
            let app = axum::Router::new().route(
                "/{*path}",
                axum::routing::get(|| async {
                    ([("content-type", "application/json")], r#"{"ok":true}"#)
                }),
            );
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .expect("bind backend");
            let _ = axum::serve(listener, app).await;
        });
    });
}

/// A stateless MCP 2026-07-28 request as a load-generator closure: POSTs `body` with the method
/// (and tool name) headers; a success when the response text contains `expect`.
fn mcp_request(
    client: reqwest::Client,
    url: String,
    method: &'static str,
    name: Option<&'static str>,
    body: String,
    expect: &'static str,
) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    move || {
        let mut request = client
            .post(url.clone())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", method);
        if let Some(name) = name {
            request = request.header("mcp-name", name);
        }
        let request = request.body(body.clone());
        Box::pin(async move {
            match request.send().await {
                Ok(r) => r.text().await.map(|t| t.contains(expect)).unwrap_or(false),
                Err(_) => false,
            }
        })
    }
}

struct Gateway(Child);
impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn gateway_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/release/examples/bench → target/release/toolyard-gateway
    exe.parent()
        .and_then(Path::parent)
        .map(|d| d.join("toolyard-gateway"))
        .unwrap_or_default()
}

async fn wait_ready(client: &reqwest::Client, admin: u16, tools: usize) -> bool {
    for _ in 0..600 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{admin}/readyz"))
            .send()
            .await
            && let Ok(text) = r.text().await
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && v["tools"].as_u64() == Some(tools as u64)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let work = std::env::temp_dir().join(format!("toolyard-bench-{}", std::process::id()));
    let backend = free_port();
    start_backend(backend);
    let (mcp, admin) = (free_port(), free_port());
    let bin = gateway_binary();
    if !bin.exists() {
        return Err(format!(
            "{} not found: run `cargo build --release -p toolyard-gateway` first",
            bin.display()
        )
        .into());
    }

    // Idle RSS on the quickstart example.
    let quick = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    let idle = {
        let (p, a) = (free_port(), free_port());
        let child = Gateway(
            Command::new(&bin)
                .args([
                    "--config",
                    &quick.to_string_lossy(),
                    "--listen",
                    &format!("127.0.0.1:{p}"),
                    "--admin-listen",
                    &format!("127.0.0.1:{a}"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
        let c = reqwest::Client::new();
        wait_ready(&c, a, 2).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        rss_kib(child.0.id())
    };

    write_config(&work, backend, 1)?;
    let child = Gateway(
        Command::new(&bin)
            .args([
                "--config",
                &work.to_string_lossy(),
                "--listen",
                &format!("127.0.0.1:{mcp}"),
                "--admin-listen",
                &format!("127.0.0.1:{admin}"),
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    if !wait_ready(&client, admin, 1).await {
        return Err("gateway did not become ready".into());
    }

    let url = format!("http://127.0.0.1:{mcp}/mcp");
    let direct_url = format!("http://127.0.0.1:{backend}/items0/42");
    let call_body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"b___getItem0","arguments":{{"id":"42"}},{META}}}}}"#
    );
    let direct = {
        let client = client.clone();
        move || {
            let (client, u) = (client.clone(), direct_url.clone());
            async move {
                client
                    .get(u)
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false)
            }
        }
    };
    let via = mcp_request(
        client.clone(),
        url.clone(),
        "tools/call",
        Some("b___getItem0"),
        call_body,
        r#""isError":false"#,
    );
    // Warm up pools.
    let _ = load(4, 200, direct.clone()).await;
    let _ = load(4, 200, via.clone()).await;
    // The MCP layer alone (no backend call): tools/list of one tool.
    let list_body =
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{{META}}}}}"#);
    let small_list = mcp_request(
        client.clone(),
        url.clone(),
        "tools/list",
        None,
        list_body.clone(),
        "getItem0",
    );
    let s1 = load(1, 3000, small_list).await;
    let d1 = load(1, 3000, direct.clone()).await;
    let g1 = load(1, 3000, via.clone()).await;
    let d32 = load(32, 300, direct.clone()).await;
    let g32 = load(32, 300, via.clone()).await;

    // tools/list with 1,000 tools (hot reload to the big spec).
    write_config(&work, backend, 1000)?;
    if !wait_ready(&client, admin, 1000).await {
        return Err("gateway did not reload to 1,000 tools".into());
    }
    let list = mcp_request(
        client.clone(),
        url,
        "tools/list",
        None,
        list_body,
        "getItem999",
    );
    let l1 = load(1, 200, list).await;

    // Reload time for 1,000 tools, in process: load + compile + snapshot build.
    let runtime = toolyard_gateway::runtime::Runtime::new();
    let mut reloads = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let (config, secrets, _) = toolyard_gateway::source::watch::load(&work, None)?;
        runtime.apply(config, &secrets)?;
        reloads.push(t.elapsed());
    }
    reloads.sort();
    // In a cluster the operator compiles; the gateway only parses the compiled config and swaps.
    let (config, secrets, _) = toolyard_gateway::source::watch::load(&work, None)?;
    let compiled_json = serde_json::to_string(&config)?;
    let mut swaps = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let config: toolyard_crds::GatewayConfig = serde_json::from_str(&compiled_json)?;
        runtime.apply(config, &secrets)?;
        swaps.push(t.elapsed());
    }
    swaps.sort();

    // RSS with 10,000 tools.
    write_config(&work, backend, 10_000)?;
    let big_ready = wait_ready(&client, admin, 10_000).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_10k = rss_kib(child.0.id());
    drop(child);
    let _ = std::fs::remove_dir_all(&work);

    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("| Measure | Direct to backend | Through the gateway | Added / ratio |");
    println!("|---|---|---|---|");
    for (label, d, g) in [
        ("tools/call, 1 client", &d1, &g1),
        ("tools/call, 32 clients", &d32, &g32),
    ] {
        println!(
            "| {label}: p50 | {:.0} µs | {:.0} µs | +{:.0} µs |",
            us(d.p50),
            us(g.p50),
            us(g.p50) - us(d.p50)
        );
        println!(
            "| {label}: p99 | {:.0} µs | {:.0} µs | +{:.0} µs |",
            us(d.p99),
            us(g.p99),
            us(g.p99) - us(d.p99)
        );
        println!(
            "| {label}: throughput | {:.0} req/s | {:.0} calls/s | {:.2} |",
            d.rps,
            g.rps,
            g.rps / d.rps
        );
        if d.errors + g.errors > 0 {
            println!("| {label}: errors | {} | {} | |", d.errors, g.errors);
        }
    }
    println!(
        "| tools/list, 1 tool (MCP layer only, no backend): p50 / p99 | | {:.0} µs / {:.0} µs | |",
        us(s1.p50),
        us(s1.p99)
    );
    println!(
        "| tools/list, 1,000 tools, one page: p50 / p99 | | {:.2} ms / {:.2} ms | errors: {} |",
        us(l1.p50) / 1000.0,
        us(l1.p99) / 1000.0,
        l1.errors
    );
    println!(
        "| reload of 1,000 tools (load + compile + swap): p50 / max | | {:.1} ms / {:.1} ms | |",
        us(percentile(&reloads, 0.5)) / 1000.0,
        us(percentile(&reloads, 1.0)) / 1000.0
    );
    println!(
        "| reload of 1,000 tools from a compiled config (in-cluster path: parse JSON + swap): p50 / max | | {:.1} ms / {:.1} ms | |",
        us(percentile(&swaps, 0.5)) / 1000.0,
        us(percentile(&swaps, 1.0)) / 1000.0
    );
    println!(
        "| RSS idle (quickstart) | | {:.1} MiB | |",
        idle as f64 / 1024.0
    );
    println!(
        "| RSS with 10,000 tools | | {:.1} MiB{} | |",
        rss_10k as f64 / 1024.0,
        if big_ready {
            ""
        } else {
            " (reload not finished)"
        }
    );
    Ok(())
}
