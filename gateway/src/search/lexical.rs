//! BM25 over weighted fields (a BM25F-style weighted term frequency): the embedded, model-free
//! half of tool search. Pure and allocation-light at query time: postings are precomputed per
//! term id, and each document's length normalisation is precomputed too.

use std::collections::HashMap;

/// BM25 term-frequency saturation.
pub const K1: f32 = 1.2;
/// BM25 length normalisation.
pub const B: f32 = 0.75;

/// Words that carry no meaning for tool matching.
const STOPWORDS: &[&str] = &[
    "a", "about", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by",
    "can", "could", "do", "does", "for", "from", "has", "have", "how", "i", "if", "in", "into",
    "is", "it", "its", "me", "my", "of", "on", "or", "our", "please", "should", "so", "some",
    "than", "that", "the", "their", "them", "then", "there", "these", "this", "those", "to", "us",
    "was", "we", "were", "what", "when", "where", "which", "who", "will", "with", "would", "you",
    "your",
];

fn is_stopword(word: &str) -> bool {
    STOPWORDS.binary_search(&word).is_ok()
}

/// The verbs of API operations and the everyday words people use for them: a query word on the
/// right also looks for the operation verb on the left (at [`Bm25Index::synonym_weight`]).
/// Only the generic create/read/update/delete/search/cancel vocabulary, not any one API's nouns.
const VERB_SYNONYMS: &[(&str, &[&str])] = &[
    ("delete", &["remove", "erase", "destroy", "drop", "purge"]),
    ("remove", &["delete", "erase"]),
    (
        "get",
        &[
            "show", "view", "fetch", "retrieve", "read", "display", "see", "look", "check",
            "details", "info",
        ],
    ),
    (
        "read",
        &["show", "view", "get", "fetch", "retrieve", "see", "check"],
    ),
    (
        "list",
        &["show", "view", "all", "every", "enumerate", "which"],
    ),
    ("create", &["make", "add", "new", "register", "start"]),
    ("post", &["create", "make", "add", "new", "send"]),
    (
        "update",
        &["change", "edit", "modify", "alter", "set", "rename", "move"],
    ),
    ("patch", &["change", "edit", "modify", "update"]),
    ("search", &["find", "look", "lookup", "query", "matching"]),
    ("cancel", &["stop", "abort", "end", "undo"]),
];

/// Query term → operation verbs it stands for (stemmed both sides).
fn synonyms() -> &'static HashMap<String, Vec<String>> {
    static MAP: std::sync::OnceLock<HashMap<String, Vec<String>>> = std::sync::OnceLock::new();
    MAP.get_or_init(|| {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (verb, words) in VERB_SYNONYMS {
            for w in *words {
                for t in tokenize(w) {
                    let e = map.entry(t).or_default();
                    let v = stem(verb);
                    if !e.contains(&v) {
                        e.push(v);
                    }
                }
            }
        }
        map
    })
}

/// Splits `text` into lowercase, stemmed words without stopwords: non-alphanumeric characters
/// (`___`, `_`, `-`, `.`, `/`, spaces, punctuation) separate words, and so do camelCase humps
/// (`getUserById` → get user by id, `HTTPServer` → http server) and letter/digit changes.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    tokenize_into(text, &mut |w| out.push(w));
    out
}

/// [`tokenize`], handing each word to `emit`.
pub fn tokenize_into(text: &str, emit: &mut impl FnMut(String)) {
    let chars: Vec<char> = text.chars().collect();
    let mut start = 0;
    let n = chars.len();
    let mut i = 0;
    while i <= n {
        let boundary_here = if i == n || !chars[i].is_alphanumeric() {
            true
        } else if i > start {
            let (p, c) = (chars[i - 1], chars[i]);
            let next_lower = chars.get(i + 1).is_some_and(|x| x.is_lowercase());
            (p.is_lowercase() && c.is_uppercase())
                || (p.is_uppercase() && c.is_uppercase() && next_lower)
                || (p.is_alphabetic() && c.is_numeric())
                || (p.is_numeric() && c.is_alphabetic())
        } else {
            false
        };
        if boundary_here {
            if i > start {
                let word: String = chars[start..i]
                    .iter()
                    .flat_map(|c| c.to_lowercase())
                    .collect();
                push_word(word, emit);
            }
            if i == n || !chars[i].is_alphanumeric() {
                start = i + 1;
            } else {
                start = i;
            }
        }
        i += 1;
    }
}

