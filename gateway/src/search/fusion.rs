//! Fusing the BM25 and dense rankings. Two methods ([`FusionMethod`]):
//!
//! - **Score fusion** (the default): BM25 scores divided by the query's best BM25 score, cosine
//!   similarities min-max scaled over the dense candidates, summed with weights `1 - w` and `w`.
//!   It keeps how decisive each ranking is: a query whose words match one tool strongly and a
//!   query whose words match fifty tools a little weigh differently, which ranks alone cannot
//!   tell. On the real-API evaluation set (bench/search-results.md: 210 hand-written intents
//!   over Stripe, Kubernetes, Slack and Jira) it lifted MRR@10 of the combined 2,138-tool
//!   catalog from 0.549 (RRF, k = 60, as before) to 0.612. The dense weight has a plateau at
//!   0.4-0.6 on the tuning half of the set (0.655 / 0.648 / 0.659 with the name-coverage boost
//!   of BM25; 0.637 / 0.631 / 0.633 at 0.5-0.7 before it), and 0.6 stays.
//! - **Reciprocal rank fusion** (Cormack, Clarke & Büttcher, SIGIR 2009): `weight / (k + rank)`
//!   per ranking. Kept for comparison ([`Fusion::RRF`]); on the same tuning half its best setting
//!   reaches 0.609.
//!
//! A dense ranking always has `depth` entries, however unrelated the query, so fusion alone
//! would answer nonsense with a full top-k while BM25 answers it with nothing. Hits that BM25 did
//! not find must therefore reach a cosine floor ([`Fusion::min_dense_similarity`]); hits of both
//! engines are kept whatever their similarity (see [`DEFAULT_MIN_DENSE_SIMILARITY`]).

use std::cmp::Ordering;
use std::collections::HashMap;

/// How two rankings become one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FusionMethod {
    /// Reciprocal rank fusion: `weight / (k + rank)` per ranking. Ignores how far apart the
    /// scores are, so a dense ranking that is confidently right on one tool and a BM25 ranking
    /// that matched a common word weigh the same.
    Rrf,
    /// Normalised scores: BM25 divided by the best BM25 score of the query, cosine similarity
    /// min-max scaled over the dense candidates, summed with the weights. Keeps how decisive each
    /// ranking is.
    Scores,
}

/// Fusion parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fusion {
    /// Which fusion.
    pub method: FusionMethod,
    /// The RRF constant `k` ([`FusionMethod::Rrf`] only).
    pub k: f32,
    /// Weight of the BM25 ranking (0 turns it off: dense only).
    pub bm25_weight: f32,
    /// Weight of the dense ranking (0 turns it off: BM25 only).
    pub dense_weight: f32,
    /// How many hits of each ranking take part (at least the requested count).
    pub depth: usize,
    /// Least cosine similarity of a hit found by the dense ranking alone (BM25 shares no word
    /// with it); lower ones are dropped. -1 keeps every hit.
    pub min_dense_similarity: f32,
}

/// The default [`Fusion::min_dense_similarity`], measured with all-MiniLM-L6-v2 on BFCL (2,101
/// tools; bench/search-results.md): every floor up to 0.3 leaves Recall@5 / nDCG@10 exactly as
/// without one (0.762 / 0.663), while made-up queries get 10 hits each without a floor, 9.3 at
/// 0.15, 5.1 at 0.2, 2.0 at 0.25 and 0.4 at 0.3. The price is paraphrases the model itself
/// barely relates to their tool (cosine under 0.25, e.g. "place a new purchase" against
/// `createOrder` at 0.17): at that similarity they are indistinguishable from noise in a large
/// catalog. Paraphrases the model does relate ("pause for a moment" → `sleep`, 0.33) still work.
pub const DEFAULT_MIN_DENSE_SIMILARITY: f32 = 0.25;

/// The default weight of the dense ranking in score fusion (BM25 gets `1 -` this). Chosen on
/// the tuning half of the real-API evaluation set (bench/search-results.md).
pub const DEFAULT_DENSE_WEIGHT: f32 = 0.6;

impl Default for Fusion {
    fn default() -> Self {
        Self {
            method: FusionMethod::Scores,
            k: 60.0,
            bm25_weight: 1.0 - DEFAULT_DENSE_WEIGHT,
            dense_weight: DEFAULT_DENSE_WEIGHT,
            depth: 100,
            min_dense_similarity: DEFAULT_MIN_DENSE_SIMILARITY,
        }
    }
}

impl Fusion {
    /// Reciprocal rank fusion with equal weights and k = 60 (the fusion before score fusion;
    /// the benchmark compares them).
    pub const RRF: Fusion = Fusion {
        method: FusionMethod::Rrf,
        k: 60.0,
        bm25_weight: 1.0,
        dense_weight: 1.0,
        depth: 100,
        min_dense_similarity: DEFAULT_MIN_DENSE_SIMILARITY,
    };

    /// Fuses two rankings of `(document, score)` (best first) into the `limit` best documents.
    /// Ties go to the better BM25 rank, then the better dense rank, then the lower id. Dense hits
    /// absent from `lexical` need a similarity of at least [`Fusion::min_dense_similarity`].
    pub fn fuse(&self, lexical: &[(u32, f32)], dense: &[(u32, f32)], limit: usize) -> Vec<u32> {
        self.fuse_with_priors(lexical, dense, limit, &|_| 1.0)
    }

