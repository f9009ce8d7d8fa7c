//! Unit tests: one small document per rule.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use toolyard_crds::config::{
    BodyBinding, BodyEncoding, BodyShape, CallPlan, HttpCall, ParamBinding, ParamLocation,
    ParamStyle, ToolHints,
};
use toolyard_crds::gateway::HttpMethod;

use super::{CompiledApi, OpenApiError, OpenApiInput, compile};
use crate::compile::SourceTool;

fn compile_with(
    document: &str,
    base_url: Option<&str>,
    variables: &[(&str, &str)],
) -> Result<CompiledApi, OpenApiError> {
    let server_variables: BTreeMap<String, String> = variables
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    compile(&OpenApiInput {
        document,
        base_url,
        server_variables: &server_variables,
    })
}

/// Compiles with a configured base URL (so documents need no `servers`).
fn api(document: &str) -> CompiledApi {
    match compile_with(document, Some("https://api.test"), &[]) {
        Ok(api) => api,
        Err(error) => panic!("compile failed: {error}"),
    }
}

fn tool<'a>(api: &'a CompiledApi, name: &str) -> &'a SourceTool {
    match api.tools.tools.iter().find(|t| t.name == name) {
        Some(tool) => tool,
        None => panic!(
            "no tool {name}; tools: {:?}; skipped: {:?}",
            names(api),
            api.tools.skipped
        ),
    }
}

fn names(api: &CompiledApi) -> Vec<&str> {
    api.tools.tools.iter().map(|t| t.name.as_str()).collect()
}

fn http(tool: &SourceTool) -> &HttpCall {
    match &tool.call {
        CallPlan::Http(call) => call,
        other => panic!("not an HTTP call: {other:?}"),
    }
}

fn binding<'a>(tool: &'a SourceTool, arg: &str) -> &'a ParamBinding {
    match http(tool).params.iter().find(|p| p.arg == arg) {
        Some(binding) => binding,
        None => panic!("no binding for {arg}: {:?}", http(tool).params),
    }
}

fn body(tool: &SourceTool) -> &BodyBinding {
    match &http(tool).body {
        Some(body) => body,
        None => panic!("no body: {:?}", http(tool)),
    }
}

fn skip_reason<'a>(api: &'a CompiledApi, operation: &str) -> &'a str {
    match api.tools.skipped.iter().find(|s| s.operation == operation) {
        Some(skipped) => &skipped.reason,
        None => panic!("{operation} not skipped: {:?}", api.tools.skipped),
    }
}

fn contains_key(value: &Value, key: &str) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k == key || contains_key(v, key)),
        Value::Array(items) => items.iter().any(|v| contains_key(v, key)),
        _ => false,
    }
}

// ---------------------------------------------------------------- the seed example and basics

const SEED: &str = r#"
openapi: 3.0.3
info: {title: Users, version: "1"}
servers:
  - url: https://users.example.com/v1/
paths:
  /users/{userId}:
    get:
      operationId: getUser
      summary: Get a user
      description: Returns one user by id.
      parameters:
        - name: userId
          in: path
          required: true
          description: The user's id.
          schema: {type: string}
      responses:
        "200":
          description: the user
          content:
            application/json:
              schema:
                type: object
                properties:
                  id: {type: string}
                  name: {type: string}
"#;

#[test]
fn seed_example_compiles_to_get_user() {
    let api = match compile_with(SEED, None, &[]) {
        Ok(api) => api,
        Err(error) => panic!("{error}"),
    };
    assert_eq!(api.base_url, "https://users.example.com/v1");
    assert_eq!(names(&api), ["getUser"]);
    let get_user = tool(&api, "getUser");
    assert_eq!(
        get_user.input_schema,
        json!({
            "type": "object",
            "properties": {"userId": {"type": "string", "description": "The user's id."}},
            "required": ["userId"],
        })
    );
    assert_eq!(get_user.title.as_deref(), Some("Get a user"));
    assert_eq!(get_user.description.as_deref(), Some("Returns one user by id."));
    assert_eq!(
        http(get_user),
        &HttpCall {
            method: HttpMethod::Get,
            path: "/users/{userId}".to_owned(),
            params: vec![ParamBinding {
                arg: "userId".to_owned(),
                name: "userId".to_owned(),
                location: ParamLocation::Path,
                style: ParamStyle::Simple,
                explode: false,
                required: true,
                allow_reserved: false,
            }],
            body: None,
        }
    );
    assert_eq!(
        get_user.output_schema,
        Some(json!({
            "type": "object",
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
        }))
    );
    assert_eq!(
        get_user.annotations,
        Some(ToolHints {
            read_only_hint: Some(true),
            destructive_hint: None,
            idempotent_hint: None,
        })
    );
    assert!(api.tools.skipped.is_empty());
}