fn push_word(word: String, emit: &mut impl FnMut(String)) {
    // Single letters carry nothing (digits do: "v2", "page 2").
    if word.chars().count() == 1 && !word.chars().all(|c| c.is_numeric()) {
        return;
    }
    if is_stopword(&word) {
        return;
    }
    emit(stem(&word));
}

/// A light, conservative suffix stripper, applied alike to documents and queries: plurals
/// (`orders` → order, `queries` → query, `boxes` → box), then `-ing` / `-ed`, then a final `e`
/// so that `update`, `updated`, `updating` and `updates` meet.
pub fn stem(word: &str) -> String {
    if !word.is_ascii() || word.len() <= 3 {
        return word.to_string();
    }
    let mut w = word.to_string();
    // Plurals.
    if w.ends_with("ies") && w.len() > 4 {
        w.truncate(w.len() - 3);
        w.push('y');
    } else if w.len() > 4
        && ["sses", "xes", "zes", "ches", "shes"]
            .iter()
            .any(|s| w.ends_with(s))
    {
        w.truncate(w.len() - 2);
    } else if w.ends_with('s')
        && !w.ends_with("ss")
        && !w.ends_with("us")
        && !w.ends_with("is")
        && w.len() > 3
    {
        w.truncate(w.len() - 1);
    }
    // -ing / -ed, keeping a stem of at least three letters with a vowel.
    let mut stripped = false;
    if w.len() > 5 && w.ends_with("ing") && has_vowel(&w[..w.len() - 3]) {
        w.truncate(w.len() - 3);
        stripped = true;
    } else if w.len() > 4
        && w.ends_with("ed")
        && !w.ends_with("eed")
        && has_vowel(&w[..w.len() - 2])
    {
        w.truncate(w.len() - 2);
        stripped = true;
    }
    if stripped {
        // getting → get, running → run (but not fill, pass, buzz).
        let b = w.as_bytes();
        let l = b.len();
        if l >= 4
            && b[l - 1] == b[l - 2]
            && !matches!(b[l - 1], b'l' | b's' | b'z')
            && !is_vowel(b[l - 1])
        {
            w.truncate(l - 1);
        }
    }
    // Final e (update/updat, create/creat), only on longer words.
    if w.len() > 4 && w.ends_with('e') && !w.ends_with("ee") {
        w.truncate(w.len() - 1);
    }
    w
}

