"""The built-in search tool (`spec.search: {type: Semantic}`, BM25) through real MCP clients: the
seed's `search_using_strands` code (Strands' `MCPAgentTool` + `Agent.tool.<name>(query=...)`; the
Bedrock model object is constructed but never called, a direct tool call does not use it), the
plain Strands `MCPClient.call_tool_sync`, and the python `mcp` client for the error cases.

Targets: the users API (OpenAPI, no backend needed: nothing is called), the echo API, and the
seed's Lambda target with an inline tool schema."""

from __future__ import annotations

import json

import pytest
from conftest import list_all_tools, mcp_session, run, text_of

SEARCH = "x_amz_bedrock_agentcore_search"


@pytest.fixture(scope="module")
def gw(procs):
    # No backend runs: search never calls one. Port 9 (discard) only fills the placeholders.
    return procs.gateway(["users", "echo", "search"], {"PRISM_PORT": 9, "ECHO_PORT": 9}, min_tools=10)


def strands_client(url: str):
    from mcp.client.streamable_http import streamablehttp_client
    from strands.tools.mcp.mcp_client import MCPClient

    token = "not-a-real-token"

    def create_streamable_http_transport():
        return streamablehttp_client(url, headers={"Authorization": f"Bearer {token}"})

    return MCPClient(create_streamable_http_transport)


# ---- the seed's code (verbatim but for the model region, which must be set offline) ----------


def get_search_tool(client):
    from mcp.types import Tool as MCPTool
    from strands.tools.mcp import MCPAgentTool

    mcp_tool = MCPTool(
        name="x_amz_bedrock_agentcore_search",
        description="A special tool that returns a trimmed down list of tools given a context. Use this tool only when there are many tools available and you want to get a subset that matches the provided context.",
        inputSchema={
            "type": "object",
            "properties": {
                "query": {
                    "type": "string",
                    "description": "search query to use for finding tools",
                }
            },
            "required": ["query"],
        },
    )
    return MCPAgentTool(mcp_tool, client)


def search_using_strands(client, query):
    from strands import Agent
    from strands.handlers.callback_handler import null_callback_handler
    from strands.models import BedrockModel

    bedrockmodel = BedrockModel(model_id="us.amazon.nova-pro-v1:0", temperature=0.7, region_name="us-east-1")
    simple_agent = Agent(
        model=bedrockmodel,
        tools=[get_search_tool(client)],
        callback_handler=null_callback_handler,
    )
    direct_result = simple_agent.tool.x_amz_bedrock_agentcore_search(query=query)
    resp_json = json.loads(direct_result["content"][0]["text"])
    search_results = resp_json["tools"]
    return search_results


# ---- tests -------------------------------------------------------------------------------------


def test_search_tool_is_listed_first(gw):
    async def go():
        async with mcp_session(gw.url) as (session, _):
            return await list_all_tools(session)

    tools, _ = run(go())
    names = [t.name for t in tools]
    assert names[0] == SEARCH
    assert names.count(SEARCH) == 1
    assert "users___getUser" in names and "LambdaUsingSDK___get_order_tool" in names
    assert tools[0].inputSchema["required"] == ["query"]


def test_seed_search_using_strands(gw, monkeypatch):
    # Offline: no AWS credentials are looked up unless the model is called, and it is not.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = strands_client(gw.url)
    with client:
        results = search_using_strands(client, "look up a user by their id")
        assert results, "no results"
        assert results[0]["name"] == "users___getUser", [r["name"] for r in results]
        for r in results:
            assert set(r) >= {"name", "description", "inputSchema"}, r
            assert r["name"] != SEARCH
        assert results[0]["inputSchema"]["properties"]["userId"]["type"] == "string"

        orders = search_using_strands(client, "check the order status for order id 123")
        names = [r["name"] for r in orders]
        assert "order" in names[0].lower(), names
        # Every tool ranked above the seed's get_order_tool is an order tool.
        above = names[: names.index("LambdaUsingSDK___get_order_tool")]
        assert all("order" in n.lower() for n in above), names
        assert "users___getUser" not in above, names
        assert len(orders) <= 10


def test_search_through_strands_call_tool_sync(gw):
    client = strands_client(gw.url)
    with client:
        result = client.call_tool_sync(
            tool_use_id="search-call-1",
            name=SEARCH,
            arguments={"query": "list all users"},
        )
        assert result["status"] == "success", result
        tools = json.loads(result["content"][0]["text"])["tools"]
        assert tools[0]["name"] == "users___listUsers", [t["name"] for t in tools]
        # Deterministic: the same query gives the same answer.
        again = client.call_tool_sync(tool_use_id="search-call-2", name=SEARCH, arguments={"query": "list all users"})
        assert json.loads(again["content"][0]["text"])["tools"] == tools


def test_search_results_are_full_listed_definitions(gw):
    async def go():
        async with mcp_session(gw.url) as (session, _):
            listed, _ = await list_all_tools(session)
            result = await session.call_tool(SEARCH, {"query": "echo a JSON body"})
            return listed, result

    listed, result = run(go())
    assert not result.isError, text_of(result)
    found = json.loads(text_of(result))["tools"]
    assert found and found[0]["name"] == "echo___postJson", [t["name"] for t in found]
    by_name = {t.name: t.model_dump(by_alias=True, exclude_none=True) for t in listed}
    for tool in found:
        assert tool["name"] in by_name
        assert tool["inputSchema"] == by_name[tool["name"]]["inputSchema"]
        assert tool.get("description") == by_name[tool["name"]].get("description")


@pytest.mark.parametrize(
    "args, message",
    [({}, "missing"), ({"query": ""}, "empty"), ({"query": "   "}, "empty"), ({"query": 42}, "string")],
)
def test_bad_query_is_a_tool_error(gw, args, message):
    async def go():
        async with mcp_session(gw.url) as (session, _):
            return await session.call_tool(SEARCH, args)

    result = run(go())
    assert result.isError
    assert message in text_of(result)


def test_unmatched_query_returns_no_tools(gw):
    async def go():
        async with mcp_session(gw.url) as (session, _):
            return await session.call_tool(SEARCH, {"query": "xylophone zeppelin"})

    result = run(go())
    assert not result.isError
    assert json.loads(text_of(result)) == {"tools": []}

