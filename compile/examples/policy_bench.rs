//! Cedar decision timings: one `tools/call` decision at 100 policies, and the visible set of a
//! 1,000-tool list for one caller (what `tools/list` and search compute once per caller and
//! snapshot, then cache).
//!
//! `cargo run --release -p toolyard-compile --example policy_bench`

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use toolyard_compile::policy::{Caller, CallerKind, Engine, attach};
use toolyard_crds::config::GatewayConfig;
use toolyard_crds::policy::{NamedPolicy, PolicyMode, ToolPolicy, ToolPolicySpec};
use toolyard_crds::target::GatewayRef;

const TOOLS: usize = 1000;
const POLICIES: usize = 100;

fn config() -> GatewayConfig {
    let tools: Vec<Value> = (0..TOOLS)
        .map(|i| {
            json!({
                "name": format!("t{i}"),
                "description": "a tool",
                "inputSchema": {"type": "object", "properties": {
                    "orderId": {"type": "string"}, "amount": {"type": "integer"}}}
            })
        })
        .collect();
    let text = format!(
        "apiVersion: toolyard.dev/v1alpha1\nkind: Gateway\nmetadata: {{name: g}}\nspec: {{inboundAuth: {{none: {{}}}}}}\n---\napiVersion: toolyard.dev/v1alpha1\nkind: GatewayTarget\nmetadata: {{name: orders}}\nspec:\n  gatewayRef: {{name: g}}\n  lambda:\n    functionArn: arn:aws:lambda:us-east-1:123456789012:function:f\n    toolSchema:\n      inline: {}\n",
        Value::Array(tools)
    );
    let mut m = toolyard_compile::manifests::Manifests::default();
    m.add_text(std::path::Path::new("bench.yaml"), &text)
        .unwrap_or_else(|e| fail(&e.to_string()));
    toolyard_compile::gateway::compile(
        &m.gateways[0],
        &m.targets,
        &m.resolved_refs(),
        &Default::default(),
    )
    .unwrap_or_else(|e| fail(&e.to_string()))
    .config
}

fn policies() -> Vec<NamedPolicy> {
    // A realistic mix: per-tool permits on scopes, target-wide rules, argument rules and forbids.
    (0..POLICIES)
        .map(|i| {
            let text = match i % 4 {
                0 => format!(
                    r#"permit(principal is Toolyard::OAuthUser, action == Toolyard::Action::"orders___t{i}", resource) when {{ principal.scopes.contains("scope{i}") }};"#
                ),
                1 => format!(
                    r#"permit(principal is Toolyard::OAuthUser, action, resource in Toolyard::Target::"orders") when {{ principal.hasTag("team") && principal.getTag("team") == "team{i}" }};"#
                ),
                2 => format!(
                    r#"forbid(principal, action == Toolyard::Action::"orders___t{i}", resource) unless {{ context.input has amount && context.input.amount < 1000 }};"#
                ),
                _ => format!(
                    r#"permit(principal is Toolyard::ServiceAccount, action, resource) when {{ principal.namespace == "ns{i}" && resource.readOnly }};"#
                ),
            };
            NamedPolicy {
                name: format!("p{i}"),
                text,
            }
        })
        .collect()
}

fn fail(message: &str) -> ! {
    eprintln!("policy_bench: {message}");
    std::process::exit(1)
}

fn percentile(mut samples: Vec<Duration>, p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p) as usize]
}

fn main() {
    let mut config = config();
    let policy = ToolPolicy::new(
        "bench",
        ToolPolicySpec {
            gateway_ref: GatewayRef { name: "g".into() },
            mode: PolicyMode::Enforce,
            policies: policies(),
        },
    );
    let started = Instant::now();
    let reports = attach(&mut config, &[policy]);
    let validated = started.elapsed();
    if let Some(Err(e)) = reports.first().map(|r| &r.outcome) {
        fail(&e.to_string());
    }
    let started = Instant::now();
    let engine = Engine::build(&config)
        .unwrap_or_else(|e| fail(&e.to_string()))
        .unwrap_or_else(|| fail("no authorization"));
    let built = started.elapsed();
    let caller = Caller {
        kind: CallerKind::OAuthUser,
        subject: "alice".into(),
        client: "agent".into(),
        scopes: vec!["scope0".into(), "scope8".into(), "orders:read".into()],
        claims: [("team".to_string(), "team1".to_string())].into(),
    };
    let mut args = Map::new();
    args.insert("orderId".into(), json!("o-1"));
    args.insert("amount".into(), json!(120));

    let names: Vec<String> = (0..TOOLS).map(|i| format!("orders___t{i}")).collect();
    // Every call evaluated with its arguments (no per-caller view).
    let mut evaluated = Vec::new();
    for i in 0..20_000 {
        let tool = &names[i % TOOLS];
        let t = Instant::now();
        std::hint::black_box(engine.call(&caller, tool, &args));
        evaluated.push(t.elapsed());
    }
    // The gateway's path: the caller's view (cached per caller and snapshot) decides the tools
    // whose decision does not depend on the arguments; the others are evaluated.
    let view = engine.view(&caller);
    let mut via_view = Vec::new();
    for i in 0..20_000 {
        let tool = &names[i % TOOLS];
        let t = Instant::now();
        std::hint::black_box(engine.call_in(&view, &caller, tool, &args));
        via_view.push(t.elapsed());
    }
    for n in &names {
        let (a, b) = (
            engine.call_in(&view, &caller, n, &args),
            engine.call(&caller, n, &args),
        );
        if (a.allowed, a.denied_by_any) != (b.allowed, b.denied_by_any) {
            fail(&format!(
                "{n}: the view decides {a:?}, the evaluation {b:?}"
            ));
        }
    }
    let dependent = names
        .iter()
        .filter(|n| !engine.decided_by(&view, n))
        .count();
    // The tools whose decision depends on the arguments, through the view.
    let dependent_names: Vec<&String> = names
        .iter()
        .filter(|n| !engine.decided_by(&view, n))
        .collect();
    let mut with_arguments = Vec::new();
    for i in 0..20_000 {
        let tool = dependent_names[i % dependent_names.len().max(1)];
        let t = Instant::now();
        std::hint::black_box(engine.call_in(&view, &caller, tool, &args));
        with_arguments.push(t.elapsed());
    }
    let mut lists = Vec::new();
    let mut visible = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let view = engine.view(&caller);
        visible = names.iter().filter(|n| engine.shows(&view, n)).count();
        lists.push(t.elapsed());
    }
    println!("{POLICIES} policies, {TOOLS} tools");
    println!("validate + attach: {validated:?}; engine build: {built:?}");
    println!(
        "tools/call decision, evaluated with the arguments: p50 {:?}, p99 {:?}",
        percentile(evaluated.clone(), 0.5),
        percentile(evaluated, 0.99)
    );
    println!(
        "tools/call decision, gateway path (cached view; {dependent} of {TOOLS} tools depend on the arguments): p50 {:?}, p99 {:?}",
        percentile(via_view.clone(), 0.5),
        percentile(via_view, 0.99)
    );
    println!(
        "  of which argument-dependent tools only: p50 {:?}, p99 {:?}",
        percentile(with_arguments.clone(), 0.5),
        percentile(with_arguments, 0.99)
    );
    println!(
        "view of {TOOLS} tools for one caller (list + search, uncached): p50 {:?}, max {:?} ({visible} visible)",
        percentile(lists.clone(), 0.5),
        percentile(lists, 1.0)
    );
}
