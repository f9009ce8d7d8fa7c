//! Tool arguments checked against the tool's input schema before any backend request.
//!
//! A backend that gets `{"TableName": 42}` answers with its own error, often a generic one, and
//! the agent learns nothing; checked here, the agent is told which argument is wrong and what was
//! expected (`Invalid argument TableName: expected a string, got the number 42.`), and nothing is
//! sent. A [`Validator`] is compiled from a schema once (per tool and snapshot, on the tool's
//! first call) and then only walks the arguments.
//!
//! It covers the JSON Schema 2020-12 keywords the compilers produce: `type`, `enum`, `const`,
//! numeric bounds and `multipleOf`, string lengths, `pattern` and `format` (date-time, date,
//! time, email, uuid, ipv4, ipv6, uri, int32, int64; other formats are annotations), array items
//! and bounds, object properties, `required` and `additionalProperties`, `allOf` / `anyOf` /
//! `oneOf` / `not`, and local `$ref`s into `$defs`. A keyword it can not use (a pattern in a
//! regex dialect Rust's `regex` does not read, an unknown format) accepts everything: the check
//! must never refuse a call the backend would take.

use std::collections::HashMap;
use std::fmt::Write as _;

use regex::Regex;
use serde_json::{Map, Value};

/// Most bytes of compiled program per pattern (hostile patterns stay cheap).
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Deepest nesting walked; deeper values are accepted unchecked.
const MAX_DEPTH: usize = 64;

/// Why arguments are invalid: where, and what was expected there.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    /// The argument path, e.g. `filter.tags[0]` (empty for the arguments object itself).
    pub path: String,
    /// What was expected and what was given.
    pub expected: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "Invalid arguments: {}", self.expected)
        } else {
            write!(f, "Invalid argument {}: {}", self.path, self.expected)
        }
    }
}

/// A compiled input schema.
#[derive(Debug, Default)]
pub struct Validator {
    root: Node,
    /// `$defs` entries, by index; `$ref`s point here.
    defs: Vec<Node>,
}

#[derive(Debug, Default)]
enum Node {
    /// `true`, `{}`, or nothing checkable.
    #[default]
    Any,
    /// `false`.
    Never,
    Checks(Box<Checks>),
}

#[derive(Debug, Default)]
struct Checks {
    /// Bit set of [`Kind`]s; 0 means any type.
    types: u8,
    enumeration: Option<Vec<Value>>,
    constant: Option<Value>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    multiple_of: Option<f64>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    pattern: Option<(String, Regex)>,
    format: Option<Format>,
    items: Option<Node>,
    prefix_items: Vec<Node>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    unique_items: bool,
    properties: Vec<(String, Node)>,
    required: Vec<String>,
    additional: Option<Node>,
    pattern_properties: Vec<(Regex, Node)>,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    /// `dependentRequired`: when the first is present, the others must be.
    dependent_required: Vec<(String, Vec<String>)>,
    all_of: Vec<Node>,
    any_of: Vec<Node>,
    one_of: Vec<Node>,
    not: Option<Node>,
    reference: Option<usize>,
}

const NULL: u8 = 1;
const BOOLEAN: u8 = 2;
const INTEGER: u8 = 4;
const NUMBER: u8 = 8;
const STRING: u8 = 16;
const ARRAY: u8 = 32;
const OBJECT: u8 = 64;

#[derive(Debug, Clone, Copy)]
enum Format {
    DateTime,
    Date,
    Time,
    Email,
    Uuid,
    Ipv4,
    Ipv6,
    Uri,
    Int32,
    Int64,
}

impl Validator {
    /// Compiles `schema` (a tool's `inputSchema`). Never fails: what can not be used accepts.
    pub fn new(schema: &Map<String, Value>) -> Self {
        let mut builder = Builder {
            defs_source: schema.get("$defs").and_then(Value::as_object),
            def_index: HashMap::new(),
            defs: Vec::new(),
        };
        let root = builder.object(schema, 0);
        Validator {
            root,
            defs: builder.defs,
        }
    }

