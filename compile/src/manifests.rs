//! Standalone mode's input: a folder (or file) of the same YAML manifests a user would
//! `kubectl apply` — Gateways, GatewayTargets, and the ConfigMaps and Secrets they reference.
//!
//! Parsing is strict about what matters (a Gateway or GatewayTarget that does not deserialize is
//! an error naming the file, document and field path) and lenient about the rest (other kinds are
//! ignored, so a folder shared with other manifests still loads).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use toolyard_crds::{Gateway, GatewayTarget, ToolPolicy};

use crate::gateway::ResolvedRefs;

/// A secret value; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(pub String);

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// Secret values by `(secret name, key)`.
pub type SecretValues = BTreeMap<(String, String), SecretValue>;

/// Everything loaded from the manifests.
#[derive(Debug, Default)]
pub struct Manifests {
    /// Gateways found.
    pub gateways: Vec<Gateway>,
    /// GatewayTargets found.
    pub targets: Vec<GatewayTarget>,
    /// ToolPolicies found (see `policy::attach`).
    pub policies: Vec<ToolPolicy>,
    /// ConfigMap data by `(name, key)`.
    pub config_maps: BTreeMap<(String, String), String>,
    /// Secret data by `(name, key)`.
    pub secrets: SecretValues,
}

/// Why the manifests could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A file could not be read.
    #[error("failed to read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A document is not YAML.
    #[error("{path}: document {doc} is not valid YAML: {message}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// 1-based document index in the file.
        doc: usize,
        /// Parser message with line and column.
        message: String,
    },
    /// A Gateway or GatewayTarget does not match the API.
    #[error("{path}: document {doc} ({object}): {field}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based document index.
        doc: usize,
        /// Kind and metadata.name, e.g. `GatewayTarget users`.
        object: String,
        /// Path of the bad field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A Secret's `data` value is not base64.
    #[error("{path}: Secret {name} key {key}: data is not valid base64")]
    Base64 {
        /// The file.
        path: PathBuf,
        /// Secret name.
        name: String,
        /// Key.
        key: String,
    },
}

