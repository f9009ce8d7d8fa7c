"""The Prism sweep's own logic, without Prism or a gateway: the argument generator's choices and
the few places where the sweep changes what Prism is given or how a rejection is counted. Each
case is one that a sweep run showed (the document named in the comment)."""

from __future__ import annotations

import json

import prism_sweep
import schema_args


def test_one_of_prefers_a_value_that_stays_unambiguous_as_text():
    # GitHub's workflow_id: an id or a file name. `1` becomes "1" in the path, which both accept.
    schema = {"type": "object", "properties": {"workflow_id": {"oneOf": [{"type": "integer"}, {"type": "string"}]}}, "required": ["workflow_id"]}
    assert schema_args.arguments(schema) == {"workflow_id": "toolyard"}


def test_one_of_keeps_an_ambiguous_value_when_nothing_else_is_valid():
    schema = {"type": "object", "properties": {"n": {"oneOf": [{"type": "integer"}, {"type": "string", "enum": ["1"]}]}}}
    assert schema_args.arguments(schema) == {"n": 1}


def test_documented_examples_must_have_their_format():
    # SendGrid's send_at: a date-time documented with the example "now".
    schema = {"type": "object", "properties": {"send_at": {"type": "string", "format": "date-time", "examples": ["now"]}}}
    assert schema_args.arguments(schema) == {"send_at": "2024-01-02T03:04:05Z"}
    assert schema_args.check({"type": "string", "format": "date-time"}, "now") is not None
    assert schema_args.check({"type": "string", "format": "date-time"}, "2024-01-02T03:04:05.5+01:00") is None
    assert schema_args.check({"type": "string", "format": "time"}, "25:00:00Z") is not None


def test_an_enum_without_a_valid_member_is_unsatisfiable():
    # Zoom's tspId: `enum: [1, 2]` with `type: string`.
    schema = {"type": "object", "properties": {"tspId": {"enum": [1, 2], "type": "string"}}, "required": ["tspId"]}
    try:
        schema_args.arguments(schema)
    except schema_args.Unsatisfiable as e:
        assert "enum" in str(e)
    else:
        raise AssertionError("an unsatisfiable enum produced arguments")


def test_prism_gets_form_encodings_and_multipart_for_form_data():
    doc = {
        "openapi": "3.0.0",
        "security": [{"k": []}],
        "paths": {
            "/runners": {
                "put": {
                    "security": [{"k": []}],
                    "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/Runner"}}}},
                }
            },
            "/apps": {"post": {"requestBody": {"content": {"application/form-data": {"schema": {"type": "object", "required": ["token"], "properties": {
                "scopes": {"type": "array", "items": {"type": "string"}}, "fields": {"type": "object"}}}}}}}},
        },
        "components": {"schemas": {"Runner": {"type": "object", "properties": {"tag_list": {"type": "array", "items": {"type": "string"}}, "name": {"type": "string"}}}}},
    }
    served = prism_sweep.for_prism(doc)
    assert "security" not in served and "security" not in served["paths"]["/runners"]["put"]
    form = served["paths"]["/runners"]["put"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert form["encoding"] == {"tag_list": {"style": "form", "explode": True}}
    assert form["schema"]["properties"]["name"] == {"type": "string"}  # inlined
    multipart = served["paths"]["/apps"]["post"]["requestBody"]["content"]
    assert list(multipart) == ["multipart/form-data"]
    # Arrays are repeated parts (Prism needs that said); objects stay JSON parts.
    assert multipart["multipart/form-data"]["encoding"] == {"scopes": {"style": "form", "explode": True}}
    assert prism_sweep.json_parts(served, "POST", "/apps") == {"fields"}
    assert multipart["multipart/form-data"]["schema"]["properties"]["token"] == {}
    assert prism_sweep.json_parts(served, "POST", "/runners") == set()
    assert doc["paths"]["/runners"]["put"]["security"]  # the caller's document is left alone


def test_inlining_stops_at_cycles_and_at_the_size_limit(monkeypatch):
    doc = {"paths": {"/n": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}}}}},
           "components": {"schemas": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Node"}}}}}}
    schema = prism_sweep.inline_components(doc)["paths"]["/n"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["properties"]["next"] == {"$ref": "#/components/schemas/Node"}
    monkeypatch.setattr(prism_sweep, "INLINE_LIMIT", 10)
    assert prism_sweep.inline_components(doc) is doc


def test_rejections_the_document_causes_are_told_apart():
    doc = {
        "paths": {
            "/schema#add": {"put": {}},
            "/schema#update": {"put": {}},
            "/search": {"get": {"parameters": [
                {"in": "query", "name": "mdfilters", "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Filter"}}},
                {"in": "query", "name": "ids", "schema": {"type": "array", "items": {"type": "integer"}}},
            ]}},
        },
        "components": {"schemas": {"Filter": {"type": "object"}}},
    }
    unserializable = prism_sweep.unserializable_query_parameters(doc)
    assert unserializable == {"mdfilters"}
    kind = prism_sweep.rejection_kind
    assert kind(doc, unserializable, prism_sweep.Seen("PUT", "/schema?add", 422), ["request/body: x"]) == "ambiguous-route"
    assert kind(doc, unserializable, prism_sweep.Seen("GET", "/search?mdfilters=x", 422), ["request/query/mdfilters/0: must be object"]) == "unserializable"
    # Anything else in the same request is still the gateway's to answer for.
    both = ["request/query/mdfilters/0: must be object", "request/query/ids/0: must be integer"]
    assert kind(doc, unserializable, prism_sweep.Seen("GET", "/search?ids=x", 422), both) == "rejected"
    assert kind(doc, unserializable, prism_sweep.Seen("DELETE", "/schema", 422), ["request/body: x"]) == "rejected"
    doc["paths"]["/profile"] = {"patch": {"requestBody": {"content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": {"fields_attributes": {"type": "object"}, "note": {"type": "string"}}}}}}}}
    profile = prism_sweep.Seen("PATCH", "/profile", 422)
    assert kind(doc, unserializable, profile, ["request/body/fields_attributes: must be object"]) == "json-part"
    assert kind(doc, unserializable, profile, ["request/body/note: must be string"]) == "rejected"


def test_violations_are_read_from_prism_headers_and_answers():
    listed = prism_sweep.too_many_violations('Too many violations! [{"location": ["response", "body"], "message": "Response body must be boolean"}]')
    assert prism_sweep.request_violations(prism_sweep.Seen("GET", "/", 200, listed)) == []
    cut = prism_sweep.too_many_violations('Too many violations! [{"location": ["response"], "message": "a"},{"location": ["response"], "mess')
    assert cut == [{"location": ["response"], "message": "a"}]
    assert prism_sweep.too_many_violations("garbage") == [{"message": "garbage"}]
    body = json.dumps({"validation": [{"location": ["query", "timeline", "0"], "message": "must be object"}]})
    assert prism_sweep.answered_violations(prism_sweep.Seen("GET", "/", 422, body=body)) == ["request/query/timeline/0: must be object"]


def test_an_authorization_header_parameter_gets_the_target_a_credential():
    doc = {"paths": {"/m": {"get": {"parameters": [{"$ref": "#/components/parameters/Auth"}]}}},
           "components": {"parameters": {"Auth": {"in": "header", "name": "Authorization", "required": True}}}}
    assert prism_sweep.declares_authorization(doc)
    assert not prism_sweep.declares_authorization({"paths": {"/m": {"get": {}}}})
    text = prism_sweep.manifests("{}", 1, api_key=True)
    assert "credentials" in text and "kind: Secret" in text
