//! The seed example, names, descriptions, hints and order.

use super::*;

pub(super) const SEED: &str = r#"
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
    assert_eq!(
        get_user.description.as_deref(),
        Some("Returns one user by id.")
    );
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
                expand: None,
            }],
            body: None,
            json_response: false,
            base_url: None,
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
    assert_eq!(
        only_description.description.as_deref(),
        Some("Creates an a.")
    );
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
fn deprecated_operations_are_marked() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /old: {get: {operationId: old, deprecated: true, responses: {}}}
  /new: {get: {operationId: new, deprecated: false, responses: {}}}
  /plain: {get: {operationId: plain, responses: {}}}
"#);
    assert!(tool(&api, "old").deprecated);
    assert!(!tool(&api, "new").deprecated);
    assert!(!tool(&api, "plain").deprecated);
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