    /// Checks the arguments; the first problem found.
    pub fn check(&self, args: &Map<String, Value>) -> Result<(), Invalid> {
        let value = Value::Object(args.clone());
        self.node(&self.root, &value, &mut String::new(), 0)
    }

    fn node(
        &self,
        node: &Node,
        value: &Value,
        path: &mut String,
        depth: usize,
    ) -> Result<(), Invalid> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        match node {
            Node::Any => Ok(()),
            Node::Never => Err(invalid(path, "no value is allowed here".to_owned())),
            Node::Checks(checks) => self.checks(checks, value, path, depth),
        }
    }

    fn checks(
        &self,
        c: &Checks,
        value: &Value,
        path: &mut String,
        depth: usize,
    ) -> Result<(), Invalid> {
        if let Some(i) = c.reference
            && let Some(target) = self.defs.get(i)
        {
            self.node(target, value, path, depth + 1)?;
        }
        if c.types != 0 && c.types & kind(value) == 0 {
            return Err(invalid(
                path,
                format!("expected {}, got {}", type_names(c.types), describe(value)),
            ));
        }
        if let Some(constant) = &c.constant
            && !same(constant, value)
        {
            return Err(invalid(
                path,
                format!("expected {constant}, got {}", describe(value)),
            ));
        }
        if let Some(values) = &c.enumeration
            && !values.iter().any(|v| same(v, value))
        {
            return Err(invalid(
                path,
                format!("expected one of {}, got {}", list(values), describe(value)),
            ));
        }
        match value {
            Value::Number(n) => self.number(c, n, path)?,
            Value::String(s) => self.string(c, s, path)?,
            Value::Array(items) => self.array(c, items, path, depth)?,
            Value::Object(map) => self.object(c, map, path, depth)?,
            _ => {}
        }
        for part in &c.all_of {
            self.node(part, value, path, depth + 1)?;
        }
        if !c.any_of.is_empty() {
            let mut first = None;
            if !c
                .any_of
                .iter()
                .any(|part| match self.node(part, value, path, depth + 1) {
                    Ok(()) => true,
                    Err(e) => {
                        first.get_or_insert(e);
                        false
                    }
                })
            {
                return Err(alternatives(path, c.any_of.len(), first, "any"));
            }
        }
        if !c.one_of.is_empty() {
            let mut first = None;
            let matching = c
                .one_of
                .iter()
                .filter(|part| match self.node(part, value, path, depth + 1) {
                    Ok(()) => true,
                    Err(e) => {
                        first.get_or_insert(e);
                        false
                    }
                })
                .count();
            if matching == 0 {
                return Err(alternatives(path, c.one_of.len(), first, "one"));
            }
            // Several matches are not refused: generated schemas often have overlapping
            // alternatives (no discriminator), and the backend tells them apart.
        }
        if let Some(not) = &c.not
            && self.node(not, value, path, depth + 1).is_ok()
        {
            return Err(invalid(
                path,
                "the value matches a shape that is not allowed".to_owned(),
            ));
        }
        Ok(())
    }

    fn number(&self, c: &Checks, n: &serde_json::Number, path: &str) -> Result<(), Invalid> {
        let Some(x) = n.as_f64() else {
            return Ok(());
        };
        let fail = |what: String| Err(invalid(path, format!("expected {what}, got {n}")));
        if let Some(min) = c.minimum
            && x < min
        {
            return fail(format!("a number >= {}", num(min)));
        }
        if let Some(max) = c.maximum
            && x > max
        {
            return fail(format!("a number <= {}", num(max)));
        }
        if let Some(min) = c.exclusive_minimum
            && x <= min
        {
            return fail(format!("a number > {}", num(min)));
        }
        if let Some(max) = c.exclusive_maximum
            && x >= max
        {
            return fail(format!("a number < {}", num(max)));
        }
        if let Some(step) = c.multiple_of
            && step > 0.0
        {
            let ratio = x / step;
            if (ratio - ratio.round()).abs() > 1e-9 * ratio.abs().max(1.0) {
                return fail(format!("a multiple of {}", num(step)));
            }
        }
        match c.format {
            Some(Format::Int32) if !(f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&x) => {
                fail("a 32-bit integer".to_owned())
            }
            Some(Format::Int64)
                if !(-9.223_372_036_854_776e18..=9.223_372_036_854_776e18).contains(&x) =>
            {
                fail("a 64-bit integer".to_owned())
            }
            _ => Ok(()),
        }
    }

    fn string(&self, c: &Checks, s: &str, path: &str) -> Result<(), Invalid> {
        let length = s.chars().count() as u64;
        if let Some(min) = c.min_length
            && length < min
        {
            return Err(invalid(
                path,
                format!("expected a string of at least {min} characters, got {length}"),
            ));
        }
        if let Some(max) = c.max_length
            && length > max
        {
            return Err(invalid(
                path,
                format!("expected a string of at most {max} characters, got {length}"),
            ));
        }
        if let Some((source, regex)) = &c.pattern
            && !regex.is_match(s)
        {
            return Err(invalid(
                path,
                format!(
                    "expected a string matching the pattern {source}, got {}",
                    quoted(s)
                ),
            ));
        }
        if let Some(format) = c.format
            && let Some(name) = format_mismatch(format, s)
        {
            return Err(invalid(path, format!("expected {name}, got {}", quoted(s))));
        }
        Ok(())
    }

    fn array(
        &self,
        c: &Checks,
        items: &[Value],
        path: &mut String,
        depth: usize,
    ) -> Result<(), Invalid> {
        let count = items.len() as u64;
        if let Some(min) = c.min_items
            && count < min
        {
            return Err(invalid(
                path,
                format!("expected at least {min} items, got {count}"),
            ));
        }
        if let Some(max) = c.max_items
            && count > max
        {
            return Err(invalid(
                path,
                format!("expected at most {max} items, got {count}"),
            ));
        }
        if c.unique_items {
            for (i, item) in items.iter().enumerate() {
                if items[..i].iter().any(|other| same(other, item)) {
                    return Err(invalid(
                        path,
                        format!("expected unique items, got {} twice", describe(item)),
                    ));
                }
            }
        }
        for (i, item) in items.iter().enumerate() {
            let node = match c.prefix_items.get(i) {
                Some(node) => node,
                None => match &c.items {
                    Some(node) => node,
                    None => continue,
                },
            };
            let len = path.len();
            let _ = write!(path, "[{i}]");
            let result = self.node(node, item, path, depth + 1);
            path.truncate(len);
            result?;
        }
        Ok(())
    }

    fn object(
        &self,
        c: &Checks,
        map: &Map<String, Value>,
        path: &mut String,
        depth: usize,
    ) -> Result<(), Invalid> {
        for name in &c.required {
            if !map.contains_key(name) {
                let at = join(path, name);
                return Err(Invalid {
                    path: at,
                    expected: "is required but missing".to_owned(),
                });
            }
        }
        for (present, needed) in &c.dependent_required {
            if map.contains_key(present)
                && let Some(missing) = needed.iter().find(|n| !map.contains_key(*n))
            {
                return Err(Invalid {
                    path: join(path, missing),
                    expected: format!("is required when {present} is given"),
                });
            }
        }
        let count = map.len() as u64;
        if let Some(min) = c.min_properties
            && count < min
        {
            return Err(invalid(
                path,
                format!("expected at least {min} properties, got {count}"),
            ));
        }
        if let Some(max) = c.max_properties
            && count > max
        {
            return Err(invalid(
                path,
                format!("expected at most {max} properties, got {count}"),
            ));
        }
        for (name, value) in map {
            let declared = c
                .properties
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, node)| node);
            let patterned: Vec<&Node> = c
                .pattern_properties
                .iter()
                .filter(|(re, _)| re.is_match(name))
                .map(|(_, node)| node)
                .collect();
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(name);
            let result = (|| {
                if let Some(node) = declared {
                    self.node(node, value, path, depth + 1)?;
                }
                for node in &patterned {
                    self.node(node, value, path, depth + 1)?;
                }
                if declared.is_none() && patterned.is_empty() {
                    match &c.additional {
                        Some(Node::Never) => {
                            return Err(Invalid {
                                path: path.clone(),
                                expected: "is not an argument of this tool".to_owned(),
                            });
                        }
                        Some(node) => self.node(node, value, path, depth + 1)?,
                        None => {}
                    }
                }
                Ok(())
            })();
            path.truncate(len);
            result?;
        }
        Ok(())
    }
}

