//! Dereference: everything a Gateway's compile needs from the API server — its GatewayTargets (from
//! the controller's cache) and the ConfigMap keys and Secret keys they reference. The only step of
//! the pipeline that reads the API besides apply; what it returns is plain data.
//!
//! Schema URLs (`schema.url`) are fetched here on every reconcile, with a time and size limit; a URL
//! that cannot be fetched is reported on its target (`UrlNotFetched` with the reason) while the
//! other targets compile.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, Client};
use toolyard_compile::gateway::ResolvedRefs;
use toolyard_crds::refs::SchemaSource;
use toolyard_crds::target::ToolSchemaSource;
use toolyard_crds::{GatewaySpec, GatewayTargetSpec};

/// Why the referenced objects could not be read (transient: retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a ConfigMap or Secret failed (not a 404: a missing object is reported in status).
    #[error("failed to read {kind} {namespace}/{name}")]
    Read {
        /// `ConfigMap` or `Secret`.
        kind: &'static str,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// The ConfigMap keys, Secret keys and URLs one object references, all in its namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct References {
    /// `(ConfigMap name, key)`.
    pub config_maps: BTreeSet<(String, String)>,
    /// `(Secret name, key)`.
    pub secrets: BTreeSet<(String, String)>,
    /// Schema URLs.
    pub urls: BTreeSet<String>,
}

impl References {
    fn schema(&mut self, s: &SchemaSource) {
        if let Some(cm) = &s.config_map_ref {
            self.config_maps.insert((cm.name.clone(), cm.key.clone()));
        }
        if let Some(url) = &s.url {
            self.urls.insert(url.clone());
        }
    }

    fn tool_schema(&mut self, s: &ToolSchemaSource) {
        if let Some(cm) = &s.config_map_ref {
            self.config_maps.insert((cm.name.clone(), cm.key.clone()));
        }
    }

    fn secret(&mut self, r: &toolyard_crds::refs::SecretKeyRef) {
        self.secrets.insert((r.name.clone(), r.key.clone()));
    }

    /// Whether a ConfigMap named `name` is referenced.
    pub fn uses_config_map(&self, name: &str) -> bool {
        self.config_maps.iter().any(|(n, _)| n == name)
    }

    /// Whether a Secret named `name` is referenced.
    pub fn uses_secret(&self, name: &str) -> bool {
        self.secrets.iter().any(|(n, _)| n == name)
    }
}

/// What a GatewayTarget references.
pub fn target_references(spec: &GatewayTargetSpec) -> References {
    let mut r = References::default();
    if let Some(o) = &spec.open_api {
        r.schema(&o.schema);
    }
    if let Some(s) = &spec.smithy {
        r.schema(&s.schema);
    }
    if let Some(l) = &spec.lambda {
        r.tool_schema(&l.tool_schema);
    }
    if let Some(ts) = spec
        .mcp_server
        .as_ref()
        .and_then(|m| m.tool_schema.as_ref())
    {
        r.tool_schema(ts);
    }
    if let Some(c) = &spec.credentials {
        if let Some(k) = &c.api_key {
            r.secret(&k.secret_ref);
        }
        if let Some(o) = &c.oauth2 {
            r.secret(&o.client_secret_ref);
            if let Some(id) = &o.client_id_ref {
                r.secret(id);
            }
        }
    }
    r
}

/// What a Gateway references itself (the search embedding API key).
pub fn gateway_references(spec: &GatewaySpec) -> References {
    let mut r = References::default();
    if let Some(key) = spec
        .search
        .as_ref()
        .and_then(|s| s.embedding.as_ref())
        .and_then(|e| e.open_ai.as_ref())
        .and_then(|o| o.api_key_secret_ref.as_ref())
    {
        r.secret(key);
    }
    r
}

/// The contents of the references, read from the API.
#[derive(Debug, Default)]
pub struct Resolved {
    /// For the compiler (Secret keys that exist, no values).
    pub refs: ResolvedRefs,
    /// Secret values by `(name, key)`; only ever copied into the gateway's own Secret.
    pub secret_values: BTreeMap<(String, String), Vec<u8>>,
}

