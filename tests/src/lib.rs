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

/// The OpenAPI document of the quickstart example's ConfigMap (the gateway's own admin API), which
/// cluster tests serve as a target backed by the gateway's admin port.
pub fn quickstart_openapi() -> Result<Value> {
    let path = repo_root().join("examples/quickstart/gateway.yaml");
    Ok(read_yaml_docs(&path)?
        .into_iter()
        .find(|d| d["kind"] == "ConfigMap")
        .with_context(|| format!("{} has no ConfigMap", path.display()))?["data"]["openapi.yaml"]
        .clone())
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

// ---------------------------------------------------------------------------------------------
// Operator suite helpers: workspace binaries as local processes, plain-HTTP MCP calls, and
// kubeconfigs for ServiceAccount tokens.

/// Builds (once per process) the workspace's binaries `toolyard-operator` and `toolyard-gateway`
/// with the cargo that runs the tests, and returns the path of `name` in the target directory.
pub fn workspace_binary(name: &str) -> Result<PathBuf> {
    static BUILT: std::sync::OnceLock<std::result::Result<PathBuf, String>> =
        std::sync::OnceLock::new();
    let dir = BUILT
        .get_or_init(|| {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let out = Command::new(cargo)
                .current_dir(repo_root())
                .args([
                    "build",
                    "--bins",
                    "-p",
                    "toolyard-operator",
                    "-p",
                    "toolyard-gateway",
                    "--message-format=json",
                ])
                .stderr(std::process::Stdio::inherit())
                .output()
                .map_err(|e| format!("running cargo build: {e}"))?;
            if !out.status.success() {
                return Err("cargo build of the operator and gateway binaries failed".to_string());
            }
            // The directory of the binaries, from cargo's own `compiler-artifact` messages.
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find_map(|m| {
                    m["executable"]
                        .as_str()
                        .map(|p| Path::new(p).parent().map(Path::to_path_buf))
                })
                .flatten()
                .ok_or_else(|| "cargo build reported no executable".to_string())
        })
        .clone()
        .map_err(|e| anyhow!(e))?;
    let path = dir.join(name);
    if !path.is_file() {
        bail!("{} was not built", path.display());
    }
    Ok(path)
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A child process killed when dropped; its output goes to a log file.
pub struct LocalProcess {
    /// What it is, for messages.
    pub name: String,
    /// The process (behind a lock, so checks work from `&self` in polling closures).
    pub child: std::sync::Mutex<std::process::Child>,
    /// Its combined stdout and stderr.
    pub log: PathBuf,
}

impl LocalProcess {
    /// Starts `program args…` with `env`, logging to a temporary file.
    pub fn start(name: &str, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Self> {
        let log = std::env::temp_dir().join(format!("{}.log", unique_name(name)));
        let file = std::fs::File::create(&log)?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdout(file.try_clone()?)
            .stderr(file)
            .stdin(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        Ok(Self {
            name: name.to_string(),
            child: std::sync::Mutex::new(child),
            log,
        })
    }

    /// The log so far (last 4000 characters), for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        let start = (start..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(text.len());
        text[start..].to_string()
    }

    /// Fails if the process has exited.
    pub fn check_running(&self) -> Result<()> {
        let status = self
            .child
            .lock()
            .map_err(|_| anyhow!("lock poisoned"))?
            .try_wait()?;
        if let Some(status) = status {
            bail!("{} exited with {status}:\n{}", self.name, self.log_tail());
        }
        Ok(())
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit.
    pub fn terminate(&self, timeout: Duration) -> Result<()> {
        let mut child = self.child.lock().map_err(|_| anyhow!("lock poisoned"))?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < timeout {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        bail!("{} did not exit within {timeout:?} of SIGTERM", self.name)
    }
}

impl Drop for LocalProcess {
    fn drop(&mut self) {
        if let Ok(child) = self.child.get_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One HTTP/1.1 POST of a JSON body to `http://addr{path}`; returns the status and body.
pub async fn http_post_json(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Result<(u16, String)> {
    let body = body.to_string();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    http_exchange(addr, &req).await
}

/// [`http_post_json`], also returning the response's header lines (names lower-cased).
pub async fn http_post_json_with_headers(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Result<(u16, Vec<(String, String)>, String)> {
    let body = body.to_string();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    let (status, head, body) = http_exchange_full(addr, &req).await?;
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok((status, headers, body))
}

/// `GET http://{addr}{path}` → (status, body).
pub async fn http_get(addr: &str, path: &str) -> Result<(u16, String)> {
    http_exchange(
        addr,
        &format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"),
    )
    .await
}

/// Sends one raw HTTP/1.1 request and reads the response to the end.
async fn http_exchange(addr: &str, req: &str) -> Result<(u16, String)> {
    let (status, _, body) = http_exchange_full(addr, req).await?;
    Ok((status, body))
}

/// [`http_exchange`] with the response head (status line and headers).
async fn http_exchange_full(addr: &str, req: &str) -> Result<(u16, String, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("malformed HTTP response: {text}"))?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("no status in {head}"))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok((status, head.to_string(), body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// What the gateway answered to one MCP request.
#[derive(Debug)]
pub struct McpAnswer {
    pub status: u16,
    pub www_authenticate: Option<String>,
    pub body: String,
}

impl McpAnswer {
    /// The JSON-RPC message of the body (plain JSON or the last SSE `data:` line).
    pub fn json(&self) -> Result<Value> {
        let text = if self.body.trim_start().starts_with('{') {
            self.body.clone()
        } else {
            self.body
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("data:"))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        serde_json::from_str(&text).with_context(|| format!("HTTP {}: {}", self.status, self.body))
    }
}

/// One stateless MCP 2026-07-28 request to `addr` (`/mcp`) with `Authorization: Bearer <token>` (none if `None`).
pub async fn mcp_as(
    addr: &str,
    token: Option<&str>,
    method: &str,
    mut params: Value,
) -> Result<McpAnswer> {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "toolyard-e2e", "version": "1"},
    });
    let name = params["name"].as_str().unwrap_or_default().to_string();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", method),
    ];
    if method == "tools/call" {
        headers.push(("mcp-name", name.as_str()));
    }
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_str()));
    }
    let (status, response_headers, body) =
        http_post_json_with_headers(addr, "/mcp", &headers, &body).await?;
    let www_authenticate = response_headers
        .into_iter()
        .find(|(k, _)| k == "www-authenticate")
        .map(|(_, v)| v);
    Ok(McpAnswer {
        status,
        www_authenticate,
        body,
    })
}

/// A stateless MCP 2026-07-28 request (one POST, no session); returns the JSON-RPC `result`.
pub async fn mcp_request(addr: &str, method: &str, mut params: Value) -> Result<Value> {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "toolyard-e2e", "version": "1"},
    });
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let name = params["name"].as_str().unwrap_or_default().to_string();
    let mut headers = vec![
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", method),
    ];
    // 2026-07-28 requires `Mcp-Name` on the methods that name a tool, prompt or resource.
    if method == "tools/call" {
        headers.push(("mcp-name", name.as_str()));
    }
    let (status, text) = http_post_json(addr, "/mcp", &headers, &body).await?;
    // A server may answer in SSE framing; take the last `data:` line then.
    let json_text = if text.trim_start().starts_with('{') {
        text.clone()
    } else {
        text.lines()
            .rev()
            .find_map(|l| l.strip_prefix("data:"))
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let value: Value =
        serde_json::from_str(&json_text).with_context(|| format!("HTTP {status}: {text}"))?;
    if let Some(err) = value.get("error") {
        bail!("{method} failed (HTTP {status}): {err}");
    }
    Ok(value["result"].clone())
}

/// Every tool name `tools/list` returns (following `nextCursor`).
pub async fn mcp_tool_names(addr: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let result = mcp_request(addr, "tools/list", params).await?;
        for t in result["tools"].as_array().into_iter().flatten() {
            names.extend(t["name"].as_str().map(String::from));
        }
        cursor = result["nextCursor"].as_str().map(String::from);
        if cursor.is_none() {
            break;
        }
    }
    Ok(names)
}

