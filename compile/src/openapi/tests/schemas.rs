//! Schemas: references, recursion, size bounds, 2020-12 keywords.

use super::*;

#[test]
fn recursive_references_are_exact_cycles_of_shared_definitions() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
components:
  schemas:
    Node:
      type: object
      properties:
        name: {type: string}
        children: {type: array, items: {$ref: '#/components/schemas/Node'}}
        parent: {$ref: '#/components/schemas/Node'}
    A: {type: object, properties: {b: {$ref: '#/components/schemas/B'}}}
    B: {type: object, properties: {a: {$ref: '#/components/schemas/A'}}}
    Self: {$ref: '#/components/schemas/Self'}
    Loop1: {$ref: '#/components/schemas/Loop2'}
    Loop2: {$ref: '#/components/schemas/Loop1'}
paths:
  /tree:
    post:
      operationId: tree
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Node'}
      responses:
        "200":
          description: ok
          content:
            application/json: {schema: {$ref: '#/components/schemas/A'}}
  /self:
    post:
      operationId: self
      requestBody:
        content:
          application/json: {schema: {$ref: '#/components/schemas/Self'}}
      responses: {}
  /loop:
    post:
      operationId: loop
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {l: {$ref: '#/components/schemas/Loop1'}}}
      responses: {}
"#);
    let tree = tool(&api, "tree");
    let defs = &api.tools.schema_defs;
    // The body itself is in place (its properties are the arguments); the recursion is shared.
    let children = &tree.input_schema["properties"]["children"];
    assert_eq!(
        children,
        &json!({"type": "array", "items": {"$ref": "#/$defs/Node"}})
    );
    assert_eq!(
        tree.input_schema["properties"]["parent"],
        json!({"$ref": "#/$defs/Node"})
    );
    assert_eq!(
        defs["Node"]["properties"]["children"]["items"],
        json!({"$ref": "#/$defs/Node"})
    );
    let output = tree.output_schema.clone().unwrap_or_default();
    assert_eq!(output["properties"]["b"], json!({"$ref": "#/$defs/B"}));
    assert_eq!(defs["B"]["properties"]["a"], json!({"$ref": "#/$defs/A"}));
    assert_eq!(defs["A"]["properties"]["b"], json!({"$ref": "#/$defs/B"}));
    // A schema that is only a reference to itself is an empty (permissive) body.
    assert!(names(&api).contains(&"self"));
    // Aliases that come back to themselves describe nothing: a permissive definition, no loop.
    let loop_tool = tool(&api, "loop");
    let name = crate::schema_defs::def_name(&loop_tool.input_schema["properties"]["l"])
        .unwrap_or_default();
    assert!(defs[name].get("$ref").is_none(), "{}", defs[name]);
    assert_references_resolve(&api);
}

#[test]
fn reference_explosion_is_bounded() {
    // L0 → L1 twice → L2 twice … : 2^40 nodes if fully inlined.
    let mut document =
        String::from("openapi: 3.0.0\ninfo: {title: t, version: '1'}\ncomponents:\n  schemas:\n");
    for level in 0..40 {
        document.push_str(&format!(
            "    L{level}:\n      type: object\n      properties:\n        \
             left: {{$ref: '#/components/schemas/L{next}'}}\n        \
             right: {{$ref: '#/components/schemas/L{next}'}}\n",
            next = level + 1
        ));
    }
    document.push_str("    L40: {type: string}\n");
    document.push_str(
        "paths:\n  /x:\n    post:\n      operationId: x\n      requestBody:\n        content:\n          \
         application/json: {schema: {$ref: '#/components/schemas/L0'}}\n      responses: {}\n",
    );
    let api = api(&document);
    let size = tool(&api, "x").input_schema.to_string().len();
    assert!(size < 2_000, "input schema is {size} bytes");
    // Each level once: L0 in place, L1 … L39 shared, L40 tiny and copied in place.
    assert_eq!(api.tools.schema_defs.len(), 39);
    assert_eq!(
        api.tools.schema_defs["L39"]["properties"]["left"],
        json!({"type": "string"})
    );
}

