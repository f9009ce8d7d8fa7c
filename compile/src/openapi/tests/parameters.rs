//! Parameters: locations, collisions, styles, annotations.

use super::*;

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

#[test]
fn argument_names_stay_within_what_model_apis_accept() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /items:
    post:
      operationId: items
      parameters:
        - {name: "filter[status]", in: query, schema: {type: string}}
        - {name: "filter_status", in: header, schema: {type: string}}
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {"a b": {type: string}}}
      responses: {}
"#);
    let items = tool(&api, "items");
    let status = binding(items, "filter_status");
    assert_eq!(
        (status.name.as_str(), status.location),
        ("filter[status]", ParamLocation::Query)
    );
    assert_eq!(binding(items, "header_filter_status").name, "filter_status");
    // A body property that is no usable argument name keeps the body in one argument.
    assert_eq!(
        body(items).shape,
        BodyShape::Argument {
            name: "body".to_owned()
        }
    );
}

/// AWS query-protocol documents write one path per action after a `#` (`/#Action=X`); the
/// fragment never reaches a server, so it becomes the call's fixed query.
#[test]
fn fragment_paths_send_their_action_as_a_query_parameter() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /#Action=DescribeThings:
    get:
      operationId: GET_DescribeThings
      parameters:
        - {name: MaxRecords, in: query, schema: {type: integer}}
        - {name: Action, in: query, required: true, schema: {type: string, enum: [DescribeThings]}}
        - {name: Version, in: query, required: true, schema: {type: string, enum: ["2015-02-02"]}}
      responses: {}
  /#X-Amz-Target=Svc.CopyThing:
    post:
      operationId: CopyThing
      parameters:
        - {name: X-Amz-Target, in: header, required: true, schema: {type: string, enum: [Svc.CopyThing]}}
      responses: {}
  /things/{id}#Action=Get&Mode=full:
    get:
      operationId: getThing
      responses: {}
"#);
    let describe = tool(&api, "GET_DescribeThings");
    assert_eq!(http(describe).path, "/?Action=DescribeThings");
    let args: Vec<&str> = http(describe)
        .params
        .iter()
        .map(|p| p.arg.as_str())
        .collect();
    assert_eq!(
        args,
        ["MaxRecords", "Version"],
        "Action is fixed by the path"
    );
    assert_eq!(describe.input_schema["required"], json!(["Version"]));

    // A header named by the fragment is carried by its declared parameter.
    let copy = tool(&api, "CopyThing");
    assert_eq!(http(copy).path, "/");
    assert_eq!(
        binding(copy, "X-Amz-Target").location,
        ParamLocation::Header
    );

    // Path variables before the fragment still work; several pairs are all sent.
    let get = tool(&api, "getThing");
    assert_eq!(http(get).path, "/things/{id}?Action=Get&Mode=full");
    assert_eq!(binding(get, "id").location, ParamLocation::Path);
}
