//! Hand-written schema fragments for fields whose Rust type says less than the CRD should.

use schemars::{Schema, SchemaGenerator, json_schema};

/// An arbitrary JSON object kept as-is (a JSON Schema document supplied by the user). The API
/// server must not prune its unknown fields.
pub fn any_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// Like [`any_object`], for an optional field.
pub fn any_object_opt(generator: &mut SchemaGenerator) -> Schema {
    any_object(generator)
}
