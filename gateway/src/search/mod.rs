//! The built-in tool search: which listed tools match a free-text query. Pure (no server stack):
//! the runtime snapshot builds a [`SearchIndex`] during a reload and the MCP handler queries it.
//!
//! Today the engine is BM25 alone ([`lexical`]); dense embeddings fused with it are the next step.

pub mod lexical;

use serde_json::{Map, Value};

use lexical::{Bm25Builder, Bm25Index};

/// Field weights (BM25F-style): words of the tool's own name count most.
const W_NAME: f32 = 3.0;
/// Words of the target prefix in the tool name.
const W_PREFIX: f32 = 1.0;
const W_TITLE: f32 = 1.5;
const W_DESCRIPTION: f32 = 1.0;
const W_PARAM_NAME: f32 = 1.5;
const W_PARAM_DESCRIPTION: f32 = 0.5;
const W_TARGET_DESCRIPTION: f32 = 0.5;

/// The searchable text of one tool.
#[derive(Clone, Copy, Debug, Default)]
pub struct ToolText<'a> {
    /// Served name (`<prefix>___<tool>`).
    pub name: &'a str,
    /// Display title.
    pub title: Option<&'a str>,
    /// Description.
    pub description: Option<&'a str>,
    /// JSON Schema of the arguments (`properties` are searched, and their nested `properties`
    /// one level down).
    pub input_schema: Option<&'a Map<String, Value>>,
    /// The target's description.
    pub target_description: Option<&'a str>,
}

impl ToolText<'_> {
    /// The weighted text fields of this tool.
    fn fields(&self) -> Vec<(String, f32)> {
        let mut fields = Vec::with_capacity(8);
        match self.name.split_once("___") {
            Some((prefix, rest)) => {
                fields.push((prefix.to_string(), W_PREFIX));
                fields.push((rest.to_string(), W_NAME));
            }
            None => fields.push((self.name.to_string(), W_NAME)),
        }
        if let Some(t) = self.title {
            fields.push((t.to_string(), W_TITLE));
        }
        if let Some(d) = self.description {
            fields.push((d.to_string(), W_DESCRIPTION));
        }
        if let Some(schema) = self.input_schema {
            push_properties(schema, &mut fields, 0);
        }
        if let Some(d) = self.target_description {
            fields.push((d.to_string(), W_TARGET_DESCRIPTION));
        }
        fields
    }
}

fn push_properties(schema: &Map<String, Value>, fields: &mut Vec<(String, f32)>, depth: u8) {
    let Some(Value::Object(props)) = schema.get("properties") else {
        return;
    };
    let weight = if depth == 0 { 1.0 } else { 0.5 };
    for (name, prop) in props {
        fields.push((name.clone(), W_PARAM_NAME * weight));
        let Value::Object(prop) = prop else { continue };
        if let Some(Value::String(d)) = prop.get("description") {
            fields.push((d.clone(), W_PARAM_DESCRIPTION * weight));
        }
        if depth == 0 {
            push_properties(prop, fields, 1);
            if let Some(Value::Object(items)) = prop.get("items") {
                push_properties(items, fields, 1);
            }
        }
    }
}

/// A search index over listed tools, each remembered by its position in the served tool list.
#[derive(Debug, Default)]
pub struct SearchIndex {
    bm25: Bm25Index,
    /// Document id → position in the caller's tool list.
    positions: Vec<usize>,
}

