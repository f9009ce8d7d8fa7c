//! Unit tests of the Smithy compiler on small hand-written models.

use serde_json::{Value, json};
use toolyard_crds::config::{
    BodyEncoding, BodyShape, CallPlan, Endpoint, HttpCall, ParamExpansion, ParamLocation,
};
use toolyard_crds::gateway::HttpMethod;

use super::{CompiledSmithy, SmithyError, SmithyInput, compile};
use crate::SourceTool;

fn model(protocol: &str, shapes: Value) -> String {
    let mut all = json!({
        "ex#Svc": {
            "type": "service",
            "version": "2024-01-01",
            "operations": [],
            "traits": {
                protocol: {},
                "aws.api#service": {"sdkId": "Ex", "endpointPrefix": "ex"},
                "aws.auth#sigv4": {"name": "exsign"}
            }
        }
    });
    let ops: Vec<Value> = shapes
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, s)| s["type"] == "operation")
        .map(|(id, _)| json!({"target": id}))
        .collect();
    all["ex#Svc"]["operations"] = Value::Array(ops);
    for (k, v) in shapes.as_object().unwrap() {
        all[k] = v.clone();
    }
    json!({"smithy": "2.0", "shapes": all}).to_string()
}

fn build(text: &str, region: Option<&str>, endpoint: Option<&str>) -> CompiledSmithy {
    compile(&SmithyInput {
        document: text,
        service: None,
        region,
        endpoint,
    })
    .expect("compiles")
}

fn tool<'a>(c: &'a CompiledSmithy, name: &str) -> &'a SourceTool {
    c.tools
        .tools
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tool {name}: {:?}", c.tools.skipped))
}

fn http(t: &SourceTool) -> &HttpCall {
    match &t.call {
        CallPlan::Http(call) => call,
        other => panic!("not an HTTP plan: {other:?}"),
    }
}

fn dynamo_like() -> String {
    model(
        "aws.protocols#awsJson1_0",
        json!({
            "ex#GetItem": {
                "type": "operation",
                "input": {"target": "ex#GetItemInput"},
                "output": {"target": "ex#GetItemOutput"},
                "traits": {
                    "smithy.api#documentation": "<p>Returns the <code>item</code>.</p>",
                    "smithy.api#readonly": {},
                    "smithy.api#deprecated": {"message": "Use GetItems."}
                }
            },
            "ex#GetItemInput": {"type": "structure", "members": {
                "TableName": {"target": "ex#TableName", "traits": {"smithy.api#required": {}, "smithy.api#documentation": "<p>The table.</p>"}},
                "Key": {"target": "ex#Key", "traits": {"smithy.api#required": {}}},
                "Mode": {"target": "ex#Mode"},
                "Level": {"target": "ex#Level"},
                "Since": {"target": "smithy.api#Timestamp"},
                "Data": {"target": "smithy.api#Blob"},
                "Extra": {"target": "smithy.api#Document"},
                "Tags": {"target": "ex#TagList"}
            }},
            "ex#GetItemOutput": {"type": "structure", "members": {
                "Item": {"target": "ex#Key", "traits": {"smithy.api#required": {}}}
            }},
            "ex#TableName": {"type": "string", "traits": {"smithy.api#length": {"min": 3, "max": 255}, "smithy.api#pattern": "^[\\p{L}]+$"}},
            "ex#Key": {"type": "map", "key": {"target": "smithy.api#String"}, "value": {"target": "ex#AttributeValue"}},
            "ex#AttributeValue": {"type": "union", "members": {
                "S": {"target": "smithy.api#String"},
                "N": {"target": "smithy.api#String"},
                "L": {"target": "ex#AttributeList"},
                "M": {"target": "ex#Key"}
            }},
            "ex#AttributeList": {"type": "list", "member": {"target": "ex#AttributeValue"}},
            "ex#Mode": {"type": "enum", "members": {
                "FAST": {"target": "smithy.api#Unit", "traits": {"smithy.api#enumValue": "fast"}},
                "SLOW": {"target": "smithy.api#Unit", "traits": {"smithy.api#enumValue": "slow"}}
            }},
            "ex#Level": {"type": "intEnum", "members": {
                "LOW": {"target": "smithy.api#Unit", "traits": {"smithy.api#enumValue": 1}},
                "HIGH": {"target": "smithy.api#Unit", "traits": {"smithy.api#enumValue": 9}}
            }},
            "ex#TagList": {"type": "list", "member": {"target": "ex#Tag"}, "traits": {"smithy.api#length": {"max": 50}}},
            "ex#Tag": {"type": "structure", "members": {
                "Key": {"target": "smithy.api#String", "traits": {"smithy.api#required": {}}}
            }},
            "ex#Stream": {
                "type": "operation",
                "input": {"target": "ex#StreamInput"}
            },
            "ex#StreamInput": {"type": "structure", "members": {
                "Body": {"target": "ex#Bytes"}
            }},
            "ex#Bytes": {"type": "blob", "traits": {"smithy.api#streaming": {}}}
        }),
    )
}