/// Every `$ref` of every tool and definition names a definition of the table, and every name
/// is usable in a JSON pointer as it is.
fn assert_references_resolve(api: &CompiledApi) {
    use crate::schema_defs::for_each_ref;
    let defs = &api.tools.schema_defs;
    let mut check = |name: &str| assert!(defs.contains_key(name), "no definition {name}");
    for tool in &api.tools.tools {
        for_each_ref(&tool.input_schema, &mut check);
        if let Some(output) = &tool.output_schema {
            for_each_ref(output, &mut check);
        }
    }
    for (name, schema) in defs {
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')),
            "{name}"
        );
        for_each_ref(schema, &mut check);
    }
    assert!(
        !contains_ref_outside_defs(api),
        "a `$ref` into the document is left"
    );
}

fn contains_ref_outside_defs(api: &CompiledApi) -> bool {
    fn walk(value: &Value) -> bool {
        match value {
            Value::Object(map) => map.iter().any(|(key, item)| {
                (key == "$ref" && item.as_str().is_some_and(|r| !r.starts_with("#/$defs/")))
                    || walk(item)
            }),
            Value::Array(items) => items.iter().any(walk),
            _ => false,
        }
    }
    api.tools
        .tools
        .iter()
        .any(|t| walk(&t.input_schema) || t.output_schema.as_ref().is_some_and(walk))
        || api.tools.schema_defs.values().any(walk)
}

