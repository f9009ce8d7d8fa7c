//! A file of vectors by (model, text) hash, so a second benchmark run embeds nothing it embedded
//! before (embedding the real-API and BFCL catalogs takes minutes on a busy 2-core machine).
//! Timings of tool embedding are taken from the misses only, and printed with their count.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use toolyard_gateway::search::embed::local::BertEncoder;
use toolyard_gateway::search::embed::{Embedder, normalize};

use crate::Error;

type Key = [u8; 32];

pub struct VectorFile {
    path: PathBuf,
    vectors: HashMap<Key, Arc<[f32]>>,
    /// Texts embedded by this run, and how long that took.
    pub embedded: usize,
    pub embed_time: Duration,
}

fn key(model: &str, text: &str) -> Key {
    let mut h = Sha256::new();
    h.update(model.as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    h.finalize().into()
}

impl VectorFile {
    /// Reads `path` if it exists (a damaged tail is ignored).
    pub fn open(path: PathBuf) -> Self {
        let mut vectors = HashMap::new();
        if let Ok(bytes) = std::fs::read(&path) {
            let mut at = 0;
            while at + 36 <= bytes.len() {
                let mut k = [0u8; 32];
                k.copy_from_slice(&bytes[at..at + 32]);
                let dim = u32::from_le_bytes([
                    bytes[at + 32],
                    bytes[at + 33],
                    bytes[at + 34],
                    bytes[at + 35],
                ]) as usize;
                let end = at + 36 + dim * 4;
                if end > bytes.len() {
                    break;
                }
                let v: Vec<f32> = bytes[at + 36..end]
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                vectors.insert(k, v.into());
                at = end;
            }
        }
        Self {
            path,
            vectors,
            embedded: 0,
            embed_time: Duration::ZERO,
        }
    }

    /// Normalised vectors of `texts` as catalog texts (the embedder's catalog path, 8-bit for
    /// the local model since 2026-12-07), embedding (and appending to the file) the missing ones.
    pub fn get(
        &mut self,
        model: &dyn Embedder,
        texts: &[String],
    ) -> Result<Vec<Arc<[f32]>>, Error> {
        // Keys without the suffix hold the 32-bit vectors of earlier runs (see `get_reference`);
        // the 8-bit path's revision is in the key for every embedder, which costs the others
        // (`--vocab`) one re-embedding when it changes.
        let id = format!(
            "{}#catalog#r{}",
            model.model_id(),
            BertEncoder::EIGHT_BIT_REVISION
        );
        self.get_with(id, texts, |batch| Ok(model.embed_blocking(batch)?))
    }

    /// Normalised vectors of `texts` through the local model's 32-bit reference path.
    pub fn get_reference(
        &mut self,
        model: &BertEncoder,
        texts: &[String],
    ) -> Result<Vec<Arc<[f32]>>, Error> {
        self.get_with(model.model_id().to_string(), texts, |batch| {
            Ok(model.embed_reference(batch)?)
        })
    }

    /// Normalised vectors of `texts` as search queries: each through the embedder's query path,
    /// as the search tool embeds them (kept apart from catalog vectors of the same text).
    pub fn get_queries(
        &mut self,
        model: &dyn Embedder,
        texts: &[String],
    ) -> Result<Vec<Arc<[f32]>>, Error> {
        // The prompt is part of the key: editing it changes every query vector.
        let id = format!(
            "{}#query#r{}{}",
            model.model_id(),
            BertEncoder::EIGHT_BIT_REVISION,
            model.query_prompt()
        );
        self.get_with(id, texts, |batch| {
            batch
                .iter()
                .map(|t| Ok(model.embed_query_blocking(t)?))
                .collect()
        })
    }

    fn get_with(
        &mut self,
        id: String,
        texts: &[String],
        embed: impl Fn(&[String]) -> Result<Vec<Vec<f32>>, Error>,
    ) -> Result<Vec<Arc<[f32]>>, Error> {
        let keys: Vec<Key> = texts.iter().map(|t| key(&id, t)).collect();
        let mut missing: Vec<usize> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, k) in keys.iter().enumerate() {
            if !self.vectors.contains_key(k) && seen.insert(*k) {
                missing.push(i);
            }
        }
        if !missing.is_empty() {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| format!("{}: {e}", self.path.display()))?;
            for chunk in missing.chunks(32) {
                let batch: Vec<String> = chunk.iter().map(|&i| texts[i].clone()).collect();
                let started = Instant::now();
                let vectors = embed(&batch)?;
                self.embed_time += started.elapsed();
                self.embedded += batch.len();
                let mut out = Vec::new();
                for (&i, mut v) in chunk.iter().zip(vectors) {
                    normalize(&mut v);
                    out.extend_from_slice(&keys[i]);
                    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                    for x in &v {
                        out.extend_from_slice(&x.to_le_bytes());
                    }
                    self.vectors.insert(keys[i], v.into());
                }
                file.write_all(&out)
                    .map_err(|e| format!("{}: {e}", self.path.display()))?;
            }
        }
        Ok(keys
            .iter()
            .map(|k| {
                self.vectors
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| Arc::from([]))
            })
            .collect())
    }
}
