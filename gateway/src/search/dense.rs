//! Exhaustive nearest-neighbour search over L2-normalised vectors (dot product = cosine). A flat
//! row-major matrix: at 10,000 tools × 384 dimensions one query is ~4 M multiply-adds, well under
//! a millisecond, so no approximate index is needed at gateway scale.
//!
//! The vectors are held as `i8` with one scale per vector, and the query is quantized the same
//! way. Why: the scan is bound by memory, not arithmetic — 10,000 `f32` vectors are 15 MB streamed
//! per query (and evicting the query encoder's weights from the cache), as `i8` 3.8 MB. The
//! scores are then the cosines to within about 0.002, which moved no result of the search
//! benchmark's rankings by more than its noise (`bench/search-results.md`).

use std::cmp::Ordering;
use std::sync::Arc;

use super::quantize::quantize_into;

/// Vectors of the indexed documents, one row per document id.
#[derive(Debug, Default)]
pub struct DenseIndex {
    dim: usize,
    /// The vectors quantized, row-major.
    rows: Vec<i8>,
    /// Per row: the value of one step of its `i8`s.
    scales: Vec<f32>,
}

impl DenseIndex {
    /// Builds the matrix; every vector must have the same length (checked by the cache).
    pub fn new(vectors: &[Arc<[f32]>]) -> Self {
        let dim = vectors.first().map_or(0, |v| v.len());
        let mut rows = Vec::with_capacity(dim * vectors.len());
        let mut scales = Vec::with_capacity(vectors.len());
        for v in vectors {
            let start = rows.len();
            rows.resize(start + dim, 0);
            scales.push(if v.len() == dim {
                quantize_into(v, &mut rows[start..])
            } else {
                0.0
            });
        }
        Self { dim, rows, scales }
    }

    /// Vector size.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.scales.len()
    }

    /// Whether no document is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held by the matrix.
    pub fn bytes(&self) -> usize {
        self.rows.len() + self.scales.len() * std::mem::size_of::<f32>()
    }

    /// The at most `k` documents most similar to `query` among those `keep` accepts, best first
    /// (ties by document id). A query of the wrong size matches nothing.
    pub fn search(&self, query: &[f32], k: usize, keep: &dyn Fn(u32) -> bool) -> Vec<(u32, f32)> {
        if query.len() != self.dim || self.dim == 0 || k == 0 {
            return Vec::new();
        }
        let mut q = vec![0i8; self.dim];
        let q_step = quantize_into(query, &mut q);
        // Every row's score in one tight loop (so it is compiled wide), then the filter.
        let mut scores = vec![0f32; self.len()];
        super::simd::widest(
            #[inline(always)]
            || {
                for ((score, row), step) in scores
                    .iter_mut()
                    .zip(self.rows.chunks_exact(self.dim))
                    .zip(&self.scales)
                {
                    *score = dot(row, &q) as f32 * step * q_step;
                }
            },
        );
        let mut scored: Vec<(u32, f32)> = scores
            .into_iter()
            .enumerate()
            .map(|(i, score)| (i as u32, score))
            .filter(|(i, _)| keep(*i))
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

/// Integer dot product (the compiler vectorises it: integer sums may be reordered).
#[inline(always)]
fn dot(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::embed::tests::unit as v;

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
    fn scores_are_the_cosines_within_the_quantization_error() {
        // 19 dimensions: not a multiple of any vector width.
        let docs: Vec<Arc<[f32]>> = (0..50)
            .map(|d| {
                v(&(0..19)
                    .map(|i| ((i * 7 + d * 13) % 23) as f32 - 11.0)
                    .collect::<Vec<_>>())
            })
            .collect();
        let idx = DenseIndex::new(&docs);
        let q = v(&(0..19).map(|i| (i % 5) as f32 - 2.0).collect::<Vec<_>>());
        for (id, score) in idx.search(&q, 50, &|_| true) {
            let exact: f32 = docs[id as usize]
                .iter()
                .zip(q.iter())
                .map(|(a, b)| a * b)
                .sum();
            assert!((score - exact).abs() < 0.01, "doc {id}: {score} vs {exact}");
        }
        assert_eq!(idx.bytes(), 50 * 19 + 50 * 4);
    }
}