/// A component big enough to be shared rather than copied in place.
const PET: &str = r#"
    Pet:
      type: object
      description: A pet of the store, with a name long enough to be worth sharing.
      required: [name]
      properties:
        id: {type: integer, format: int64, readOnly: true}
        name: {type: string, description: The pet's name.}
        secret: {type: string, writeOnly: true}
        owner: {$ref: '#/components/schemas/Owner'}
    Owner:
      type: object
      description: Who owns a pet; long enough to be shared rather than copied in place.
      properties:
        name: {type: string, description: The owner's name.}
        email: {type: string, format: email}
"#;

#[test]
fn referenced_schemas_are_converted_once_and_shared() {
    let document = format!(
        r#"
openapi: 3.0.0
info: {{title: t, version: "1"}}
components:
  schemas:{PET}
paths:
  /a:
    post:
      operationId: a
      requestBody:
        content:
          application/json:
            schema: {{type: object, properties: {{owner: {{$ref: '#/components/schemas/Owner'}}}}}}
      responses: {{}}
  /b:
    post:
      operationId: b
      requestBody:
        content:
          application/json:
            schema: {{type: object, properties: {{boss: {{$ref: '#/components/schemas/Owner'}}}}}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {{type: object, properties: {{owner: {{$ref: '#/components/schemas/Owner'}}}}}}
"#
    );
    let api = api(&document);
    let owner = json!({"$ref": "#/$defs/Owner"});
    assert_eq!(tool(&api, "a").input_schema["properties"]["owner"], owner);
    assert_eq!(tool(&api, "b").input_schema["properties"]["boss"], owner);
    // Owner has no readOnly/writeOnly anywhere: one entry serves both directions.
    let output = tool(&api, "b").output_schema.clone().unwrap_or_default();
    assert_eq!(output["properties"]["owner"], owner);
    // Pet is referenced by no tool: not in the table.
    assert_eq!(
        api.tools.schema_defs.keys().collect::<Vec<_>>(),
        vec!["Owner"]
    );
    assert_eq!(
        api.tools.schema_defs["Owner"]["properties"]["email"]["format"],
        "email"
    );
    assert_references_resolve(&api);
}

#[test]
fn read_only_and_write_only_split_a_definition_by_direction() {
    let document = format!(
        r#"
openapi: 3.0.0
info: {{title: t, version: "1"}}
components:
  schemas:{PET}
    Wrapper:
      type: object
      description: Reaches Pet, so it differs by direction too, although it has no flag itself.
      properties:
        pet: {{$ref: '#/components/schemas/Pet'}}
paths:
  /pets:
    post:
      operationId: addPet
      requestBody:
        content:
          application/json:
            schema: {{type: object, properties: {{wrapper: {{$ref: '#/components/schemas/Wrapper'}}}}}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {{type: object, properties: {{wrapper: {{$ref: '#/components/schemas/Wrapper'}}}}}}
"#
    );
    let api = api(&document);
    let add = tool(&api, "addPet");
    let defs = &api.tools.schema_defs;
    assert_eq!(
        add.input_schema["properties"]["wrapper"],
        json!({"$ref": "#/$defs/Wrapper"})
    );
    let output = add.output_schema.clone().unwrap_or_default();
    assert_eq!(
        output["properties"]["wrapper"],
        json!({"$ref": "#/$defs/Wrapper.response"})
    );
    assert_eq!(
        defs["Wrapper"]["properties"]["pet"],
        json!({"$ref": "#/$defs/Pet"})
    );
    assert_eq!(
        defs["Wrapper.response"]["properties"]["pet"],
        json!({"$ref": "#/$defs/Pet.response"})
    );
    let sent: Vec<&String> = defs["Pet"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    let received: Vec<&String> = defs["Pet.response"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(sent, ["owner", "name", "secret"]);
    assert_eq!(received, ["id", "name", "owner"]);
    // Owner has no flag: shared by both directions.
    assert_eq!(
        defs["Pet"]["properties"]["owner"],
        json!({"$ref": "#/$defs/Owner"})
    );
    assert_eq!(
        defs["Pet.response"]["properties"]["owner"],
        json!({"$ref": "#/$defs/Owner"})
    );
    assert!(!defs.contains_key("Owner.response"));
    assert_references_resolve(&api);
}

#[test]
fn a_read_only_shared_property_is_still_left_out_of_requests() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
components:
  schemas:
    Audit:
      type: object
      readOnly: true
      description: Set by the server; long enough to be shared rather than copied in place.
      properties: {created: {type: string, format: date-time}, by: {type: string}}
paths:
  /x:
    post:
      operationId: x
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties: {name: {type: string}, audit: {$ref: '#/components/schemas/Audit'}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties: {name: {type: string}, audit: {$ref: '#/components/schemas/Audit'}}
"#);
    let x = tool(&api, "x");
    assert!(x.input_schema["properties"].get("audit").is_none());
    let output = x.output_schema.clone().unwrap_or_default();
    assert_eq!(
        output["properties"]["audit"],
        json!({"$ref": "#/$defs/Audit.response", "readOnly": true})
    );
    assert_references_resolve(&api);
}

#[test]
fn definition_names_are_sanitized_and_unique_in_document_order() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
components:
  schemas:
    "a b":
      type: object
      description: The first one, long enough to be shared rather than copied in place here, really quite long.
      properties: {x: {type: string}}
    "a_b":
      type: object
      description: The second one, long enough to be shared rather than copied in place here, really quite long.
      properties: {y: {type: string}}
    "c/d":
      type: object
      description: The third one, long enough to be shared rather than copied in place here, really quite long.
      properties: {z: {type: string}}
paths:
  /x:
    post:
      operationId: x
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                one: {$ref: '#/components/schemas/a%20b'}
                two: {$ref: '#/components/schemas/a_b'}
                three: {$ref: '#/components/schemas/c~1d'}
      responses: {}
"#);
    let properties = &tool(&api, "x").input_schema["properties"];
    assert_eq!(properties["one"], json!({"$ref": "#/$defs/a_b"}));
    assert_eq!(properties["two"], json!({"$ref": "#/$defs/a_b_2"}));
    assert_eq!(properties["three"], json!({"$ref": "#/$defs/c_d"}));
    assert_eq!(
        api.tools.schema_defs["a_b_2"]["properties"]["y"]["type"],
        "string"
    );
    assert_references_resolve(&api);
}

#[test]
fn a_failure_inside_a_shared_definition_skips_every_tool_that_reaches_it() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
components:
  schemas:
    Broken:
      type: object
      description: Refers to something that is not there (and back to Cycle).
      properties:
        gone: {$ref: '#/components/schemas/Missing'}
        back: {$ref: '#/components/schemas/Cycle'}
    Cycle:
      type: object
      description: Refers to Broken, which refers back here before it fails.
      properties: {broken: {$ref: '#/components/schemas/Broken'}}
paths:
  /first:
    post:
      operationId: first
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {c: {$ref: '#/components/schemas/Cycle'}}}
      responses: {}
  /second:
    post:
      operationId: second
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {c: {$ref: '#/components/schemas/Cycle'}}}
      responses: {}
  /fine:
    get: {operationId: fine, responses: {}}
"#);
    assert_eq!(names(&api), ["fine"]);
    assert!(skip_reason(&api, "POST /first").contains("points to nothing"));
    assert!(skip_reason(&api, "POST /second").contains("points to nothing"));
    assert!(api.tools.schema_defs.is_empty());
}

#[test]
fn openapi_keywords_become_json_schema_2020_12() {
    let api = api(r#"
openapi: 3.0.3
info: {title: t, version: "1"}
components:
  schemas:
    Base: {type: object, properties: {kind: {type: string}}}
    Thing:
      type: object
      discriminator: {propertyName: kind}
      xml: {name: thing}
      externalDocs: {url: "https://example.com"}
      x-internal: true
      properties:
        x-name: {type: string, nullable: true, example: abc}
        color: {type: string, enum: [red, green], nullable: true}
        size: {type: integer, format: int32, minimum: 1, maximum: 10, exclusiveMaximum: true, default: 5}
        base:
          allOf: [{$ref: '#/components/schemas/Base'}]
          nullable: true
          description: The base.
        tags: {type: array, items: {type: string}, minItems: "1"}
        choice:
          oneOf: [{type: string}, {type: integer}]
        broken: {type: string, required: true}
paths:
  /things:
    post:
      operationId: addThing
      requestBody:
        required: true
        content:
          application/json: {schema: {$ref: '#/components/schemas/Thing'}}
      responses: {}
"#);
    let add = tool(&api, "addThing");
    let properties = &add.input_schema["properties"];
    assert_eq!(
        properties["x-name"],
        json!({"type": ["string", "null"], "examples": ["abc"]})
    );
    assert_eq!(
        properties["color"],
        json!({"type": ["string", "null"], "enum": ["red", "green", null]})
    );
    assert_eq!(
        properties["size"],
        json!({"type": "integer", "format": "int32", "minimum": 1, "exclusiveMaximum": 10, "default": 5})
    );
    assert_eq!(
        properties["base"],
        json!({
            "description": "The base.",
            "anyOf": [
                {"allOf": [{"type": "object", "properties": {"kind": {"type": "string"}}}]},
                {"type": "null"},
            ],
        })
    );
    assert_eq!(properties["tags"]["minItems"], 1);
    assert_eq!(
        properties["choice"],
        json!({"oneOf": [{"type": "string"}, {"type": "integer"}]})
    );
    assert_eq!(properties["broken"], json!({"type": "string"}));
    // `required: true` on a property is lifted to the object.
    assert_eq!(add.input_schema["required"], json!(["broken"]));
    for dropped in [
        "discriminator",
        "xml",
        "externalDocs",
        "x-internal",
        "nullable",
        "example",
    ] {
        assert!(!contains_key(&add.input_schema, dropped), "{dropped} kept");
    }
}

#[test]
fn external_and_dangling_references_skip_only_their_operation() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /external:
    post:
      operationId: external
      requestBody:
        content:
          application/json: {schema: {$ref: 'models.yaml#/Pet'}}
      responses: {}
  /dangling:
    get:
      operationId: dangling
      parameters:
        - $ref: '#/components/parameters/Missing'
      responses: {}
  /remote-item:
    $ref: 'https://example.com/paths.yaml#/items'
  /fine:
    get: {operationId: fine, responses: {}}
"#);
    assert_eq!(names(&api), ["fine"]);
    assert!(skip_reason(&api, "POST /external").contains("external $ref `models.yaml#/Pet`"));
    assert!(skip_reason(&api, "GET /dangling").contains("points to nothing"));
    assert!(skip_reason(&api, "/remote-item").contains("external $ref"));
}

#[test]
fn path_item_references_are_followed() {
    let api = api(r#"
openapi: 3.1.0
info: {title: t, version: "1"}
components:
  pathItems:
    Ping:
      get: {operationId: ping, responses: {}}
paths:
  /ping:
    $ref: '#/components/pathItems/Ping'
"#);
    assert_eq!(names(&api), ["ping"]);
    assert_eq!(http(tool(&api, "ping")).path, "/ping");
}

#[test]
fn trace_and_query_operations_are_tools() {
    let api = api(r#"
openapi: 3.2.0
info: {title: t, version: "1"}
paths:
  /debug:
    trace: {operationId: traceIt, responses: {}}
    get: {operationId: getIt, responses: {}}
  /search:
    query:
      operationId: searchIt
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {q: {type: string}}}
      responses: {}
"#);
    assert_eq!(names(&api), ["getIt", "traceIt", "searchIt"]);
    assert_eq!(http(tool(&api, "traceIt")).method, HttpMethod::Trace);
    let query = tool(&api, "searchIt");
    assert_eq!(http(query).method, HttpMethod::Query);
    // Both are safe methods: read-only.
    assert_eq!(
        query.annotations.as_ref().and_then(|a| a.read_only_hint),
        Some(true)
    );
}

#[test]
fn example_references_are_resolved_or_dropped() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
components:
  examples:
    Sample: {value: {id: 1}}
paths:
  /x:
    get:
      operationId: x
      parameters:
        - name: q
          in: query
          schema: {type: string}
          examples:
            one: {value: abc}
            two: {$ref: '#/components/examples/Missing'}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                example: {$ref: '#/components/examples/Sample'}
                properties:
                  id: {type: integer, example: {$ref: '#/components/examples/Missing'}}
"#);
    let x = tool(&api, "x");
    assert_eq!(
        x.input_schema["properties"]["q"]["examples"],
        json!(["abc"])
    );
    let output = x.output_schema.clone().unwrap_or_default();
    assert_eq!(output["examples"], json!([{"id": 1}]));
    assert_eq!(output["properties"]["id"], json!({"type": "integer"}));
}

#[test]
fn openapi_3_1_schemas_pass_through() {
    let api = api(r#"
openapi: 3.1.0
info: {title: t, version: "1"}
components:
  schemas:
    Id: {type: string, description: An id.}
paths:
  /x:
    post:
      operationId: x
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              $defs: {Unused: {type: string}}
              properties:
                id: {$ref: '#/components/schemas/Id', description: The thing's id.}
                other: {$ref: '#/components/schemas/Id', nullable: true}
                maybe: {type: [integer, "null"], exclusiveMinimum: 0}
                fixed: {const: v1}
                pair: {type: array, items: [{type: string}, {type: integer}], additionalItems: false}
                tuple: {type: array, prefixItems: [{type: string}], items: false}
                any: true
      responses: {}
"#);
    let x = tool(&api, "x");
    let properties = &x.input_schema["properties"];
    assert_eq!(
        properties["id"],
        json!({"type": "string", "description": "The thing's id."})
    );
    assert_eq!(
        properties["other"],
        json!({"type": ["string", "null"], "description": "An id."})
    );
    assert_eq!(
        properties["maybe"],
        json!({"type": ["integer", "null"], "exclusiveMinimum": 0})
    );
    assert_eq!(properties["fixed"], json!({"const": "v1"}));
    assert_eq!(
        properties["pair"],
        json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false})
    );
    assert_eq!(
        properties["tuple"],
        json!({"type": "array", "prefixItems": [{"type": "string"}], "items": false})
    );
    assert_eq!(properties["any"], json!(true));
    assert!(!contains_key(&x.input_schema, "$defs"));
}