#[test]
fn aws_json_operations_become_tools_with_target_and_schemas() {
    let c = build(&dynamo_like(), Some("eu-west-1"), None);
    assert_eq!(
        c.endpoint,
        Endpoint::AwsJson {
            url: "https://ex.eu-west-1.amazonaws.com".into(),
            json_version: "1.0".into(),
            target_prefix: "Svc".into(),
        }
    );
    assert_eq!(c.signing_name.as_deref(), Some("exsign"));
    let get = tool(&c, "GetItem");
    assert_eq!(
        get.call,
        CallPlan::AwsJson {
            operation: "GetItem".into()
        }
    );
    assert_eq!(get.description.as_deref(), Some("Returns the item."));
    assert_eq!(
        get.annotations.as_ref().and_then(|a| a.read_only_hint),
        Some(true)
    );
    assert!(get.deprecated, "@deprecated");
    let s = &get.input_schema;
    assert_eq!(s["type"], "object");
    // Members come in the model's order (serde_json keeps insertion order workspace-wide).
    assert_eq!(s["required"], json!(["TableName", "Key"]));
    assert_eq!(
        s["properties"]["TableName"],
        json!({"type": "string", "minLength": 3, "maxLength": 255, "description": "The table."})
    );
    assert_eq!(s["properties"]["Mode"]["enum"], json!(["fast", "slow"]));
    assert_eq!(
        s["properties"]["Level"],
        json!({"type": "integer", "enum": [1, 9]})
    );
    assert_eq!(s["properties"]["Since"], json!({"type": "number"}));
    assert_eq!(s["properties"]["Data"]["contentEncoding"], "base64");
    assert_eq!(s["properties"]["Extra"], json!({}));
    assert_eq!(s["properties"]["Tags"]["maxItems"], 50);
    assert_eq!(s["properties"]["Tags"]["items"]["required"], json!(["Key"]));
    // The recursive union is defined once and referenced.
    let value = &s["properties"]["Key"]["additionalProperties"];
    assert_eq!(value["$ref"], "#/$defs/AttributeValue");
    let def = &s["$defs"]["AttributeValue"];
    assert_eq!(def["maxProperties"], 1);
    assert_eq!(
        def["properties"]["L"]["items"]["$ref"],
        "#/$defs/AttributeValue"
    );
    assert_eq!(
        def["properties"]["M"]["additionalProperties"]["$ref"],
        "#/$defs/AttributeValue"
    );
    // Outputs are lenient.
    let out = get.output_schema.as_ref().expect("output schema");
    assert!(out.get("required").is_none());
    assert_eq!(out["type"], "object");
    // The streaming operation is skipped with the reason.
    assert_eq!(c.tools.skipped.len(), 1);
    assert_eq!(c.tools.skipped[0].operation, "Stream");
    assert!(
        c.tools.skipped[0].reason.contains("streaming blob"),
        "{}",
        c.tools.skipped[0].reason
    );
}

