//! Swagger 2.0.

use super::*;

pub(super) const SWAGGER: &str = r#"
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
        // The configured URL is used as it is: basePath is not appended (docs/crd-reference.md).
        Ok(api) => assert_eq!(api.base_url, "http://svc"),
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
            base64: false,
            file_parts: Vec::new(),
        }
    );
    assert_eq!(add.input_schema["required"], json!(["name"]));
    // x-nullable, and the Pet → Owner → Pet cycle as shared definitions referring to each other.
    let owner = &add.input_schema["properties"]["owner"];
    assert_eq!(owner, &json!({"$ref": "#/$defs/Owner"}));
    let defs = &api.tools.schema_defs;
    assert_eq!(defs["Owner"]["type"], json!(["object", "null"]));
    assert_eq!(
        defs["Owner"]["properties"]["pets"]["items"],
        json!({"$ref": "#/$defs/Pet"})
    );
    assert_eq!(
        defs["Pet"]["properties"]["owner"],
        json!({"$ref": "#/$defs/Owner"})
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
            base64: false,
            file_parts: Vec::new(),
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
    // A Swagger `type: file` form field is a base64 argument sent as a multipart file part.
    let photo = tool(&api, "uploadPhoto");
    assert_eq!(body(photo).encoding, BodyEncoding::Multipart);
    assert_eq!(body(photo).file_parts, ["file"]);
    assert_eq!(
        photo.input_schema["properties"]["file"]["contentEncoding"],
        json!("base64")
    );
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

#[test]
fn swagger_consumes_chooses_the_body_encoding() {
    let api = api(r#"
swagger: "2.0"
info: {title: t, version: "1"}
paths:
  /xml:
    post:
      operationId: xml
      consumes: [application/xml]
      parameters:
        - {name: doc, in: body, required: true, schema: {type: object}}
      responses: {}
  /raw:
    post:
      operationId: raw
      consumes: [application/octet-stream]
      parameters:
        - {name: data, in: body, schema: {type: string, format: binary}}
      responses: {}
  /both:
    post:
      operationId: both
      consumes: [multipart/form-data, application/x-www-form-urlencoded]
      parameters:
        - {name: a, in: formData, type: string}
      responses: {}
  /default:
    post:
      operationId: default
      parameters:
        - {name: a, in: formData, type: array, items: {type: integer}, collectionFormat: multi}
      responses: {}
"#);
    let xml = tool(&api, "xml");
    assert_eq!(
        (body(xml).media_type.as_str(), body(xml).encoding),
        ("application/xml", BodyEncoding::Text)
    );
    assert_eq!(
        xml.input_schema["properties"]["body"],
        json!({"type": "string"})
    );
    let raw = tool(&api, "raw");
    assert_eq!(
        (body(raw).media_type.as_str(), body(raw).base64),
        ("application/octet-stream", true)
    );
    assert_eq!(body(tool(&api, "both")).encoding, BodyEncoding::Form);
    let default = tool(&api, "default");
    assert_eq!(body(default).encoding, BodyEncoding::Form);
    assert_eq!(
        default.input_schema["properties"]["a"],
        json!({"type": "array", "items": {"type": "integer"}})
    );
}
