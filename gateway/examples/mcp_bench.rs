//! Closed-loop MCP benchmark client: `cargo run --release -p toolyard-gateway --example mcp_bench -- --help`.
//!
//! `bench/compare.sh` runs it against every system of the side-by-side benchmark (the direct
//! backend, Toolyard in both protocol eras, FastMCP), so that one client, with one HTTP stack,
//! measures them all. Each of `--concurrency` workers sends its next request as soon as the last
//! one answered, for `--duration` seconds after `--warmup` seconds. Modes:
//!
//! - `session`: MCP 2025-06-18; each worker opens its own session (`initialize`,
//!   `notifications/initialized`) and then sends `tools/call` in it;
//! - `stateless`: MCP 2026-07-28; no handshake, every `tools/call` carries the revision's `_meta`
//!   and headers (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`);
//! - `list`: as `stateless`, but each iteration is a complete `tools/list` (every page), each
//!   page parsed into a JSON tree as a client that uses the tools does;
//! - `list-bytes`: the same listing, but of each page only `nextCursor` is decoded (the rest is
//!   scanned, not built): the gateway and the transfer, nearly without the client's parsing;
//! - `http`: a plain `GET` of `--url` (the direct backend call, the baseline of "added latency").
//!
//! CPU per call is the user+system time (from `/proc/<pid>/stat`) of the `--pid` processes and
//! all their descendants over the measured window, divided by the calls completed in it; RSS is
//! the sum of their `VmRSS` at the end. Prints one JSON object; exits non-zero if any request
//! failed (an `isError` result counts as failed). Numbers are reported, never asserted.
// A measuring tool: failing loudly on a broken setup is the right behaviour.
#![allow(clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[path = "common/mod.rs"]
mod common;
use common::response_for;

use clap::{Parser, ValueEnum};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    Session,
    Stateless,
    List,
    ListBytes,
    Http,
}

/// Closed-loop benchmark client for MCP servers (and the plain backend).
#[derive(Parser, Debug, Clone)]
struct Args {
    /// The MCP endpoint (or, with `--mode http`, the backend URL to GET).
    #[arg(long)]
    url: String,
    #[arg(long, value_enum, default_value = "session")]
    mode: Mode,
    /// Workers, each with one request in flight.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of calls before the measured window (connections, caches, JIT-less warm-up).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// The tool to call.
    #[arg(long, default_value = "users___getUser")]
    tool: String,
    /// Its arguments (JSON; `{i}` in a string value is replaced by the call number).
    #[arg(long, default_value = r#"{"id":"{i}"}"#)]
    arguments: String,
    /// Processes whose CPU time and RSS (with all their descendants) are measured.
    #[arg(long, value_delimiter = ',')]
    pid: Vec<u32>,
    /// A label copied into the output.
    #[arg(long, default_value = "")]
    label: String,
    /// Per-request timeout, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

/// Every process as `pid → (parent, utime + stime in clock ticks, RSS in KiB)`.
fn processes() -> HashMap<u32, (u32, u64, u64)> {
    let mut all = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return all;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name may contain spaces: the fields start after its closing parenthesis.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15, rss (pages) 24.
        let num = |i: usize| {
            f.get(i - 3)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let rss_kib = num(24) * 4;
        all.insert(pid, (num(4) as u32, num(14) + num(15), rss_kib));
    }
    all
}

/// CPU ticks and RSS (KiB) of `roots` and all their descendants.
fn tree_usage(roots: &[u32]) -> (u64, u64) {
    let all = processes();
    let mut ticks = 0;
    let mut rss = 0;
    for (&pid, &(_, t, r)) in &all {
        let mut p = pid;
        // Walk up to a root (or to init); the depth is small.
        for _ in 0..64 {
            if roots.contains(&p) {
                ticks += t;
                rss += r;
                break;
            }
            match all.get(&p) {
                Some(&(parent, _, _)) if parent != 0 && parent != p => p = parent,
                _ => break,
            }
        }
    }
    (ticks, rss)
}

fn clock_ticks_per_sec() -> u64 {
    // Linux has reported 100 to user space for decades (USER_HZ), whatever the kernel's HZ.
    100
}

struct Client {
    http: reqwest::Client,
    args: Args,
    next_id: AtomicU64,
}

const STATELESS: &str = "2026-07-28";
const SESSION: &str = "2025-06-18";

impl Client {
    fn meta() -> Value {
        json!({
            "io.modelcontextprotocol/protocolVersion": STATELESS,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "mcp_bench", "version": "1"},
        })
    }