fn rest_model() -> String {
    model(
        "aws.protocols#restJson1",
        json!({
            "ex#PutThing": {
                "type": "operation",
                "input": {"target": "ex#PutThingInput"},
                "output": {"target": "ex#PutThingOutput"},
                "traits": {"smithy.api#http": {"method": "PUT", "uri": "/things/{Id}/files/{Path+}?kind=x", "code": 200}, "smithy.api#idempotent": {}}
            },
            "ex#PutThingInput": {"type": "structure", "members": {
                "Id": {"target": "smithy.api#String", "traits": {"smithy.api#httpLabel": {}, "smithy.api#required": {}}},
                "Path": {"target": "smithy.api#String", "traits": {"smithy.api#httpLabel": {}, "smithy.api#required": {}}},
                "Limit": {"target": "smithy.api#Integer", "traits": {"smithy.api#httpQuery": "limit"}},
                "When": {"target": "smithy.api#Timestamp", "traits": {"smithy.api#httpQuery": "when"}},
                "Extra": {"target": "ex#StringMap", "traits": {"smithy.api#httpQueryParams": {}}},
                "Token": {"target": "smithy.api#String", "traits": {"smithy.api#httpHeader": "X-Token"}},
                "Since": {"target": "smithy.api#Timestamp", "traits": {"smithy.api#httpHeader": "If-Modified-Since"}},
                "Meta": {"target": "ex#StringMap", "traits": {"smithy.api#httpPrefixHeaders": "x-meta-"}},
                "DisplayName": {"target": "smithy.api#String", "traits": {"smithy.api#jsonName": "displayName", "smithy.api#required": {}}},
                "Created": {"target": "smithy.api#Timestamp", "traits": {"smithy.api#timestampFormat": "date-time"}}
            }},
            "ex#PutThingOutput": {"type": "structure", "members": {
                "ETag": {"target": "smithy.api#String", "traits": {"smithy.api#httpHeader": "ETag"}},
                "Name": {"target": "smithy.api#String", "traits": {"smithy.api#jsonName": "name"}}
            }},
            "ex#StringMap": {"type": "map", "key": {"target": "smithy.api#String"}, "value": {"target": "smithy.api#String"}},
            "ex#Upload": {
                "type": "operation",
                "input": {"target": "ex#UploadInput"},
                "traits": {"smithy.api#http": {"method": "POST", "uri": "/upload/{Name}"}}
            },
            "ex#UploadInput": {"type": "structure", "members": {
                "Name": {"target": "smithy.api#String", "traits": {"smithy.api#httpLabel": {}, "smithy.api#required": {}}},
                "Payload": {"target": "smithy.api#Blob", "traits": {"smithy.api#httpPayload": {}}}
            }},
            "ex#DeleteThing": {
                "type": "operation",
                "input": {"target": "ex#DeleteThingInput"},
                "traits": {"smithy.api#http": {"method": "DELETE", "uri": "/things/{Id}"}}
            },
            "ex#DeleteThingInput": {"type": "structure", "members": {
                "Id": {"target": "smithy.api#String", "traits": {"smithy.api#httpLabel": {}, "smithy.api#required": {}}}
            }},
            "ex#NoHttp": {"type": "operation"},
            "ex#Events": {
                "type": "operation",
                "output": {"target": "ex#EventsOutput"},
                "traits": {"smithy.api#http": {"method": "GET", "uri": "/events"}}
            },
            "ex#EventsOutput": {"type": "structure", "members": {
                "Stream": {"target": "ex#EventStream", "traits": {"smithy.api#httpPayload": {}}}
            }},
            "ex#EventStream": {"type": "union", "members": {"A": {"target": "ex#StringMap"}}, "traits": {"smithy.api#streaming": {}}}
        }),
    )
}