fn is_vowel(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

fn has_vowel(s: &str) -> bool {
    s.len() >= 3 && s.bytes().any(is_vowel)
}

/// Collects documents, then [`Bm25Builder::finish`]es into an index.
#[derive(Debug, Default)]
pub struct Bm25Builder {
    terms: HashMap<String, u32>,
    postings: Vec<Vec<(u32, f32)>>,
    lengths: Vec<f32>,
    names: Vec<String>,
    /// Per document: the term ids of its own name (see [`Bm25Builder::add_named`]).
    name_terms: Vec<Box<[u32]>>,
}

impl Bm25Builder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one document made of weighted text fields; returns its id (0, 1, ...). `name` only
    /// breaks ties between equal scores.
    pub fn add<S: AsRef<str>>(&mut self, name: &str, fields: &[(S, f32)]) -> u32 {
        self.add_named(name, "", fields)
    }

    /// [`Bm25Builder::add`], remembering the words of the tool's own name (`name_words`, without
    /// a target prefix) for the name-coverage boost ([`Bm25Index::set_name_coverage`]). Number
    /// words are left out of the name: a version (`V1beta1`) is not something a caller says.
    pub fn add_named<S: AsRef<str>>(
        &mut self,
        name: &str,
        name_words: &str,
        fields: &[(S, f32)],
    ) -> u32 {
        let doc = self.lengths.len() as u32;
        let mut tf: HashMap<u32, f32> = HashMap::new();
        let mut length = 0.0f32;
        for (text, weight) in fields {
            let weight = *weight;
            if weight <= 0.0 {
                continue;
            }
            tokenize_into(text.as_ref(), &mut |word| {
                let next = self.terms.len() as u32;
                let id = *self.terms.entry(word).or_insert(next);
                if id == next {
                    self.postings.push(Vec::new());
                }
                *tf.entry(id).or_insert(0.0) += weight;
                length += weight;
            });
        }
        let mut entries: Vec<(u32, f32)> = tf.into_iter().collect();
        entries.sort_unstable_by_key(|e| e.0);
        for (term, f) in entries {
            self.postings[term as usize].push((doc, f));
        }
        self.lengths.push(length);
        self.names.push(name.to_string());
        let mut own: Vec<u32> = Vec::new();
        tokenize_into(name_words, &mut |word| {
            if let Some(&id) = self.terms.get(&word)
                && !word.bytes().all(|b| b.is_ascii_digit())
                && !own.contains(&id)
            {
                own.push(id);
            }
        });
        self.name_terms.push(own.into());
        doc
    }

    /// The finished index (no query synonyms).
    pub fn finish(self) -> Bm25Index {
        self.finish_with(0.0)
    }

    /// The finished index; query words with an operation-verb synonym also look for the verb at
    /// `synonym_weight` (0: off).
    pub fn finish_with(self, synonym_weight: f32) -> Bm25Index {
        let n = self.lengths.len();
        let avg = if n == 0 {
            1.0
        } else {
            (self.lengths.iter().sum::<f32>() / n as f32).max(1e-6)
        };
        let norm = self
            .lengths
            .iter()
            .map(|&l| K1 * (1.0 - B + B * l / avg))
            .collect();
        let idf = self
            .postings
            .iter()
            .map(|p| {
                let df = p.len() as f32;
                (1.0 + (n as f32 - df + 0.5) / (df + 0.5)).ln()
            })
            .collect();
        // Tie-break rank: position of each document in name order.
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_by(|&a, &b| {
            self.names[a as usize]
                .cmp(&self.names[b as usize])
                .then(a.cmp(&b))
        });
        let mut rank = vec![0u32; n];
        for (r, &d) in order.iter().enumerate() {
            rank[d as usize] = r as u32;
        }
        let mut terms = self.terms;
        terms.shrink_to_fit();
        let mut postings = self.postings;
        for p in &mut postings {
            p.shrink_to_fit();
        }
        // Name postings: per term, the documents whose own name says it (each once).
        let mut name_postings: Vec<Vec<u32>> = vec![Vec::new(); postings.len()];
        let mut name_lengths = vec![0u8; n];
        for (doc, own) in self.name_terms.iter().enumerate() {
            name_lengths[doc] = own.len().min(usize::from(u8::MAX)) as u8;
            for &t in own.iter() {
                name_postings[t as usize].push(doc as u32);
            }
        }
        for p in &mut name_postings {
            p.shrink_to_fit();
        }
        Bm25Index {
            terms,
            postings,
            idf,
            norm,
            rank,
            synonym_weight,
            name_postings,
            name_lengths,
            name_coverage: 0.0,
            priors: Vec::new(),
        }
    }
}

/// An immutable BM25 index.
#[derive(Debug, Default)]
pub struct Bm25Index {
    terms: HashMap<String, u32>,
    /// Per term id: (document, weighted term frequency), by document.
    postings: Vec<Vec<(u32, f32)>>,
    /// Per term id.
    idf: Vec<f32>,
    /// Per document: `k1 * (1 - b + b * len / avglen)`.
    norm: Vec<f32>,
    /// Per document: its position in name order (tie-break).
    rank: Vec<u32>,
    /// Weight of an operation verb a query word stands for ([`VERB_SYNONYMS`]); 0: off.
    synonym_weight: f32,
    /// Per term id: the documents whose own name has that word (each once).
    name_postings: Vec<Vec<u32>>,
    /// Per document: how many words its own name has (the name-coverage denominator).
    name_lengths: Vec<u8>,
    /// How much a document's score grows with the share of its name's words the query says
    /// ([`Bm25Index::set_name_coverage`]); 0: off.
    name_coverage: f32,
    /// Per document: a factor on its score (empty: all 1), see [`Bm25Index::set_priors`].
    priors: Vec<f32>,
}

impl Bm25Index {
    /// Number of documents.
    pub fn len(&self) -> usize {
        self.norm.len()
    }

    /// Whether there are no documents.
    pub fn is_empty(&self) -> bool {
        self.norm.is_empty()
    }

    /// Number of distinct terms.
    pub fn terms(&self) -> usize {
        self.terms.len()
    }

    /// Turns on the name-coverage boost: a document's score is multiplied by
    /// `1 + weight * covered`, where `covered` is the share of the words of its own name that
    /// the query says (itself or as an operation-verb synonym). Why: a large API has a general
    /// operation and many specialised ones sharing its words (`createProject`,
    /// `createProjectCategory`, `createProjectRole`); their descriptions all match "create a
    /// new project", and only the name tells that the general one is exactly what was asked.
    pub fn set_name_coverage(&mut self, weight: f32) {
        self.name_coverage = weight.max(0.0);
    }