    /// One JSON-RPC request; its result, or why it failed.
    async fn request(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<(Value, Option<String>), String> {
        let (id, bytes, sid) = self.request_bytes(session, method, params).await?;
        let mut message = response_for(&bytes, id).ok_or_else(|| {
            format!(
                "{method}: no response for id {id} in {:.300}",
                String::from_utf8_lossy(&bytes)
            )
        })?;
        if let Some(e) = message.get("error") {
            return Err(format!("{method}: JSON-RPC error {e}"));
        }
        let result = message.get_mut("result").map_or(Value::Null, Value::take);
        Ok((result, sid))
    }

    /// One JSON-RPC request: its id, the answer's body and the session id it gave, or why the
    /// request failed at the HTTP level.
    async fn request_bytes(
        &self,
        session: Option<&str>,
        method: &str,
        mut params: Value,
    ) -> Result<(u64, axum::body::Bytes, Option<String>), String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut req = self
            .http
            .post(&self.args.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if self.args.mode == Mode::Session {
            if let Some(s) = session {
                req = req.header("mcp-session-id", s);
            }
            if method != "initialize" {
                req = req.header("mcp-protocol-version", SESSION);
            }
        } else {
            req = req
                .header("mcp-protocol-version", STATELESS)
                .header("mcp-method", method);
            if let Some(name) = params.get("name").and_then(Value::as_str) {
                req = req.header("mcp-name", name.to_string());
            }
            params["_meta"] = Self::meta();
        }
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let response = req
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("{method}: {e}"))?;
        let status = response.status();
        let sid = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("{method}: reading the body: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "{method}: HTTP {status}: {:.300}",
                String::from_utf8_lossy(&bytes)
            ));
        }
        Ok((id, bytes, sid))
    }

    /// `initialize` + `notifications/initialized`; the session id, if the server keeps sessions
    /// (a 2025-era server run with stateless HTTP, such as FastMCP behind several workers, gives
    /// none, and its calls then go without one).
    async fn open_session(&self) -> Result<Option<String>, String> {
        let params = json!({
            "protocolVersion": SESSION,
            "capabilities": {},
            "clientInfo": {"name": "mcp_bench", "version": "1"},
        });
        let (_, sid) = self.request(None, "initialize", params).await?;
        let mut req = self
            .http
            .post(&self.args.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", SESSION);
        if let Some(id) = &sid {
            req = req.header("mcp-session-id", id);
        }
        let response = req
            .body(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .send()
            .await
            .map_err(|e| format!("notifications/initialized: {e}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "notifications/initialized: HTTP {}",
                response.status()
            ));
        }
        Ok(sid)
    }

    /// One iteration of the mode: a call, a complete listing, or a GET.
    async fn iteration(&self, session: Option<&str>, n: u64) -> Result<(), String> {
        match self.args.mode {
            Mode::Http => {
                let response = self
                    .http
                    .get(self.args.url.replace("{i}", &n.to_string()))
                    .send()
                    .await
                    .map_err(|e| format!("GET: {e}"))?;
                let status = response.status();
                response
                    .bytes()
                    .await
                    .map_err(|e| format!("GET body: {e}"))?;
                if status.is_success() {
                    Ok(())
                } else {
                    Err(format!("GET: HTTP {status}"))
                }
            }
            Mode::List => {
                let mut cursor: Option<String> = None;
                loop {
                    let params = match &cursor {
                        Some(c) => json!({"cursor": c}),
                        None => json!({}),
                    };
                    let (result, _) = self.request(session, "tools/list", params).await?;
                    if result.get("tools").and_then(Value::as_array).is_none() {
                        return Err(format!("tools/list: no tools array in {result:.200}"));
                    }
                    match result.get("nextCursor").and_then(Value::as_str) {
                        Some(c) if !c.is_empty() => cursor = Some(c.to_string()),
                        _ => return Ok(()),
                    }
                }
            }
            Mode::ListBytes => {
                let mut cursor: Option<String> = None;
                loop {
                    let params = match &cursor {
                        Some(c) => json!({"cursor": c}),
                        None => json!({}),
                    };
                    let (_, bytes, _) = self.request_bytes(session, "tools/list", params).await?;
                    let page: PageCursor = serde_json::from_slice(&bytes)
                        .map_err(|e| format!("tools/list: not one JSON answer ({e})"))?;
                    match page.result.and_then(|r| r.next_cursor) {
                        Some(c) if !c.is_empty() => cursor = Some(c),
                        _ => return Ok(()),
                    }
                }
            }
            Mode::Session | Mode::Stateless => {
                let arguments = self.args.arguments.replace("{i}", &n.to_string());
                let arguments: Value =
                    serde_json::from_str(&arguments).map_err(|e| format!("--arguments: {e}"))?;
                let (result, _) = self
                    .request(
                        session,
                        "tools/call",
                        json!({"name": self.args.tool, "arguments": arguments}),
                    )
                    .await?;
                if result.get("isError").and_then(Value::as_bool) == Some(true) {
                    return Err(format!("tools/call: isError result {result:.300}"));
                }
                Ok(())
            }
        }
    }

    /// How many tools a complete listing returns (reported with `--mode list`).
    async fn count_tools(&self) -> Result<(usize, usize), String> {
        let mut cursor: Option<String> = None;
        let (mut tools, mut pages) = (0, 0);
        loop {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let (result, _) = self.request(None, "tools/list", params).await?;
            pages += 1;
            tools += result
                .get("tools")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            match result.get("nextCursor").and_then(Value::as_str) {
                Some(c) if !c.is_empty() => cursor = Some(c.to_string()),
                _ => return Ok((tools, pages)),
            }
        }
    }
}

