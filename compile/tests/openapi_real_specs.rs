//! Compiles real public OpenAPI / Swagger documents (GitHub, Stripe, Kubernetes, Slack, …) and
//! checks that nothing panics, no valid document fails, and every tool is well formed.
//!
//! The documents are not committed (tens of megabytes); fetch them from pinned npm packages,
//! then run this ignored-by-default test explicitly:
//!
//! ```sh
//! compile/tests/fixtures/openapi/fetch-real-specs.sh
//! TOOLYARD_REAL_SPECS=~/.cache/toolyard/real-specs \
//!   cargo test -p toolyard-compile --test openapi_real_specs -- --include-ignored --nocapture
//! ```
//!
//! It prints a table of tools made and operations skipped per document.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value;
use toolyard_compile::openapi::{CompiledApi, OpenApiError, OpenApiInput, compile};
use toolyard_crds::config::{BodyShape, CallPlan, ParamLocation};

/// Fewer documents than this means the fetch went wrong.
const MIN_SPECS: usize = 20;
/// Used for documents that have no usable server (as `spec.openApi.baseUrl` would be).
const CONFIGURED_BASE_URL: &str = "https://api.example.test";

struct Row {
    spec: String,
    version: String,
    tools: usize,
    skipped: usize,
    note: String,
    millis: u128,
}