/// A kubeconfig file for `token` against the cluster of the admin `KUBECONFIG`, in `namespace`.
pub fn kubeconfig_for_token(token: &str, namespace: &str) -> Result<PathBuf> {
    let admin = std::env::var("KUBECONFIG").context("KUBECONFIG is not set")?;
    let text = std::fs::read_to_string(&admin)?;
    let admin: Value = serde_yaml::from_str(&text)?;
    let cluster = admin["clusters"][0]["cluster"].clone();
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "testcluster", "cluster": cluster}],
        "users": [{"name": "token", "user": {"token": token}}],
        "contexts": [{"name": "testcluster", "context": {"cluster": "testcluster", "user": "token", "namespace": namespace}}],
        "current-context": "testcluster",
    });
    let path = std::env::temp_dir().join(format!("{}.kubeconfig", unique_name("sa")));
    std::fs::write(&path, serde_yaml::to_string(&config)?)?;
    Ok(path)
}

/// Percentile (0-100) of a sample, by nearest rank.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

// ---------------------------------------------------------------------------------------------
// Tool calls and a recording backend.

/// A stateless MCP 2026-07-28 `tools/call` of `name` with `arguments` (one POST with the
/// `mcp-method` and `mcp-name` headers, as in the README's curl lines); returns the JSON-RPC
/// `result` (a tool error is a result with `isError: true`, not an `Err`).
pub async fn mcp_tool_call(addr: &str, name: &str, arguments: Value) -> Result<Value> {
    mcp_request(
        addr,
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    )
    .await
}