    /// Multiplies each hit's score by its name-coverage boost. The words a query says are
    /// counted per document through the name postings, so the cost follows how many names
    /// contain a query word, not how many documents matched.
    fn boost_named(&self, ids: &[(u32, f32)], hits: &mut [(u32, f32)]) {
        let total: usize = ids
            .iter()
            .map(|&(t, _)| self.name_postings[t as usize].len())
            .sum();
        if total == 0 {
            return;
        }
        let boost = |said: u32, doc: u32| {
            let len = f32::from(self.name_lengths[doc as usize].max(1));
            1.0 + self.name_coverage * said as f32 / len
        };
        if total * 8 > self.len() {
            let mut said = vec![0u8; self.len()];
            for &(t, _) in ids {
                for &d in &self.name_postings[t as usize] {
                    said[d as usize] = said[d as usize].saturating_add(1);
                }
            }
            for (d, s) in hits.iter_mut() {
                let n = said[*d as usize];
                if n > 0 {
                    *s *= boost(u32::from(n), *d);
                }
            }
        } else {
            let mut said: HashMap<u32, u32> = HashMap::with_capacity(total);
            for &(t, _) in ids {
                for &d in &self.name_postings[t as usize] {
                    *said.entry(d).or_insert(0) += 1;
                }
            }
            for (d, s) in hits.iter_mut() {
                if let Some(&n) = said.get(d) {
                    *s *= boost(n, *d);
                }
            }
        }
    }

    /// Sets a factor on each document's score, in document order (a query-independent prior:
    /// deprecated operations rank below their replacements). Missing entries count as 1.
    pub fn set_priors(&mut self, priors: Vec<f32>) {
        self.priors = priors;
    }

    /// The prior of `doc` (1 unless [`Bm25Index::set_priors`] said otherwise).
    pub fn prior(&self, doc: u32) -> f32 {
        self.priors.get(doc as usize).copied().unwrap_or(1.0)
    }

    /// The `k` best documents for `query` with their scores, best first; equal scores in name
    /// order. Documents matching no query word are not returned.
    pub fn search(&self, query: &str, k: usize) -> Vec<(u32, f32)> {
        self.search_filtered(query, k, &|_| true)
    }

    /// [`Bm25Index::search`] among the documents `keep` accepts.
    pub fn search_filtered(
        &self,
        query: &str,
        k: usize,
        keep: &dyn Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        if k == 0 || self.is_empty() {
            return Vec::new();
        }
        // (term, weight): a word repeated in the query counts once more each time ("order status
        // for order 123" is mostly about orders).
        let mut ids: Vec<(u32, f32)> = Vec::new();
        let mut expanded: Vec<u32> = Vec::new();
        tokenize_into(query, &mut |w| {
            if self.synonym_weight > 0.0
                && let Some(verbs) = synonyms().get(&w)
            {
                for v in verbs {
                    if let Some(&id) = self.terms.get(v)
                        && !expanded.contains(&id)
                    {
                        expanded.push(id);
                    }
                }
            }
            if let Some(&id) = self.terms.get(&w) {
                match ids.iter_mut().find(|e| e.0 == id) {
                    Some(e) => e.1 += 1.0,
                    None => ids.push((id, 1.0)),
                }
            }
        });
        // A synonym counts only when the query does not already say the verb itself.
        for id in expanded {
            if !ids.iter().any(|e| e.0 == id) {
                ids.push((id, self.synonym_weight));
            }
        }
        if ids.is_empty() {
            return Vec::new();
        }
        let mut scores: HashMap<u32, f32> = HashMap::new();
        let total: usize = ids
            .iter()
            .map(|&(t, _)| self.postings[t as usize].len())
            .sum();
        // Dense accumulator when many documents are touched, sparse otherwise.
        let mut hits: Vec<(u32, f32)> = if total * 8 > self.len() {
            let mut acc = vec![0.0f32; self.len()];
            for &(t, q) in &ids {
                let idf = self.idf[t as usize] * q;
                for &(d, f) in &self.postings[t as usize] {
                    acc[d as usize] += idf * f * (K1 + 1.0) / (f + self.norm[d as usize]);
                }
            }
            acc.into_iter()
                .enumerate()
                .filter(|&(_, s)| s > 0.0)
                .map(|(d, s)| (d as u32, s))
                .collect()
        } else {
            for &(t, q) in &ids {
                let idf = self.idf[t as usize] * q;
                for &(d, f) in &self.postings[t as usize] {
                    *scores.entry(d).or_insert(0.0) +=
                        idf * f * (K1 + 1.0) / (f + self.norm[d as usize]);
                }
            }
            scores.into_iter().collect()
        };
        hits.retain(|h| keep(h.0));
        if self.name_coverage > 0.0 {
            self.boost_named(&ids, &mut hits);
        }
        if !self.priors.is_empty() {
            for (d, s) in &mut hits {
                *s *= self.prior(*d);
            }
        }
        let better = |a: &(u32, f32), b: &(u32, f32)| {
            b.1.total_cmp(&a.1)
                .then(self.rank[a.0 as usize].cmp(&self.rank[b.0 as usize]))
        };
        if hits.len() > k {
            hits.select_nth_unstable_by(k - 1, better);
            hits.truncate(k);
        }
        hits.sort_unstable_by(better);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_sorted() {
        let mut sorted = STOPWORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, STOPWORDS);
    }

