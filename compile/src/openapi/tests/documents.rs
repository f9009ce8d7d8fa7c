//! Whole-document errors and robustness.

use super::*;

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
    for document in [
        "",
        "just text",
        "- a\n- b\n",
        "{\"info\": {}}",
        "asyncapi: 2.0.0\n",
    ] {
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
    assert!(
        compile_with(
            "swagger: 2.0\ninfo: {}\npaths: {}\n",
            Some("https://x"),
            &[]
        )
        .is_ok()
    );
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

#[test]
fn operations_that_are_not_objects_are_listed_as_skipped() {
    let api =
        api("openapi: 3.0.0\ninfo: {}\npaths:\n  /a:\n    get: 1\n    post: {operationId: ok}\n");
    assert_eq!(names(&api), ["ok"]);
    assert_eq!(
        skip_reason(&api, "GET /a"),
        "the operation is not an object"
    );
}

/// Every node of a few documents replaced, one at a time, by values of the wrong kind: compiling
/// must give a result (a tool, a skip or an error), never panic.
#[test]
fn every_node_replaced_by_garbage_never_panics() {
    let replacements = [
        Value::Null,
        json!(7),
        json!("x"),
        json!([]),
        json!({}),
        json!({"$ref": "#/"}),
        json!({"$ref": "#"}),
        json!({"$ref": "other.yaml"}),
    ];
    for document in [
        super::basics::SEED,
        super::bodies::BODIES,
        super::swagger::SWAGGER,
    ] {
        let root: Value = match serde_yaml::from_str(document) {
            Ok(root) => root,
            Err(error) => panic!("{error}"),
        };
        let mut pointers = Vec::new();
        collect_pointers(&root, String::new(), &mut pointers);
        for pointer in &pointers {
            for replacement in &replacements {
                let mut mutated = root.clone();
                if let Some(node) = mutated.pointer_mut(pointer) {
                    *node = replacement.clone();
                }
                let text = mutated.to_string();
                let _ = compile_with(&text, Some("https://api.test"), &[]);
                let _ = compile_with(&text, None, &[("region", "x")]);
            }
        }
    }
}

fn collect_pointers(value: &Value, at: String, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    };
    for (key, child) in children {
        let pointer = format!("{at}/{key}");
        out.push(pointer.clone());
        collect_pointers(child, pointer, out);
    }
}
