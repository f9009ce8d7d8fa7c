//! Schemas: references, recursion, size bounds, 2020-12 keywords.

use super::*;

#[test]
fn recursive_references_terminate_with_a_note() {
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
"#);
    let tree = tool(&api, "tree");
    let children = &tree.input_schema["properties"]["children"];
    assert_eq!(children["type"], "array");
    assert_eq!(children["items"]["type"], "object");
    assert!(
        children["items"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("recursive") && d.contains("Node")),
        "{children}"
    );
    assert_eq!(children["items"].get("properties"), None);
    let output = tree.output_schema.clone().unwrap_or_default();
    assert_eq!(
        output["properties"]["b"]["properties"]["a"]["type"],
        "object"
    );
    assert!(
        output["properties"]["b"]["properties"]["a"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("recursive"))
    );
    assert!(!contains_key(&tree.input_schema, "$ref"));
    assert!(!contains_key(&output, "$ref"));
    // A schema that is only a reference to itself is an empty (permissive) body.
    assert!(names(&api).contains(&"self"));
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
    assert!(size < 2_000_000, "input schema is {size} bytes");
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
fn unsupported_methods_are_skipped_with_a_reason() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /debug:
    trace: {operationId: traceIt, responses: {}}
    get: {operationId: getIt, responses: {}}
"#);
    assert_eq!(names(&api), ["getIt"]);
    assert_eq!(
        skip_reason(&api, "TRACE /debug"),
        "the TRACE method is not supported"
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
