//! Retrieval metrics over graded relevance.
//!
//! - Recall@k: the share of queries with a fully relevant tool (grade 2) among the first k
//!   results. A caller needs one tool that does the job, so a query counts once however many
//!   tools would do (the usual "success@k" of tool retrieval).
//! - MRR@10: mean of 1 / rank of the first fully relevant tool (0 past rank 10).
//! - nDCG@10: gains 2^grade - 1 (grade 2 → 3, grade 1 → 1), ideal order from the grades.

use std::collections::HashMap;

#[derive(Clone, Copy, Debug, Default)]
pub struct Quality {
    pub recall1: f64,
    pub recall5: f64,
    pub mrr10: f64,
    pub ndcg10: f64,
    pub queries: usize,
}

impl Quality {
    /// Adds one query's ranked result.
    pub fn add(&mut self, grades: &HashMap<usize, u8>, ranked: &[usize]) {
        let first = ranked
            .iter()
            .take(10)
            .position(|d| grades.get(d) == Some(&2));
        if let Some(r) = first {
            self.mrr10 += 1.0 / (r + 1) as f64;
            if r < 1 {
                self.recall1 += 1.0;
            }
            if r < 5 {
                self.recall5 += 1.0;
            }
        }
        let gain = |g: u8| f64::from((1u32 << g) - 1);
        let dcg: f64 = ranked
            .iter()
            .take(10)
            .enumerate()
            .map(|(r, d)| gain(grades.get(d).copied().unwrap_or(0)) / ((r + 2) as f64).log2())
            .sum();
        let mut ideal: Vec<u8> = grades.values().copied().collect();
        ideal.sort_unstable_by(|a, b| b.cmp(a));
        let idcg: f64 = ideal
            .iter()
            .take(10)
            .enumerate()
            .map(|(r, &g)| gain(g) / ((r + 2) as f64).log2())
            .sum();
        if idcg > 0.0 {
            self.ndcg10 += dcg / idcg;
        }
        self.queries += 1;
    }

    /// Means over the added queries.
    pub fn mean(&self) -> Quality {
        let n = self.queries.max(1) as f64;
        Quality {
            recall1: self.recall1 / n,
            recall5: self.recall5 / n,
            mrr10: self.mrr10 / n,
            ndcg10: self.ndcg10 / n,
            queries: self.queries,
        }
    }

    /// `R@1 | R@5 | MRR@10 | nDCG@10` table cells.
    pub fn cells(&self) -> String {
        let m = self.mean();
        format!(
            "{:.3} | {:.3} | {:.3} | {:.3}",
            m.recall1, m.recall5, m.mrr10, m.ndcg10
        )
    }

    /// The number the tuning maximises: MRR@10 (rewards rank 1 and the top 5 alike).
    pub fn objective(&self) -> f64 {
        self.mean().mrr10
    }
}
