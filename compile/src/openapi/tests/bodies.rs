//! Request bodies: merged or one argument, media types.

use super::*;

pub(super) const BODIES: &str = r#"
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
                properties: vec!["tag".to_owned(), "name".to_owned()],
            },
            required: true,
            base64: false,
            file_parts: Vec::new(),
        }
    );
    // An optional body's required properties are not required arguments, but sending any other
    // body argument requires them (`dependentRequired`): "if you send it, these are required".
    let optional = tool(&api, "optionalPet");
    assert_eq!(optional.input_schema.get("required"), None);
    assert_eq!(
        optional.input_schema.get("dependentRequired"),
        Some(&json!({"tag": ["name"]}))
    );
    assert!(!body(optional).required);
}

#[test]
fn optional_body_required_fields_depend_on_each_other() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /things:
    patch:
      operationId: patchThing
      requestBody:
        content:
          application/json:
            schema:
              type: object
              required: [op, path]
              properties: {op: {type: string}, path: {type: string}, value: {}}
      responses: {}
"#);
    let patch = tool(&api, "patchThing");
    assert_eq!(patch.input_schema.get("required"), None);
    assert_eq!(
        patch.input_schema["dependentRequired"],
        json!({"op": ["path"], "path": ["op"], "value": ["op", "path"]})
    );
}

#[test]
fn required_body_fields_the_document_does_not_describe_stay_arguments() {
    // Mastodon's sign-up requires `token` without listing it; an `allOf` part may require what
    // another part describes; a closed object can not take an undescribed field at all.
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /accounts:
    post:
      operationId: signUp
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              required: [username, token]
              properties: {username: {type: string}}
      responses: {}
  /parts:
    post:
      operationId: parts
      requestBody:
        required: true
        content:
          application/json:
            schema:
              allOf:
                - {type: object, required: [b], properties: {a: {type: string}}}
                - {type: object, properties: {b: {type: integer}}}
      responses: {}
  /closed:
    post:
      operationId: closed
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              required: [a, ghost]
              properties: {a: {type: string}}
      responses: {}
"#);
    let sign_up = tool(&api, "signUp");
    assert_eq!(
        sign_up.input_schema["required"],
        json!(["username", "token"])
    );
    assert_eq!(
        sign_up.input_schema["properties"]["token"],
        json!({"description": "Required by the API; its document does not describe this field."})
    );
    assert_eq!(
        body(sign_up).shape,
        BodyShape::Merged {
            properties: vec!["username".to_owned(), "token".to_owned()],
        }
    );
    let parts = tool(&api, "parts");
    assert_eq!(parts.input_schema["required"], json!(["b"]));
    assert_eq!(
        parts.input_schema["properties"]["b"],
        json!({"type": "integer"})
    );
    let closed = tool(&api, "closed");
    assert_eq!(closed.input_schema["required"], json!(["a"]));
    assert!(!contains_key(&closed.input_schema["properties"], "ghost"));
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
            properties: vec!["tag".to_owned(), "name".to_owned(), "owner".to_owned()],
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
    assert_eq!(
        encoding("text"),
        ("text/plain".to_owned(), BodyEncoding::Text)
    );
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
    // A binary body is one base64 argument, sent decoded.
    let upload = tool(&api, "upload");
    assert_eq!(
        (
            body(upload).media_type.as_str(),
            body(upload).encoding,
            body(upload).base64
        ),
        ("application/octet-stream", BodyEncoding::Text, true)
    );
    assert_eq!(
        upload.input_schema["properties"]["body"]["contentEncoding"],
        json!("base64")
    );
    // A multipart file part is a base64 argument sent as a file part.
    let avatar = tool(&api, "avatar");
    assert_eq!(body(avatar).file_parts, ["file"]);
    assert_eq!(
        avatar.input_schema["properties"]["file"]["contentEncoding"],
        json!("base64")
    );
    assert_eq!(
        avatar.input_schema["properties"]["note"],
        json!({"type": "string"})
    );
    assert!(api.tools.skipped.is_empty(), "{:?}", api.tools.skipped);
    assert_eq!(api.tools.tools.len(), 7);
}

#[test]
fn other_media_types_are_raw_text_bodies() {
    let api = api(r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /token:
    post:
      operationId: jwt
      requestBody:
        required: true
        content:
          application/jwt: {schema: {type: string}}
      responses: {}
  /blank:
    post:
      operationId: blank
      requestBody:
        content:
          "": {schema: {type: object}}
      responses: {}
  /photos:
    post:
      operationId: photos
      requestBody:
        content:
          image/*: {schema: {type: string, format: binary}}
      responses: {}
  /cover:
    put:
      operationId: cover
      parameters:
        - {name: Content-Length, in: header, schema: {type: integer}}
        - {name: X-Trace, in: header, schema: {type: string}}
      requestBody:
        content:
          image/jpeg: {schema: {type: string, pattern: "^[A-Za-z0-9+/=]*$"}}
      responses: {}
  /apps:
    post:
      operationId: formData
      requestBody:
        content:
          application/form-data:
            schema: {type: object, properties: {client_name: {type: string}}}
      responses: {}
  /many:
    post:
      operationId: many
      requestBody:
        content:
          multipart/form-data:
            schema:
              type: object
              properties:
                files: {type: array, items: {type: string, format: binary}}
      responses: {}
"#);
    let jwt = tool(&api, "jwt");
    assert_eq!(
        (
            body(jwt).media_type.as_str(),
            body(jwt).encoding,
            body(jwt).base64
        ),
        ("application/jwt", BodyEncoding::Text, false)
    );
    assert_eq!(jwt.input_schema["required"], json!(["body"]));
    assert_eq!(
        jwt.input_schema["properties"]["body"]["type"],
        json!("string")
    );
    let blank = tool(&api, "blank");
    assert_eq!(body(blank).media_type, "application/octet-stream");
    assert!(!body(blank).base64);
    let photos = tool(&api, "photos");
    assert_eq!(body(photos).media_type, "application/octet-stream");
    assert!(body(photos).base64);
    let cover = tool(&api, "cover");
    assert_eq!(
        (body(cover).media_type.as_str(), body(cover).base64),
        ("image/jpeg", false),
        "a base64 text body is sent as that text"
    );
    let form = tool(&api, "formData");
    assert_eq!(
        (body(form).media_type.as_str(), body(form).encoding),
        ("multipart/form-data", BodyEncoding::Multipart)
    );
    let header_args: Vec<&str> = http(tool(&api, "cover"))
        .params
        .iter()
        .map(|p| p.arg.as_str())
        .collect();
    assert_eq!(
        header_args,
        ["X-Trace"],
        "Content-Length is the HTTP client's"
    );
    let many = tool(&api, "many");
    assert_eq!(body(many).file_parts, ["files"]);
    assert_eq!(
        many.input_schema["properties"]["files"]["items"]["contentEncoding"],
        json!("base64")
    );
}