/// The text of every `text` content block of a `tools/call` result, joined by newlines.
pub fn tool_result_text(result: &Value) -> String {
    result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A tiny HTTP backend on 127.0.0.1 that answers every request with `200 {"ok":true}` and records
/// each request line (`GET /path?query HTTP/1.1`). Stops when dropped.
pub struct RecordingBackend {
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// The request lines received so far, oldest first.
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RecordingBackend {
    /// Binds a free port and starts serving on the current tokio runtime.
    pub async fn start() -> Result<Self> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    // Read the head (no request bodies are expected: GET only).
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).into_owned();
                    if let Some(line) = head.lines().next()
                        && let Ok(mut r) = recorded.lock()
                    {
                        r.push(line.to_string());
                    }
                    let body = r#"{"ok":true}"#;
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Ok(Self {
            addr,
            requests,
            task,
        })
    }

    /// The last request line received, if any.
    pub fn last_request(&self) -> Option<String> {
        self.requests.lock().ok().and_then(|r| r.last().cloned())
    }
}

impl Drop for RecordingBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// The operator as a local process.

/// Starts the workspace's `toolyard-operator` with the admin `KUBECONFIG`, watching only `ns`,
/// with leader election on a Lease in `ns` under `identity`, logging at `rust_log`.
pub fn start_operator(ns: &str, identity: &str, rust_log: &str) -> Result<OperatorProcess> {
    let kubeconfig = std::env::var("KUBECONFIG").context("KUBECONFIG is not set")?;
    let admin = format!("127.0.0.1:{}", free_port()?);
    let process = LocalProcess::start(
        identity,
        &workspace_binary("toolyard-operator")?,
        &[
            "--namespace",
            ns,
            "--leader-elect",
            "--lease-namespace",
            ns,
            "--identity",
            identity,
            "--gateway-image",
            "toolyard-gateway:e2e",
            "--admin-addr",
            &admin,
        ],
        &[("KUBECONFIG", kubeconfig.as_str()), ("RUST_LOG", rust_log)],
    )?;
    Ok(OperatorProcess { process, admin })
}

/// An operator process and the address of its admin endpoints.
pub struct OperatorProcess {
    /// The process.
    pub process: LocalProcess,
    /// `host:port` of `/healthz`, `/readyz`, `/metrics`.
    pub admin: String,
}

impl std::ops::Deref for OperatorProcess {
    type Target = LocalProcess;
    fn deref(&self) -> &LocalProcess {
        &self.process
    }
}

