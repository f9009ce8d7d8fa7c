//! Output schemas.

use super::*;

#[test]
fn output_schema_comes_from_an_object_json_2xx_response() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
components:
  responses:
    Created:
      description: created
      content:
        application/hal+json:
          schema: {type: object, properties: {id: {type: string}, secret: {type: string, writeOnly: true}}}
  schemas:
    Combined:
      allOf:
        - {type: object, properties: {a: {type: string}}}
        - {type: object, properties: {b: {type: string}}}
paths:
  /prefers-200:
    get:
      operationId: prefers200
      responses:
        "201": {description: x, content: {application/json: {schema: {type: object, properties: {from201: {type: string}}}}}}
        "200": {description: x, content: {application/json: {schema: {properties: {from200: {type: string}}}}}}
  /created:
    post:
      operationId: created
      responses:
        "201": {$ref: '#/components/responses/Created'}
        default: {description: error}
  /list:
    get:
      operationId: list
      responses:
        "200": {description: x, content: {application/json: {schema: {type: array, items: {type: object}}}}}
  /text:
    get:
      operationId: text
      responses:
        "200": {description: x, content: {text/plain: {schema: {type: object}}}}
  /combined:
    get:
      operationId: combined
      responses:
        "200": {description: x, content: {application/json: {schema: {$ref: '#/components/schemas/Combined'}}}}
  /none:
    delete:
      operationId: none
      responses:
        "204": {description: gone}
"#);
    assert_eq!(
        tool(&api, "prefers200").output_schema,
        Some(json!({"type": "object", "properties": {"from200": {"type": "string"}}}))
    );
    assert_eq!(
        tool(&api, "created").output_schema,
        Some(json!({"type": "object", "properties": {"id": {"type": "string"}}}))
    );
    assert_eq!(tool(&api, "list").output_schema, None);
    assert_eq!(tool(&api, "text").output_schema, None);
    assert_eq!(
        tool(&api, "combined")
            .output_schema
            .as_ref()
            .map(|s| s["type"].clone()),
        Some(json!("object"))
    );
    assert_eq!(tool(&api, "none").output_schema, None);
}
