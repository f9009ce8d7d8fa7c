//! A tool's dense vector from one or two embedded texts ("views" of the tool).
//!
//! Why two: the short text ([`DenseText::default`]: name, title, first sentence) is what a
//! sentence model matches best against a query, but it drops what the rest of a real API
//! operation's description says (Stripe's operations explain their objects there). Embedding the
//! long text alone pulls every operation towards the same "API request" meaning; the normalised
//! sum of both vectors keeps the short text's focus and adds the long text's details. On the
//! real-API evaluation set (`bench/search.sh --tune`, "Blended tool vectors") half and half, the
//! long text cut at 64 words ([`DenseText::LONG`]), raised hybrid MRR@10 on the tuning half from
//! 0.659 to 0.675 and on the held-out half from 0.654 to 0.658, and on BFCL, never used for
//! tuning, from 0.581 to 0.590 (`bench/search-results.md`, 2026-12-07).
//!
//! The cost is a second, longer text per tool on the reload path (3.6 times the embedding time
//! of the short text alone: 79 tools a second on one core against 288); the embedding cache
//! holds both, and a tool whose two texts are the same is embedded once.

use std::sync::Arc;

use super::{DenseText, ToolText};

/// The texts embedded for each tool and how their vectors become one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DenseViews {
    /// The main embedded text.
    pub text: DenseText,
    /// A second text and its weight in the tool's vector (`1 - weight` for `text`).
    pub second: Option<(DenseText, f32)>,
}

impl DenseViews {
    /// One text per tool, no blending (the gateway's vectors before 2026-12-07).
    pub const fn single(text: DenseText) -> Self {
        Self { text, second: None }
    }

    /// How many texts each tool contributes.
    pub fn per_tool(&self) -> usize {
        1 + usize::from(self.second.is_some())
    }

    /// The texts to embed for `tool`, in the order [`combine`](Self::combine) expects.
    pub fn texts(&self, tool: &ToolText<'_>) -> impl Iterator<Item = String> + use<> {
        let first = tool.dense_text_with(self.text);
        let second = self.second.map(|(text, _)| tool.dense_text_with(text));
        std::iter::once(first).chain(second)
    }

    /// One vector per tool from the vectors of every tool's [`texts`](Self::texts), tool after
    /// tool: the normalised weighted sum of each tool's views. Each view vector must be
    /// normalised; a trailing incomplete group is dropped (the index then refuses the count).
    pub fn combine(&self, vectors: &[Arc<[f32]>]) -> Vec<Arc<[f32]>> {
        match self.second {
            None => vectors.to_vec(),
            Some((_, w)) => vectors
                .chunks_exact(2)
                .map(|pair| weighted_sum(&pair[0], 1.0 - w, &pair[1], w))
                .collect(),
        }
    }
}

impl Default for DenseViews {
    fn default() -> Self {
        Self {
            text: DenseText::default(),
            second: Some((DenseText::LONG, 0.5)),
        }
    }
}

/// `wa·a + wb·b`, L2-normalised. For unit vectors its cosine with a query is a weighted sum of
/// the two cosines, divided by one factor per tool (the sum's length).
pub fn weighted_sum(a: &[f32], wa: f32, b: &[f32], wb: f32) -> Arc<[f32]> {
    let mut v: Vec<f32> = a.iter().zip(b).map(|(x, y)| wa * x + wb * y).collect();
    super::embed::normalize(&mut v);
    v.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::embed::tests::unit;

    #[test]
    fn each_tool_embeds_its_short_and_long_text() {
        let serde_json::Value::Object(schema) =
            serde_json::json!({"properties": {"customer_id": {"type": "string"}}})
        else {
            unreachable!()
        };
        let tool = ToolText {
            name: "stripe___GetCustomersCustomer",
            description: Some("Retrieves a Customer object. Returns the customer's details."),
            input_schema: Some(&schema),
            ..ToolText::default()
        };
        let texts: Vec<String> = DenseViews::default().texts(&tool).collect();
        assert_eq!(
            texts,
            [
                "get customers customer. Retrieves a Customer object.",
                "get customers customer. Retrieves a Customer object. Returns the customer's \
                 details. Parameters: customer id"
            ]
        );
        assert_eq!(DenseViews::default().per_tool(), 2);
        let single = DenseViews::single(DenseText::default());
        assert_eq!(single.texts(&tool).collect::<Vec<_>>(), texts[..1]);
        assert_eq!(single.per_tool(), 1);
    }

    #[test]
    fn a_tools_vector_is_the_normalised_sum_of_its_views() {
        let views = DenseViews::default();
        let vectors = [
            unit(&[1.0, 0.0]),
            unit(&[0.0, 1.0]),
            unit(&[0.0, 1.0]),
            unit(&[0.0, 1.0]),
        ];
        let combined = views.combine(&vectors);
        assert_eq!(combined.len(), 2);
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((combined[0][0] - h).abs() < 1e-6 && (combined[0][1] - h).abs() < 1e-6);
        assert_eq!(&combined[1][..], &[0.0, 1.0]);
        // One view per tool: the vectors as they are.
        let single = DenseViews::single(DenseText::default()).combine(&vectors);
        assert_eq!(single.len(), 4);
        // An odd count cannot be paired: the last view is dropped, and the index refuses the
        // count rather than give a tool its neighbour's vector.
        assert_eq!(views.combine(&vectors[..3]).len(), 1);
    }
}
