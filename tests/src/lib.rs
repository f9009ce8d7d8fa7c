//! Helpers for Toolyard's end-to-end tests.
//!
//! The cluster suites (`tests/e2e/*.rs`) run against a real API server started by
//! `tests/cluster/cluster.sh run -- …`, which sets `KUBECONFIG`, `TESTCLUSTER_DIR` and
//! `TESTCLUSTER_BIN` and puts the cluster's `kubectl` first on `PATH`. Every cluster test is
//! `#[ignore]`d, so a plain `cargo test` skips it; `tests/run.sh` runs them with `--ignored`.
//!
//! This module holds what those suites share: finding the repository's manifests, server-side
//! apply of arbitrary YAML documents, installing the CRDs, throw-away namespaces, bounded waits
//! and running the real `kubectl`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::discovery::Scope;
use kube::{Client, Config};
use serde::Deserialize;
use serde_json::{Value, json};

/// The field manager of every server-side apply the tests make.
pub const FIELD_MANAGER: &str = "toolyard-e2e";

/// Label put on every namespace the tests create.
pub const NAMESPACE_LABEL: &str = "toolyard.dev/e2e";

/// Default bound of the waits (CRD establishment, OpenAPI publication, …).
pub const WAIT: Duration = Duration::from_secs(60);

/// The repository root (the parent of this crate's directory).
pub fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Every `*.yaml`/`*.yml` file under `dir`, recursively, sorted.
pub fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The CRD manifests the suites install: `charts/toolyard/crds/*.yaml`, or the `*.yaml` files in
/// `$TOOLYARD_E2E_CRDS` (to try freshly generated CRDs before they replace the chart's).
pub fn crd_files() -> Result<Vec<PathBuf>> {
    let dir = match std::env::var_os("TOOLYARD_E2E_CRDS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo_root().join("charts/toolyard/crds"),
    };
    let files = yaml_files(&dir)?;
    if files.is_empty() {
        bail!("no CRD manifests in {}", dir.display());
    }
    Ok(files)
}

/// Every example manifest, `examples/**/*.yaml`.
pub fn example_files() -> Result<Vec<PathBuf>> {
    yaml_files(&repo_root().join("examples"))
}

/// The non-empty documents of a (multi-document) YAML file, as JSON values.
pub fn read_yaml_docs(path: &Path) -> Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_yaml_docs(&text).with_context(|| format!("parsing {}", path.display()))
}

/// The non-empty documents of a YAML stream, as JSON values.
pub fn parse_yaml_docs(text: &str) -> Result<Vec<Value>> {
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let value = Value::deserialize(doc)?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// A manifest the API server must reject, from `tests/manifests/invalid/NN-what.yaml`.
#[derive(Debug, Clone)]
pub struct InvalidManifest {
    /// The file.
    pub path: PathBuf,
    /// Substrings the API server's error message must contain (the `# expect:` lines).
    pub expect: Vec<String>,
    /// The object (exactly one document).
    pub object: Value,
}

impl InvalidManifest {
    /// The file name, for messages.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Every manifest under `tests/manifests/invalid/`, each with at least one `# expect:` line and
/// exactly one document.
pub fn invalid_manifests() -> Result<Vec<InvalidManifest>> {
    let dir = repo_root().join("tests/manifests/invalid");
    let mut out = Vec::new();
    for path in yaml_files(&dir)? {
        let text = std::fs::read_to_string(&path)?;
        let expect: Vec<String> = text
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("# expect:"))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if expect.is_empty() {
            bail!(
                "{}: no `# expect: <message substring>` line",
                path.display()
            );
        }
        let mut docs =
            parse_yaml_docs(&text).with_context(|| format!("parsing {}", path.display()))?;
        if docs.len() != 1 {
            bail!(
                "{}: expected exactly one document, found {}",
                path.display(),
                docs.len()
            );
        }
        let object = docs.remove(0);
        out.push(InvalidManifest {
            path,
            expect,
            object,
        });
    }
    Ok(out)
}

/// A client for the cluster in `KUBECONFIG`.
pub async fn client() -> Result<Client> {
    install_crypto_provider();
    Client::try_default().await.context(
        "no Kubernetes client (run the cluster suites through tests/cluster/cluster.sh run -- …)",
    )
}

/// A client for another kubeconfig file, e.g. one from `cluster.sh kubeconfig-for-user`.
pub async fn client_from_kubeconfig(path: &Path) -> Result<Client> {
    install_crypto_provider();
    let kubeconfig = kube::config::Kubeconfig::read_from(path)?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(Client::try_from(config)?)
}

/// rustls needs one process-wide crypto provider; pick it explicitly so it does not matter which
/// providers feature unification enables across the workspace.
fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The group, version and kind of a manifest.
pub fn gvk_of(obj: &Value) -> Result<GroupVersionKind> {
    let api_version = obj["apiVersion"]
        .as_str()
        .ok_or_else(|| anyhow!("object without apiVersion"))?;
    let kind = obj["kind"]
        .as_str()
        .ok_or_else(|| anyhow!("object without kind"))?;
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    Ok(GroupVersionKind::gvk(group, version, kind))
}

/// Server-side applies `obj` (forcing conflicts), into `namespace` for namespaced kinds: the
/// manifest's own `metadata.namespace` is replaced. When the API server refuses the object, the
/// error is a [`kube::Error::Api`] (see [`api_error`]).
pub async fn apply(client: &Client, obj: &Value, namespace: Option<&str>) -> Result<DynamicObject> {
    let gvk = gvk_of(obj)?;
    let (resource, caps) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .with_context(|| format!("discovering {gvk:?}"))?;
    let mut obj = obj.clone();
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let api: Api<DynamicObject> = match (caps.scope, namespace) {
        (Scope::Namespaced, Some(ns)) => {
            obj["metadata"]["namespace"] = json!(ns);
            Api::namespaced_with(client.clone(), ns, &resource)
        }
        (Scope::Namespaced, None) => {
            let ns = obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string();
            Api::namespaced_with(client.clone(), &ns, &resource)
        }
        (Scope::Cluster, _) => Api::all_with(client.clone(), &resource),
    };
    match api
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&obj),
        )
        .await
    {
        Ok(applied) => Ok(applied),
        Err(kube::Error::Api(status)) => Err(Rejected(*status).into()),
        Err(e) => Err(e.into()),
    }
}