impl OperatorProcess {
    /// Waits for the object `name` the operator creates (children appear one after another in a
    /// reconcile, so one being there says nothing of the next); fails early if the operator
    /// exits, and with its log tail on a timeout.
    pub async fn wait_for_object<K>(&self, api: &Api<K>, name: &str, timeout: Duration) -> Result<K>
    where
        K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        wait_for(&format!("{} {name}", K::kind(&())), timeout, || async {
            self.check_running()?;
            Ok(api.get_opt(name).await?)
        })
        .await
        .with_context(|| self.log_tail())
    }

    /// The value of an unlabelled metric (or a labelled one, written with its labels, e.g.
    /// `toolyard_operator_reconciles_total{result="ok"}`) from `/metrics`; 0 when absent.
    pub async fn metric(&self, series: &str) -> Result<f64> {
        let (status, text) = http_get(&self.admin, "/metrics").await?;
        anyhow::ensure!(status == 200, "/metrics answered {status}: {text}");
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0))
    }
}

impl LocalProcess {
    /// The process id.
    pub fn pid(&self) -> Result<u32> {
        Ok(self
            .child
            .lock()
            .map_err(|_| anyhow!("lock poisoned"))?
            .id())
    }

    /// A field of `/proc/<pid>/status` in KiB, e.g. `VmHWM` (peak resident set) or `VmRSS`.
    pub fn proc_status_kib(&self, field: &str) -> Result<u64> {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?))?;
        text.lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .with_context(|| format!("no {field} in /proc/<pid>/status"))
    }
}

/// The selector of Gateway `gateway`'s pods.
pub fn gateway_pod_selector(gateway: &str) -> String {
    format!("app.kubernetes.io/name=toolyard-gateway,app.kubernetes.io/instance={gateway}")
}

/// Waits until Gateway `gateway`'s Deployment has `count` pods that are not being deleted
/// (created by kube-controller-manager; Pending, since the test cluster has no kubelet) and
/// returns their names, sorted.
pub async fn gateway_pods(
    client: &Client,
    namespace: &str,
    gateway: &str,
    count: usize,
) -> Result<Vec<String>> {
    use k8s_openapi::api::core::v1::Pod;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let selector = gateway_pod_selector(gateway);
    wait_for(
        &format!("{count} pod(s) of Gateway {gateway}'s Deployment"),
        WAIT,
        || async {
            let mut names: Vec<String> = pods
                .list(&kube::api::ListParams::default().labels(&selector))
                .await?
                .items
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .filter_map(|p| p.metadata.name)
                .collect();
            names.sort();
            Ok((names.len() == count).then_some(names))
        },
    )
    .await
}

/// Sets a pod's status as its kubelet would (the test cluster has none), through the status
/// subresource: phase `Running` and condition `Ready` = `ready`.
pub async fn mark_pod(client: &Client, namespace: &str, pod: &str, ready: bool) -> Result<()> {
    let status = if ready { "True" } else { "False" };
    set_pod_status(
        client,
        namespace,
        pod,
        json!({
            "phase": "Running",
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": status},
                {"type": "ContainersReady", "status": status},
            ],
        }),
    )
    .await
}

/// Replaces the given fields of a pod's status (merge patch of the status subresource).
pub async fn set_pod_status(
    client: &Client,
    namespace: &str,
    pod: &str,
    status: Value,
) -> Result<()> {
    use k8s_openapi::api::core::v1::Pod;
    Api::<Pod>::namespaced(client.clone(), namespace)
        .patch_status(
            pod,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .with_context(|| format!("setting the status of pod {pod}"))?;
    Ok(())
}

/// Waits for Gateway `gateway`'s one pod, marks it Running and Ready, and returns its name:
/// a local gateway process started with `POD_NAME` set to it then counts as that replica.
pub async fn ready_gateway_pod(client: &Client, namespace: &str, gateway: &str) -> Result<String> {
    let names = gateway_pods(client, namespace, gateway, 1).await?;
    mark_pod(client, namespace, &names[0], true).await?;
    Ok(names[0].clone())
}

#[cfg(test)]
mod layers;

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
                    Some("ToolPolicy") => {
                        serde_json::from_value::<toolyard_crds::ToolPolicy>(doc).unwrap();
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