#[test]
fn description_falls_back_to_summary_without_title() {
    let api = api(r#"
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /a:
    get: {operationId: onlySummary, summary: "  Lists a  ", responses: {}}
    post: {operationId: onlyDescription, description: Creates an a., responses: {}}
    put: {operationId: neither, summary: "", responses: {}}
"#);
    let only_summary = tool(&api, "onlySummary");
    assert_eq!(only_summary.description.as_deref(), Some("Lists a"));
    assert_eq!(only_summary.title, None);
    let only_description = tool(&api, "onlyDescription");
    assert_eq!(only_description.description.as_deref(), Some("Creates an a."));
    assert_eq!(only_description.title, None);
    assert_eq!(tool(&api, "neither").description, None);
}

#[test]
fn hints_follow_http_semantics() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /r:
    get: {operationId: g, responses: {}}
    head: {operationId: h, responses: {}}
    options: {operationId: o, responses: {}}
    delete: {operationId: d, responses: {}}
    put: {operationId: u, responses: {}}
    post: {operationId: p, responses: {}}
    patch: {operationId: a, responses: {}}
"#);
    let read_only = Some(ToolHints {
        read_only_hint: Some(true),
        ..ToolHints::default()
    });
    assert_eq!(tool(&api, "g").annotations, read_only);
    assert_eq!(tool(&api, "h").annotations, read_only);
    assert_eq!(tool(&api, "o").annotations, read_only);
    assert_eq!(
        tool(&api, "d").annotations,
        Some(ToolHints {
            read_only_hint: None,
            destructive_hint: Some(true),
            idempotent_hint: Some(true),
        })
    );
    assert_eq!(
        tool(&api, "u").annotations,
        Some(ToolHints {
            idempotent_hint: Some(true),
            ..ToolHints::default()
        })
    );
    assert_eq!(tool(&api, "p").annotations, None);
    assert_eq!(tool(&api, "a").annotations, None);
}

#[test]
fn paths_in_document_order_and_methods_in_fixed_order() {
    let yaml = r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /zeta:
    patch: {operationId: zetaPatch, responses: {}}
    head: {operationId: zetaHead, responses: {}}
    options: {operationId: zetaOptions, responses: {}}
    delete: {operationId: zetaDelete, responses: {}}
    post: {operationId: zetaPost, responses: {}}
    put: {operationId: zetaPut, responses: {}}
    get: {operationId: zetaGet, responses: {}}
  /alpha:
    get: {operationId: alphaGet, responses: {}}
  /middle:
    get: {operationId: middleGet, responses: {}}
"#;
    let expected = [
        "zetaGet",
        "zetaPut",
        "zetaPost",
        "zetaDelete",
        "zetaOptions",
        "zetaHead",
        "zetaPatch",
        "alphaGet",
        "middleGet",
    ];
    assert_eq!(names(&api(yaml)), expected);

    // The same document as JSON keeps its order too.
    let value: Value = match serde_yaml::from_str(yaml) {
        Ok(value) => value,
        Err(error) => panic!("{error}"),
    };
    let mut json_text = String::from("{\"openapi\":\"3.0.0\",\"info\":{},\"paths\":{");
    for (i, path) in ["/zeta", "/alpha", "/middle"].iter().enumerate() {
        if i > 0 {
            json_text.push(',');
        }
        json_text.push_str(&format!("{:?}:{}", path, value["paths"][path]));
    }
    json_text.push_str("}}");
    let from_json = names(&api(&json_text))
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let zeta_methods: Vec<&str> = from_json
        .iter()
        .map(String::as_str)
        .filter(|n| n.starts_with("zeta"))
        .collect();
    assert_eq!(zeta_methods, expected[..7]);
    assert_eq!(from_json[7..], ["alphaGet", "middleGet"]);
}

#[test]
fn missing_operation_ids_get_readable_unique_names() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /users/{id}/orders:
    get: {responses: {}}
  /:
    get: {responses: {}}
  /a-b:
    get: {responses: {}}
  /a_b:
    get: {responses: {}}
  /things:
    get: {responses: {}}
    post: {operationId: get_things, responses: {}}
  /dup1:
    get: {operationId: same, responses: {}}
  /dup2:
    get: {operationId: same, responses: {}}
  /dup3:
    get: {operationId: same, responses: {}}
  /files/{name}.json:
    get: {responses: {}}
"#);
    assert_eq!(
        names(&api),
        [
            "get_users_by_id_orders",
            "get_root",
            "get_a_b",
            "get_a_b_2",
            // `get_things` is a later operationId: the derived name steps aside.
            "get_things_2",
            "get_things",
            "same",
            "same_2",
            "same_3",
            "get_files_name_json",
        ]
    );
}

#[test]
fn operation_ids_are_kept_as_written() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /x:
    get: {operationId: "repos/get-content", responses: {}}
"#);
    assert_eq!(names(&api), ["repos/get-content"]);
}

// ---------------------------------------------------------------- parameters

