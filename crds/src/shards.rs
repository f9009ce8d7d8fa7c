//! How a compiled config too large for one ConfigMap travels from the operator to the gateway.
//!
//! A ConfigMap holds at most 1 MiB. The operator stores the config as JSON when it is small, as
//! gzip in `binaryData` when that fits, and otherwise splits the gzip into parts of at most
//! [`PART_BYTES`] in ConfigMaps named [`part_name`] (`<config map>-1`, `-2`, …, at most
//! [`MAX_PARTS`]). The main ConfigMap then holds only a [`ShardManifest`] under
//! [`MANIFEST_KEY`], with the digest of every part.
//!
//! The operator writes the parts before the main ConfigMap, so a gateway that sees a new manifest
//! finds its parts in place; it reads them by name (its Role allows `get` on exactly these
//! names), checks every digest, and only then decompresses. A part that does not match (a newer
//! config being written) is retried, and the last good config keeps serving meanwhile.

use serde::{Deserialize, Serialize};

/// Key of the manifest (JSON) in the main ConfigMap's `data`.
pub const MANIFEST_KEY: &str = "config.shards.json";
/// Key of a part in a part ConfigMap's `binaryData`.
pub const PART_KEY: &str = "config.json.gz.part";
/// Largest part, bytes (leaves room for metadata under the 1 MiB object limit).
pub const PART_BYTES: usize = 900 * 1024;
/// Most parts: 16 × 900 KiB of gzip, roughly 100 MiB of config JSON or 100,000 tools.
pub const MAX_PARTS: usize = 16;

/// The name of part `index` (1-based) of ConfigMap `config_map`.
pub fn part_name(config_map: &str, index: usize) -> String {
    format!("{config_map}-{index}")
}

/// The main ConfigMap's description of a sharded config.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ShardManifest {
    /// The config revision the parts hold.
    pub revision: String,
    /// The parts, in order; their concatenation is the gzipped config JSON.
    pub parts: Vec<ShardPart>,
}

/// One part of a sharded config.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ShardPart {
    /// ConfigMap name.
    pub name: String,
    /// Hex SHA-256 of the part's bytes.
    pub sha256: String,
    /// Length in bytes.
    pub bytes: usize,
}

/// Why the parts of a sharded config do not make up the config.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardError {
    /// A part is missing.
    #[error("config part {0} is missing")]
    Missing(String),
    /// A part's bytes do not match the manifest (a newer config is being written, or tampering).
    #[error("config part {0} does not match the manifest's digest")]
    Mismatch(String),
    /// The manifest lists no parts or too many.
    #[error("the manifest lists {0} parts; expected 1 to {MAX_PARTS}")]
    Count(usize),
}

/// Concatenates the parts after checking each against the manifest; `part` returns a part's
/// bytes by name.
pub fn assemble<'a>(
    manifest: &ShardManifest,
    mut part: impl FnMut(&str) -> Option<&'a [u8]>,
) -> Result<Vec<u8>, ShardError> {
    use sha2::{Digest, Sha256};
    if manifest.parts.is_empty() || manifest.parts.len() > MAX_PARTS {
        return Err(ShardError::Count(manifest.parts.len()));
    }
    let mut out = Vec::with_capacity(manifest.parts.iter().map(|p| p.bytes).sum());
    for p in &manifest.parts {
        let bytes = part(&p.name).ok_or_else(|| ShardError::Missing(p.name.clone()))?;
        if bytes.len() != p.bytes || hex::encode(Sha256::digest(bytes)) != p.sha256 {
            return Err(ShardError::Mismatch(p.name.clone()));
        }
        out.extend_from_slice(bytes);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn manifest(parts: &[(&str, &[u8])]) -> ShardManifest {
        ShardManifest {
            revision: "r1".into(),
            parts: parts
                .iter()
                .map(|(name, b)| ShardPart {
                    name: name.to_string(),
                    sha256: hex::encode(Sha256::digest(b)),
                    bytes: b.len(),
                })
                .collect(),
        }
    }

    #[test]
    fn assembles_checked_parts_in_order() {
        let m = manifest(&[("cm-1", b"hello "), ("cm-2", b"world")]);
        let parts =
            std::collections::HashMap::from([("cm-1", &b"hello "[..]), ("cm-2", &b"world"[..])]);
        assert_eq!(
            assemble(&m, |n| parts.get(n).copied()).unwrap(),
            b"hello world"
        );
        let stale =
            std::collections::HashMap::from([("cm-1", &b"hello "[..]), ("cm-2", &b"WORLD"[..])]);
        assert_eq!(
            assemble(&m, |n| stale.get(n).copied()),
            Err(ShardError::Mismatch("cm-2".into()))
        );
        assert_eq!(
            assemble(&m, |_| None),
            Err(ShardError::Missing("cm-1".into()))
        );
        assert_eq!(
            assemble(&manifest(&[]), |_| None),
            Err(ShardError::Count(0))
        );
    }
}
