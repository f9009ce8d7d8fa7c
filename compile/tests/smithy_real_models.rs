//! Compiles real AWS service models (Smithy JSON AST) and checks that nothing panics, every
//! model compiles, and every tool is well formed (object input schema, every `$ref` resolves).
//!
//! The models are not committed; `tests/gateway/setup.d/smithy.sh` downloads the pinned ones
//! from Maven Central (group `software.amazon.api.models`) into `$TOOLYARD_CACHE/smithy-models`.
//! Run this ignored-by-default test against that (or any) directory of `*.json` models:
//!
//! ```sh
//! TOOLYARD_SMITHY_MODELS=~/.cache/toolyard/smithy-models \
//!   cargo test -p toolyard-compile --test smithy_real_models -- --include-ignored --nocapture
//! ```
//!
//! `TOOLYARD_SMITHY_MIN_MODELS` (default 2, the number of pinned downloads) is the fewest models
//! the directory must hold. It prints tools made and operations skipped per model.

use std::collections::BTreeMap;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value;
use toolyard_compile::smithy::{CompiledSmithy, SmithyInput, compile};
use toolyard_crds::config::{CallPlan, Endpoint};

#[test]
#[ignore = "needs real models: run tests/gateway/setup.sh (setup.d/smithy.sh)"]
fn real_models_compile() {
    let Some(dir) = std::env::var_os("TOOLYARD_SMITHY_MODELS") else {
        panic!(
            "TOOLYARD_SMITHY_MODELS is not set: run tests/gateway/setup.sh and point it at $TOOLYARD_CACHE/smithy-models"
        );
    };
    let min: usize = std::env::var("TOOLYARD_SMITHY_MIN_MODELS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let dir = PathBuf::from(dir);
    let mut files: Vec<PathBuf> = match fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json"))
            .collect(),
        Err(e) => panic!("cannot read {}: {e}", dir.display()),
    };
    files.sort();
    assert!(
        files.len() >= min,
        "{} has {} models, fewer than {min}",
        dir.display(),
        files.len()
    );

    let mut failures = Vec::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let (mut total_tools, mut total_skipped) = (0, 0);
    println!(
        "\n{:<22} {:<14} {:>10} {:>6} {:>8} {:>8} {:>8}",
        "model", "protocol", "operations", "tools", "skipped", "MB", "ms"
    );
    for file in &files {
        let name = file
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| {
            compile(&SmithyInput {
                document: &text,
                service: None,
                region: Some("us-east-1"),
                endpoint: None,
            })
        }));
        let millis = started.elapsed().as_millis();
        let compiled = match result {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                failures.push(format!("{name}: error: {e}"));
                continue;
            }
            Err(_) => {
                failures.push(format!("{name}: PANIC"));
                continue;
            }
        };
        failures.extend(check(&name, &compiled));
        for s in &compiled.tools.skipped {
            let kind = s.reason.split(':').next().unwrap_or_default().to_owned();
            *reasons.entry(kind).or_default() += 1;
        }
        let protocol = match &compiled.endpoint {
            Endpoint::AwsJson { json_version, .. } => format!("awsJson{json_version}"),
            _ if compiled
                .tools
                .tools
                .iter()
                .any(|t| matches!(t.call, CallPlan::Http(_))) =>
            {
                "restJson1".into()
            }
            _ => "unsupported".into(),
        };
        let (tools, skipped) = (compiled.tools.tools.len(), compiled.tools.skipped.len());
        total_tools += tools;
        total_skipped += skipped;
        println!(
            "{name:<22} {protocol:<14} {:>10} {tools:>6} {skipped:>8} {:>8.1} {millis:>8}",
            tools + skipped,
            text.len() as f64 / 1e6
        );
        if name.starts_with("dynamodb") {
            assert!(tools >= 50, "dynamodb: only {tools} tools");
        }
    }
    println!(
        "{} models: {total_tools} tools, {total_skipped} operations skipped",
        files.len()
    );
    for (reason, count) in &reasons {
        println!("  skipped {count:>4}: {reason}");
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

/// Problems of the tools of one model.
fn check(model: &str, compiled: &CompiledSmithy) -> Vec<String> {
    let mut out = Vec::new();
    for tool in &compiled.tools.tools {
        let label = format!("{model}/{}", tool.name);
        if tool.name.is_empty() {
            out.push(format!("{label}: empty name"));
        }
        for (what, schema) in [
            ("input", Some(&tool.input_schema)),
            ("output", tool.output_schema.as_ref()),
        ] {
            let Some(schema) = schema else { continue };
            if schema.get("type") != Some(&Value::String("object".into())) {
                out.push(format!("{label}: {what} schema is not an object schema"));
            }
            let defs = schema.get("$defs").and_then(Value::as_object);
            let mut refs = Vec::new();
            collect_refs(schema, &mut refs);
            for r in refs {
                let ok = r
                    .strip_prefix("#/$defs/")
                    .is_some_and(|name| defs.is_some_and(|d| d.contains_key(name)));
                if !ok {
                    out.push(format!("{label}: {what} $ref {r} does not resolve"));
                }
            }
        }
    }
    out
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    if let Some(s) = v.as_str() {
                        out.push(s.to_owned());
                    }
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}