#[test]
fn colliding_parameters_are_renamed_by_location() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /items/{id}:
    get:
      operationId: getItem
      parameters:
        - {name: id, in: cookie, schema: {type: string}}
        - {name: id, in: header, schema: {type: string}, required: true}
        - {name: id, in: query, schema: {type: integer}}
        - {name: id, in: path, required: true, schema: {type: string}}
        - {name: header_id, in: query, schema: {type: string}}
      responses: {}
"#);
    let get_item = tool(&api, "getItem");
    let args: Vec<(&str, &str, ParamLocation)> = http(get_item)
        .params
        .iter()
        .map(|p| (p.arg.as_str(), p.name.as_str(), p.location))
        .collect();
    assert_eq!(
        args,
        [
            ("id", "id", ParamLocation::Path),
            ("query_id", "id", ParamLocation::Query),
            ("header_id", "header_id", ParamLocation::Query),
            ("header_id_2", "id", ParamLocation::Header),
            ("cookie_id", "id", ParamLocation::Cookie),
        ]
    );
    assert_eq!(
        get_item.input_schema["properties"]["query_id"],
        json!({"type": "integer"})
    );
    assert_eq!(
        get_item.input_schema["required"],
        json!(["id", "header_id_2"])
    );
}

#[test]
fn path_item_parameters_apply_and_operation_overrides_them() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
components:
  parameters:
    Limit: {name: limit, in: query, schema: {type: integer, maximum: 100}}
paths:
  /pets/{petId}:
    parameters:
      - {name: petId, in: path, required: true, schema: {type: string}, description: from path item}
      - $ref: '#/components/parameters/Limit'
    get:
      operationId: getPet
      parameters:
        - {name: petId, in: path, required: true, schema: {type: integer}, description: from operation}
      responses: {}
    delete:
      operationId: deletePet
      responses: {}
"#);
    let get_pet = tool(&api, "getPet");
    assert_eq!(
        get_pet.input_schema["properties"],
        json!({
            "petId": {"type": "integer", "description": "from operation"},
            "limit": {"type": "integer", "maximum": 100},
        })
    );
    let delete_pet = tool(&api, "deletePet");
    assert_eq!(
        delete_pet.input_schema["properties"]["petId"],
        json!({"type": "string", "description": "from path item"})
    );
    assert_eq!(http(delete_pet).params.len(), 2);
}

#[test]
fn gateway_controlled_headers_are_ignored() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /x:
    get:
      operationId: x
      parameters:
        - {name: Accept, in: header, schema: {type: string}}
        - {name: content-type, in: header, schema: {type: string}}
        - {name: Authorization, in: header, required: true, schema: {type: string}}
        - {name: X-Request-Id, in: header, schema: {type: string}}
      responses: {}
"#);
    let x = tool(&api, "x");
    assert_eq!(
        x.input_schema,
        json!({"type": "object", "properties": {"X-Request-Id": {"type": "string"}}})
    );
    assert_eq!(http(x).params.len(), 1);
    assert_eq!(binding(x, "X-Request-Id").location, ParamLocation::Header);
}

#[test]
fn styles_follow_openapi_defaults_and_overrides() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /s/{p}/{l}:
    get:
      operationId: styles
      parameters:
        - {name: p, in: path, required: true, schema: {type: array, items: {type: string}}}
        - {name: l, in: path, required: true, style: label, explode: true, schema: {type: string}}
        - {name: q, in: query, schema: {type: array, items: {type: string}}}
        - {name: noexplode, in: query, explode: false, schema: {type: array, items: {type: string}}}
        - {name: filter, in: query, style: deepObject, schema: {type: object}}
        - {name: spaced, in: query, style: spaceDelimited, schema: {type: array}}
        - {name: piped, in: query, style: pipeDelimited, schema: {type: array}}
        - {name: raw, in: query, allowReserved: true, schema: {type: string}}
        - {name: bogus, in: query, style: matrix, schema: {type: string}}
        - {name: h, in: header, schema: {type: string}}
        - {name: c, in: cookie, schema: {type: string}}
      responses: {}
"#);
    let styles = tool(&api, "styles");
    let check = |arg: &str, style: ParamStyle, explode: bool, allow_reserved: bool| {
        let b = binding(styles, arg);
        assert_eq!(
            (b.style, b.explode, b.allow_reserved),
            (style, explode, allow_reserved),
            "{arg}"
        );
    };
    check("p", ParamStyle::Simple, false, false);
    check("l", ParamStyle::Label, true, false);
    check("q", ParamStyle::Form, true, false);
    check("noexplode", ParamStyle::Form, false, false);
    check("filter", ParamStyle::DeepObject, false, false);
    check("spaced", ParamStyle::SpaceDelimited, false, false);
    check("piped", ParamStyle::PipeDelimited, false, false);
    check("raw", ParamStyle::Form, true, true);
    // matrix is not a query style: the location's default applies.
    check("bogus", ParamStyle::Form, true, false);
    check("h", ParamStyle::Simple, false, false);
    check("c", ParamStyle::Form, true, false);
}

