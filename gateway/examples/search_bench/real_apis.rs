//! The real-API evaluation set: large public API descriptions from pinned npm packages (fetched by
//! compile/tests/fixtures/openapi/fetch-real-specs.sh), compiled into tools exactly as a
//! GatewayTarget would be, and intents written by hand in bench/search-eval/*.tsv.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};
use toolyard_compile::naming::sanitize;
use toolyard_compile::openapi::{OpenApiInput, compile};

use crate::Error;

/// One evaluation API: its intent file and its document in the real-specs cache.
pub struct Api {
    /// Short name; also the tool prefix.
    pub name: &'static str,
    /// File in the real-specs directory.
    pub spec: &'static str,
    /// Base URL when the document has none (Kubernetes).
    pub base_url: Option<&'static str>,
}

pub const APIS: &[Api] = &[
    Api {
        name: "stripe",
        spec: "apis-guru-stripe.com.json",
        base_url: None,
    },
    Api {
        name: "kubernetes",
        spec: "kubernetes-1.13.swagger.json",
        base_url: Some("https://kubernetes.default.svc"),
    },
    Api {
        name: "slack",
        spec: "apis-guru-slack.com.json",
        base_url: None,
    },
    Api {
        name: "jira",
        spec: "apis-guru-atlassian.com-jira.json",
        base_url: None,
    },
];

/// A tool as the gateway lists it.
pub struct Tool {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub schema: Map<String, Value>,
    pub deprecated: bool,
}

/// What a query is testing (first column of the intent files).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Direct,
    Paraphrase,
    NearMiss,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Direct => "direct",
            Kind::Paraphrase => "paraphrase",
            Kind::NearMiss => "near-miss",
        }
    }
}

/// One intent: the query, its kind, and the graded relevant tools (index into the catalog).
pub struct Intent {
    pub kind: Kind,
    pub text: String,
    pub grades: HashMap<usize, u8>,
    /// Position in its file (tuning uses the even ones, reporting the odd ones).
    pub ordinal: usize,
}

/// Tools of one API (or of several, concatenated) and the intents over them.
pub struct Catalog {
    pub tools: Vec<Tool>,
    pub intents: Vec<Intent>,
}

/// Compiles one API and reads its intents.
pub fn load(api: &Api, specs: &Path, eval: &Path) -> Result<Catalog, Error> {
    let path = specs.join(api.spec);
    let document =
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let variables = std::collections::BTreeMap::new();
    let compiled = compile(&OpenApiInput {
        document: &document,
        base_url: api.base_url,
        server_variables: &variables,
    })
    .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut tools = Vec::new();
    let mut by_source: HashMap<String, usize> = HashMap::new();
    for t in compiled.tools.tools {
        by_source.insert(t.name.clone(), tools.len());
        tools.push(Tool {
            name: format!("{}___{}", api.name, sanitize(&t.name)),
            title: t.title,
            description: t.description,
            schema: t.input_schema.as_object().cloned().unwrap_or_default(),
            deprecated: t.deprecated,
        });
    }
    let file = eval.join(format!("{}.tsv", api.name));
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut intents = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let at = || format!("{}:{}", file.display(), lineno + 1);
        let mut cols = line.split('\t');
        let (Some(kind), Some(query), Some(relevant), None) =
            (cols.next(), cols.next(), cols.next(), cols.next())
        else {
            return Err(format!("{}: expected kind<TAB>query<TAB>tools", at()).into());
        };
        let kind = match kind {
            "d" => Kind::Direct,
            "p" => Kind::Paraphrase,
            "n" => Kind::NearMiss,
            other => return Err(format!("{}: unknown kind {other:?}", at()).into()),
        };
        let mut grades = HashMap::new();
        for item in relevant.split_whitespace() {
            let (op, grade) = match item.split_once('=') {
                Some((op, g)) => (op, g.parse::<u8>().map_err(|e| format!("{}: {e}", at()))?),
                None => (item, 2),
            };
            let Some(&doc) = by_source.get(op) else {
                return Err(format!("{}: {op} is not an operation of {}", at(), api.spec).into());
            };
            grades.insert(doc, grade);
        }
        if !grades.values().any(|&g| g == 2) {
            return Err(format!("{}: no tool of grade 2", at()).into());
        }
        intents.push(Intent {
            kind,
            text: query.to_string(),
            grades,
            ordinal: intents.len(),
        });
    }
    Ok(Catalog { tools, intents })
}

/// Every API in one catalog (tool indices of later APIs shifted), as a gateway serving all of
/// them behind one search tool would.
pub fn combined(catalogs: Vec<Catalog>) -> Catalog {
    let mut all = Catalog {
        tools: Vec::new(),
        intents: Vec::new(),
    };
    for c in catalogs {
        let offset = all.tools.len();
        all.tools.extend(c.tools);
        all.intents.extend(c.intents.into_iter().map(|mut i| {
            i.grades = i.grades.into_iter().map(|(d, g)| (d + offset, g)).collect();
            i
        }));
    }
    all
}