    /// [`Fusion::fuse`] with a factor per document on its dense contribution (the lexical
    /// scores carry theirs already: `lexical::Bm25Index::set_priors`).
    pub fn fuse_with_priors(
        &self,
        lexical: &[(u32, f32)],
        dense: &[(u32, f32)],
        limit: usize,
        prior: &dyn Fn(u32) -> f32,
    ) -> Vec<u32> {
        // document → (fused score, lexical rank, dense rank)
        let mut fused: HashMap<u32, (f32, usize, usize)> =
            HashMap::with_capacity(lexical.len() + dense.len());
        let best_bm25 = lexical.first().map_or(0.0, |h| h.1);
        for (rank, &(doc, score)) in lexical.iter().enumerate() {
            let e = fused.entry(doc).or_insert((0.0, usize::MAX, usize::MAX));
            e.0 += match self.method {
                FusionMethod::Rrf => self.bm25_weight / (self.k + rank as f32 + 1.0),
                FusionMethod::Scores if best_bm25 > 0.0 => self.bm25_weight * score / best_bm25,
                FusionMethod::Scores => 0.0,
            };
            e.1 = rank;
        }
        let hi = dense.first().map_or(0.0, |h| h.1);
        let lo = dense.last().map_or(0.0, |h| h.1);
        let spread = hi - lo;
        for (rank, &(doc, similarity)) in dense.iter().enumerate() {
            if similarity < self.min_dense_similarity && !fused.contains_key(&doc) {
                continue;
            }
            let e = fused.entry(doc).or_insert((0.0, usize::MAX, usize::MAX));
            e.0 += prior(doc)
                * match self.method {
                    FusionMethod::Rrf => self.dense_weight / (self.k + rank as f32 + 1.0),
                    FusionMethod::Scores if spread > 0.0 => {
                        self.dense_weight * ((similarity - lo) / spread).max(0.0)
                    }
                    FusionMethod::Scores => self.dense_weight,
                };
            e.2 = rank;
        }
        let mut all: Vec<(u32, (f32, usize, usize))> = fused.into_iter().collect();
        all.sort_by(|a, b| {
            b.1.0
                .partial_cmp(&a.1.0)
                .unwrap_or(Ordering::Equal)
                .then(a.1.1.cmp(&b.1.1))
                .then(a.1.2.cmp(&b.1.2))
                .then(a.0.cmp(&b.0))
        });
        all.into_iter().take(limit).map(|(d, _)| d).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_wins_and_either_list_contributes() {
        let f = Fusion::RRF;
        let lexical = [(1, 9.0), (2, 5.0), (3, 1.0)];
        let dense = [(2, 0.9), (4, 0.8), (1, 0.1)];
        let out = f.fuse(&lexical, &dense, 10);
        // 1 and 2 are in both lists; 2 ranks better on average.
        assert_eq!(&out[..2], &[2, 1]);
        assert!(out.contains(&3) && out.contains(&4));
        assert_eq!(f.fuse(&lexical, &dense, 1).len(), 1);
    }

    #[test]
    fn a_zero_weight_follows_the_other_list() {
        for method in [FusionMethod::Rrf, FusionMethod::Scores] {
            let f = Fusion {
                method,
                bm25_weight: 0.0,
                ..Fusion::default()
            };
            let out = f.fuse(&[(1, 9.0)], &[(2, 0.9), (1, 0.1)], 2);
            assert_eq!(out, vec![2, 1]);
        }
    }

    #[test]
    fn dense_only_hits_need_the_floor_and_shared_hits_do_not() {
        for f in [Fusion::default(), Fusion::RRF] {
            floor(f);
        }
    }

    #[test]
    fn score_fusion_keeps_how_decisive_each_ranking_is() {
        let f = Fusion {
            bm25_weight: 0.5,
            dense_weight: 0.5,
            ..Fusion::default()
        };
        // BM25 barely prefers 1 over 2; the dense ranking strongly prefers 2: 2 wins. RRF
        // (equal ranks, one each) cannot tell them apart and falls back to the BM25 order.
        let lexical = [(1, 10.0), (2, 9.9), (3, 1.0)];
        let dense = [(2, 0.8), (1, 0.3), (3, 0.29)];
        assert_eq!(f.fuse(&lexical, &dense, 1), vec![2]);
        assert_eq!(Fusion::RRF.fuse(&lexical, &dense, 1), vec![1]);
    }

    fn floor(f: Fusion) {
        // A nonsense query: BM25 finds nothing, every cosine is low → nothing, not a top-k.
        assert!(
            f.fuse(&[], &[(1, 0.24), (2, 0.12), (3, -0.05)], 10)
                .is_empty()
        );
        // A close dense-only hit survives; a far one found by BM25 too is kept.
        let out = f.fuse(&[(4, 3.0)], &[(1, 0.62), (4, 0.05), (2, 0.1)], 10);
        assert_eq!(out.len(), 2);
        assert!(out.contains(&1) && out.contains(&4));
        // -1 turns the floor off (the previous behaviour: always `limit` hits when available).
        let off = Fusion {
            min_dense_similarity: -1.0,
            ..f
        };
        assert_eq!(
            off.fuse(&[], &[(1, 0.24), (2, 0.12), (3, -0.05)], 2),
            vec![1, 2]
        );
    }
}
