//! A static embedding distilled from a BERT encoder: one vector per token of its vocabulary,
//! each the encoder's own (mean-pooled) embedding of that token alone. A text's vector is the
//! weighted mean of its tokens' vectors, so embedding a query is a tokenizer pass and a few
//! hundred additions: microseconds rather than the milliseconds a forward pass of the encoder
//! costs, and a 10,000-tool catalog embeds in well under a second.
//!
//! What it loses is context: "create a customer" and "customer create" get the same vector, and
//! a word's sense does not depend on its neighbours. `bash bench/search.sh --vocab FILE` measures
//! the cost against the encoder on the evaluation set (bench/search-results.md has the run): an
//! experiment for issue 18's 2 ms query goal, kept in the benchmark because it did not earn a
//! place in the gateway.
//!
//! The shared direction of all rows is removed (see [`VocabEmbedder::centred`]), and tokens are
//! weighted by how rare they are in the vocabulary's order (`ln(2 + id)`: BERT's WordPiece
//! vocabularies list frequent pieces first), which plays the role of IDF inside a text. Both
//! won against their absence on the evaluation set.

use std::path::Path;

use tokenizers::Tokenizer;

use toolyard_gateway::search::embed::local::BertEncoder;
use toolyard_gateway::search::embed::{BoxFuture, EmbedError, Embedder, normalize};

/// Tokens distilled per forward pass.
const BATCH: usize = 64;

/// The file format's first bytes (then dim and rows as u32 little-endian, then f32 rows).
const MAGIC: &[u8; 8] = b"TYVOCAB1";

/// The vocabulary table and the tokenizer that indexes it.
pub struct VocabEmbedder {
    id: String,
    tokenizer: Tokenizer,
    dim: usize,
    /// `rows × dim` values, row `i` the unit vector of token id `i`.
    table: Vec<f32>,
}

impl std::fmt::Debug for VocabEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VocabEmbedder")
            .field("id", &self.id)
            .field("dim", &self.dim)
            .field("rows", &self.rows())
            .finish_non_exhaustive()
    }
}

impl VocabEmbedder {
    /// Runs every token of the encoder's vocabulary through it (`[CLS] token [SEP]`): about
    /// a trillion multiply-adds for MiniLM, minutes on two cores.
    pub fn distill(encoder: &BertEncoder) -> Result<Self, EmbedError> {
        let tokenizer = encoder.tokenizer().clone();
        let special = |name: &str| {
            tokenizer
                .token_to_id(name)
                .ok_or_else(|| EmbedError::Shape(format!("the tokenizer has no {name} token")))
        };
        let (cls, sep) = (special("[CLS]")?, special("[SEP]")?);
        let rows = tokenizer.get_vocab_size(true);
        let dim = encoder.dim();
        let mut table = Vec::with_capacity(rows * dim);
        let ids: Vec<[u32; 3]> = (0..rows as u32).map(|id| [cls, id, sep]).collect();
        for chunk in ids.chunks(BATCH) {
            let batch: Vec<&[u32]> = chunk.iter().map(|t| t.as_slice()).collect();
            for mut v in encoder.forward_ids(&batch)? {
                normalize(&mut v);
                table.extend_from_slice(&v);
            }
        }
        Ok(Self {
            id: format!("vocab:centred:ln-rank:{}", encoder.model_id()),
            tokenizer,
            dim,
            table,
        }
        .centred())
    }

    /// Writes the table (the tokenizer stays with the model it came from).
    pub fn save(&self, path: &Path) -> Result<(), EmbedError> {
        let mut bytes = Vec::with_capacity(16 + self.table.len() * 4);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(self.dim as u32).to_le_bytes());
        bytes.extend_from_slice(&(self.rows() as u32).to_le_bytes());
        for x in &self.table {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        std::fs::write(path, bytes).map_err(|e| model_error(path, e))
    }

    /// Reads a table written by [`Self::save`] for the tokenizer of `model_dir`.
    pub fn load(path: &Path, model_dir: &Path, model_id: &str) -> Result<Self, EmbedError> {
        let bytes = std::fs::read(path).map_err(|e| model_error(path, e))?;
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(model_error(path, "not a vocabulary table"));
        }
        let word = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
        };
        let (dim, rows) = (word(8), word(12));
        if bytes.len() != 16 + dim * rows * 4 {
            return Err(model_error(path, "the table is truncated"));
        }
        let table = bytes[16..]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let tok_path = model_dir.join("tokenizer.json");
        let mut tokenizer =
            Tokenizer::from_file(&tok_path).map_err(|e| model_error(&tok_path, e))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| model_error(&tok_path, e))?;
        if tokenizer.get_vocab_size(true) != rows {
            return Err(model_error(
                path,
                "the table does not match the tokenizer's vocabulary",
            ));
        }
        Ok(Self {
            id: format!("vocab:centred:ln-rank:{model_id}"),
            tokenizer,
            dim,
            table,
        }
        .centred())
    }

    /// Removes the direction every row shares (BERT's token vectors all lean one way, which
    /// makes any two texts look alike) and renormalises the rows.
    fn centred(mut self) -> Self {
        let rows = self.rows();
        let mut mean = vec![0f32; self.dim];
        for row in self.table.chunks_exact(self.dim) {
            for (m, x) in mean.iter_mut().zip(row) {
                *m += x / rows as f32;
            }
        }
        for row in self.table.chunks_exact_mut(self.dim) {
            for (x, m) in row.iter_mut().zip(&mean) {
                *x -= m;
            }
            normalize(row);
        }
        self
    }

    fn rows(&self) -> usize {
        self.table.len() / self.dim.max(1)
    }

    /// The vector of one text: the weighted mean of its tokens' rows, L2-normalised.
    pub fn embed_text(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| EmbedError::Inference(format!("tokenizing failed: {e}")))?;
        let mut out = vec![0f32; self.dim];
        for &id in encoding.get_ids() {
            let id = id as usize;
            let Some(row) = self.table.get(id * self.dim..(id + 1) * self.dim) else {
                continue;
            };
            let weight = (2.0 + id as f32).ln();
            for (o, x) in out.iter_mut().zip(row) {
                *o += weight * x;
            }
        }
        normalize(&mut out);
        Ok(out)
    }
}

fn model_error(path: &Path, message: impl std::fmt::Display) -> EmbedError {
    EmbedError::Model {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

impl Embedder for VocabEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        texts.iter().map(|t| self.embed_text(t)).collect()
    }

    fn embed_query<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Vec<f32>, EmbedError>> {
        // Microseconds: no blocking thread needed.
        Box::pin(std::future::ready(self.embed_text(text)))
    }
}