impl SearchIndex {
    /// Indexes `(position, text)` pairs.
    pub fn build<'a>(tools: impl IntoIterator<Item = (usize, ToolText<'a>)>) -> Self {
        let mut builder = Bm25Builder::new();
        let mut positions = Vec::new();
        for (pos, text) in tools {
            builder.add(text.name, &text.fields());
            positions.push(pos);
        }
        Self {
            bm25: builder.finish(),
            positions,
        }
    }

    /// Number of indexed tools.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Whether no tool is indexed.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Positions of the at most `k` most relevant tools for `query`, best first (equal scores in
    /// name order). Tools sharing no word with the query are left out.
    pub fn search(&self, query: &str, k: usize) -> Vec<usize> {
        self.bm25
            .search(query, k)
            .into_iter()
            .map(|(doc, _)| self.positions[doc as usize])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    struct Def {
        name: &'static str,
        description: &'static str,
        schema: Map<String, Value>,
        target: &'static str,
    }

    fn defs() -> Vec<Def> {
        let user_id = schema(
            json!({"type": "object", "properties": {"userId": {"type": "string", "description": "The user's id"}}}),
        );
        let order_id =
            schema(json!({"type": "object", "properties": {"orderId": {"type": "string"}}}));
        vec![
            Def {
                name: "users___getUser",
                description: "Get user information\n\nReturns one user by id.",
                schema: user_id.clone(),
                target: "User directory API",
            },
            Def {
                name: "users___listUsers",
                description: "List users",
                schema: schema(
                    json!({"type": "object", "properties": {"limit": {"type": "integer"}}}),
                ),
                target: "User directory API",
            },
            Def {
                name: "LambdaUsingSDK___get_order_tool",
                description: "tool to get the order",
                schema: order_id.clone(),
                target: "Lambda Target using SDK",
            },
            Def {
                name: "LambdaUsingSDK___update_order_tool",
                description: "tool to update the orderId",
                schema: order_id,
                target: "Lambda Target using SDK",
            },
            Def {
                name: "shipping___createShipment",
                description: "Create a shipment",
                schema: schema(
                    json!({"type": "object", "properties": {"address": {"type": "object", "properties": {"postalCode": {"type": "string", "description": "ZIP or postal code"}}}}}),
                ),
                target: "Parcel carrier",
            },
            Def {
                name: "echo___failWithStatus",
                description: "Answers with the given HTTP status",
                schema: schema(
                    json!({"type": "object", "properties": {"code": {"type": "integer"}}}),
                ),
                target: "Echo backend",
            },
        ]
    }

    fn index(defs: &[Def]) -> SearchIndex {
        SearchIndex::build(defs.iter().enumerate().map(|(i, d)| {
            (
                i + 1, // position 0 is the search tool itself
                ToolText {
                    name: d.name,
                    title: None,
                    description: Some(d.description),
                    input_schema: Some(&d.schema),
                    target_description: Some(d.target),
                },
            )
        }))
    }

    #[test]
    fn check_order_status_prefers_the_order_tool() {
        let defs = defs();
        let idx = index(&defs);
        let top = idx.search("check order status", 10);
        let rank = |top: &[usize], p: usize| top.iter().position(|&x| x == p).unwrap_or(usize::MAX);
        assert!(rank(&top, 3) < rank(&top, 1), "{top:?}");
        assert!(!top.contains(&0), "the search tool is never a result");
        // A repeated query word weighs more: the order tool beats a tool matching only "status".
        let top = idx.search("check the order status for order id 123", 10);
        assert!(matches!(top[0], 3 | 4), "{top:?}");
        assert!(rank(&top, 3) < rank(&top, 6), "{top:?}");
    }

    #[test]
    fn parameters_and_target_descriptions_are_searched() {
        let defs = defs();
        let idx = index(&defs);
        // Nested parameter description only.
        assert_eq!(idx.search("zip code", 3)[0], 5);
        // Target description only.
        assert_eq!(idx.search("parcel carrier", 3), vec![5]);
        assert_eq!(idx.search("find a user by their id", 1), vec![1]);
        assert_eq!(idx.search("list all users", 1), vec![2]);
    }

    #[test]
    fn deterministic_and_bounded() {
        let defs = defs();
        let a = index(&defs).search("get", 10);
        let b = index(&defs).search("get", 10);
        assert_eq!(a, b);
        assert!(index(&defs).search("get", 2).len() <= 2);
        assert!(index(&defs).search("   ", 10).is_empty());
        assert!(SearchIndex::default().search("user", 10).is_empty());
    }

    /// A rough latency print (no timed assertion): `cargo test --release -p toolyard-gateway
    /// --lib search::tests::latency -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn latency() {
        const WORDS: &[&str] = &[
            "user",
            "order",
            "invoice",
            "payment",
            "shipment",
            "product",
            "catalog",
            "inventory",
            "customer",
            "account",
            "report",
            "ticket",
            "message",
            "email",
            "calendar",
            "event",
            "file",
            "folder",
            "document",
            "image",
            "weather",
            "forecast",
            "price",
            "quote",
            "status",
            "address",
            "refund",
            "discount",
            "coupon",
            "review",
            "rating",
            "session",
        ];
        const VERBS: &[&str] = &[
            "get", "list", "create", "update", "delete", "search", "cancel", "approve",
        ];
        for n in [1_000usize, 10_000] {
            let mut seed = 42u64;
            let mut rnd = |m: usize| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((seed >> 33) as usize) % m
            };
            let mut names = Vec::new();
            let mut descs = Vec::new();
            let mut schemas = Vec::new();
            for i in 0..n {
                let (v, a, b) = (
                    VERBS[rnd(VERBS.len())],
                    WORDS[rnd(WORDS.len())],
                    WORDS[rnd(WORDS.len())],
                );
                names.push(format!(
                    "target{}___{v}{}{}{i}",
                    i % 50,
                    capital(a),
                    capital(b)
                ));
                descs.push(format!(
                    "{v} the {a} of a {b}; returns the {a} with its {} and {}",
                    WORDS[rnd(WORDS.len())],
                    WORDS[rnd(WORDS.len())]
                ));
                schemas.push(schema(json!({"type": "object", "properties": {format!("{a}Id"): {"type": "string", "description": format!("id of the {a}")}, "limit": {"type": "integer"}}})));
            }
            let started = std::time::Instant::now();
            let idx = SearchIndex::build((0..n).map(|i| {
                (
                    i,
                    ToolText {
                        name: &names[i],
                        title: None,
                        description: Some(&descs[i]),
                        input_schema: Some(&schemas[i]),
                        target_description: Some("a business API"),
                    },
                )
            }));
            let build = started.elapsed();
            let queries = [
                "check order status",
                "refund a payment for a customer",
                "weather forecast",
                "list invoices of an account",
                "find the user by email address",
                "cancel my shipment",
            ];
            let mut times = Vec::new();
            for r in 0..200 {
                let q = queries[r % queries.len()];
                let t = std::time::Instant::now();
                let hits = idx.search(q, 10);
                times.push(t.elapsed());
                assert!(!hits.is_empty());
            }
            times.sort();
            println!(
                "bm25 n={n}: build {:?}, terms {}, p50 {:?}, p99 {:?}",
                build,
                idx.bm25.terms(),
                times[times.len() / 2],
                times[times.len() * 99 / 100]
            );
        }
    }

    fn capital(s: &str) -> String {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    }
}
