//! How large the compiled gateway config of real documents is, per tool, and how long compiling
//! takes: the measure for shared schema definitions (GitHub's REST document should stay under
//! 5 KiB of config per tool, Microsoft Graph's 11,000 operations under 10 s and 1 GiB).
//!
//! The documents are not committed; point `TOOLYARD_CONFIG_SIZE_SPECS` at them (paths separated
//! by `:`) and run this ignored-by-default test, under `/usr/bin/time -v` for the peak memory:
//!
//! ```sh
//! TOOLYARD_CONFIG_SIZE_SPECS=~/.cache/toolyard/real-specs/github-api.github.com.json \
//!   cargo test --release -p toolyard-compile --test config_size -- --ignored --nocapture
//! ```
//!
//! With `TOOLYARD_CONFIG_SIZE_WRITE=<dir>` each compiled config is also written there
//! (`<document>.config.json`), e.g. for `compile/tests/check_served_schemas.py`.

use std::collections::BTreeMap;
use std::time::Instant;

use toolyard_compile::gateway::{CompileContext, ResolvedRefs, compile};
use toolyard_crds::{Gateway, GatewayTarget};

#[test]
#[ignore = "needs real documents: set TOOLYARD_CONFIG_SIZE_SPECS"]
fn config_size_per_tool() {
    let Some(paths) = std::env::var_os("TOOLYARD_CONFIG_SIZE_SPECS") else {
        panic!("TOOLYARD_CONFIG_SIZE_SPECS is not set (paths of OpenAPI documents, `:`-separated)");
    };
    let gateway: Gateway = serde_yaml::from_str(
        "apiVersion: toolyard.dev/v1alpha1\nkind: Gateway\nmetadata: {name: size, namespace: default}\nspec:\n  inboundAuth: {none: {}}\n",
    )
    .expect("gateway manifest");
    let target: GatewayTarget = serde_yaml::from_str(
        "apiVersion: toolyard.dev/v1alpha1\nkind: GatewayTarget\nmetadata: {name: api, namespace: default}\nspec:\n  gatewayRef: {name: size}\n  openApi:\n    baseUrl: https://api.example.test\n    schema: {configMapRef: {name: spec, key: openapi}}\n",
    )
    .expect("target manifest");
    println!();
    println!("| document | tools | config bytes | bytes/tool | compile ms |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for path in std::env::split_paths(&paths) {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let refs = ResolvedRefs {
            config_maps: BTreeMap::from([(("spec".to_owned(), "openapi".to_owned()), text)]),
            ..ResolvedRefs::default()
        };
        let started = Instant::now();
        let compiled = compile(
            &gateway,
            std::slice::from_ref(&target),
            &refs,
            &CompileContext::default(),
        )
        .expect("compiles");
        let millis = started.elapsed().as_millis();
        let tools = compiled.config.tool_count();
        let json = serde_json::to_vec(&compiled.config).unwrap_or_default();
        let bytes = json.len();
        // The config itself, for checks outside Rust (`TOOLYARD_CONFIG_SIZE_WRITE`: a directory).
        if let Some(dir) = std::env::var_os("TOOLYARD_CONFIG_SIZE_WRITE") {
            let name = format!(
                "{}.config.json",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            std::fs::write(std::path::Path::new(&dir).join(name), &json).expect("writes");
        }
        println!(
            "| {} | {tools} | {bytes} | {} | {millis} |",
            path.file_name().unwrap_or_default().to_string_lossy(),
            bytes / tools.max(1),
        );
    }
}
