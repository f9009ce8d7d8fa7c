//! MCP load generator: `cargo run --release -p toolyard-gateway --example mcp_load -- --help`.
//!
//! Opens N MCP sessions on a gateway (2025-xx revision: `initialize`, `notifications/initialized`,
//! `tools/list`, each session with its own signed `Mcp-Session-Id`), optionally holds each
//! session's GET SSE stream open, then drives `tools/call` at a fixed rate (open loop: a call
//! starts every 1/rate seconds whatever the latency) spread over the sessions. Samples the
//! gateway's RSS (`--pid`) before, after the sessions are open and every `--sample-every`
//! seconds while calling.
//!
//! Prints what it measured and `check <name>: ok|FAIL <detail>` lines; exits non-zero when a
//! check fails: a session or call that failed (any error, an `isError` result included), or RSS
//! that grew more than `--max-rss-growth-pct` from the first sample after `--warmup-secs` (a
//! memory bound, not a timing assertion). Latencies are reported, never asserted.
// A measuring tool: failing loudly on a broken setup is the right behaviour.
#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[path = "common/mod.rs"]
mod common;
use common::response_for;

use clap::Parser;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};

/// MCP load generator (sessions, held streams, calls at a fixed rate).
#[derive(Parser, Debug, Clone)]
struct Args {
    /// The MCP endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8080/mcp")]
    url: String,
    /// Sessions to open (and keep) before calling.
    #[arg(long, default_value_t = 100)]
    sessions: usize,
    /// Sessions being opened at the same time.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// Hold each session's GET SSE stream open (where `list_changed` notifications arrive).
    #[arg(long)]
    hold_streams: bool,
    /// Calls per second (0: no calls).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// How long to call, in seconds.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// The tool to call.
    #[arg(long, default_value = "echo___getItem")]
    tool: String,
    /// Its arguments (JSON; `{i}` in a string value is replaced by the call number).
    #[arg(long, default_value = r#"{"itemId":"{i}"}"#)]
    arguments: String,
    /// The protocol revision to initialize with.
    #[arg(long, default_value = "2025-06-18")]
    protocol: String,
    /// The gateway's process id, to sample its RSS.
    #[arg(long)]
    pid: Option<u32>,
    /// RSS sampling period while calling, in seconds.
    #[arg(long, default_value_t = 10)]
    sample_every: u64,
    /// Samples taken before this many seconds of calling are warm-up (not the RSS baseline).
    #[arg(long, default_value_t = 60)]
    warmup_secs: u64,
    /// Fail when RSS grows more than this (percent) over the first sample after warm-up.
    #[arg(long, default_value_t = 50.0)]
    max_rss_growth_pct: f64,
    /// Per-request timeout, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

struct Session {
    id: String,
}

struct Client {
    http: reqwest::Client,
    /// For GET streams: no overall timeout (reqwest's covers the whole body).
    streams: reqwest::Client,
    args: Args,
    next_id: AtomicU64,
}

impl Client {
    fn headers(&self, session: Option<&str>) -> reqwest::header::HeaderMap {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("content-type", "application/json".parse().expect("static"));
        h.insert(
            "accept",
            "application/json, text/event-stream"
                .parse()
                .expect("static"),
        );
        if let Some(s) = session {
            h.insert("mcp-session-id", s.parse().expect("session ids are ASCII"));
            if let Ok(v) = self.args.protocol.parse() {
                h.insert("mcp-protocol-version", v);
            }
        }
        h
    }

    /// A request in `session`; the result, or why it failed.
    async fn request(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<(Value, Option<String>), String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let response = self
            .http
            .post(&self.args.url)
            .headers(self.headers(session))
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
        let text = response
            .text()
            .await
            .map_err(|e| format!("{method}: reading the body: {e}"))?;
        if !status.is_success() {
            return Err(format!("{method}: HTTP {status}: {text}"));
        }
        let message = response_for(text.as_bytes(), id)
            .ok_or_else(|| format!("{method}: no response for id {id} in {text:.200}"))?;
        if let Some(e) = message.get("error") {
            return Err(format!("{method}: JSON-RPC error {e}"));
        }
        Ok((message.get("result").cloned().unwrap_or(Value::Null), sid))
    }