#[test]
fn undeclared_path_variables_become_required_strings_and_stray_path_params_are_dropped() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /orgs/{org}/repos:
    get:
      operationId: listRepos
      parameters:
        - {name: owner, in: path, required: true, schema: {type: string}}
      responses: {}
"#);
    let list = tool(&api, "listRepos");
    assert_eq!(
        list.input_schema,
        json!({"type": "object", "properties": {"org": {"type": "string"}}, "required": ["org"]})
    );
    assert_eq!(binding(list, "org").location, ParamLocation::Path);
}

#[test]
fn content_parameters_are_serialized_strings() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /search:
    get:
      operationId: search
      parameters:
        - name: q
          in: query
          description: the query
          content:
            application/json:
              schema: {type: object, properties: {term: {type: string}}}
      responses: {}
"#);
    assert_eq!(
        tool(&api, "search").input_schema["properties"]["q"],
        json!({
            "type": "string",
            "description": "the query",
            "contentMediaType": "application/json",
            "contentSchema": {"type": "object", "properties": {"term": {"type": "string"}}},
        })
    );
}

#[test]
fn parameter_annotations_go_into_the_property_schema() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /x:
    get:
      operationId: x
      parameters:
        - name: old
          in: query
          deprecated: true
          example: 7
          description: Old one.
          schema: {type: integer, description: schema text, default: 3}
      responses: {}
"#);
    assert_eq!(
        tool(&api, "x").input_schema["properties"]["old"],
        json!({
            "type": "integer",
            "description": "Old one.",
            "default": 3,
            "deprecated": true,
            "examples": [7],
        })
    );
}

// ---------------------------------------------------------------- request bodies

const BODIES: &str = r#"
openapi: 3.0.0
info: {title: t, version: "1"}
components:
  schemas:
    NewPet:
      type: object
      required: [name]
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string, description: The pet's name.}
        tag: {type: string}
  requestBodies:
    PetBody:
      required: true
      description: The pet to add.
      content:
        application/json:
          schema: {$ref: '#/components/schemas/NewPet'}
paths:
  /pets:
    post:
      operationId: addPet
      requestBody: {$ref: '#/components/requestBodies/PetBody'}
      responses: {}
    put:
      operationId: optionalPet
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/NewPet'}
      responses: {}
  /pets/{name}:
    put:
      operationId: renamePet
      parameters:
        - {name: name, in: path, required: true, schema: {type: string}}
      requestBody: {$ref: '#/components/requestBodies/PetBody'}
      responses: {}
  /batch:
    post:
      operationId: batch
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: array, items: {$ref: '#/components/schemas/NewPet'}}
      responses: {}
  /batch/{body}:
    post:
      operationId: batchTaken
      requestBody:
        content:
          application/json:
            schema: {type: array, items: {type: string}}
      responses: {}
  /composed:
    post:
      operationId: composed
      requestBody:
        required: true
        content:
          application/json:
            schema:
              allOf:
                - {$ref: '#/components/schemas/NewPet'}
                - {type: object, required: [owner], properties: {owner: {type: string}}}
      responses: {}
  /free:
    post:
      operationId: free
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {a: {type: string}}, additionalProperties: true}
      responses: {}
"#;

#[test]
fn object_body_properties_are_merged_into_the_arguments() {
    let api = api(BODIES);
    let add = tool(&api, "addPet");
    assert_eq!(
        add.input_schema,
        json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "The pet's name."},
                "tag": {"type": "string"},
            },
            "required": ["name"],
        })
    );
    assert_eq!(
        body(add),
        &BodyBinding {
            media_type: "application/json".to_owned(),
            encoding: BodyEncoding::Json,
            shape: BodyShape::Merged {
                properties: vec!["name".to_owned(), "tag".to_owned()],
            },
            required: true,
        }
    );
    // An optional body's required properties are not required arguments.
    let optional = tool(&api, "optionalPet");
    assert_eq!(optional.input_schema.get("required"), None);
    assert!(!body(optional).required);
}

#[test]
fn colliding_or_non_object_bodies_are_one_argument() {
    let api = api(BODIES);
    let rename = tool(&api, "renamePet");
    assert_eq!(
        body(rename).shape,
        BodyShape::Argument {
            name: "body".to_owned()
        }
    );
    assert_eq!(rename.input_schema["required"], json!(["name", "body"]));
    assert_eq!(
        rename.input_schema["properties"]["body"]["description"],
        json!("The pet to add.")
    );
    assert_eq!(
        rename.input_schema["properties"]["body"]["properties"]["name"],
        json!({"type": "string", "description": "The pet's name."})
    );

    let batch = tool(&api, "batch");
    assert_eq!(
        body(batch).shape,
        BodyShape::Argument {
            name: "body".to_owned()
        }
    );
    assert_eq!(batch.input_schema["properties"]["body"]["type"], "array");
    assert_eq!(batch.input_schema["required"], json!(["body"]));

    let taken = tool(&api, "batchTaken");
    assert_eq!(
        body(taken).shape,
        BodyShape::Argument {
            name: "requestBody".to_owned()
        }
    );

    let free = tool(&api, "free");
    assert_eq!(
        body(free).shape,
        BodyShape::Argument {
            name: "body".to_owned()
        }
    );
}