#[test]
#[ignore = "needs real specs: run compile/tests/fixtures/openapi/fetch-real-specs.sh"]
fn real_specs_compile() {
    let Some(dir) = std::env::var_os("TOOLYARD_REAL_SPECS") else {
        panic!(
            "TOOLYARD_REAL_SPECS is not set: run compile/tests/fixtures/openapi/fetch-real-specs.sh \
             and set it to the directory it prints"
        );
    };
    let dir = PathBuf::from(dir);
    let mut files: Vec<PathBuf> = match fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("json" | "yaml" | "yml")
                )
            })
            .collect(),
        Err(error) => panic!("cannot read {}: {error}", dir.display()),
    };
    files.sort();
    assert!(
        files.len() >= MIN_SPECS,
        "{} has {} documents, fewer than {MIN_SPECS}: run fetch-real-specs.sh again",
        dir.display(),
        files.len()
    );

    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for file in &files {
        let spec = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match fs::read_to_string(file) {
            Ok(text) => text,
            Err(error) => panic!("cannot read {}: {error}", file.display()),
        };
        let started = Instant::now();
        let (result, note) = match compile_catching(&text, None) {
            Ok(Err(OpenApiError::NoBaseUrl { .. } | OpenApiError::ServerVariable { .. })) => (
                compile_catching(&text, Some(CONFIGURED_BASE_URL)),
                "base URL configured".to_owned(),
            ),
            other => (other, String::new()),
        };
        let millis = started.elapsed().as_millis();
        let api = match result {
            Ok(Ok(api)) => api,
            Ok(Err(error)) => {
                failures.push(format!("{spec}: error: {error}"));
                continue;
            }
            Err(panic) => {
                failures.push(format!("{spec}: PANIC: {panic}"));
                continue;
            }
        };
        failures.extend(check(&spec, &api));
        for skipped in &api.tools.skipped {
            *reasons.entry(reason_kind(&skipped.reason)).or_default() += 1;
        }
        if spec.starts_with("github-api.github.com") {
            assert!(
                api.tools.tools.len() > 900,
                "{spec}: only {} tools",
                api.tools.tools.len()
            );
        }
        rows.push(Row {
            spec,
            version: version(&text),
            tools: api.tools.tools.len(),
            skipped: api.tools.skipped.len(),
            note,
            millis,
        });
    }

    println!();
    println!("| spec | version | tools | skipped | note |");
    println!("| --- | --- | ---: | ---: | --- |");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            row.spec, row.version, row.tools, row.skipped, row.note
        );
    }
    let tools: usize = rows.iter().map(|r| r.tools).sum();
    let skipped: usize = rows.iter().map(|r| r.skipped).sum();
    println!(
        "| **{} documents** | | **{tools}** | **{skipped}** | |",
        rows.len()
    );
    println!();
    println!("skip reasons:");
    let mut reasons: Vec<(String, usize)> = reasons.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (reason, count) in reasons {
        println!("  {count:>5}  {reason}");
    }
    println!();
    println!("compile times (ms, this build profile):");
    for row in &rows {
        println!("  {:>6}  {}", row.millis, row.spec);
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

/// Fewer documents than this in the APIs.guru directory means the fetch went wrong.
const MIN_DIRECTORY_SPECS: usize = 500;
/// Documents larger than this are left out of the directory sweep and listed. Microsoft Graph
/// (20 and 47 MB, 11,000+ operations) is under it and swept since schemas are shared
/// definitions; `config_size.rs` measures its compile time and memory in a release build.
const MAX_DIRECTORY_SPEC_BYTES: u64 = 64 << 20;

/// Every document of the APIs.guru directory (`apis-guru/<package>/`, about 2,600 of them):
/// no panic, and every document that fails names a whole-document problem (printed); the tools
/// of every compiled document hold the same invariants as above. Prints the totals, the time and
/// the skip reasons.
#[test]
#[ignore = "needs real specs: run compile/tests/fixtures/openapi/fetch-real-specs.sh"]
fn apis_guru_directory_compiles() {
    let Some(dir) = std::env::var_os("TOOLYARD_REAL_SPECS") else {
        panic!(
            "TOOLYARD_REAL_SPECS is not set: run compile/tests/fixtures/openapi/fetch-real-specs.sh"
        );
    };
    let root = PathBuf::from(dir).join("apis-guru");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    assert!(
        files.len() >= MIN_DIRECTORY_SPECS,
        "{} has {} documents, fewer than {MIN_DIRECTORY_SPECS}: run fetch-real-specs.sh again",
        root.display(),
        files.len()
    );
    let started = Instant::now();
    let (mut tools, mut skipped, mut operations) = (0usize, 0usize, 0usize);
    let mut errors = Vec::new();
    let mut failures = Vec::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut slowest: Vec<(u128, String, usize)> = Vec::new();
    let (files, too_large): (Vec<PathBuf>, Vec<PathBuf>) = files
        .into_iter()
        .partition(|f| fs::metadata(f).map_or(0, |m| m.len()) <= MAX_DIRECTORY_SPEC_BYTES);
    for file in &too_large {
        println!(
            "left out (larger than {MAX_DIRECTORY_SPEC_BYTES} bytes): {}",
            file.display()
        );
    }
    for file in &files {
        let spec = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .to_string_lossy()
            .into_owned();
        let text = match fs::read_to_string(file) {
            Ok(text) => text,
            Err(error) => panic!("cannot read {}: {error}", file.display()),
        };
        let one = Instant::now();
        let result = match compile_catching(&text, None) {
            Ok(Err(OpenApiError::NoBaseUrl { .. } | OpenApiError::ServerVariable { .. })) => {
                compile_catching(&text, Some(CONFIGURED_BASE_URL))
            }
            other => other,
        };
        let millis = one.elapsed().as_millis();
        match result {
            Ok(Ok(api)) => {
                failures.extend(check(&spec, &api));
                tools += api.tools.tools.len();
                skipped += api.tools.skipped.len();
                operations += api.tools.tools.len() + api.tools.skipped.len();
                for skip in &api.tools.skipped {
                    *reasons.entry(reason_kind(&skip.reason)).or_default() += 1;
                }
                slowest.push((millis, spec, api.tools.tools.len()));
            }
            Ok(Err(error)) => errors.push(format!("{spec}: {error}")),
            Err(panic) => failures.push(format!("{spec}: PANIC: {panic}")),
        }
    }
    let elapsed = started.elapsed();
    slowest.sort_by_key(|row| std::cmp::Reverse(row.0));
    println!();
    println!(
        "APIs.guru directory: {} documents, {} compiled, {} errors, {} operations, {} tools, {} skipped, {:.1} s",
        files.len(),
        files.len() - errors.len() - failures.iter().filter(|f| f.contains("PANIC")).count(),
        errors.len(),
        operations,
        tools,
        skipped,
        elapsed.as_secs_f64()
    );
    println!("documents that do not compile (whole-document errors):");
    for error in &errors {
        println!("  {error}");
    }
    println!("skip reasons:");
    let mut reasons: Vec<(String, usize)> = reasons.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (reason, count) in reasons.iter().take(40) {
        println!("  {count:>5}  {reason}");
    }
    println!("slowest documents (ms, tools):");
    for (millis, spec, tools) in slowest.iter().take(10) {
        println!("  {millis:>7}  {tools:>6}  {spec}");
    }
    // A document the compiler rejects as a whole must be a tiny minority (they are broken or of
    // an unsupported version); anything more is a regression.
    assert!(
        errors.len() * 100 <= files.len(),
        "{} of {} documents failed to compile",
        errors.len(),
        files.len()
    );
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

/// Every `.json` / `.yaml` file under `dir`, recursively.
fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("json" | "yaml" | "yml")
        ) {
            out.push(path);
        }
    }
}

fn compile_catching(
    text: &str,
    base_url: Option<&str>,
) -> Result<Result<CompiledApi, OpenApiError>, String> {
    let variables = BTreeMap::new();
    catch_unwind(AssertUnwindSafe(|| {
        compile(&OpenApiInput {
            document: text,
            base_url,
            server_variables: &variables,
        })
    }))
    .map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    })
}

