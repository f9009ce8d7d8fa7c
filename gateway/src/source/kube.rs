//! In-cluster mode: the gateway watches its own config ConfigMap and credentials Secret through
//! the API (watch requests with a `metadata.name` field selector, which is all its Role allows),
//! not through a kubelet volume, whose sync takes up to a minute or two.
//!
//! Each change is decoded (JSON under `config.json`, or gzip under `binaryData.config.json.gz`),
//! paired with the Secret's values and applied with [`Runtime::apply`] — the same validated,
//! atomic swap as standalone mode. A config that does not decode or build is refused and the last
//! good one keeps serving; so it does while the API server is unreachable (the watches retry
//! with backoff).
//!
//! **Served revision.** After a successful swap, each replica writes the revision it serves into
//! its own annotation `served.toolyard.dev/<pod name>` of the ConfigMap (server-side apply with a
//! field manager of its own, which owns nothing else; see [`toolyard_crds::served`]). The
//! operator watches that ConfigMap and sets the Gateway's `Programmed` condition when every
//! running replica serves the revision it compiled. The same report carries the sync results
//! of the replica's `mcpServer` targets ([`super::report`]), which become the GatewayTargets'
//! `lastSynchronized`, `lastSyncError` and `Synchronized` condition.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use sha2::{Digest, Sha256};
use toolyard_crds::GatewayConfig;

use super::report::Observed;
use crate::admin::Metrics;
use crate::runtime::{ReloadError, Runtime};
use toolyard_compile::manifests::{SecretValue, SecretValues};

/// Key of the JSON config in the ConfigMap's `data`.
pub const CONFIG_KEY: &str = "config.json";
/// Key of the gzipped JSON config in the ConfigMap's `binaryData`.
pub const CONFIG_GZ_KEY: &str = "config.json.gz";
/// Largest decompressed config accepted (a gzip bomb must not exhaust memory): well above the
/// most the operator writes (16 parts of 900 KiB gzip, about 100 MiB of JSON).
const MAX_CONFIG_BYTES: u64 = 256 << 20;

/// Which objects to watch.
#[derive(Clone, Debug)]
pub struct KubeSource {
    /// Namespace of both objects.
    pub namespace: String,
    /// The config ConfigMap.
    pub config_map: String,
    /// The credentials Secret.
    pub secret: String,
    /// This replica's name (the pod name), under which it reports the revision it serves.
    pub replica: String,
}

/// The last seen state of one watched object.
#[derive(Debug)]
struct Watched<K> {
    /// The object, `None` when it does not exist.
    current: Option<K>,
    /// Objects received during a re-list, swapped in at `InitDone`.
    relisting: Option<Option<K>>,
    /// The first list completed.
    ready: bool,
}

impl<K> Default for Watched<K> {
    fn default() -> Self {
        Self {
            current: None,
            relisting: None,
            ready: false,
        }
    }
}

impl<K> Watched<K> {
    fn update(&mut self, event: watcher::Event<K>) {
        match event {
            watcher::Event::Apply(o) => self.current = Some(o),
            watcher::Event::Delete(_) => self.current = None,
            watcher::Event::Init => self.relisting = Some(None),
            watcher::Event::InitApply(o) => self.relisting = Some(Some(o)),
            watcher::Event::InitDone => {
                self.current = self.relisting.take().flatten();
                self.ready = true;
            }
        }
    }
}

enum Input {
    ConfigMap(Result<watcher::Event<ConfigMap>, watcher::Error>),
    Secret(Result<watcher::Event<Secret>, watcher::Error>),
}

/// Loads the config a ConfigMap holds, reading its parts first when it holds a manifest of parts
/// (see [`toolyard_crds::shards`]). A part that is missing or does not match is read again a few
/// times: the operator may still be writing a newer config.
async fn load_config(api: &Api<ConfigMap>, cm: &ConfigMap) -> Result<GatewayConfig, ReloadError> {
    use toolyard_crds::shards::{MANIFEST_KEY, PART_KEY, ShardManifest, assemble};
    let name = cm.metadata.name.as_deref().unwrap_or_default();
    let Some(manifest) = cm.data.as_ref().and_then(|d| d.get(MANIFEST_KEY)) else {
        return decode_config(cm);
    };
    let manifest: ShardManifest = serde_json::from_str(manifest).map_err(|e| {
        ReloadError::Source(format!(
            "ConfigMap {name}: {MANIFEST_KEY} is not a manifest: {e}"
        ))
    })?;
    let mut last_error = String::new();
    for attempt in 0..5 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
        }
        let mut parts: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for p in &manifest.parts {
            match api.get_opt(&p.name).await {
                Ok(Some(part)) => {
                    if let Some(bytes) = part.binary_data.and_then(|mut d| d.remove(PART_KEY)) {
                        parts.insert(p.name.clone(), bytes.0);
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(ReloadError::Source(format!(
                        "ConfigMap {name}: reading config part {}: {e}",
                        p.name
                    )));
                }
            }
        }
        match assemble(&manifest, |n| parts.get(n).map(Vec::as_slice)) {
            Ok(gz) => return decode_gzip_config(name, &gz, "the assembled parts"),
            Err(e) => last_error = e.to_string(),
        }
    }
    Err(ReloadError::Source(format!(
        "ConfigMap {name}: {last_error} (revision {}); keeping the current config",
        manifest.revision
    )))
}