#[test]
fn all_of_object_bodies_are_flattened_and_merged() {
    let api = api(BODIES);
    let composed = tool(&api, "composed");
    assert_eq!(
        body(composed).shape,
        BodyShape::Merged {
            properties: vec!["name".to_owned(), "owner".to_owned(), "tag".to_owned()],
        }
    );
    assert_eq!(composed.input_schema["required"], json!(["name", "owner"]));
}

#[test]
fn body_media_types_choose_the_encoding() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /prefer-json:
    post:
      operationId: preferJson
      requestBody:
        content:
          application/xml: {schema: {type: object, properties: {a: {type: string}}}}
          application/x-www-form-urlencoded: {schema: {type: object, properties: {a: {type: string}}}}
          application/vnd.api+json: {schema: {type: object, properties: {a: {type: string}}}}
      responses: {}
  /form:
    post:
      operationId: form
      requestBody:
        content:
          application/x-www-form-urlencoded: {schema: {type: object, properties: {a: {type: string}}}}
      responses: {}
  /multipart:
    post:
      operationId: multipart
      requestBody:
        content:
          multipart/form-data: {schema: {type: object, properties: {a: {type: string}}}}
      responses: {}
  /text:
    post:
      operationId: text
      requestBody:
        required: true
        content:
          text/plain: {schema: {type: string}}
      responses: {}
  /upload:
    post:
      operationId: upload
      requestBody:
        content:
          application/octet-stream: {schema: {type: string, format: binary}}
      responses: {}
  /avatar:
    put:
      operationId: avatar
      requestBody:
        content:
          multipart/form-data:
            schema:
              type: object
              properties:
                note: {type: string}
                file: {type: string, format: binary}
      responses: {}
  /any:
    post:
      operationId: any
      requestBody:
        content:
          "*/*": {schema: {type: object, properties: {a: {type: string}}}}
      responses: {}
"#);
    let encoding = |name: &str| {
        let b = body(tool(&api, name));
        (b.media_type.clone(), b.encoding)
    };
    assert_eq!(
        encoding("preferJson"),
        ("application/vnd.api+json".to_owned(), BodyEncoding::Json)
    );
    assert_eq!(
        encoding("form"),
        (
            "application/x-www-form-urlencoded".to_owned(),
            BodyEncoding::Form
        )
    );
    assert_eq!(
        encoding("multipart"),
        ("multipart/form-data".to_owned(), BodyEncoding::Multipart)
    );
    assert_eq!(
        encoding("any"),
        ("application/json".to_owned(), BodyEncoding::Json)
    );
    let text = tool(&api, "text");
    assert_eq!(encoding("text"), ("text/plain".to_owned(), BodyEncoding::Text));
    assert_eq!(
        body(text).shape,
        BodyShape::Argument {
            name: "body".to_owned()
        }
    );
    assert_eq!(
        text.input_schema,
        json!({"type": "object", "properties": {"body": {"type": "string"}}, "required": ["body"]})
    );
    assert_eq!(
        skip_reason(&api, "POST /upload"),
        "binary request body (application/octet-stream)"
    );
    assert!(skip_reason(&api, "PUT /avatar").contains("binary multipart part `file`"));
    assert_eq!(api.tools.tools.len(), 5);
}