/// Invariants every compiled document must hold.
fn check(spec: &str, api: &CompiledApi) -> Vec<String> {
    let mut problems = Vec::new();
    let mut names = BTreeSet::new();
    if api.base_url.ends_with('/') || !api.base_url.starts_with("http") {
        problems.push(format!("{spec}: bad base URL {}", api.base_url));
    }
    for (name, schema) in &api.tools.schema_defs {
        if let Some(problem) = bad_ref(schema, &api.tools.schema_defs) {
            problems.push(format!("{spec}: schemaDefs {name}: {problem}"));
        }
    }
    for tool in &api.tools.tools {
        let at = format!("{spec}: {}", tool.name);
        if !names.insert(tool.name.clone()) {
            problems.push(format!("{at}: duplicate name"));
        }
        let schema = &tool.input_schema;
        if !schema.is_object() || schema.get("type") != Some(&Value::from("object")) {
            problems.push(format!("{at}: inputSchema is not a `type: object` object"));
            continue;
        }
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            problems.push(format!("{at}: inputSchema has no properties object"));
            continue;
        };
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required {
                if !name.as_str().is_some_and(|n| properties.contains_key(n)) {
                    problems.push(format!("{at}: required {name} is not a property"));
                }
            }
        }
        if let Some(problem) = bad_ref(schema, &api.tools.schema_defs) {
            problems.push(format!("{at}: inputSchema: {problem}"));
        }
        if let Some(output) = &tool.output_schema {
            if output.get("type") != Some(&Value::from("object")) {
                problems.push(format!("{at}: outputSchema is not `type: object`"));
            }
            if let Some(problem) = bad_ref(output, &api.tools.schema_defs) {
                problems.push(format!("{at}: outputSchema: {problem}"));
            }
        }
        let CallPlan::Http(call) = &tool.call else {
            problems.push(format!("{at}: not an HTTP call"));
            continue;
        };
        if !call.path.starts_with('/') {
            problems.push(format!("{at}: path {} is not absolute", call.path));
        }
        let mut args = BTreeSet::new();
        for param in &call.params {
            if !properties.contains_key(&param.arg) {
                problems.push(format!("{at}: argument {} has no property", param.arg));
            }
            if !args.insert(param.arg.clone()) {
                problems.push(format!("{at}: argument {} bound twice", param.arg));
            }
            if param.location == ParamLocation::Path
                && !call.path.contains(&format!("{{{}}}", param.name))
            {
                problems.push(format!("{at}: path parameter {} not in path", param.name));
            }
        }
        if let Some(body) = &call.body {
            let body_args = match &body.shape {
                BodyShape::Merged { properties } => properties.clone(),
                BodyShape::Argument { name } => vec![name.clone()],
            };
            for arg in body_args {
                if !properties.contains_key(&arg) || !args.insert(arg.clone()) {
                    problems.push(format!("{at}: body argument {arg} missing or shared"));
                }
            }
        }
    }
    problems
}

/// A `$ref` keyword that is not a reference to a shared definition the table has (a property
/// *named* `$ref`, as in Kubernetes' JSONSchemaProps, has a schema, not a string, as its value).
fn bad_ref(value: &Value, defs: &BTreeMap<String, Value>) -> Option<String> {
    match value {
        Value::Object(map) => map.iter().find_map(|(k, v)| match (k.as_str(), v) {
            ("$ref", Value::String(reference)) => match reference.strip_prefix("#/$defs/") {
                Some(name) if defs.contains_key(name) => None,
                Some(name) => Some(format!("no shared definition {name}")),
                None => Some(format!("$ref {reference} left")),
            },
            _ => bad_ref(v, defs),
        }),
        Value::Array(items) => items.iter().find_map(|item| bad_ref(item, defs)),
        _ => None,
    }
}

/// A skip reason without the operation-specific parts, for counting.
fn reason_kind(reason: &str) -> String {
    let mut kind = String::new();
    let mut in_code = false;
    for c in reason.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                if in_code {
                    kind.push_str("`…`");
                }
            }
            _ if in_code => {}
            _ => kind.push(c),
        }
    }
    kind
}

fn version(text: &str) -> String {
    let head: String = text.chars().take(4096).collect();
    for key in ["openapi", "swagger"] {
        for quote in ["\"", ""] {
            let marker = format!("{quote}{key}{quote}:");
            if let Some(at) = head.find(&marker) {
                let rest = &head[at + marker.len()..];
                let value: String = rest
                    .trim_start()
                    .trim_start_matches(['"', '\''])
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                let format = if text.trim_start().starts_with('{') {
                    "JSON"
                } else {
                    "YAML"
                };
                let name = if key == "openapi" {
                    "OpenAPI"
                } else {
                    "Swagger"
                };
                return format!("{name} {value} {format}");
            }
        }
    }
    "?".to_owned()
}
