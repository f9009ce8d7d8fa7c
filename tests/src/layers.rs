//! The crate layering rules, checked against the dependency graph cargo resolves for each crate
//! built on its own (`cargo tree -p <crate> -e normal`, the features that crate alone enables, as
//! its Dockerfile or a user's build would):
//!
//! - `toolyard-compile` is pure: no tokio, no HTTP client (reqwest, hyper), no kube client,
//!   directly or through any of its dependencies, and neither of its users. (`kube` itself is
//!   there through `toolyard-crds`, for the `CustomResource` derive and the API types only: its
//!   `client` feature, which brings `kube-client`, must not be.)
//! - `toolyard-operator` does not depend on `toolyard-gateway` (what both need lives in
//!   `toolyard-compile` or `toolyard-crds`).
//!
//! Only normal dependencies count: dev-dependencies do not reach a user of the crate, and build
//! dependencies run at build time only.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The names of every package `krate` depends on, directly or transitively (normal dependencies,
/// features as resolved for `krate` alone).
fn dependencies(krate: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(cargo)
        .args([
            "tree", "-p", krate, "-e", "normal", "--prefix", "none", "--format", "{p}",
        ])
        .current_dir(&workspace)
        .output()
        .unwrap_or_else(|e| panic!("cargo tree could not run: {e}"));
    assert!(
        output.status.success(),
        "cargo tree -p {krate} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let names: BTreeSet<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != krate)
        .map(str::to_string)
        .collect();
    assert!(
        !names.is_empty(),
        "cargo tree -p {krate} listed no dependencies"
    );
    names
}

/// Which of `forbidden` `krate` depends on.
fn forbidden_in(krate: &str, forbidden: &[&str]) -> Vec<String> {
    let deps = dependencies(krate);
    forbidden
        .iter()
        .filter(|f| deps.contains(**f))
        .map(|f| format!("{krate} depends on {f} (see `cargo tree -p {krate} -e normal -i {f}`)"))
        .collect()
}

#[test]
fn the_compile_crate_has_no_runtime_network_or_kube_client() {
    let found = forbidden_in(
        "toolyard-compile",
        &[
            "tokio",
            "reqwest",
            "hyper",
            "kube-client",
            "kube-runtime",
            "toolyard-gateway",
            "toolyard-operator",
        ],
    );
    assert!(
        found.is_empty(),
        "toolyard-compile must stay pure (see compile/src/lib.rs): {found:#?}"
    );
    // The check sees the graph: compile does reach the API types.
    assert!(dependencies("toolyard-compile").contains("toolyard-crds"));
}

#[test]
fn the_operator_does_not_depend_on_the_gateway() {
    let found = forbidden_in("toolyard-operator", &["toolyard-gateway"]);
    assert!(
        found.is_empty(),
        "toolyard-operator must not depend on toolyard-gateway (share code through toolyard-compile): {found:#?}"
    );
    // The check sees the graph: the operator does reach the compile crate, and the gateway
    // (which is allowed to) reaches tokio and reqwest.
    assert!(dependencies("toolyard-operator").contains("toolyard-compile"));
    let gateway = dependencies("toolyard-gateway");
    assert!(gateway.contains("tokio") && gateway.contains("reqwest"));
}
