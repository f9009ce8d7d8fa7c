"""The python `mcp` 1.x client (`streamablehttp_client` + `ClientSession`) against the gateway,
with Prism's validating mock as the backend: a request the gateway builds wrong gets a 422 (or a
401 without the API key) from Prism and the tool result is an error, which these tests refuse."""

from __future__ import annotations

import json

import httpx
import pytest
from conftest import assert_ok, list_all_tools, mcp_session, run, text_of

EXPECTED_TOOLS = [
    "users___createOrder",
    "users___getOrder",
    "users___getUser",
    "users___listUsers",
    "users___ping",
    "users___updateOrderStatus",
]


@pytest.fixture(scope="module")
def prism(procs):
    return procs.prism("users.yaml")


@pytest.fixture(scope="module")
def gw(procs, prism):
    return procs.gateway(["users"], {"PRISM_PORT": prism.port})


@pytest.fixture(scope="module")
def paged(procs, prism):
    return procs.gateway(["users", "users-paged"], {"PRISM_PORT": prism.port})


def test_prism_rejects_malformed_requests(prism):
    """Negative control: the backend really validates, so green tool calls below mean something."""
    headers = {"X-Api-Key": "k"}
    assert httpx.get(f"{prism.url}/users", params={"limit": "notanumber"}, headers=headers).status_code == 422
    assert httpx.get(f"{prism.url}/users", params={"limit": 5, "verbose": "notabool"}, headers=headers).status_code == 422
    assert httpx.get(f"{prism.url}/users", params={"limit": 5}).status_code == 401
    assert httpx.get(f"{prism.url}/users", params={"limit": 5}, headers=headers).status_code == 200


def test_initialize(gw):
    async def go():
        async with mcp_session(gw.url) as (session, init):
            return init

    init = run(go())
    assert init.serverInfo.name == "toolyard-gateway"
    assert init.protocolVersion == "2025-11-25"  # mcp 1.30's latest; the gateway serves it
    assert init.capabilities.tools is not None
    assert init.capabilities.tools.listChanged is True
    assert init.instructions == "Tools for the end-to-end tests."


def test_list_tools_names_order_and_schemas(gw):
    async def go():
        async with mcp_session(gw.url) as (session, _):
            first = await session.list_tools()
            second = await session.list_tools()
            return first, second

    first, second = run(go())
    names = [t.name for t in first.tools]
    assert names == EXPECTED_TOOLS, names
    assert names == [t.name for t in second.tools], "tools/list order is not stable"
    assert first.nextCursor is None
    tools = {t.name: t for t in first.tools}

    get_user = tools["users___getUser"].inputSchema
    assert get_user["type"] == "object"
    assert get_user["properties"]["userId"]["type"] == "string"
    assert get_user["required"] == ["userId"]
    assert tools["users___getUser"].description == "Returns one user by id."
    assert tools["users___getUser"].title == "Get user information"
    assert tools["users___getUser"].annotations.readOnlyHint is True
    assert tools["users___getUser"].outputSchema["type"] == "object"

    list_users = tools["users___listUsers"].inputSchema
    assert list_users["properties"]["limit"]["type"] == "integer"
    assert list_users["properties"]["verbose"]["type"] == "boolean"
    assert list_users["properties"]["role"]["enum"] == ["admin", "member"]
    assert list_users["required"] == ["limit"]
    # An array response: no outputSchema (MCP requires an object one).
    assert tools["users___listUsers"].outputSchema is None

    create = tools["users___createOrder"].inputSchema
    # The JSON body's properties are merged into the arguments next to the header parameter.
    assert set(create["properties"]) == {"X-Idempotency-Key", "userId", "items", "note"}
    assert set(create["required"]) == {"X-Idempotency-Key", "userId", "items"}
    assert create["properties"]["items"]["type"] == "array"
    assert create["properties"]["items"]["items"]["properties"]["quantity"]["type"] == "integer"

    update = tools["users___updateOrderStatus"].inputSchema
    assert set(update["properties"]) == {"orderId", "status"}
    assert tools["users___updateOrderStatus"].annotations.idempotentHint is True
    # No hint may be claimed for a POST.
    assert tools["users___createOrder"].annotations is None or tools["users___createOrder"].annotations.readOnlyHint is not True


def test_pagination_follows_next_cursor(paged):
    async def go():
        async with mcp_session(paged.url) as (session, _):
            first = await session.list_tools()
            everything, pages = await list_all_tools(session)
            return first, everything, pages

    first, everything, pages = run(go())
    assert len(first.tools) == 2
    assert first.nextCursor
    assert pages == 3
    assert [t.name for t in everything] == EXPECTED_TOOLS


def test_call_get_user_returns_example_json_and_structured_content(gw):
    async def go():
        async with mcp_session(gw.url) as (session, _):
            return await session.call_tool("users___getUser", {"userId": "123"})

    result = run(go())
    assert_ok(result)
    assert len(result.content) == 1 and result.content[0].type == "text"
    expected = {"id": "123", "name": "John Doe", "email": "john@example.com"}
    assert json.loads(result.content[0].text) == expected
    assert result.structuredContent == expected


def test_call_array_result_has_no_structured_content(gw):
    async def go():
        async with mcp_session(gw.url) as (session, _):
            return await session.call_tool("users___listUsers", {"limit": 5, "verbose": True, "role": "admin"})

    result = run(go())
    assert_ok(result)
    assert json.loads(text_of(result)) == [{"id": "123", "name": "John Doe"}, {"id": "456", "name": "Jane Roe"}]
    assert result.structuredContent is None


def test_call_post_with_header_and_json_body(gw):
    async def go():
        async with mcp_session(gw.url) as (session, _):
            return await session.call_tool(
                "users___createOrder",
                {"X-Idempotency-Key": "key-12345678", "userId": "123", "items": [{"sku": "A-1", "quantity": 2}], "note": "gift"},
            )

    result = run(go())
    assert_ok(result)
    assert json.loads(text_of(result)) == {"id": "o-1", "status": "pending", "items": [{"sku": "A-1", "quantity": 2}]}
    assert result.structuredContent["id"] == "o-1"


def test_call_put_and_non_exploded_query_array(gw):
    async def go():
        async with mcp_session(gw.url) as (session, _):
            put = await session.call_tool("users___updateOrderStatus", {"orderId": "o-7", "status": "delivered"})
            get = await session.call_tool("users___getOrder", {"orderId": "o-7", "fields": ["id", "status"]})
            return put, get

    put, get = run(go())
    assert_ok(put)
    assert json.loads(text_of(put))["status"] == "delivered"
    assert_ok(get)
    assert json.loads(text_of(get))["status"] == "shipped"


def test_call_text_response(gw):
    async def go():
        async with mcp_session(gw.url) as (session, _):
            return await session.call_tool("users___ping", {})

    result = run(go())
    assert_ok(result)
    assert text_of(result) == "pong"


def test_invalid_argument_reaches_prism_as_an_error(gw):
    """Positive control of the other direction: an argument Prism refuses is a tool error."""

    async def go():
        async with mcp_session(gw.url) as (session, _):
            return await session.call_tool("users___getOrder", {"orderId": "not-an-order-id"})

    result = run(go())
    assert result.isError


def test_session_tools_across_many_calls(gw):
    """One session, several calls in a row (keep-alive to the backend, session reuse)."""

    async def go():
        async with mcp_session(gw.url) as (session, _):
            return [await session.call_tool("users___getUser", {"userId": str(i)}) for i in range(20)]

    for result in run(go()):
        assert_ok(result)
