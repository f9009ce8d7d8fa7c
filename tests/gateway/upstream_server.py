"""A small upstream MCP server for test_upstream.py (the Python `mcp` SDK's FastMCP over
streamable HTTP, or with `--transport sse` over the legacy HTTP+SSE transport of 2024-11-05 for
test_upstream_sse.py): a few tools, one that adds a tool at runtime and announces
`notifications/tools/list_changed`, and one that reports the request headers it received (to
check what the gateway forwards)."""

from __future__ import annotations

import argparse
import asyncio

from mcp.server.fastmcp import Context, FastMCP
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--transport", choices=["streamable-http", "sse"], default="streamable-http")
parser.add_argument("--stateless", action="store_true", help="streamable HTTP without sessions")
args = parser.parse_args()

mcp = FastMCP("small-upstream", host="127.0.0.1", port=args.port, stateless_http=args.stateless)


@mcp.tool()
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


@mcp.tool()
def echo(message: str) -> str:
    """Echoes the message back (same name as the everything-server's echo)."""
    return f"small says: {message}"


@mcp.tool()
def whoami(ctx: Context) -> dict:
    """Returns the HTTP headers of the request that carried this call."""
    request = ctx.request_context.request
    headers = {k.lower(): v for k, v in request.headers.items()} if request is not None else {}
    return {"headers": headers}


class Person(BaseModel):
    name: str


@mcp.tool()
async def greet_person(ctx: Context) -> str:
    """Asks the user for their name (elicitation, the 2025-11-25 way: a request in the middle of
    the call), then greets them."""
    answer = await ctx.elicit("What is your name?", Person)
    if answer.action == "accept":
        return f"Hello, {answer.data.name}!"
    return f"No name given ({answer.action})"


def _added_tool(word: str) -> str:
    """A tool added at runtime by add_tool."""
    return f"added tool got {word}"


@mcp.tool()
async def add_tool(name: str, ctx: Context) -> str:
    """Registers a new tool under `name` and tells the client its tool list changed."""
    mcp.add_tool(_added_tool, name=name, description="A tool added at runtime by add_tool.")
    await ctx.session.send_tool_list_changed()
    return f"added {name}"


@mcp.tool()
async def progress(steps: int, ctx: Context) -> str:
    """Reports `steps` progress notifications as fast as it can, then answers (the last one
    right before the response: the case a relay loses first)."""
    for i in range(steps):
        await ctx.report_progress(i + 1, steps)
    return f"reported {steps}"


@mcp.tool()
async def slow(seconds: float) -> str:
    """Answers after `seconds` (a call to be in flight when the server is killed)."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


@mcp.tool(annotations=ToolAnnotations(readOnlyHint=True, openWorldHint=False, idempotentHint=True))
def with_meta() -> CallToolResult:
    """A result whose `_meta` carries the server's identity (a protocol key) and an
    application key."""
    return CallToolResult(
        content=[TextContent(type="text", text="meta")],
        _meta={
            "io.modelcontextprotocol/serverInfo": {"name": "small-upstream", "version": "1"},
            "com.example/trace": "abc",
        },
    )


if __name__ == "__main__":
    mcp.run(transport=args.transport)