    async fn notify(&self, session: &str, method: &str) -> Result<(), String> {
        let response = self
            .http
            .post(&self.args.url)
            .headers(self.headers(Some(session)))
            .body(json!({"jsonrpc": "2.0", "method": method}).to_string())
            .send()
            .await
            .map_err(|e| format!("{method}: {e}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("{method}: HTTP {}", response.status()))
        }
    }

    async fn open_session(&self) -> Result<Session, String> {
        let params = json!({
            "protocolVersion": self.args.protocol,
            "capabilities": {},
            "clientInfo": {"name": "mcp_load", "version": "1"},
        });
        let (_, sid) = self.request(None, "initialize", params).await?;
        let id = sid.ok_or("initialize: no Mcp-Session-Id header")?;
        self.notify(&id, "notifications/initialized").await?;
        let (tools, _) = self.request(Some(&id), "tools/list", json!({})).await?;
        if tools.get("tools").and_then(Value::as_array).is_none() {
            return Err(format!("tools/list: no tools array in {tools}"));
        }
        Ok(Session { id })
    }

    /// Opens the session's GET stream and keeps reading it until the process ends.
    async fn hold_stream(self: Arc<Self>, session: String) -> Result<(), String> {
        let mut headers = self.headers(Some(&session));
        headers.insert("accept", "text/event-stream".parse().expect("static"));
        headers.remove("content-type");
        let response = self
            .streams
            .get(&self.args.url)
            .headers(headers)
            .send()
            .await
            .map_err(|e| format!("GET stream: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET stream: HTTP {}", response.status()));
        }
        tokio::spawn(async move {
            let mut body = response.bytes_stream();
            while let Some(Ok(_)) = body.next().await {}
        });
        Ok(())
    }