#[test]
fn rest_json_bindings_become_http_plans() {
    let c = build(&rest_model(), None, Some("http://127.0.0.1:5000/"));
    assert_eq!(
        c.endpoint,
        Endpoint::Http {
            base_url: "http://127.0.0.1:5000".into()
        }
    );
    let put = tool(&c, "PutThing");
    let call = http(put);
    assert_eq!(call.method, HttpMethod::Put);
    assert_eq!(call.path, "/things/{Id}/files/{Path}?kind=x");
    let find = |arg: &str| call.params.iter().find(|p| p.arg == arg).unwrap();
    assert_eq!(find("Path").expand, Some(ParamExpansion::Greedy));
    assert_eq!(find("Id").location, ParamLocation::Path);
    assert_eq!(find("Limit").name, "limit");
    assert_eq!(find("Extra").expand, Some(ParamExpansion::QueryMap));
    assert_eq!(find("Token").name, "X-Token");
    assert_eq!(find("Meta").expand, Some(ParamExpansion::PrefixHeaders));
    assert_eq!(find("Meta").name, "x-meta-");
    let body = call.body.as_ref().unwrap();
    assert_eq!(
        body.shape,
        BodyShape::Merged {
            properties: vec!["displayName".into(), "Created".into()]
        }
    );
    let p = &put.input_schema["properties"];
    assert_eq!(p["When"], json!({"type": "string", "format": "date-time"}));
    assert_eq!(p["Since"], json!({"type": "string"}));
    assert_eq!(
        p["Created"],
        json!({"type": "string", "format": "date-time"})
    );
    assert_eq!(
        put.input_schema["required"],
        json!(["Id", "Path", "displayName"])
    );
    // Header-bound output members are not in the body's schema.
    assert_eq!(
        put.output_schema,
        Some(json!({"type": "object", "properties": {"name": {"type": ["string", "null"]}}}))
    );
    assert_eq!(
        put.annotations.as_ref().and_then(|a| a.idempotent_hint),
        Some(true)
    );

    let upload = http(tool(&c, "Upload"));
    let body = upload.body.as_ref().unwrap();
    assert!(body.base64);
    assert_eq!(body.encoding, BodyEncoding::Text);
    assert_eq!(body.media_type, "application/octet-stream");

    let delete = tool(&c, "DeleteThing");
    assert_eq!(
        delete.annotations.as_ref().and_then(|a| a.destructive_hint),
        Some(true)
    );
    assert!(http(delete).body.is_none());

    let reasons: Vec<(&str, &str)> = c
        .tools
        .skipped
        .iter()
        .map(|s| (s.operation.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|(op, r)| *op == "NoHttp" && r.contains("@http"))
    );
    assert!(
        reasons
            .iter()
            .any(|(op, r)| *op == "Events" && r.contains("event stream"))
    );
}

#[test]
fn unsupported_protocols_skip_every_operation_with_the_reason() {
    let text = model(
        "aws.protocols#awsQuery",
        json!({"ex#A": {"type": "operation"}, "ex#B": {"type": "operation"}}),
    );
    let c = build(&text, Some("us-east-1"), None);
    assert!(c.tools.tools.is_empty());
    assert_eq!(c.tools.skipped.len(), 2);
    assert!(c.tools.skipped[0].reason.contains("awsQuery"));
}

