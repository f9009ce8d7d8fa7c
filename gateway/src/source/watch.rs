//! Standalone mode: load the manifests, compile them with the same library the operator uses,
//! apply the result, and do it again whenever a file changes. Bursts of file events (an editor
//! saving, `cp -r`, a flood of changes) are coalesced into one reload.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use toolyard_crds::GatewayConfig;

use crate::admin::Metrics;
use crate::runtime::{ReloadError, Runtime};
use toolyard_compile::gateway::{CompileContext, TargetReport, compile};
use toolyard_compile::manifests::{Manifests, SecretValues};

/// Quiet period after the last file event before reloading.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// Longest a reload waits for a burst to end: under a flood of changes the served config is at
/// most about this much behind the files.
const MAX_DELAY: Duration = Duration::from_secs(1);

/// Loads and compiles the manifests under `path` for the Gateway named `gateway` (or the only one).
pub fn load(
    path: &Path,
    gateway: Option<&str>,
) -> Result<(GatewayConfig, SecretValues, Vec<TargetReport>), ReloadError> {
    let manifests = Manifests::load(path).map_err(|e| ReloadError::Source(e.to_string()))?;
    let chosen = match gateway {
        Some(name) => manifests
            .gateways
            .iter()
            .find(|g| g.metadata.name.as_deref() == Some(name))
            .ok_or_else(|| {
                ReloadError::Source(format!("no Gateway named {name:?} in {}", path.display()))
            })?,
        None => match manifests.gateways.as_slice() {
            [only] => only,
            [] => {
                return Err(ReloadError::Source(format!(
                    "no Gateway manifest (kind: Gateway, apiVersion: toolyard.dev/v1alpha1) in {}",
                    path.display()
                )));
            }
            many => {
                let names: Vec<&str> = many
                    .iter()
                    .filter_map(|g| g.metadata.name.as_deref())
                    .collect();
                return Err(ReloadError::Source(format!(
                    "several Gateways in {} ({}); choose one with --gateway",
                    path.display(),
                    names.join(", ")
                )));
            }
        },
    };
    // Schema URLs are fetched as the operator fetches them (same limits), on every load.
    let mut refs = manifests.resolved_refs();
    let fetched = super::fetch::fetch_all(&super::fetch::schema_urls(&manifests.targets));
    refs.urls = fetched.texts;
    refs.url_errors = fetched.errors;
    let compiled = compile(
        chosen,
        &manifests.targets,
        &refs,
        &CompileContext::default(),
    )
    .map_err(|e| {
        ReloadError::Source(format!(
            "Gateway {}: {e}",
            chosen.metadata.name.as_deref().unwrap_or_default()
        ))
    })?;
    let mut config = compiled.config;
    // Standalone there is no status to keep the last accepted policies in: a bad policy fails
    // the load, and the gateway keeps serving its last good config (policies included).
    for report in toolyard_compile::policy::attach(&mut config, &manifests.policies) {
        if let Err(e) = report.outcome {
            return Err(ReloadError::Source(format!(
                "ToolPolicy {}: {e}; fix it (the gateway keeps serving its last good config)",
                report.name
            )));
        }
    }
    Ok((config, manifests.secrets, compiled.targets))
}

/// Loads, compiles and applies once, logging the outcome per target.
pub fn reload_once(
    runtime: &Runtime,
    metrics: &Metrics,
    path: &Path,
    gateway: Option<&str>,
) -> Result<u64, ReloadError> {
    let result = load(path, gateway).and_then(|(config, secrets, reports)| {
        for report in &reports {
            match &report.outcome {
                Ok(summary) => {
                    for warning in &summary.warnings {
                        tracing::warn!(target_name = %report.name, "{warning}");
                    }
                }
                Err(e) => tracing::warn!(target_name = %report.name, reason = e.reason, field = %e.field, "target left out: {}", e.message),
            }
        }
        let tools = config.tool_count();
        let revision = config.revision.clone();
        let generation = runtime.apply(config, &secrets)?;
        tracing::info!(generation, %revision, tools, "config applied");
        Ok(generation)
    });
    match &result {
        Ok(generation) => {
            let tools = runtime.snapshot().map_or(0, |s| s.tools.len());
            metrics.record_reload(true, *generation, tools);
        }
        Err(e) => {
            if matches!(e, ReloadError::Source(_)) {
                runtime.record_failure(e);
            }
            metrics.record_reload(false, 0, 0);
            tracing::error!(error = %e, "config refused; the previous config keeps serving");
        }
    }
    result
}

/// Watches `path` and reloads on change until the process ends.
pub async fn watch(
    runtime: Arc<Runtime>,
    metrics: Arc<Metrics>,
    path: PathBuf,
    gateway: Option<String>,
) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(e) = event
            && !matches!(e.kind, notify::EventKind::Access(_))
        {
            let _ = tx.send(());
        }
    })?;
    // Watch the folder (or the file's folder): editors replace files, which drops a file watch.
    let watched = if path.is_dir() {
        path.clone()
    } else {
        path.parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    };
    watcher.watch(&watched, RecursiveMode::Recursive)?;
    while rx.recv().await.is_some() {
        // Coalesce: wait until the events stop for DEBOUNCE, but no longer than MAX_DELAY after
        // the first one, so a continuous stream of changes still reloads about once a second.
        let first = tokio::time::Instant::now();
        loop {
            let wait = DEBOUNCE
                .min((first + MAX_DELAY).saturating_duration_since(tokio::time::Instant::now()));
            match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(())) if first.elapsed() < MAX_DELAY => continue,
                Ok(Some(())) => break,
                Ok(None) => return Ok(()),
                Err(_) => break,
            }
        }
        let (runtime, metrics, path, gateway) = (
            runtime.clone(),
            metrics.clone(),
            path.clone(),
            gateway.clone(),
        );
        let _ = tokio::task::spawn_blocking(move || {
            reload_once(&runtime, &metrics, &path, gateway.as_deref())
        })
        .await;
    }
    Ok(())
}