    #[test]
    fn tokenizer_splits_camel_snake_and_separators() {
        assert_eq!(tokenize("getUserById"), ["get", "user", "id"]);
        assert_eq!(
            tokenize("LambdaUsingSDK___get_order_tool"),
            ["lambda", "using", "sdk", "get", "order", "tool"]
        );
        assert_eq!(tokenize("users___getUser"), ["user", "get", "user"]);
        assert_eq!(tokenize("HTTPServer"), ["http", "server"]);
        assert_eq!(
            tokenize("list-orders.v2/items"),
            ["list", "order", "2", "item"]
        );
        assert_eq!(tokenize("The status of an ORDER"), ["status", "order"]);
        assert!(tokenize("").is_empty());
        assert!(tokenize("  ___ !! ").is_empty());
    }

    #[test]
    fn stemmer_is_light_and_consistent() {
        assert_eq!(stem("orders"), "order");
        assert_eq!(stem("queries"), "query");
        assert_eq!(stem("boxes"), "box");
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("address"), "address");
        assert_eq!(stem("getting"), "get");
        assert_eq!(stem("speed"), "speed");
        assert_eq!(stem("added"), stem("add"));
        for family in [
            ["update", "updated", "updating", "updates"],
            ["create", "created", "creating", "creates"],
            ["list", "listing", "lists", "listed"],
        ] {
            let stems: Vec<String> = family.iter().map(|w| stem(w)).collect();
            assert!(
                stems.iter().all(|s| s == &stems[0]),
                "{family:?} → {stems:?}"
            );
        }
    }

    fn corpus() -> Bm25Index {
        let mut b = Bm25Builder::new();
        let docs: &[(&str, &str)] = &[
            (
                "users___getUser",
                "Get user information. Returns one user by id.",
            ),
            ("users___listUsers", "List users"),
            ("LambdaUsingSDK___get_order_tool", "tool to get the order"),
            (
                "LambdaUsingSDK___update_order_tool",
                "tool to update the orderId",
            ),
            ("weather___getForecast", "Weather forecast for a city"),
        ];
        for (name, desc) in docs {
            b.add(name, &[(*name, 3.0), (*desc, 1.0)]);
        }
        b.finish()
    }

    #[test]
    fn ranking_is_sensible() {
        let index = corpus();
        let top = index.search("check order status", 10);
        assert_eq!(top[0].0, 2, "{top:?}");
        assert!(!top.iter().any(|&(d, _)| d == 0));
        let top = index.search("who is the user with id 42", 10);
        assert_eq!(top[0].0, 0, "{top:?}");
        let top = index.search("weather in Paris tomorrow", 3);
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].0, 4);
        let top = index.search("update orders", 1);
        assert_eq!(top, vec![(3, top[0].1)]);
    }

    #[test]
    fn ties_break_by_name_and_results_are_deterministic() {
        let mut b = Bm25Builder::new();
        b.add("zeta", &[("same words here", 1.0)]);
        b.add("alpha", &[("same words here", 1.0)]);
        b.add("mid", &[("same words here", 1.0)]);
        let index = b.finish();
        let ids: Vec<u32> = index.search("words", 10).into_iter().map(|h| h.0).collect();
        assert_eq!(ids, [1, 2, 0]);
        let ids: Vec<u32> = index.search("words", 2).into_iter().map(|h| h.0).collect();
        assert_eq!(ids, [1, 2]);
        let index = corpus();
        let first = index.search("get order", 10);
        for _ in 0..5 {
            assert_eq!(index.search("get order", 10), first);
        }
    }

    /// A general operation and specialised ones sharing its words, all described alike.
    fn projects(coverage: f32) -> Bm25Index {
        let mut b = Bm25Builder::new();
        for name in [
            "createProjectCategory",
            "createProjectRole",
            "createProject",
            "createProjectV2beta1",
        ] {
            let summary = "Creates a project category, role or project for the project admin.";
            b.add_named(
                &format!("jira___{name}"),
                name,
                &[(name, 4.0), (summary, 1.0)],
            );
        }
        let mut index = b.finish();
        index.set_name_coverage(coverage);
        index
    }

    #[test]
    fn a_query_that_says_the_whole_name_prefers_that_tool() {
        let ids = |index: &Bm25Index| -> Vec<u32> {
            index
                .search("create a new project", 4)
                .iter()
                .map(|h| h.0)
                .collect()
        };
        assert_eq!(ids(&projects(2.0))[0], 2);
        // The boost widens the general tool's lead over the specialised ones (all of them say
        // two of their three name words; a version's digits are not counted as name words).
        let lead = |index: &Bm25Index| {
            let hits = index.search("create a new project", 4);
            hits[0].1 / hits[1].1
        };
        let (plain, boosted) = (lead(&projects(0.0)), lead(&projects(2.0)));
        assert!(boosted > plain * 1.2, "{plain} -> {boosted}");
        assert!(
            (boosted / plain - (1.0 + 2.0) / (1.0 + 2.0 * 2.0 / 3.0)).abs() < 1e-3,
            "covered 2/2 against 2/3: {plain} -> {boosted}"
        );
        // A query that says no word of a name gives it no boost.
        assert!(projects(2.0).search("admin", 4).iter().all(|h| {
            let base = projects(0.0).search("admin", 4);
            base.iter().any(|b| b.0 == h.0 && (b.1 - h.1).abs() < 1e-6)
        }));
    }

    #[test]
    fn priors_scale_scores() {
        let mut b = Bm25Builder::new();
        b.add("watchPods", &[("list pods", 1.0)]);
        b.add("listPods", &[("list pods", 1.0)]);
        let mut index = b.finish();
        assert_eq!(
            index.search("list pods", 2)[0].0,
            1,
            "name order breaks the tie"
        );
        index.set_priors(vec![1.0, 0.8]);
        let top = index.search("list pods", 2);
        assert_eq!(top[0].0, 0);
        assert!((top[1].1 / top[0].1 - 0.8).abs() < 1e-5, "{top:?}");
        assert_eq!(index.prior(1), 0.8);
        assert_eq!(index.prior(7), 1.0, "missing entries count as 1");
    }

    #[test]
    fn everyday_verbs_find_operation_verbs_when_enabled() {
        let mut b = Bm25Builder::new();
        b.add("deleteUser", &[("deleteUser", 3.0), ("Delete a user", 1.0)]);
        b.add("getUser", &[("getUser", 3.0), ("Get a user", 1.0)]);
        let plain = b.finish();
        let top = plain.search("remove this user", 2);
        assert_eq!(top.len(), 2);
        assert_eq!(top[0].1, top[1].1, "without synonyms only `user` matches");
        let mut b = Bm25Builder::new();
        b.add("deleteUser", &[("deleteUser", 3.0), ("Delete a user", 1.0)]);
        b.add("getUser", &[("getUser", 3.0), ("Get a user", 1.0)]);
        let index = b.finish_with(0.5);
        assert_eq!(index.search("remove this user", 2)[0].0, 0);
        assert_eq!(index.search("show me the user", 2)[0].0, 1);
        // Saying the verb itself is not outweighed by a synonym.
        assert_eq!(index.search("get user, not remove", 2)[0].0, 1);
    }

    #[test]
    fn empty_and_unknown_queries_return_nothing() {
        let index = corpus();
        assert!(index.search("", 10).is_empty());
        assert!(index.search("the of and", 10).is_empty());
        assert!(index.search("xylophone", 10).is_empty());
        assert!(index.search("order", 0).is_empty());
        assert!(Bm25Index::default().search("order", 10).is_empty());
    }
}
