"""Smithy targets end to end: the gateway compiles the REAL DynamoDB model (awsJson1_0, from
Maven Central via setup.d/smithy.sh) and a restJson1 model (a subset of API Gateway V2, shaped
like AWS's) into tools, and calls moto's server mode (`moto_server` from PyPI) with them through
the Python `mcp` SDK. The calls are SigV4-signed with fake keys: moto routes each request by the
signature's credential scope, so a wrong signing name or a missing signature fails the test."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from conftest import (
    CACHE,
    FIXTURES,
    Gateway,
    free_port,
    gateway_bin,
    list_all_tools,
    make_config,
    mcp_session,
    run,
    text_of,
)

MOTO = Path(os.environ.get("TOOLYARD_MOTO_SERVER", CACHE / "venv-moto" / "bin" / "moto_server"))
MODELS = Path(os.environ.get("TOOLYARD_SMITHY_MODELS", CACHE / "smithy-models"))
FIXTURE_MODELS = FIXTURES / "smithy" / "models"


class Env:
    def __init__(self, gateway: Gateway, moto_url: str):
        self.gateway = gateway
        self.moto_url = moto_url
        self.url = gateway.url


@pytest.fixture(scope="module")
def env(procs) -> Env:
    for f in (MOTO, MODELS / "dynamodb.json"):
        if not f.exists():
            pytest.fail(f"{f} is missing: run tests/gateway/setup.sh (setup.d/smithy.sh)", pytrace=False)
    moto_port = free_port()
    moto = procs._start("moto", [MOTO, "-H", "127.0.0.1", "-p", moto_port])
    moto.wait_ready(
        lambda: httpx.get(f"http://127.0.0.1:{moto_port}/moto-api/", timeout=2).status_code == 200,
        timeout=60,
    )

    port, admin_port = free_port(), free_port()
    subs = {"MOTO_PORT": str(moto_port), "GATEWAY_PORT": str(port)}
    config_dir = make_config(procs.workdir / "config-smithy", ["smithy"], subs)
    models = {"dynamodb.json": (MODELS / "dynamodb.json").read_text()}
    for p in sorted(FIXTURE_MODELS.glob("*.json")):
        models[p.name] = p.read_text()
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "smithy-models"}, "data": models}
    (config_dir / "06-smithy-models.yaml").write_text(yaml.safe_dump(configmap, sort_keys=False))
    proc = procs._start(
        "gateway",
        [gateway_bin(), "--config", config_dir, "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin_port}"],
        env={
            "RUST_LOG": os.environ.get("RUST_LOG", "info"),
            "NO_COLOR": "1",
            # The gateway's AWS identity, from the default chain's environment provider.
            "AWS_ACCESS_KEY_ID": "AKIDTOOLYARDTEST",
            "AWS_SECRET_ACCESS_KEY": "toolyard-test-secret",
            "AWS_EC2_METADATA_DISABLED": "true",
        },
    )

    def ready() -> bool:
        r = httpx.get(f"http://127.0.0.1:{admin_port}/readyz", timeout=2)
        return r.status_code == 200 and (r.json().get("tools") or 0) >= 60

    proc.wait_ready(ready, timeout=60)
    return Env(Gateway(proc, config_dir, port, admin_port, subs), f"http://127.0.0.1:{moto_port}")


def call(url: str, tool: str, args: dict):
    async def go():
        async with mcp_session(url) as (session, _):
            return await session.call_tool(tool, args)

    return run(go())


def ok(url: str, tool: str, args: dict) -> dict:
    result = call(url, tool, args)
    assert not result.isError, f"{tool} failed: {text_of(result)}"
    return json.loads(text_of(result))


def test_operations_become_tools_with_schemas_from_the_model(env):
    async def go():
        async with mcp_session(env.url) as (session, _):
            return await list_all_tools(session)

    tools, _ = run(go())
    by_name = {t.name: t for t in tools}
    ddb = sorted(n for n in by_name if n.startswith("ddb___"))
    assert ddb == [f"ddb___{n}" for n in sorted(["CreateTable", "DescribeTable", "PutItem", "GetItem", "DeleteItem", "ListTables", "Query"])]
    # The whole model: every DynamoDB operation (57 in 1.0.14) is a tool, none skipped.
    assert len([n for n in by_name if n.startswith("ddball___")]) >= 50
    assert sorted(n for n in by_name if n.startswith("apigw___")) == [
        "apigw___CreateApi", "apigw___DeleteApi", "apigw___GetApi", "apigw___GetApis"]

    put = by_name["ddb___PutItem"]
    assert put.description and "<p>" not in put.description and put.description == put.description.strip()
    schema = put.inputSchema
    assert set(schema["required"]) == {"Item", "TableName"}
    # AttributeValue is recursive (L, M): defined once in $defs and referenced.
    assert schema["properties"]["Item"]["additionalProperties"] == {"$ref": "#/$defs/AttributeValue"}
    assert "M" in schema["$defs"]["AttributeValue"]["properties"]
    assert by_name["ddb___GetItem"].outputSchema["type"] == "object"
    create_api = by_name["apigw___CreateApi"].inputSchema
    assert set(create_api["required"]) == {"name", "protocolType"}
    assert create_api["properties"]["protocolType"]["enum"] == ["HTTP", "WEBSOCKET"]
    assert by_name["apigw___GetApi"].annotations.readOnlyHint is True
    assert by_name["apigw___DeleteApi"].annotations.destructiveHint is True

    status = env.gateway.readyz()
    assert status["ready"] is True, status


def test_dynamodb_item_written_with_one_tool_is_read_back_with_another(env):
    table = f"orders-{uuid.uuid4().hex[:8]}"
    created = ok(env.url, "ddb___CreateTable", {
        "TableName": table,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    })
    assert created["TableDescription"]["TableName"] == table
    item = {
        "pk": {"S": "order-1"},
        "qty": {"N": "3"},
        "tags": {"L": [{"S": "rush"}, {"S": "gift"}]},
        "address": {"M": {"city": {"S": "Seoul"}}},
    }
    ok(env.url, "ddb___PutItem", {"TableName": table, "Item": item})

    async def get():
        async with mcp_session(env.url) as (session, _):
            return await session.call_tool("ddb___GetItem", {"TableName": table, "Key": {"pk": {"S": "order-1"}}})

    result = run(get())
    assert not result.isError, text_of(result)
    # structuredContent came back and the SDK validated it against the tool's outputSchema.
    assert result.structuredContent["Item"] == item
    assert json.loads(text_of(result))["Item"] == item
    tables = ok(env.url, "ddb___ListTables", {})
    assert table in tables["TableNames"]


def test_dynamodb_errors_carry_the_aws_error_code_and_message(env):
    result = call(env.url, "ddb___GetItem", {"TableName": "no-such-table", "Key": {"pk": {"S": "x"}}})
    assert result.isError
    text = text_of(result)
    assert "ResourceNotFoundException" in text and "HTTP 400" in text, text
    assert "not found" in text.lower(), text
    # A required argument missing is refused before any call.
    result = call(env.url, "ddb___PutItem", {"TableName": "t"})
    assert result.isError and "Item" in text_of(result)


def test_rest_json_service_round_trip_and_not_found(env):
    name = f"orders-api-{uuid.uuid4().hex[:6]}"
    created = ok(env.url, "apigw___CreateApi", {"name": name, "protocolType": "HTTP", "tags": {"team": "orders"}})
    api_id = created["apiId"]
    assert created["name"] == name
    # httpLabel in the path, the body read back under its @jsonName names.
    got = ok(env.url, "apigw___GetApi", {"ApiId": api_id})
    assert (got["apiId"], got["name"], got["protocolType"]) == (api_id, name, "HTTP")
    assert got["tags"] == {"team": "orders"}
    listed = ok(env.url, "apigw___GetApis", {"MaxResults": "50"})
    assert api_id in [a["apiId"] for a in listed["items"]]
    result = call(env.url, "apigw___DeleteApi", {"ApiId": api_id})
    assert not result.isError, text_of(result)
    result = call(env.url, "apigw___GetApi", {"ApiId": api_id})
    assert result.isError
    text = text_of(result)
    assert "NotFoundException" in text and "HTTP 404" in text and api_id in text, text
