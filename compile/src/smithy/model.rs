//! The Smithy JSON AST, read as plain JSON: shapes by absolute id, the prelude's simple shapes
//! by name, and trait lookup. Nothing here trusts the document: a missing target, a wrong type
//! or an odd value is `None`, never a panic.

use serde_json::{Map, Value};

use super::SmithyError;

/// A parsed model.
#[derive(Debug)]
pub struct Model {
    shapes: Map<String, Value>,
}

/// One shape: its id, its type (`structure`, `string`, …) and, when the model defines it (as
/// opposed to the prelude), its JSON body.
#[derive(Clone, Copy, Debug)]
pub struct Shape<'m> {
    /// Absolute shape id, e.g. `com.amazonaws.dynamodb#TableName`.
    pub id: &'m str,
    /// Smithy shape type.
    pub kind: &'m str,
    body: Option<&'m Map<String, Value>>,
}

/// Simple shapes of the prelude (`smithy.api#String`, …) by name, with their types.
const PRELUDE: [(&str, &str); 24] = [
    ("Blob", "blob"),
    ("Boolean", "boolean"),
    ("String", "string"),
    ("Byte", "byte"),
    ("Short", "short"),
    ("Integer", "integer"),
    ("Long", "long"),
    ("Float", "float"),
    ("Double", "double"),
    ("BigInteger", "bigInteger"),
    ("BigDecimal", "bigDecimal"),
    ("Timestamp", "timestamp"),
    ("Document", "document"),
    ("Unit", "structure"),
    ("PrimitiveBoolean", "boolean"),
    ("PrimitiveByte", "byte"),
    ("PrimitiveShort", "short"),
    ("PrimitiveInteger", "integer"),
    ("PrimitiveLong", "long"),
    ("PrimitiveFloat", "float"),
    ("PrimitiveDouble", "double"),
    ("Primitive", "document"),
    ("Number", "bigDecimal"),
    ("Object", "document"),
];

impl Model {
    /// Parses JSON AST text.
    pub fn parse(text: &str) -> Result<Model, SmithyError> {
        let root: Value = serde_json::from_str(text).map_err(|e| SmithyError::Syntax {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let Value::Object(mut root) = root else {
            return Err(SmithyError::NotSmithy {
                detail: "the document is not a JSON object".into(),
            });
        };
        if !root.get("smithy").is_some_and(Value::is_string) {
            return Err(SmithyError::NotSmithy {
                detail: "expected a \"smithy\" version key at the top (the JSON AST form; convert IDL with `smithy ast`)".into(),
            });
        }
        match root.remove("shapes") {
            Some(Value::Object(shapes)) => Ok(Model { shapes }),
            None => Ok(Model { shapes: Map::new() }),
            Some(_) => Err(SmithyError::NotSmithy {
                detail: "\"shapes\" is not an object".into(),
            }),
        }
    }

    /// The shape with this absolute id (model shapes first, then the prelude).
    pub fn shape<'m>(&'m self, id: &'m str) -> Option<Shape<'m>> {
        if let Some((id, Value::Object(body))) = self.shapes.get_key_value(id) {
            let kind = body.get("type").and_then(Value::as_str)?;
            return Some(Shape {
                id,
                kind,
                body: Some(body),
            });
        }
        let name = id.strip_prefix("smithy.api#")?;
        PRELUDE
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, kind)| Shape {
                id,
                kind,
                body: None,
            })
    }

    /// Every shape of a type, in id order.
    pub fn of_kind<'m>(&'m self, kind: &str) -> Vec<Shape<'m>> {
        self.shapes
            .keys()
            .filter_map(|id| self.shape(id))
            .filter(|s| s.kind == kind)
            .collect()
    }
}

impl<'m> Shape<'m> {
    /// The name after `#`.
    pub fn name(&self) -> &'m str {
        self.id.rsplit_once('#').map_or(self.id, |(_, n)| n)
    }

    /// A trait's value.
    pub fn trait_value(&self, id: &str) -> Option<&'m Value> {
        traits(self.body?)?.get(id)
    }

    /// Whether the shape has a trait.
    pub fn has_trait(&self, id: &str) -> bool {
        self.trait_value(id).is_some()
    }

    /// A field of the shape body.
    pub fn get(&self, key: &str) -> Option<&'m Value> {
        self.body?.get(key)
    }

    /// The `target` of a field such as `input`, `output`, `member`, `key`, `value`.
    pub fn target(&self, key: &str) -> Option<&'m str> {
        self.get(key)?.get("target")?.as_str()
    }

    /// Members of a structure, union or enum, in name order (maps are read sorted).
    pub fn members(&self) -> Vec<Member<'m>> {
        self.get("members")
            .and_then(Value::as_object)
            .map(|members| {
                members
                    .iter()
                    .filter_map(|(name, m)| {
                        let m = m.as_object()?;
                        Some(Member {
                            name,
                            target: m.get("target").and_then(Value::as_str).unwrap_or(""),
                            traits: traits(m),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A member-like field (`member` of a list, `key` / `value` of a map).
    pub fn member_field(&self, key: &'m str) -> Option<Member<'m>> {
        let m = self.get(key)?.as_object()?;
        Some(Member {
            name: key,
            target: m.get("target").and_then(Value::as_str).unwrap_or(""),
            traits: traits(m),
        })
    }

    /// Targets of a list of `{"target": …}` references (a service's `operations`, …).
    pub fn targets(&self, key: &str) -> Vec<&'m str> {
        self.get(key)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.get("target").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One member of an aggregate shape.
#[derive(Clone, Copy, Debug)]
pub struct Member<'m> {
    /// Member name.
    pub name: &'m str,
    /// Target shape id.
    pub target: &'m str,
    traits: Option<&'m Map<String, Value>>,
}

impl<'m> Member<'m> {
    /// A trait's value on the member.
    pub fn trait_value(&self, id: &str) -> Option<&'m Value> {
        self.traits?.get(id)
    }

    /// Whether the member has a trait.
    pub fn has_trait(&self, id: &str) -> bool {
        self.trait_value(id).is_some()
    }

    /// A string-valued trait.
    pub fn trait_str(&self, id: &str) -> Option<&'m str> {
        self.trait_value(id)?.as_str()
    }
}

fn traits(body: &Map<String, Value>) -> Option<&Map<String, Value>> {
    body.get("traits")?.as_object()
}