fn decode_gzip_config(name: &str, gz: &[u8], what: &str) -> Result<GatewayConfig, ReloadError> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz)
        .take(MAX_CONFIG_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| {
            ReloadError::Source(format!("ConfigMap {name}: {what}: not gzipped UTF-8: {e}"))
        })?;
    parse_config(name, what, &text)
}

fn parse_config(name: &str, key: &str, text: &str) -> Result<GatewayConfig, ReloadError> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        ReloadError::Source(format!(
            "ConfigMap {name}: {key}: {}: {}",
            e.path(),
            e.inner()
        ))
    })
}

/// Decodes the config a ConfigMap holds (JSON, or gzipped JSON in `binaryData`).
pub fn decode_config(cm: &ConfigMap) -> Result<GatewayConfig, ReloadError> {
    let name = cm.metadata.name.as_deref().unwrap_or_default();
    if let Some(text) = cm.data.as_ref().and_then(|d| d.get(CONFIG_KEY)) {
        parse_config(name, CONFIG_KEY, text)
    } else if let Some(gz) = cm.binary_data.as_ref().and_then(|d| d.get(CONFIG_GZ_KEY)) {
        decode_gzip_config(name, &gz.0, &format!("binaryData.{CONFIG_GZ_KEY}"))
    } else {
        Err(ReloadError::Source(format!(
            "ConfigMap {name}: no {CONFIG_KEY} in data nor {CONFIG_GZ_KEY} in binaryData"
        )))
    }
}

/// The values of a Secret, keyed as the config refers to them: `(secret name, key)`.
pub fn secret_values(secret: Option<&Secret>) -> SecretValues {
    let Some(secret) = secret else {
        return SecretValues::new();
    };
    let name = secret.metadata.name.clone().unwrap_or_default();
    let mut out: SecretValues = BTreeMap::new();
    for (key, value) in secret.data.iter().flatten() {
        out.insert(
            (name.clone(), key.clone()),
            SecretValue(String::from_utf8_lossy(&value.0).into_owned()),
        );
    }
    out
}

/// A digest of secret values, kept in memory only, to notice rotations.
fn digest(values: &SecretValues) -> [u8; 32] {
    let mut h = Sha256::new();
    for ((secret, key), value) in values {
        for part in [secret.as_bytes(), key.as_bytes(), value.0.as_bytes()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
    }
    h.finalize().into()
}

/// Watches the ConfigMap and Secret and applies every change until the process ends.
pub async fn watch(
    runtime: Arc<Runtime>,
    metrics: Arc<Metrics>,
    client: Client,
    source: KubeSource,
) -> anyhow::Result<()> {
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &source.namespace);
    let secrets: Api<Secret> = Api::namespaced(client, &source.namespace);
    let by_name = |name: &str| watcher::Config::default().fields(&format!("metadata.name={name}"));
    let cm_events = watcher(config_maps.clone(), by_name(&source.config_map))
        .default_backoff()
        .map(Input::ConfigMap)
        .boxed();
    let secret_events = watcher(secrets, by_name(&source.secret))
        .default_backoff()
        .map(Input::Secret)
        .boxed();
    let mut events = futures::stream::select(cm_events, secret_events);
    // The reporter writes the served revision and upstream sync results; it ends when `report`
    // is dropped with this function.
    let (report, observations) = tokio::sync::watch::channel(Observed::default());
    tokio::spawn(super::report::run(
        runtime.clone(),
        config_maps.clone(),
        source.replica.clone(),
        observations,
    ));

    let mut config_map = Watched::<ConfigMap>::default();
    let mut secret = Watched::<Secret>::default();
    // The last (revision, secrets digest) tried, and the revision being served.
    let mut attempted: Option<(String, [u8; 32])> = None;
    let mut served: Option<String> = None;
    while let Some(first) = events.next().await {
        // Take every event already queued, so a burst becomes one reload.
        let mut batch = vec![first];
        while let Some(Some(more)) = futures::FutureExt::now_or_never(events.next()) {
            batch.push(more);
        }
        for input in batch {
            match input {
                Input::ConfigMap(Ok(e)) => config_map.update(e),
                Input::Secret(Ok(e)) => secret.update(e),
                Input::ConfigMap(Err(e)) | Input::Secret(Err(e)) => {
                    tracing::warn!(error = %e, "watching the config failed; the current config keeps serving while the watch retries");
                }
            }
        }
        if !(config_map.ready && secret.ready) {
            continue;
        }
        let Some(cm) = &config_map.current else {
            if served.is_some() {
                tracing::warn!(config_map = %source.config_map, "the config ConfigMap is gone; the current config keeps serving");
            }
            continue;
        };
        let values = secret_values(secret.current.as_ref());
        let config = match load_config(&config_maps, cm).await {
            Ok(c) => c,
            Err(e) => {
                runtime.record_failure(&e);
                metrics.record_reload(false, 0, 0);
                tracing::error!(error = %e, "config refused; the previous config keeps serving");
                continue;
            }
        };
        let key = (config.revision.clone(), digest(&values));
        if attempted.as_ref() == Some(&key) {
            // Nothing new (e.g. our own annotation, or a resync).
            report.send_replace(observed(cm, &source.replica, served.as_deref()));
            continue;
        }
        attempted = Some(key);
        let revision = config.revision.clone();
        let tools = config.tool_count();
        let rt = runtime.clone();
        let result = tokio::task::spawn_blocking(move || rt.apply(config, &values)).await;
        match result {
            Ok(Ok(generation)) => {
                metrics.record_reload(
                    true,
                    generation,
                    runtime.snapshot().map_or(0, |s| s.tools.len()),
                );
                tracing::info!(generation, %revision, tools, "config applied");
                served = Some(revision);
            }
            Ok(Err(e)) => {
                metrics.record_reload(false, 0, 0);
                tracing::error!(%revision, error = %e, "config refused; the previous config keeps serving");
            }
            Err(e) => {
                tracing::error!(error = %e, "config build panicked; the previous config keeps serving")
            }
        }
        report.send_replace(observed(cm, &source.replica, served.as_deref()));
    }
    Ok(())
}