struct Builder<'s> {
    defs_source: Option<&'s Map<String, Value>>,
    def_index: HashMap<String, usize>,
    defs: Vec<Node>,
}

impl<'s> Builder<'s> {
    fn node(&mut self, schema: &'s Value, depth: usize) -> Node {
        match schema {
            Value::Bool(false) => Node::Never,
            Value::Object(map) if depth <= MAX_DEPTH => self.object(map, depth),
            _ => Node::Any,
        }
    }

    /// The index of `$defs/<name>`, compiling it on first use (a cycle finds its own index).
    fn def(&mut self, reference: &str) -> Option<usize> {
        let name = reference.strip_prefix("#/$defs/")?;
        let name = name.replace("~1", "/").replace("~0", "~");
        if let Some(i) = self.def_index.get(&name) {
            return Some(*i);
        }
        let source = self.defs_source?.get(&name)?;
        let i = self.defs.len();
        self.defs.push(Node::Any);
        self.def_index.insert(name, i);
        let node = self.node(source, 1);
        self.defs[i] = node;
        Some(i)
    }

    fn object(&mut self, map: &'s Map<String, Value>, depth: usize) -> Node {
        let mut c = Checks::default();
        let count = |v: Option<&Value>| v.and_then(Value::as_u64);
        let float = |v: Option<&Value>| v.and_then(Value::as_f64);
        let many = |b: &mut Self, key: &str| -> Vec<Node> {
            map.get(key)
                .and_then(Value::as_array)
                .map(|parts| parts.iter().map(|p| b.node(p, depth + 1)).collect())
                .unwrap_or_default()
        };
        if let Some(Value::String(reference)) = map.get("$ref") {
            c.reference = self.def(reference);
        }
        c.types = match map.get("type") {
            Some(Value::String(name)) => type_bit(name),
            Some(Value::Array(names)) => names
                .iter()
                .filter_map(Value::as_str)
                .map(type_bit)
                .fold(0, |a, b| a | b),
            _ => 0,
        };
        if c.types & NUMBER != 0 {
            c.types |= INTEGER;
        }
        c.enumeration = map.get("enum").and_then(Value::as_array).cloned();
        c.constant = map.get("const").cloned();
        c.minimum = float(map.get("minimum"));
        c.maximum = float(map.get("maximum"));
        c.exclusive_minimum = float(map.get("exclusiveMinimum"));
        c.exclusive_maximum = float(map.get("exclusiveMaximum"));
        c.multiple_of = float(map.get("multipleOf"));
        c.min_length = count(map.get("minLength"));
        c.max_length = count(map.get("maxLength"));
        c.pattern = map
            .get("pattern")
            .and_then(Value::as_str)
            .and_then(|p| compile_pattern(p).map(|re| (p.to_owned(), re)));
        c.format = map
            .get("format")
            .and_then(Value::as_str)
            .and_then(parse_format);
        c.items = map.get("items").map(|s| self.node(s, depth + 1));
        c.prefix_items = many(self, "prefixItems");
        c.min_items = count(map.get("minItems"));
        c.max_items = count(map.get("maxItems"));
        c.unique_items = map.get("uniqueItems") == Some(&Value::Bool(true));
        if let Some(Value::Object(properties)) = map.get("properties") {
            c.properties = properties
                .iter()
                .map(|(name, s)| (name.clone(), self.node(s, depth + 1)))
                .collect();
        }
        if let Some(Value::Object(patterns)) = map.get("patternProperties") {
            c.pattern_properties = patterns
                .iter()
                .filter_map(|(p, s)| Some((compile_pattern(p)?, self.node(s, depth + 1))))
                .collect();
        }
        c.required = map
            .get("required")
            .and_then(Value::as_array)
            .map(|names| {
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        c.additional = map
            .get("additionalProperties")
            .map(|s| self.node(s, depth + 1));
        if let Some(Value::Object(dependent)) = map.get("dependentRequired") {
            c.dependent_required = dependent
                .iter()
                .map(|(name, needed)| {
                    let needed = needed
                        .as_array()
                        .map(|n| {
                            n.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default();
                    (name.clone(), needed)
                })
                .collect();
        }
        c.min_properties = count(map.get("minProperties"));
        c.max_properties = count(map.get("maxProperties"));
        c.all_of = many(self, "allOf");
        c.any_of = many(self, "anyOf");
        c.one_of = many(self, "oneOf");
        c.not = map.get("not").map(|s| self.node(s, depth + 1));
        Node::Checks(Box::new(c))
    }
}

fn compile_pattern(pattern: &str) -> Option<Regex> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .ok()
}

fn parse_format(name: &str) -> Option<Format> {
    Some(match name {
        "date-time" => Format::DateTime,
        "date" => Format::Date,
        "time" => Format::Time,
        "email" => Format::Email,
        "uuid" => Format::Uuid,
        "ipv4" => Format::Ipv4,
        "ipv6" => Format::Ipv6,
        "uri" => Format::Uri,
        "int32" => Format::Int32,
        "int64" => Format::Int64,
        _ => return None,
    })
}

/// The name of the format `s` fails, if it does.
fn format_mismatch(format: Format, s: &str) -> Option<&'static str> {
    let ok = match format {
        Format::DateTime => s
            .split_once(['T', 't', ' '])
            .is_some_and(|(date, time)| is_date(date) && is_time(time)),
        Format::Date => is_date(s),
        Format::Time => is_time(s),
        Format::Email => s.rsplit_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !s.contains(char::is_whitespace)
        }),
        Format::Uuid => {
            s.len() == 36
                && s.char_indices().all(|(i, c)| {
                    if matches!(i, 8 | 13 | 18 | 23) {
                        c == '-'
                    } else {
                        c.is_ascii_hexdigit()
                    }
                })
        }
        Format::Ipv4 => s.parse::<std::net::Ipv4Addr>().is_ok(),
        Format::Ipv6 => s.parse::<std::net::Ipv6Addr>().is_ok(),
        Format::Uri => {
            s.split_once(':').is_some_and(|(scheme, _)| {
                scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            }) && !s.contains(char::is_whitespace)
        }
        // Numeric formats apply to numbers (a string holding one is accepted).
        Format::Int32 | Format::Int64 => true,
    };
    (!ok).then_some(match format {
        Format::DateTime => "an RFC 3339 date-time such as 2024-01-31T12:00:00Z",
        Format::Date => "a date such as 2024-01-31",
        Format::Time => "a time such as 12:00:00Z",
        Format::Email => "an email address",
        Format::Uuid => "a UUID",
        Format::Ipv4 => "an IPv4 address",
        Format::Ipv6 => "an IPv6 address",
        Format::Uri => "an absolute URI",
        Format::Int32 | Format::Int64 => "an integer",
    })
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&s[5..7].parse::<u8>().unwrap_or(0))
        && (1..=31).contains(&s[8..10].parse::<u8>().unwrap_or(0))
}

fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 8
        && b[2] == b':'
        && b[5] == b':'
        && b[..8]
            .iter()
            .enumerate()
            .all(|(i, c)| i == 2 || i == 5 || c.is_ascii_digit())
        && s[..2].parse::<u8>().is_ok_and(|h| h < 24)
        && s[3..5].parse::<u8>().is_ok_and(|m| m < 60)
        && s[6..8].parse::<u8>().is_ok_and(|sec| sec <= 60)
}

fn type_bit(name: &str) -> u8 {
    match name {
        "null" => NULL,
        "boolean" => BOOLEAN,
        "integer" => INTEGER,
        "number" => NUMBER,
        "string" => STRING,
        "array" => ARRAY,
        "object" => OBJECT,
        _ => 0,
    }
}

fn kind(value: &Value) -> u8 {
    match value {
        Value::Null => NULL,
        Value::Bool(_) => BOOLEAN,
        Value::Number(n) => {
            let integral = n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0);
            if integral { INTEGER | NUMBER } else { NUMBER }
        }
        Value::String(_) => STRING,
        Value::Array(_) => ARRAY,
        Value::Object(_) => OBJECT,
    }
}

fn type_names(bits: u8) -> String {
    let names: Vec<&str> = [
        (STRING, "a string"),
        (INTEGER, "an integer"),
        (NUMBER, "a number"),
        (BOOLEAN, "a boolean"),
        (ARRAY, "an array"),
        (OBJECT, "an object"),
        (NULL, "null"),
    ]
    .iter()
    .filter(|(bit, _)| bits & bit != 0 && !(*bit == INTEGER && bits & NUMBER != 0))
    .map(|(_, name)| *name)
    .collect();
    names.join(" or ")
}