// ---------------------------------------------------------------- schemas

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
    assert_eq!(output["properties"]["b"]["properties"]["a"]["type"], "object");
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
    let mut document = String::from(
        "openapi: 3.0.0\ninfo: {title: t, version: '1'}\ncomponents:\n  schemas:\n",
    );
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
    for dropped in ["discriminator", "xml", "externalDocs", "x-internal", "nullable", "example"] {
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

// ---------------------------------------------------------------- output schemas

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

// ---------------------------------------------------------------- servers and base URLs

const SERVERS: &str = r#"
openapi: 3.0.0
info: {title: t, version: "1"}
servers:
  - url: "https://{region}.api.example.com:{port}/{version}/"
    variables:
      region: {default: eu, enum: [eu, us]}
      port: {default: "443"}
      version: {default: v2}
paths: {}
"#;

#[test]
fn server_variables_use_defaults_and_overrides() {
    let base = |variables: &[(&str, &str)]| match compile_with(SERVERS, None, variables) {
        Ok(api) => api.base_url,
        Err(error) => panic!("{error}"),
    };
    assert_eq!(base(&[]), "https://eu.api.example.com:443/v2");
    assert_eq!(
        base(&[("region", "us"), ("version", "v3"), ("unused", "x")]),
        "https://us.api.example.com:443/v3"
    );
}

#[test]
fn configured_base_url_overrides_or_prefixes_servers() {
    let configured = |document: &str| match compile_with(document, Some("http://svc.ns:8080/"), &[])
    {
        Ok(api) => api.base_url,
        Err(error) => panic!("{error}"),
    };
    assert_eq!(configured(SERVERS), "http://svc.ns:8080");
    let relative = "openapi: 3.0.0\ninfo: {}\nservers: [{url: /v1/}]\npaths: {}\n";
    assert_eq!(configured(relative), "http://svc.ns:8080/v1");
    let no_servers = "openapi: 3.0.0\ninfo: {}\npaths: {}\n";
    assert_eq!(configured(no_servers), "http://svc.ns:8080");
    // Without a configured URL a relative server is an error that says what to set.
    match compile_with(relative, None, &[]) {
        Err(error @ OpenApiError::NoBaseUrl { .. }) => {
            assert!(error.to_string().contains("spec.openApi.baseUrl"), "{error}");
        }
        other => panic!("expected NoBaseUrl, got {other:?}"),
    }
    assert!(matches!(
        compile_with(no_servers, None, &[]),
        Err(OpenApiError::NoBaseUrl { .. })
    ));
    assert!(matches!(
        compile_with(no_servers, Some("ftp://x"), &[]),
        Err(OpenApiError::InvalidBaseUrl { .. })
    ));
    let missing_default =
        "openapi: 3.0.0\ninfo: {}\nservers: [{url: 'https://{tenant}.example.com'}]\npaths: {}\n";
    match compile_with(missing_default, None, &[]) {
        Err(error @ OpenApiError::ServerVariable { .. }) => {
            assert!(error.to_string().contains("tenant"));
        }
        other => panic!("expected ServerVariable, got {other:?}"),
    }
    match compile_with(missing_default, None, &[("tenant", "acme")]) {
        Ok(api) => assert_eq!(api.base_url, "https://acme.example.com"),
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn operation_servers_elsewhere_are_skipped() {
    let document = r#"
openapi: 3.0.0
info: {title: t, version: "1"}
servers: [{url: "https://api.example.com/v1"}]
paths:
  /upload:
    post:
      operationId: upload
      servers: [{url: "https://uploads.example.com"}]
      responses: {}
  /same:
    servers: [{url: "https://api.example.com/v1/"}]
    get: {operationId: same, responses: {}}
  /beneath:
    get:
      operationId: beneath
      servers: [{url: "https://api.example.com/v1/beta"}]
      responses: {}
"#;
    let api = match compile_with(document, None, &[]) {
        Ok(api) => api,
        Err(error) => panic!("{error}"),
    };
    assert_eq!(names(&api), ["same", "beneath"]);
    assert_eq!(http(tool(&api, "beneath")).path, "/beta/beneath");
    assert!(skip_reason(&api, "POST /upload").contains("uploads.example.com"));
}

// ---------------------------------------------------------------- Swagger 2.0

const SWAGGER: &str = r#"
swagger: "2.0"
info: {title: Petstore, version: "1"}
host: petstore.example.com
basePath: /api/
schemes: [http, https]
consumes: [application/json]
produces: [application/json]
parameters:
  Limit: {name: limit, in: query, type: integer, maximum: 50}
definitions:
  Pet:
    type: object
    required: [name]
    properties:
      name: {type: string}
      owner: {$ref: '#/definitions/Owner'}
  Owner:
    type: object
    x-nullable: true
    properties:
      pets: {type: array, items: {$ref: '#/definitions/Pet'}}
paths:
  /pets:
    get:
      operationId: listPets
      parameters:
        - $ref: '#/parameters/Limit'
        - {name: tags, in: query, type: array, items: {type: string}}
        - {name: ids, in: query, type: array, items: {type: integer}, collectionFormat: multi}
        - {name: words, in: query, type: array, items: {type: string}, collectionFormat: ssv}
        - {name: pipes, in: query, type: array, items: {type: string}, collectionFormat: pipes}
        - {name: tabs, in: query, type: array, items: {type: string}, collectionFormat: tsv, description: Tab list.}
        - {name: X-Trace, in: header, type: array, items: {type: string}}
      responses:
        200:
          description: pets
          schema: {type: array, items: {$ref: '#/definitions/Pet'}}
    post:
      operationId: addPet
      parameters:
        - {name: pet, in: body, required: true, description: The pet., schema: {$ref: '#/definitions/Pet'}}
      responses:
        201:
          description: created
          schema: {$ref: '#/definitions/Pet'}
  /pets/{petId}/photo:
    post:
      operationId: uploadPhoto
      consumes: [multipart/form-data]
      parameters:
        - {name: petId, in: path, required: true, type: integer}
        - {name: file, in: formData, type: file}
      responses: {200: {description: ok}}
  /pets/{petId}:
    post:
      operationId: updatePetForm
      consumes: [application/x-www-form-urlencoded]
      parameters:
        - {name: petId, in: path, required: true, type: integer}
        - {name: name, in: formData, type: string, required: true}
        - {name: status, in: formData, type: string}
      responses: {200: {description: ok}}
    put:
      operationId: updatePetMultipart
      consumes: [multipart/form-data]
      parameters:
        - {name: petId, in: path, required: true, type: integer}
        - {name: petId, in: formData, type: string}
      responses: {200: {description: ok}}
"#;

#[test]
fn swagger_base_url_from_schemes_host_and_base_path() {
    match compile_with(SWAGGER, None, &[]) {
        Ok(api) => assert_eq!(api.base_url, "https://petstore.example.com/api"),
        Err(error) => panic!("{error}"),
    }
    let hostless = "swagger: '2.0'\ninfo: {}\nbasePath: /v2\npaths: {}\n";
    assert!(matches!(
        compile_with(hostless, None, &[]),
        Err(OpenApiError::NoBaseUrl { .. })
    ));
    match compile_with(hostless, Some("http://svc"), &[]) {
        Ok(api) => assert_eq!(api.base_url, "http://svc/v2"),
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn swagger_collection_formats_map_to_styles() {
    let api = api(SWAGGER);
    let list = tool(&api, "listPets");
    let style = |arg: &str| {
        let b = binding(list, arg);
        (b.style, b.explode)
    };
    assert_eq!(style("limit"), (ParamStyle::Form, true));
    assert_eq!(style("tags"), (ParamStyle::Form, false));
    assert_eq!(style("ids"), (ParamStyle::Form, true));
    assert_eq!(style("words"), (ParamStyle::SpaceDelimited, false));
    assert_eq!(style("pipes"), (ParamStyle::PipeDelimited, false));
    assert_eq!(style("X-Trace"), (ParamStyle::Simple, false));
    assert_eq!(
        list.input_schema["properties"]["limit"],
        json!({"type": "integer", "maximum": 50})
    );
    assert_eq!(
        list.input_schema["properties"]["tabs"],
        json!({"type": "string", "description": "Tab list. (Items joined by a tab.)"})
    );
    // An array response has no output schema.
    assert_eq!(list.output_schema, None);
}

#[test]
fn swagger_body_parameter_becomes_the_body() {
    let api = api(SWAGGER);
    let add = tool(&api, "addPet");
    assert_eq!(
        body(add),
        &BodyBinding {
            media_type: "application/json".to_owned(),
            encoding: BodyEncoding::Json,
            shape: BodyShape::Merged {
                properties: vec!["name".to_owned(), "owner".to_owned()],
            },
            required: true,
        }
    );
    assert_eq!(add.input_schema["required"], json!(["name"]));
    // x-nullable, and the Pet → Owner → Pet cycle stopped.
    let owner = &add.input_schema["properties"]["owner"];
    assert_eq!(owner["type"], json!(["object", "null"]));
    assert!(
        owner["properties"]["pets"]["items"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("recursive"))
    );
    assert_eq!(
        add.output_schema.as_ref().map(|s| s["required"].clone()),
        Some(json!(["name"]))
    );
}

#[test]
fn swagger_form_data_becomes_a_form_or_multipart_body() {
    let api = api(SWAGGER);
    let form = tool(&api, "updatePetForm");
    assert_eq!(
        body(form),
        &BodyBinding {
            media_type: "application/x-www-form-urlencoded".to_owned(),
            encoding: BodyEncoding::Form,
            shape: BodyShape::Merged {
                properties: vec!["name".to_owned(), "status".to_owned()],
            },
            required: true,
        }
    );
    assert_eq!(form.input_schema["required"], json!(["petId", "name"]));
    // A form field named like a path parameter: the form is one argument.
    let multipart = tool(&api, "updatePetMultipart");
    assert_eq!(body(multipart).encoding, BodyEncoding::Multipart);
    assert_eq!(
        body(multipart).shape,
        BodyShape::Argument {
            name: "body".to_owned()
        }
    );
    assert!(skip_reason(&api, "POST /pets/{petId}/photo").contains("type: file"));
}

#[test]
fn swagger_json_document_compiles() {
    let document = json!({
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "host": "example.com",
        "paths": {
            "/a/{id}": {
                "get": {
                    "parameters": [{"name": "id", "in": "path", "required": true, "type": "string"}],
                    "responses": {"200": {"description": "ok", "schema": {"type": "object", "properties": {"x": {"type": "number"}}}}}
                }
            }
        }
    })
    .to_string();
    let api = match compile_with(&document, None, &[]) {
        Ok(api) => api,
        Err(error) => panic!("{error}"),
    };
    assert_eq!(api.base_url, "https://example.com");
    let get = tool(&api, "get_a_by_id");
    assert_eq!(get.input_schema["required"], json!(["id"]));
    assert!(get.output_schema.is_some());
}

// ---------------------------------------------------------------- document errors

#[test]
fn syntax_errors_say_where() {
    match compile_with("openapi: 3.0.0\npaths:\n  /a: [unclosed\n", None, &[]) {
        Err(OpenApiError::Syntax {
            format: "YAML",
            line,
            ..
        }) => assert!(line >= 3, "line {line}"),
        other => panic!("expected a YAML syntax error, got {other:?}"),
    }
    match compile_with("{\"openapi\": \"3.0.0\",\n \"paths\": {,}}", None, &[]) {
        Err(error @ OpenApiError::Syntax { format: "JSON", .. }) => {
            let text = error.to_string();
            assert!(text.contains("line 2"), "{text}");
        }
        other => panic!("expected a JSON syntax error, got {other:?}"),
    }
}

#[test]
fn non_openapi_documents_are_rejected() {
    for document in ["", "just text", "- a\n- b\n", "{\"info\": {}}", "asyncapi: 2.0.0\n"] {
        match compile_with(document, Some("https://x"), &[]) {
            Err(error @ OpenApiError::NotOpenApi { .. }) => {
                assert!(error.to_string().contains("`openapi`"), "{error}");
            }
            other => panic!("{document:?}: expected NotOpenApi, got {other:?}"),
        }
    }
    for (document, kind) in [
        ("openapi: 4.0.0\n", "openapi"),
        ("openapi: 2.0\n", "openapi"),
        ("swagger: '1.2'\n", "swagger"),
        ("swaggerVersion: '1.2'\n", "swagger"),
    ] {
        match compile_with(document, Some("https://x"), &[]) {
            Err(OpenApiError::UnsupportedVersion { kind: found, .. }) => assert_eq!(found, kind),
            other => panic!("{document:?}: expected UnsupportedVersion, got {other:?}"),
        }
    }
    // Unquoted YAML versions are numbers.
    assert!(compile_with("swagger: 2.0\ninfo: {}\npaths: {}\n", Some("https://x"), &[]).is_ok());
    assert!(compile_with("openapi: 3.1\ninfo: {}\n", Some("https://x"), &[]).is_ok());
}

#[test]
fn malformed_parts_never_panic() {
    let documents = [
        "openapi: 3.0.0\npaths: 5\n",
        "openapi: 3.0.0\npaths: {/a: 3, /b: [1], /c: {get: 1, put: [], post: null}}\n",
        "openapi: 3.0.0\npaths: {/a: {get: {parameters: 7, requestBody: 3, responses: 4}}}\n",
        "openapi: 3.0.0\npaths: {/a: {get: {parameters: [7, {name: 1}], responses: {}}}}\n",
        "openapi: 3.0.0\npaths: {/a: {post: {requestBody: {content: {application/json: {schema: 5}}}}}}\n",
        "openapi: 3.0.0\npaths: {/a: {post: {requestBody: {content: {application/json: {schema: {$ref: 5}}}}}}}\n",
        "openapi: 3.0.0\npaths: {/a: {post: {requestBody: {$ref: '#/a/b/c'}}}}\n",
        "openapi: 3.0.0\npaths: {/a: {$ref: '#/paths/~1a'}}\n",
        "openapi: 3.0.0\ncomponents: {schemas: {A: {properties: {x: {type: 12, enum: 3, required: yes, items: 4, allOf: 9}}}}}\npaths: {/a: {post: {requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/A'}}}}}}}\n",
        "openapi: 3.0.0\npaths: {'/{': {get: {}}, '/}{': {get: {}}, '': {get: {}}}\n",
        "openapi: 3.0.0\nservers: 7\npaths: {}\n",
        "openapi: 3.0.0\nservers: [{url: 'https://{a'}]\npaths: {}\n",
        "swagger: '2.0'\nhost: 5\nschemes: 3\nconsumes: 1\npaths: {/a: {post: {parameters: [{in: body, name: b}]}}}\n",
    ];
    for document in documents {
        // Any result is fine, as long as it is one.
        let _ = compile_with(document, Some("https://api.test"), &[]);
        let _ = compile_with(document, None, &[]);
    }
    // A reference cycle among parameters is a skipped operation, not a hang.
    let cyclic = "openapi: 3.0.0\ncomponents: {parameters: {A: {$ref: '#/components/parameters/B'}, B: {$ref: '#/components/parameters/A'}}}\npaths: {/a: {get: {operationId: a, parameters: [{$ref: '#/components/parameters/A'}]}}}\n";
    let api = api(cyclic);
    assert!(skip_reason(&api, "GET /a").contains("circular"));
}

#[test]
fn yaml_anchors_and_merge_keys_are_applied() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
x-common: &common
  responses: {}
  parameters:
    - {name: q, in: query, schema: {type: string}}
paths:
  /a:
    get:
      <<: *common
      operationId: a
"#);
    assert_eq!(http(tool(&api, "a")).params.len(), 1);
}