#[test]
fn bad_documents_and_settings_name_the_field() {
    let err = |text: &str, service: Option<&str>, region: Option<&str>| -> SmithyError {
        compile(&SmithyInput {
            document: text,
            service,
            region,
            endpoint: None,
        })
        .unwrap_err()
    };
    let e = err("{not json", None, None);
    assert_eq!(
        (e.reason(), e.field()),
        ("InvalidSchema", "spec.smithy.schema")
    );
    let e = err(r#"{"openapi": "3.0.0"}"#, None, None);
    assert!(e.to_string().contains("Smithy JSON AST"), "{e}");
    let e = err(&dynamo_like(), None, None);
    assert_eq!(e.field(), "spec.smithy.region");
    let e = err(&dynamo_like(), Some("ex#Nope"), Some("us-east-1"));
    assert_eq!(e.field(), "spec.smithy.service");
    assert!(e.to_string().contains("ex#Svc"), "{e}");
    let two = r#"{"smithy":"2.0","shapes":{"a#A":{"type":"service"},"b#B":{"type":"service"}}}"#;
    let e = err(two, None, Some("us-east-1"));
    assert!(e.to_string().contains("set spec.smithy.service"), "{e}");
    let c = compile(&SmithyInput {
        document: two,
        service: Some("b#B"),
        region: Some("us-east-1"),
        endpoint: Some("http://x"),
    })
    .unwrap();
    assert_eq!(c.service, "b#B");
}

#[test]
fn resources_operations_are_found_once() {
    let text = json!({"smithy": "2.0", "shapes": {
        "ex#Svc": {"type": "service", "traits": {"aws.protocols#awsJson1_1": {}},
            "operations": [{"target": "ex#Ping"}], "resources": [{"target": "ex#Thing"}]},
        "ex#Thing": {"type": "resource", "read": {"target": "ex#GetThing"},
            "operations": [{"target": "ex#Ping"}], "resources": [{"target": "ex#Thing"}, {"target": "ex#Sub"}]},
        "ex#Sub": {"type": "resource", "list": {"target": "ex#ListSubs"}},
        "ex#Ping": {"type": "operation"},
        "ex#GetThing": {"type": "operation"},
        "ex#ListSubs": {"type": "operation", "input": {"target": "smithy.api#Unit"}}
    }})
    .to_string();
    let c = build(&text, None, Some("http://h"));
    let names: Vec<&str> = c.tools.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Ping", "GetThing", "ListSubs"]);
    assert_eq!(
        tool(&c, "ListSubs").input_schema,
        json!({"type": "object", "properties": {}})
    );
}

#[test]
fn hostile_models_never_panic() {
    let deep: String = {
        // A chain of 200 nested structures and a self-referencing list.
        let mut shapes = serde_json::Map::new();
        for i in 0..200 {
            shapes.insert(
                format!("ex#S{i}"),
                json!({"type": "structure", "members": {"next": {"target": format!("ex#S{}", i + 1)}, "self": {"target": "ex#L"}}}),
            );
        }
        shapes.insert(
            "ex#L".into(),
            json!({"type": "list", "member": {"target": "ex#L"}}),
        );
        shapes.insert(
            "ex#Op".into(),
            json!({"type": "operation", "input": {"target": "ex#S0"}, "output": {"target": "ex#Missing"}}),
        );
        shapes.insert(
            "ex#Svc".into(),
            json!({"type": "service", "traits": {"aws.protocols#awsJson1_0": {}}, "operations": [{"target": "ex#Op"}, {"target": "ex#S1"}, {"target": 7}]}),
        );
        json!({"smithy": "2.0", "shapes": shapes}).to_string()
    };
    let c = build(&deep, None, Some("http://h"));
    assert_eq!(c.tools.tools.len(), 1);
    assert_eq!(c.tools.skipped.len(), 1);
    let text = serde_json::to_string(&c.tools.tools[0].input_schema).unwrap();
    assert!(text.contains("not expanded"));
    for odd in [
        r#"{"smithy":"2.0","shapes":{"a#S":{"type":"service","operations":"x","traits":[]}}}"#,
        r#"{"smithy":"2.0","shapes":{"a#S":{"type":"service","traits":{"aws.protocols#restJson1":{}},"operations":[{"target":"a#O"}]},"a#O":{"type":"operation","input":{"target":"a#I"},"traits":{"smithy.api#http":{"method":"GET","uri":"/{x}"}}},"a#I":{"type":"structure","members":{"y":{"target":"smithy.api#String","traits":{"smithy.api#httpLabel":{}}}}}}}"#,
        r#"{"smithy":"2.0","shapes":{"a#S":{"type":"service","traits":{"aws.protocols#restJson1":{}},"operations":[{"target":"a#O"}]},"a#O":{"type":"operation","traits":{"smithy.api#http":{"method":"BREW","uri":"/"}}}}}"#,
        r#"{"smithy":"2.0","shapes":{"a#S":{"type":"service"},"a#X":5}}"#,
    ] {
        let c = build(odd, None, Some("http://h"));
        assert!(c.tools.tools.is_empty(), "{odd}");
    }
}