/// Equality with numbers compared by value (1 == 1.0).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", quoted(s)),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

fn quoted(s: &str) -> String {
    let cut: String = s.chars().take(60).collect();
    if cut.len() < s.len() {
        format!("{:?}…", cut)
    } else {
        format!("{cut:?}")
    }
}

fn list(values: &[Value]) -> String {
    let shown: Vec<String> = values.iter().take(20).map(Value::to_string).collect();
    let more = values.len().saturating_sub(20);
    if more > 0 {
        format!("[{}, … {more} more]", shown.join(", "))
    } else {
        format!("[{}]", shown.join(", "))
    }
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        x.to_string()
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn invalid(path: &str, expected: String) -> Invalid {
    Invalid {
        path: path.to_owned(),
        expected,
    }
}

fn alternatives(path: &str, n: usize, first: Option<Invalid>, which: &str) -> Invalid {
    let hint = first
        .map(|e| format!(" (the first: {} {})", e.path, e.expected))
        .unwrap_or_default();
    invalid(
        path,
        format!(
            "the value matches none of the {n} allowed shapes ({which} of them must match){hint}"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn validator(schema: Value) -> Validator {
        Validator::new(schema.as_object().expect("object schema"))
    }

    fn check(v: &Validator, args: Value) -> Result<(), String> {
        v.check(args.as_object().expect("object args"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn names_the_argument_and_what_was_expected() {
        let v = validator(json!({
            "type": "object",
            "properties": {
                "TableName": {"type": "string", "minLength": 3, "maxLength": 255, "pattern": "^[a-zA-Z0-9_.-]+$"},
                "Limit": {"type": "integer", "minimum": 1, "maximum": 100},
                "Select": {"type": "string", "enum": ["ALL_ATTRIBUTES", "COUNT"]},
                "Since": {"type": "string", "format": "date-time"},
                "Id": {"type": "string", "format": "uuid"},
                "Ratio": {"type": ["number", "null"], "exclusiveMaximum": 1},
                "Tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2, "uniqueItems": true},
                "Filter": {"type": "object", "properties": {"Op": {"type": "string", "const": "eq"}}, "required": ["Op"], "additionalProperties": false}
            },
            "required": ["TableName"]
        }));
        assert_eq!(
            check(
                &v,
                json!({"TableName": "users", "Limit": 5.0, "Ratio": null})
            ),
            Ok(())
        );
        let cases = [
            (
                json!({"TableName": 42}),
                "Invalid argument TableName: expected a string, got the number 42",
            ),
            (
                json!({"TableName": "ab"}),
                "Invalid argument TableName: expected a string of at least 3 characters, got 2",
            ),
            (
                json!({"TableName": "a b c"}),
                "Invalid argument TableName: expected a string matching the pattern ^[a-zA-Z0-9_.-]+$, got \"a b c\"",
            ),
            (
                // Arguments are checked in the order the client sent them (serde_json keeps
                // insertion order workspace-wide): the first problem is reported.
                json!({"TableName": "t", "Limit": 0}),
                "Invalid argument TableName",
            ),
            (
                json!({"TableName": "tab", "Limit": 0}),
                "Invalid argument Limit: expected a number >= 1, got 0",
            ),
            (
                json!({"TableName": "tab", "Limit": 1.5}),
                "Invalid argument Limit: expected an integer, got the number 1.5",
            ),
            (
                json!({"TableName": "tab", "Limit": "5"}),
                "Invalid argument Limit: expected an integer, got the string \"5\"",
            ),
            (
                json!({"TableName": "tab", "Select": "SOME"}),
                "Invalid argument Select: expected one of [\"ALL_ATTRIBUTES\", \"COUNT\"], got the string \"SOME\"",
            ),
            (
                json!({"TableName": "tab", "Since": "yesterday"}),
                "Invalid argument Since: expected an RFC 3339 date-time",
            ),
            (
                json!({"TableName": "tab", "Id": "not-a-uuid"}),
                "Invalid argument Id: expected a UUID",
            ),
            (
                json!({"TableName": "tab", "Ratio": 1}),
                "Invalid argument Ratio: expected a number < 1, got 1",
            ),
            (
                json!({"TableName": "tab", "Tags": ["a", 1]}),
                "Invalid argument Tags[1]: expected a string, got the number 1",
            ),
            (
                json!({"TableName": "tab", "Tags": ["a", "a"]}),
                "Invalid argument Tags: expected unique items",
            ),
            (
                json!({"TableName": "tab", "Tags": ["a", "b", "c"]}),
                "Invalid argument Tags: expected at most 2 items, got 3",
            ),
            (
                json!({"TableName": "tab", "Filter": {}}),
                "Invalid argument Filter.Op: is required but missing",
            ),
            (
                json!({"TableName": "tab", "Filter": {"Op": "ne"}}),
                "Invalid argument Filter.Op: expected \"eq\", got the string \"ne\"",
            ),
            (
                json!({"TableName": "tab", "Filter": {"Op": "eq", "x": 1}}),
                "Invalid argument Filter.x: is not an argument of this tool",
            ),
        ];
        for (args, expected) in cases {
            let message = check(&v, args.clone()).expect_err(&format!("{args} should fail"));
            assert!(message.starts_with(expected), "{args}: {message}");
        }
    }

    #[test]
    fn alternatives_refs_and_unusable_keywords() {
        let v = validator(json!({
            "type": "object",
            "properties": {
                "target": {"oneOf": [{"type": "string"}, {"$ref": "#/$defs/Point"}]},
                "tree": {"$ref": "#/$defs/Node"},
                "odd": {"type": "string", "pattern": "(?<=a)b", "format": "made-up"}
            },
            "$defs": {
                "Point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
                "Node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}, "name": {"type": "string"}}}
            }
        }));
        assert_eq!(check(&v, json!({"target": "a"})), Ok(()));
        assert_eq!(check(&v, json!({"target": {"x": 1}})), Ok(()));
        let message = check(&v, json!({"target": {"y": 1}})).expect_err("no alternative");
        assert!(
            message.contains("matches none of the 2 allowed shapes"),
            "{message}"
        );
        assert_eq!(
            check(
                &v,
                json!({"tree": {"children": [{"children": [{"name": "leaf"}]}]}})
            ),
            Ok(())
        );
        let message = check(
            &v,
            json!({"tree": {"children": [{"children": [{"name": 1}]}]}}),
        )
        .expect_err("deep");
        assert!(
            message.starts_with(
                "Invalid argument tree.children[0].children[0].name: expected a string"
            ),
            "{message}"
        );
        // An optional body's required fields (the OpenAPI compiler's `dependentRequired`).
        let body = validator(json!({
            "type": "object",
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "note": {"type": "string"}},
            "required": ["id"],
            "dependentRequired": {"note": ["name"]}
        }));
        assert_eq!(check(&body, json!({"id": "1"})), Ok(()));
        assert_eq!(
            check(&body, json!({"id": "1", "note": "n"})),
            Err("Invalid argument name: is required when note is given".to_owned())
        );
        // A lookbehind (not in Rust's regex dialect) and an unknown format accept everything.
        assert_eq!(check(&v, json!({"odd": "zzz"})), Ok(()));
    }
}