impl Manifests {
    /// Loads every `*.yaml`/`*.yml`/`*.json` file of a folder (sorted by name, not recursive into
    /// hidden folders) or one file.
    pub fn load(path: &Path) -> Result<Manifests, ManifestError> {
        let mut files = Vec::new();
        collect_files(path, &mut files).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        files.sort();
        let mut out = Manifests::default();
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|source| ManifestError::Read {
                path: file.clone(),
                source,
            })?;
            out.add_text(&file, &text)?;
        }
        Ok(out)
    }

    /// Adds the documents of one YAML text (`path` is only used in messages).
    pub fn add_text(&mut self, path: &Path, text: &str) -> Result<(), ManifestError> {
        for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
            let doc_no = i + 1;
            let value = Value::deserialize(doc).map_err(|e| ManifestError::Yaml {
                path: path.to_path_buf(),
                doc: doc_no,
                message: e.to_string(),
            })?;
            if value.is_null() {
                continue;
            }
            self.add_value(path, doc_no, value)?;
        }
        Ok(())
    }

    fn add_value(&mut self, path: &Path, doc: usize, value: Value) -> Result<(), ManifestError> {
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let invalid = |e: serde_path_to_error::Error<serde_json::Error>| ManifestError::Invalid {
            path: path.to_path_buf(),
            doc,
            object: format!("{kind} {name}"),
            field: e.path().to_string(),
            message: e.inner().to_string(),
        };
        match (api_version, kind.as_str()) {
            ("toolyard.dev/v1alpha1", "Gateway") => {
                self.gateways
                    .push(serde_path_to_error::deserialize(value).map_err(invalid)?);
            }
            ("toolyard.dev/v1alpha1", "GatewayTarget") => {
                self.targets
                    .push(serde_path_to_error::deserialize(value).map_err(invalid)?);
            }
            ("toolyard.dev/v1alpha1", "ToolPolicy") => {
                self.policies
                    .push(serde_path_to_error::deserialize(value).map_err(invalid)?);
            }
            ("v1", "ConfigMap") => {
                for (key, v) in map_of(&value, "data") {
                    self.config_maps.insert((name.clone(), key), v);
                }
                for (key, v) in map_of(&value, "binaryData") {
                    if let Some(text) = binary_text(&v) {
                        self.config_maps.insert((name.clone(), key), text);
                    }
                }
            }
            ("v1", "Secret") => {
                for (key, v) in map_of(&value, "data") {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(v.trim())
                        .map_err(|_| ManifestError::Base64 {
                            path: path.to_path_buf(),
                            name: name.clone(),
                            key: key.clone(),
                        })?;
                    self.secrets.insert(
                        (name.clone(), key),
                        SecretValue(String::from_utf8_lossy(&bytes).into_owned()),
                    );
                }
                for (key, v) in map_of(&value, "stringData") {
                    self.secrets.insert((name.clone(), key), SecretValue(v));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The reference contents the compiler needs; schema URLs are fetched by the caller
    /// (`source::fetch`), as this is plain file reading.
    pub fn resolved_refs(&self) -> ResolvedRefs {
        ResolvedRefs {
            config_maps: self.config_maps.clone(),
            urls: BTreeMap::new(),
            url_errors: BTreeMap::new(),
            secrets: self.secrets.keys().cloned().collect(),
        }
    }
}

/// Most bytes a gzipped `binaryData` value unpacks to (the operator's limit).
const MAX_GUNZIPPED_BYTES: u64 = 64 << 20;

/// The text of a ConfigMap `binaryData` value as the operator reads it: base64, then gunzipped
/// when it is gzip (how large documents are stored), else UTF-8 as it is.
fn binary_text(base64_text: &str) -> Option<String> {
    use std::io::Read;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_text.trim())
        .ok()?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .take(MAX_GUNZIPPED_BYTES)
            .read_to_string(&mut out)
            .ok()?;
        return Some(out);
    }
    String::from_utf8(bytes).ok()
}

fn map_of(value: &Value, field: &str) -> Vec<(String, String)> {
    value
        .get(field)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(path)? {
        let p = entry?.path();
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            collect_files(&p, out)?;
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let v = SecretValue("hunter2".into());
        assert!(!format!("{v:?}").contains("hunter2"));
    }

    #[test]
    fn reports_the_field_path_of_a_bad_target() {
        let mut m = Manifests::default();
        let err = m
            .add_text(
                Path::new("t.yaml"),
                "apiVersion: toolyard.dev/v1alpha1\nkind: GatewayTarget\nmetadata: {name: x}\nspec:\n  gatewayRef: {name: g}\n  rateLimit: {requestsPerSecond: fast}\n",
            )
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("spec.rateLimit.requestsPerSecond"), "{msg}");
    }

    #[test]
    fn loads_configmaps_and_secrets() {
        let mut m = Manifests::default();
        m.add_text(
            Path::new("x.yaml"),
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: aGVsbG8=}\nstringData: {b: world}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n",
        )
        .unwrap();
        assert_eq!(m.secrets[&("s".into(), "a".into())].0, "hello");
        assert_eq!(m.secrets[&("s".into(), "b".into())].0, "world");
        assert_eq!(m.config_maps[&("c".into(), "k".into())], "v");
    }

    #[test]
    fn reads_gzipped_and_plain_binary_data() {
        use std::io::Write;
        let doc = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: {}\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(doc.as_bytes()).unwrap();
        let gz = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let plain = base64::engine::general_purpose::STANDARD.encode(doc);
        let mut m = Manifests::default();
        m.add_text(
            Path::new("x.yaml"),
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\nbinaryData: {{spec.yaml.gz: {gz}, spec.yaml: {plain}}}\n"),
        )
        .unwrap();
        assert_eq!(m.config_maps[&("big".into(), "spec.yaml.gz".into())], doc);
        assert_eq!(m.config_maps[&("big".into(), "spec.yaml".into())], doc);
    }
}