/// The API server refused a request; `Display` shows its code, reason and message only.
#[derive(Debug)]
pub struct Rejected(pub kube::core::Status);

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the API server answered {} {}: {}",
            self.0.code, self.0.reason, self.0.message
        )
    }
}

impl std::error::Error for Rejected {}

/// The API server's answer inside an error from [`apply`] (or any kube call), if it was one.
pub fn api_error(err: &anyhow::Error) -> Option<&kube::core::Status> {
    err.chain().find_map(|e| {
        if let Some(Rejected(status)) = e.downcast_ref::<Rejected>() {
            return Some(status);
        }
        match e.downcast_ref::<kube::Error>() {
            Some(kube::Error::Api(status)) => Some(&**status),
            _ => None,
        }
    })
}

/// Applies every document of a file (see [`apply`]).
pub async fn apply_file(
    client: &Client,
    path: &Path,
    namespace: Option<&str>,
) -> Result<Vec<DynamicObject>> {
    let mut out = Vec::new();
    for doc in read_yaml_docs(path)? {
        let applied = apply(client, &doc, namespace).await.with_context(|| {
            format!(
                "applying {} {} from {}",
                doc["kind"],
                doc["metadata"]["name"],
                path.display()
            )
        })?;
        out.push(applied);
    }
    Ok(out)
}

/// Polls `check` every 250 ms until it yields a value, failing after `timeout` with the last
/// reason `check` gave.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let start = Instant::now();
    loop {
        let last = match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => String::from("not yet"),
            Err(e) => format!("{e:#}"),
        };
        if start.elapsed() >= timeout {
            bail!("timed out after {timeout:?} waiting for {what}: {last}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Whether a CRD has condition `type_` with status `True`.
pub fn crd_condition(crd: &CustomResourceDefinition, type_: &str) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == type_ && c.status == "True"))
}

/// Installs (server-side applies) both CRDs from `charts/toolyard/crds/` and waits until they are
/// `Established`. Idempotent, so every test can call it. Returns the CRD names.
pub async fn install_crds(client: &Client) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for file in crd_files()? {
        for obj in apply_file(client, &file, None).await? {
            names.push(obj.metadata.name.unwrap_or_default());
        }
    }
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in &names {
        wait_for(&format!("CRD {name} to be Established"), WAIT, || async {
            let crd = crds.get(name).await?;
            Ok(crd_condition(&crd, "Established").then_some(()))
        })
        .await?;
    }
    Ok(names)
}

/// A namespace of its own for one test; deleted (without waiting) when dropped.
pub struct TestNamespace {
    /// The namespace's name.
    pub name: String,
}

impl TestNamespace {
    /// Creates a namespace named `<prefix>-<unique suffix>`.
    pub async fn create(client: &Client, prefix: &str) -> Result<Self> {
        let name = unique_name(prefix);
        let ns: Namespace = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {NAMESPACE_LABEL: "true"}}
        }))?;
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .with_context(|| format!("creating namespace {name}"))?;
        Ok(Self { name })
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let _ = kubectl(&[
            "delete",
            "namespace",
            &self.name,
            "--wait=false",
            "--ignore-not-found",
        ]);
    }
}