/// What the watch saw, for the reporter: the served revision and this replica's annotations.
fn observed(cm: &ConfigMap, replica: &str, served: Option<&str>) -> Observed {
    let annotation = |key: String| {
        cm.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(&key))
            .cloned()
    };
    Observed {
        served: served.map(str::to_string),
        config_map: cm.metadata.name.clone().unwrap_or_default(),
        served_annotation: annotation(toolyard_crds::served::served_annotation_key(replica)),
        sync_annotation: annotation(toolyard_crds::served::sync_annotation_key(replica)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use std::io::Write;

    fn cm(data: Option<(&str, &str)>, gz: Option<Vec<u8>>) -> ConfigMap {
        ConfigMap {
            metadata: kube::api::ObjectMeta {
                name: Some("gw-toolyard-config".into()),
                ..Default::default()
            },
            data: data.map(|(k, v)| BTreeMap::from([(k.to_string(), v.to_string())])),
            binary_data: gz.map(|b| BTreeMap::from([(CONFIG_GZ_KEY.to_string(), ByteString(b))])),
            ..Default::default()
        }
    }

    #[test]
    fn a_bad_config_names_the_field() {
        let err = decode_config(&cm(Some((CONFIG_KEY, r#"{"version": 3}"#)), None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("config.json: version"), "{err}");
        let err = decode_config(&cm(None, None)).unwrap_err().to_string();
        assert!(err.contains("no config.json"), "{err}");
    }

    #[test]
    fn gzipped_configs_decode_like_plain_ones() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(br#"{"version": 3}"#).unwrap();
        let err = decode_config(&cm(None, Some(enc.finish().unwrap())))
            .unwrap_err()
            .to_string();
        assert!(err.contains("config.json.gz: version"), "{err}");
        let err = decode_config(&cm(None, Some(b"not gzip".to_vec())))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not gzipped"), "{err}");
    }

    #[test]
    fn secret_values_are_keyed_by_secret_and_key_and_digest_changes_on_rotation() {
        let mut s = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("gw-toolyard-credentials".into()),
                ..Default::default()
            },
            data: Some(BTreeMap::from([(
                "users-key.token".to_string(),
                ByteString(b"one".to_vec()),
            )])),
            ..Default::default()
        };
        let v1 = secret_values(Some(&s));
        assert_eq!(
            v1[&("gw-toolyard-credentials".into(), "users-key.token".into())].0,
            "one"
        );
        s.data = Some(BTreeMap::from([(
            "users-key.token".to_string(),
            ByteString(b"two".to_vec()),
        )]));
        assert_ne!(digest(&v1), digest(&secret_values(Some(&s))));
        assert!(secret_values(None).is_empty());
    }

    #[test]
    fn relists_replace_the_object() {
        let mut w = Watched::<u32>::default();
        w.update(watcher::Event::Init);
        w.update(watcher::Event::InitApply(1));
        assert!(!w.ready);
        w.update(watcher::Event::InitDone);
        assert_eq!((w.current, w.ready), (Some(1), true));
        w.update(watcher::Event::Init);
        w.update(watcher::Event::InitDone);
        assert_eq!(w.current, None);
    }
}
