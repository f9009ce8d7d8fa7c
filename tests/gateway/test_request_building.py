"""How tool arguments become backend requests, read back from the FastAPI echo backend: every
parameter style and body type the gateway serializes, and the API-key credentials from a Secret."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, unquote

import pytest
from conftest import call, call_json, text_of

FIXED_BYTES = b"\x89PNG\r\n\x1a\n\x00\xff\xfe toolyard"  # echo_app.py's /bytes


@pytest.fixture(scope="module")
def gw(procs):
    echo = procs.echo()
    return procs.gateway(["echo"], {"ECHO_PORT": echo.port})


def pairs(seen: dict) -> list[tuple[str, str]]:
    """Decoded query pairs in order, without the query API key."""
    return [(k, v) for k, v in parse_qsl(seen["rawQuery"], keep_blank_values=True) if k != "api_key"]


# ---- path ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,raw",
    [
        ("plain-1", "/items/plain-1"),
        ("a/b", "/items/a%2Fb"),
        ("../admin", "/items/..%2Fadmin"),
        ("../../etc/passwd", "/items/..%2F..%2Fetc%2Fpasswd"),
        ("x?y=1#z", "/items/x%3Fy%3D1%23z"),
        ("sp ace", "/items/sp%20ace"),
        ("ünï", "/items/%C3%BCn%C3%AF"),
    ],
)
def test_path_parameter_stays_one_encoded_segment(gw, value, raw):
    seen = call_json(gw.url, "echo___getItem", {"itemId": value})
    assert seen["method"] == "GET"
    assert seen["rawPath"] == raw
    assert unquote(seen["rawPath"]) == "/items/" + value
    assert pairs(seen) == []


@pytest.mark.parametrize("value", ["..", "."])
def test_dot_segment_path_values_are_refused(gw, value):
    result = call(gw.url, "echo___getItem", {"itemId": value})
    assert result.isError
    assert "not allowed" in text_of(result)


def test_path_label_style(gw):
    seen = call_json(gw.url, "echo___pathLabel", {"ids": [1, 2, 3], "point": {"x": 4, "y": 5}})
    assert seen["rawPath"] == "/label/.1,2,3/.x=4.y=5"


def test_path_matrix_style(gw):
    seen = call_json(gw.url, "echo___pathMatrix", {"ids": ["a", "b/c"], "colors": ["blue", "black"]})
    assert seen["rawPath"] == "/matrix/;ids=a;ids=b%2Fc/;colors=blue,black"


# ---- query ---------------------------------------------------------------------------------------


def test_query_form_exploded_array(gw):
    seen = call_json(gw.url, "echo___search", {"tags": ["a b", "c&d", "e"]})
    assert pairs(seen) == [("tags", "a b"), ("tags", "c&d"), ("tags", "e")]


def test_query_form_non_exploded_array(gw):
    seen = call_json(gw.url, "echo___search", {"ids": [1, 2, 3]})
    assert pairs(seen) == [("ids", "1,2,3")]
    assert seen["rawQuery"].startswith("ids=1,2,3") or seen["rawQuery"].startswith("ids=1%2C2%2C3")


def test_query_deep_object(gw):
    seen = call_json(gw.url, "echo___search", {"filter": {"role": "admin", "level": 2}})
    assert sorted(pairs(seen)) == [("filter[level]", "2"), ("filter[role]", "admin")]


def test_query_space_delimited(gw):
    seen = call_json(gw.url, "echo___search", {"words": ["alpha", "beta", "gamma"]})
    assert pairs(seen) == [("words", "alpha beta gamma")]
    assert "+" not in seen["rawQuery"]  # %20, as OpenAPI's spaceDelimited example shows


def test_query_pipe_delimited(gw):
    seen = call_json(gw.url, "echo___search", {"flags": ["x", "y", "z"]})
    assert pairs(seen) == [("flags", "x|y|z")]


def test_query_scalars_and_reserved_characters(gw):
    seen = call_json(gw.url, "echo___search", {"limit": 10, "verbose": False, "q": "a&b=c d/é"})
    assert sorted(pairs(seen)) == [("limit", "10"), ("q", "a&b=c d/é"), ("verbose", "false")]


def test_query_form_exploded_object(gw):
    seen = call_json(gw.url, "echo___search", {"point": {"x": 1, "y": 2}})
    assert sorted(pairs(seen)) == [("x", "1"), ("y", "2")]


def test_query_allow_reserved_keeps_reserved_characters(gw):
    seen = call_json(gw.url, "echo___search", {"next": "/a/b?c=d", "q": "/a/b?c=d"})
    raw = seen["rawQuery"]
    # allowReserved: `/` and `?` stay as they are; `=` and `&` are still encoded so the value
    # stays one query value. Without it everything reserved is encoded.
    assert "next=/a/b?c%3Dd" in raw
    assert "q=%2Fa%2Fb%3Fc%3Dd" in raw
    assert sorted(pairs(seen)) == [("next", "/a/b?c=d"), ("q", "/a/b?c=d")]


def test_query_all_styles_together(gw):
    seen = call_json(
        gw.url,
        "echo___search",
        {"tags": ["t1", "t2"], "ids": [7], "filter": {"role": "r"}, "words": ["w1", "w2"], "flags": ["f1", "f2"], "limit": 1},
    )
    assert sorted(pairs(seen)) == sorted(
        [("tags", "t1"), ("tags", "t2"), ("ids", "7"), ("filter[role]", "r"), ("words", "w1 w2"), ("flags", "f1|f2"), ("limit", "1")]
    )


def test_omitted_optional_parameters_are_not_sent(gw):
    seen = call_json(gw.url, "echo___search", {})
    assert pairs(seen) == []


# ---- headers and cookies ---------------------------------------------------------------------------


def test_header_and_cookie_parameters(gw):
    seen = call_json(
        gw.url,
        "echo___withHeadersAndCookies",
        {"X-Request-Id": "req-42", "X-Numbers": [1, 2, 3], "session": "s3ss;on value", "theme": "dark"},
    )
    assert seen["headers"]["x-request-id"] == "req-42"
    assert seen["headers"]["x-numbers"] == "1,2,3"
    assert seen["cookies"] == {"session": "s3ss;on value", "theme": "dark"}
    # The value's `;` and space are encoded, so it cannot start another cookie.
    assert seen["cookieHeader"].count(";") == 1


def test_header_exploded_object(gw):
    seen = call_json(gw.url, "echo___withHeadersAndCookies", {"X-Request-Id": "r", "session": "s", "X-Object": {"a": "x", "b": 2}})
    assert seen["headers"]["x-object"] == "a=x,b=2"


def test_header_value_with_line_break_is_refused(gw):
    result = call(gw.url, "echo___withHeadersAndCookies", {"X-Request-Id": "a\r\nX-Injected: 1", "session": "s"})
    assert result.isError


def test_client_authorization_is_not_passed_through(gw):
    """The MCP client's own token never reaches the backend; the target's credential does."""
    seen = call_json(gw.url, "echo___getItem", {"itemId": "1"}, headers={"Authorization": "Bearer client-token-xyz"})
    assert "authorization" not in seen["headers"]
    assert "client-token-xyz" not in str(seen)


# ---- bodies --------------------------------------------------------------------------------------


def test_json_body_from_merged_arguments(gw):
    args = {"name": "widget", "count": 3, "tags": ["x", "y"], "meta": {"source": "test"}, "dryRun": True}
    seen = call_json(gw.url, "echo___postJson", args)
    assert seen["method"] == "POST"
    assert seen["contentType"] == "application/json"
    assert seen["json"] == {"name": "widget", "count": 3, "tags": ["x", "y"], "meta": {"source": "test"}}
    assert pairs(seen) == [("dryRun", "true")]


def test_json_body_omits_absent_optional_properties(gw):
    seen = call_json(gw.url, "echo___postJson", {"name": "only"})
    assert seen["json"] == {"name": "only"}


def test_form_urlencoded_body(gw):
    seen = call_json(gw.url, "echo___postForm", {"name": "Ann Lee", "age": 30, "note": "a&b=c+d"})
    assert seen["contentType"] == "application/x-www-form-urlencoded"
    assert seen["form"] == {"name": ["Ann Lee"], "age": ["30"], "note": ["a&b=c+d"]}


def test_multipart_text_fields(gw):
    seen = call_json(gw.url, "echo___postMultipart", {"title": "Report", "description": "Ünïcode\nline 2"})
    assert seen["contentType"].startswith("multipart/form-data; boundary=")
    assert seen["form"] == {"title": ["Report"], "description": ["Ünïcode\nline 2"]}


def test_text_plain_body(gw):
    seen = call_json(gw.url, "echo___postText", {"body": "hello\nworld {not json}"})
    assert seen["contentType"].startswith("text/plain")
    assert seen["body"] == "hello\nworld {not json}"


# ---- credentials -----------------------------------------------------------------------------------


def test_api_key_header_with_prefix_from_secret_data(gw):
    seen = call_json(gw.url, "echo___getItem", {"itemId": "k"})
    assert seen["headers"]["x-api-key"] == "Key header-secret-123"
    assert "api_key" not in seen["rawQuery"]


def test_api_key_query_parameter_from_secret_string_data(gw):
    seen = call_json(gw.url, "echoq___search", {"tags": ["a"]})
    assert ("api_key", "query secret&456") in parse_qsl(seen["rawQuery"])
    assert pairs(seen) == [("tags", "a")]
    assert "x-api-key" not in seen["headers"]



# ---- responses -----------------------------------------------------------------------------------


def test_image_response_is_image_content(gw):
    result = call(gw.url, "echo___getBytes", {"type": "image/png"})
    assert not result.isError, text_of(result)
    [block] = result.content
    assert block.type == "image"
    assert block.mimeType == "image/png"
    assert base64.b64decode(block.data) == FIXED_BYTES


def test_audio_response_is_audio_content(gw):
    result = call(gw.url, "echo___getBytes", {"type": "audio/wav"})
    assert not result.isError, text_of(result)
    [block] = result.content
    assert block.type == "audio"
    assert base64.b64decode(block.data) == FIXED_BYTES


def test_binary_response_is_an_embedded_blob_without_the_query(gw):
    result = call(gw.url, "echoq___getBytes", {"type": "application/octet-stream"})
    assert not result.isError, text_of(result)
    [block] = result.content
    assert block.type == "resource"
    assert base64.b64decode(block.resource.blob) == FIXED_BYTES
    assert block.resource.mimeType == "application/octet-stream"
    # The URI names the backend resource but not its query, which carries the API key.
    assert str(block.resource.uri).endswith("/bytes")
    assert "secret" not in str(block.resource.uri)


def test_text_response_is_text_content(gw):
    result = call(gw.url, "echo___getBytes", {"type": "text/csv"})
    assert not result.isError, text_of(result)
    assert text_of(result) == "a,b\n1,2\n"
    assert result.structuredContent is None