/// Reads every ConfigMap and Secret in `refs` from `namespace`. Missing objects or keys are left
/// out (the compiler reports them per target).
pub async fn resolve(
    client: &Client,
    http: &reqwest::Client,
    namespace: &str,
    refs: &References,
) -> Result<Resolved, Error> {
    let mut out = Resolved::default();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let names: BTreeSet<&String> = refs.config_maps.iter().map(|(n, _)| n).collect();
    for name in names {
        let cm = config_maps
            .get_opt(name)
            .await
            .map_err(|source| Error::Read {
                kind: "ConfigMap",
                namespace: namespace.into(),
                name: name.clone(),
                source,
            })?;
        let Some(cm) = cm else { continue };
        for (n, key) in refs.config_maps.iter().filter(|(n, _)| n == name) {
            if let Some(text) = config_map_text(&cm, key) {
                out.refs.config_maps.insert((n.clone(), key.clone()), text);
            }
        }
    }
    for url in &refs.urls {
        match fetch(http, url).await {
            Ok(text) => {
                out.refs.urls.insert(url.clone(), text);
            }
            Err(why) => {
                out.refs.url_errors.insert(url.clone(), why);
            }
        }
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let names: BTreeSet<&String> = refs.secrets.iter().map(|(n, _)| n).collect();
    for name in names {
        let secret = secrets.get_opt(name).await.map_err(|source| Error::Read {
            kind: "Secret",
            namespace: namespace.into(),
            name: name.clone(),
            source,
        })?;
        let Some(secret) = secret else { continue };
        for (n, key) in refs.secrets.iter().filter(|(n, _)| n == name) {
            let value = secret
                .data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|b| b.0.clone())
                .or_else(|| {
                    secret
                        .string_data
                        .as_ref()
                        .and_then(|d| d.get(key))
                        .map(|s| s.clone().into_bytes())
                });
            if let Some(value) = value {
                out.refs.secrets.insert((n.clone(), key.clone()));
                out.secret_values.insert((n.clone(), key.clone()), value);
            }
        }
    }
    Ok(out)
}

/// Limits shared with the standalone gateway's fetcher.
pub use toolyard_compile::fetch_limits::MAX_URL_BYTES;
use toolyard_compile::fetch_limits::{CONNECT_TIMEOUT, TIMEOUT};

/// The HTTP client for schema URLs: bounded time, no cookies, a recognizable user agent.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("toolyard-operator/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Fetches one schema document. The error is a short reason for the target's status (it never
/// contains credentials: schema URLs carry none).
async fn fetch(http: &reqwest::Client, url: &str) -> Result<String, String> {
    let response = http.get(url).send().await.map_err(|e| {
        if e.is_timeout() {
            "timed out".to_string()
        } else if e.is_connect() {
            "connection failed".to_string()
        } else {
            "request failed".to_string()
        }
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_URL_BYTES as u64)
    {
        return Err(format!("larger than {MAX_URL_BYTES} bytes"));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|_| "reading the body failed".to_string())?;
    if bytes.len() > MAX_URL_BYTES {
        return Err(format!("larger than {MAX_URL_BYTES} bytes"));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| "the document is not UTF-8 text".to_string())
}

/// The text under `key` of a ConfigMap: `data`, or `binaryData` (gunzipped when gzip).
pub fn config_map_text(cm: &ConfigMap, key: &str) -> Option<String> {
    if let Some(text) = cm.data.as_ref().and_then(|d| d.get(key)) {
        return Some(text.clone());
    }
    let bytes = &cm.binary_data.as_ref()?.get(key)?.0;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .take(64 << 20)
            .read_to_string(&mut out)
            .ok()?;
        Some(out)
    } else {
        String::from_utf8(bytes.clone()).ok()
    }
}

/// The credential values to copy into the gateway's Secret: every `(name, key)` in `used` that
/// was read, under `<name>.<key>` (the key the compiler points the config at).
pub fn credentials(
    used: &BTreeSet<(String, String)>,
    resolved: &Resolved,
) -> BTreeMap<String, Vec<u8>> {
    used.iter()
        .filter_map(|(n, k)| {
            resolved
                .secret_values
                .get(&(n.clone(), k.clone()))
                .map(|v| (format!("{n}.{k}"), v.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use toolyard_crds::GatewayTarget;

    #[test]
    fn collects_references_of_a_target() {
        let t: GatewayTarget = serde_yaml::from_str(
            r#"
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {name: users, namespace: ns}
spec:
  gatewayRef: {name: gw}
  openApi:
    schema: {configMapRef: {name: users-api, key: openapi.yaml}}
  credentials:
    oauth2:
      tokenUrl: https://idp.example.com/token
      clientIdRef: {name: idp, key: id}
      clientSecretRef: {name: idp, key: secret}
"#,
        )
        .unwrap();
        let r = target_references(&t.spec);
        assert!(r.uses_config_map("users-api"));
        assert!(r.uses_secret("idp"));
        assert!(!r.uses_secret("users-api"));
        assert_eq!(r.secrets.len(), 2);
    }

    #[test]
    fn reads_gzipped_binary_data() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"openapi: 3.0.0").unwrap();
        let cm = ConfigMap {
            binary_data: Some(BTreeMap::from([(
                "a".to_string(),
                k8s_openapi::ByteString(enc.finish().unwrap()),
            )])),
            ..Default::default()
        };
        assert_eq!(config_map_text(&cm, "a").as_deref(), Some("openapi: 3.0.0"));
        assert_eq!(config_map_text(&cm, "b"), None);
    }
}
