//! Exact nearest-neighbour search over L2-normalised vectors (dot product = cosine). A flat
//! row-major matrix: at 10,000 tools × 384 dimensions one query is ~4 M multiply-adds, well under
//! a millisecond, so no approximate index is needed at gateway scale.

use std::cmp::Ordering;
use std::sync::Arc;

/// Vectors of the indexed documents, one row per document id.
#[derive(Debug, Default)]
pub struct DenseIndex {
    dim: usize,
    rows: Vec<f32>,
}

impl DenseIndex {
    /// Builds the matrix; every vector must have the same length (checked by the cache).
    pub fn new(vectors: &[Arc<[f32]>]) -> Self {
        let dim = vectors.first().map_or(0, |v| v.len());
        let mut rows = Vec::with_capacity(dim * vectors.len());
        for v in vectors {
            if v.len() == dim {
                rows.extend_from_slice(v);
            } else {
                rows.extend(std::iter::repeat_n(0.0, dim));
            }
        }
        Self { dim, rows }
    }

    /// Vector size.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.rows.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Whether no document is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held by the matrix.
    pub fn bytes(&self) -> usize {
        self.rows.len() * std::mem::size_of::<f32>()
    }

    /// The at most `k` documents most similar to `query` among those `keep` accepts, best first
    /// (ties by document id). A query of the wrong size matches nothing.
    pub fn search(&self, query: &[f32], k: usize, keep: &dyn Fn(u32) -> bool) -> Vec<(u32, f32)> {
        if query.len() != self.dim || self.dim == 0 || k == 0 {
            return Vec::new();
        }
        let mut scored: Vec<(u32, f32)> = self
            .rows
            .chunks_exact(self.dim)
            .enumerate()
            .filter(|(i, _)| keep(*i as u32))
            .map(|(i, row)| (i as u32, dot(row, query)))
            .collect();
        let better = |a: &(u32, f32), b: &(u32, f32)| {
            b.1.partial_cmp(&a.1)
                .unwrap_or(Ordering::Equal)
                .then(a.0.cmp(&b.0))
        };
        if scored.len() > k {
            scored.select_nth_unstable_by(k - 1, better);
            scored.truncate(k);
        }
        scored.sort_by(better);
        scored
    }
}

/// Dot product in eight independent lanes (the compiler vectorises this).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: &[f32]) -> Arc<[f32]> {
        let mut x = x.to_vec();
        crate::search::embed::normalize(&mut x);
        x.into()
    }

    #[test]
    fn nearest_first_and_filtered() {
        let idx = DenseIndex::new(&[v(&[1.0, 0.0]), v(&[0.7, 0.7]), v(&[0.0, 1.0])]);
        assert_eq!(idx.len(), 3);
        let q = v(&[0.9, 0.1]);
        let ids: Vec<u32> = idx.search(&q, 3, &|_| true).iter().map(|h| h.0).collect();
        assert_eq!(ids, vec![0, 1, 2]);
        let ids: Vec<u32> = idx.search(&q, 1, &|d| d != 0).iter().map(|h| h.0).collect();
        assert_eq!(ids, vec![1]);
        assert!(idx.search(&[1.0, 0.0, 0.0], 3, &|_| true).is_empty());
    }

    #[test]
    fn dot_handles_remainders() {
        let a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        let expected: f32 = a.iter().map(|x| x * x).sum();
        assert_eq!(dot(&a, &a), expected);
    }
}