/// Of a `tools/list` answer, only the cursor (serde skips the tools without building them).
#[derive(serde::Deserialize)]
struct PageCursor {
    result: Option<PageResult>,
}

#[derive(serde::Deserialize)]
struct PageResult {
    #[serde(rename = "nextCursor")]
    next_cursor: Option<String>,
}

fn percentile_us(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(args.timeout))
        .build()
        .expect("an HTTP client");
    let client = Arc::new(Client {
        http,
        args: args.clone(),
        next_id: AtomicU64::new(1),
    });
    let listing = if matches!(args.mode, Mode::List | Mode::ListBytes) {
        match client.count_tools().await {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("mcp_bench: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    } else {
        None
    };

    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency.max(1) {
        let (client, measuring, stop, counter) = (
            client.clone(),
            measuring.clone(),
            stop.clone(),
            counter.clone(),
        );
        workers.push(tokio::spawn(async move {
            let session = if client.args.mode == Mode::Session {
                client.open_session().await?
            } else {
                None
            };
            let mut latencies = Vec::new();
            let mut errors = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let counted = measuring.load(Ordering::Relaxed);
                let t = Instant::now();
                let r = client.iteration(session.as_deref(), n).await;
                let us = t.elapsed().as_micros() as u64;
                // A request that began in the warm-up is not part of the window.
                if counted && !stop.load(Ordering::Relaxed) {
                    match r {
                        Ok(()) => latencies.push(us),
                        Err(e) => errors.push(e),
                    }
                } else if let Err(e) = r {
                    errors.push(e);
                }
            }
            Ok::<_, String>((latencies, errors))
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    let (cpu_before, _) = tree_usage(&args.pid);
    let started = Instant::now();
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    stop.store(true, Ordering::Relaxed);
    let window = started.elapsed();
    let (cpu_after, rss_kib) = tree_usage(&args.pid);

    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    for w in workers {
        match w.await {
            Ok(Ok((l, e))) => {
                latencies.extend(l);
                errors.extend(e);
            }
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(e.to_string()),
        }
    }
    latencies.sort_unstable();
    let calls = latencies.len() as u64;
    let cpu_us = (cpu_after.saturating_sub(cpu_before)) * 1_000_000 / clock_ticks_per_sec();
    let out = json!({
        "label": args.label,
        "mode": format!("{:?}", args.mode).to_lowercase(),
        "concurrency": args.concurrency,
        "calls": calls,
        "errors": errors.len(),
        "first_error": errors.first(),
        "window_s": window.as_secs_f64(),
        "calls_per_s": calls as f64 / window.as_secs_f64(),
        "p50_us": percentile_us(&latencies, 50.0),
        "p99_us": percentile_us(&latencies, 99.0),
        "cpu_us_per_call": if calls > 0 && !args.pid.is_empty() { json!(cpu_us as f64 / calls as f64) } else { Value::Null },
        "rss_kib": if args.pid.is_empty() { Value::Null } else { json!(rss_kib) },
        "tools": listing.map(|(t, _)| t),
        "pages": listing.map(|(_, p)| p),
    });
    println!("{out}");
    if errors.is_empty() && calls > 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