    async fn call(&self, session: &str, n: u64) -> Result<(), String> {
        let arguments = self.args.arguments.replace("{i}", &n.to_string());
        let arguments: Value =
            serde_json::from_str(&arguments).map_err(|e| format!("--arguments: {e}"))?;
        let (result, _) = self
            .request(
                Some(session),
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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

struct Checks {
    failed: usize,
}

impl Checks {
    fn check(&mut self, name: &str, ok: bool, detail: String) {
        println!("check {name}: {} {detail}", if ok { "ok" } else { "FAIL" });
        if !ok {
            self.failed += 1;
        }
    }
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
    let streams = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .connect_timeout(Duration::from_secs(args.timeout))
        .build()
        .expect("an HTTP client");
    let client = Arc::new(Client {
        http,
        streams,
        args: args.clone(),
        next_id: AtomicU64::new(1),
    });
    let mut checks = Checks { failed: 0 };
    let rss = |label: &str| -> Option<u64> {
        let v = args.pid.and_then(rss_kib);
        if let Some(kib) = v {
            println!("rss {label}: {:.1} MiB", kib as f64 / 1024.0);
        }
        v
    };
    let rss_before = rss("before sessions");

    // Phase 1: sessions.
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let mut tasks = Vec::with_capacity(args.sessions);
    for _ in 0..args.sessions {
        let client = client.clone();
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            let t = Instant::now();
            let r = client.open_session().await;
            (r, t.elapsed())
        }));
    }
    let mut sessions = Vec::with_capacity(args.sessions);
    let mut setup = Vec::with_capacity(args.sessions);
    let mut session_errors = Vec::new();
    for t in tasks {
        match t.await {
            Ok((Ok(s), d)) => {
                sessions.push(s);
                setup.push(d);
            }
            Ok((Err(e), _)) => session_errors.push(e),
            Err(e) => session_errors.push(e.to_string()),
        }
    }
    setup.sort();
    println!(
        "sessions: {} opened, {} failed in {:.1} s; setup (initialize + initialized + tools/list) p50 {} p99 {}",
        sessions.len(),
        session_errors.len(),
        started.elapsed().as_secs_f64(),
        ms(percentile(&setup, 50.0)),
        ms(percentile(&setup, 99.0)),
    );
    let mut stream_errors = Vec::new();
    if args.hold_streams {
        let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
        let mut tasks = Vec::new();
        for s in &sessions {
            let client = client.clone();
            let id = s.id.clone();
            let gate = gate.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await;
                client.hold_stream(id).await
            }));
        }
        let mut held = 0;
        for t in tasks {
            match t.await {
                Ok(Ok(())) => held += 1,
                Ok(Err(e)) => stream_errors.push(e),
                Err(e) => stream_errors.push(e.to_string()),
            }
        }
        println!(
            "GET streams: {held} held open, {} failed",
            stream_errors.len()
        );
    }
    // Let the gateway settle before measuring what the sessions cost.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_sessions = rss("with the sessions open");
    if let (Some(a), Some(b)) = (rss_before, rss_sessions)
        && !sessions.is_empty()
    {
        println!(
            "memory per session: {:.1} KiB ({} sessions{})",
            b.saturating_sub(a) as f64 / sessions.len() as f64,
            sessions.len(),
            if args.hold_streams {
                ", GET streams held"
            } else {
                ""
            }
        );
    }
    for e in session_errors.iter().chain(&stream_errors).take(5) {
        println!("  error: {e}");
    }
    checks.check(
        "sessions",
        session_errors.is_empty() && stream_errors.is_empty() && !sessions.is_empty(),
        format!(
            "{} opened, {} session errors, {} stream errors",
            sessions.len(),
            session_errors.len(),
            stream_errors.len()
        ),
    );

    // Phase 2: calls at a fixed rate.
    if args.rate > 0.0 && !sessions.is_empty() {
        let sessions: Arc<Vec<String>> = Arc::new(sessions.iter().map(|s| s.id.clone()).collect());
        let latencies = Arc::new(Mutex::new(Vec::<Duration>::new()));
        let errors = Arc::new(Mutex::new(Vec::<String>::new()));
        let error_count = Arc::new(AtomicU64::new(0));
        let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut sampler = tokio::time::interval(Duration::from_secs(args.sample_every.max(1)));
        let start = Instant::now();
        let end = start + Duration::from_secs(args.duration);
        let mut samples: Vec<(u64, u64)> = Vec::new();
        let mut inflight = Vec::new();
        let mut n: u64 = 0;
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    if Instant::now() >= end { break; }
                    let client = client.clone();
                    let sessions = sessions.clone();
                    let latencies = latencies.clone();
                    let errors = errors.clone();
                    let error_count = error_count.clone();
                    let i = n;
                    n += 1;
                    inflight.push(tokio::spawn(async move {
                        let session = &sessions[(i as usize) % sessions.len()];
                        let t = Instant::now();
                        match client.call(session, i).await {
                            Ok(()) => latencies.lock().await.push(t.elapsed()),
                            Err(e) => {
                                error_count.fetch_add(1, Ordering::Relaxed);
                                let mut errors = errors.lock().await;
                                if errors.len() < 5 { errors.push(e); }
                            }
                        }
                    }));
                    if inflight.len() > 4096 {
                        inflight.retain(|h: &tokio::task::JoinHandle<()>| !h.is_finished());
                    }
                }
                _ = sampler.tick() => {
                    let secs = start.elapsed().as_secs();
                    if let Some(kib) = args.pid.and_then(rss_kib) {
                        samples.push((secs, kib));
                        let done = latencies.lock().await.len();
                        println!("t={secs:>4}s rss={:.1} MiB calls_started={n} ok={done} errors={}", kib as f64 / 1024.0, error_count.load(Ordering::Relaxed));
                    }
                }
            }
        }
        for h in inflight {
            let _ = h.await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        if let Some(kib) = args.pid.and_then(rss_kib) {
            samples.push((start.elapsed().as_secs(), kib));
        }
        let mut lat = latencies.lock().await.clone();
        lat.sort();
        let errs = error_count.load(Ordering::Relaxed);
        println!(
            "calls: {n} started, {} ok, {errs} failed in {elapsed:.1} s ({:.1} calls/s); latency p50 {} p99 {} max {}",
            lat.len(),
            lat.len() as f64 / elapsed,
            ms(percentile(&lat, 50.0)),
            ms(percentile(&lat, 99.0)),
            ms(lat.last().copied().unwrap_or_default()),
        );
        for e in errors.lock().await.iter() {
            println!("  error: {e}");
        }
        checks.check(
            "calls",
            errs == 0 && lat.len() as u64 == n && n > 0,
            format!("{n} calls, {errs} errors"),
        );
        if !samples.is_empty() {
            let first = samples[0].1;
            let last = samples[samples.len() - 1].1;
            let max = samples.iter().map(|s| s.1).max().unwrap_or(0);
            let baseline = samples
                .iter()
                .find(|(t, _)| *t >= args.warmup_secs)
                .map_or(first, |s| s.1);
            println!(
                "rss while calling: first {:.1} MiB, last {:.1} MiB, max {:.1} MiB, after warm-up {:.1} MiB ({} samples)",
                first as f64 / 1024.0,
                last as f64 / 1024.0,
                max as f64 / 1024.0,
                baseline as f64 / 1024.0,
                samples.len()
            );
            let bound = baseline as f64 * (1.0 + args.max_rss_growth_pct / 100.0);
            checks.check(
                "rss",
                (last as f64) <= bound && (max as f64) <= bound,
                format!(
                    "max {:.1} MiB, last {:.1} MiB, bound {:.1} MiB (+{}% over {:.1} MiB after warm-up)",
                    max as f64 / 1024.0,
                    last as f64 / 1024.0,
                    bound / 1024.0,
                    args.max_rss_growth_pct,
                    baseline as f64 / 1024.0
                ),
            );
        }
    }
    if checks.failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