/// A DNS-label name `<prefix>-<suffix>`, unique within this process and across runs.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
        % 1_000_000_000;
    let mut prefix: String = prefix.chars().take(40).collect();
    if prefix.is_empty() {
        prefix.push_str("e2e");
    }
    format!("{prefix}-{t}-{n}")
}

/// The `kubectl` to run: `$TESTCLUSTER_BIN/kubectl` if set, else `kubectl` from `PATH`.
pub fn kubectl_path() -> PathBuf {
    match std::env::var_os("TESTCLUSTER_BIN") {
        Some(bin) if Path::new(&bin).join("kubectl").is_file() => Path::new(&bin).join("kubectl"),
        _ => PathBuf::from("kubectl"),
    }
}

/// Output of a finished `kubectl` run.
#[derive(Debug, Clone)]
pub struct KubectlOutput {
    /// Exit status was 0.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `kubectl args…` to completion, with `KUBECONFIG` from the environment and a discovery
/// cache of its own, so a CRD installed a moment ago is always found.
pub fn kubectl(args: &[&str]) -> Result<KubectlOutput> {
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let cache = std::env::temp_dir().join(format!(
        "toolyard-e2e-kubectl-cache-{}-{}",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    ));
    let out = Command::new(kubectl_path())
        .arg(format!("--cache-dir={}", cache.display()))
        .args(args)
        .output()
        .with_context(|| format!("running {} {}", kubectl_path().display(), args.join(" ")));
    let _ = std::fs::remove_dir_all(&cache);
    let out = out?;
    Ok(KubectlOutput {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Runs `kubectl args…` and returns its standard output, failing on a non-zero exit.
pub fn kubectl_ok(args: &[&str]) -> Result<String> {
    let out = kubectl(args)?;
    if !out.success {
        bail!(
            "kubectl {} failed:\n{}{}",
            args.join(" "),
            out.stdout,
            out.stderr
        );
    }
    Ok(out.stdout)
}

/// Collapses every run of whitespace to one space (kubectl re-wraps descriptions).
pub fn squash_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_streams_skip_empty_documents() {
        let docs = parse_yaml_docs("---\na: 1\n---\n# only a comment\n---\nb: 2\n").unwrap();
        assert_eq!(docs, vec![json!({"a": 1}), json!({"b": 2})]);
    }

    #[test]
    fn group_version_kind_of_core_and_grouped_objects() {
        let core = gvk_of(&json!({"apiVersion": "v1", "kind": "Secret"})).unwrap();
        assert_eq!(
            (
                core.group.as_str(),
                core.version.as_str(),
                core.kind.as_str()
            ),
            ("", "v1", "Secret")
        );
        let gw =
            gvk_of(&json!({"apiVersion": "toolyard.dev/v1alpha1", "kind": "Gateway"})).unwrap();
        assert_eq!(
            (gw.group.as_str(), gw.version.as_str()),
            ("toolyard.dev", "v1alpha1")
        );
    }

    #[test]
    fn unique_names_are_dns_labels() {
        let a = unique_name("crds-status");
        let b = unique_name("crds-status");
        assert_ne!(a, b);
        for n in [a, b] {
            assert!(n.len() <= 63, "{n}");
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{n}"
            );
        }
    }

    /// The invalid manifests are well-formed, so the cluster suite only fails for the reason the
    /// `# expect:` line names.
    #[test]
    fn invalid_manifests_are_well_formed() {
        let all = invalid_manifests().unwrap();
        assert!(all.len() >= 12, "only {} invalid manifests", all.len());
        for m in &all {
            let gvk = gvk_of(&m.object).unwrap();
            assert_eq!(gvk.group, toolyard_crds::GROUP, "{}", m.name());
            assert!(
                m.object["metadata"]["name"].is_string(),
                "{}: no metadata.name",
                m.name()
            );
            assert!(
                m.object["metadata"].get("namespace").is_none(),
                "{}: the test picks the namespace",
                m.name()
            );
        }
    }

    /// Every example parses into the Rust types (the cluster suite checks the API server agrees).
    #[test]
    fn examples_parse_into_the_crd_types() {
        let files = example_files().unwrap();
        assert!(!files.is_empty());
        let mut custom = 0;
        for file in files {
            for doc in read_yaml_docs(&file).unwrap() {
                match doc["kind"].as_str() {
                    Some("Gateway") => {
                        serde_json::from_value::<toolyard_crds::Gateway>(doc).unwrap();
                        custom += 1;
                    }
                    Some("GatewayTarget") => {
                        serde_json::from_value::<toolyard_crds::GatewayTarget>(doc).unwrap();
                        custom += 1;
                    }
                    _ => {}
                }
            }
        }
        assert!(
            custom >= 3,
            "only {custom} Gateways/GatewayTargets in examples/"
        );
    }
}
