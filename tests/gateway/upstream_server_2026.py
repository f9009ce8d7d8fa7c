"""A small MCP 2026-07-28 upstream for test_upstream_cache.py: the Python `mcp` 2.x SDK's
`MCPServer`, stateless streamable HTTP, whose list results carry the `ttlMs` given on the command
line (`--ttl-ms`; the SDK's own `cache_hints`). It records every request in `--log` (one
`unix-time<TAB>method<TAB>user-agent` line each), so a test can tell what the gateway asked for
and when, and has a tool that adds a tool without announcing it (a stateless server has no stream
to announce it on: a client learns of it when its cached list expires)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mcp.server.caching import CacheHint
from mcp.server.mcpserver import MCPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--ttl-ms", type=int, required=True, help="ttlMs of tools/list (and the other lists)")
parser.add_argument("--log", type=Path, required=True, help="file that gets one line per request")
args = parser.parse_args()


async def record_requests(ctx, call_next):
    if ctx.request_id is not None:
        headers = getattr(ctx.request, "headers", None) or {}
        agent = next((v for k, v in headers.items() if k.lower() == "user-agent"), "-")
        with args.log.open("a") as f:
            f.write(f"{time.time():.3f}\t{ctx.method}\t{agent}\n")
    return await call_next(ctx)


hint = CacheHint(ttl_ms=args.ttl_ms, scope="public")
mcp = MCPServer(
    "cache-upstream",
    cache_hints={"tools/list": hint, "prompts/list": hint, "resources/list": hint, "resources/templates/list": hint},
    middleware=[record_requests],
)


@mcp.tool()
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


@mcp.tool()
def echo(message: str) -> str:
    """Echoes the message back."""
    return f"cache-upstream says: {message}"


def _added(word: str) -> str:
    """A tool added at runtime by add_tool_quietly."""
    return f"added tool got {word}"


@mcp.tool()
def add_tool_quietly(name: str) -> str:
    """Registers a new tool under `name` without any notification."""
    mcp.add_tool(_added, name=name, description="A tool added at runtime by add_tool_quietly.")
    return f"added {name}"


@mcp.prompt()
def greet(name: str) -> str:
    """A greeting (so that the server has a prompt list to cache too)."""
    return f"Say hello to {name}."


@mcp.resource("cache://info")
def info() -> str:
    """A resource (so that the server has a resource list to cache too)."""
    return "cache-upstream"


if __name__ == "__main__":
    mcp.run("streamable-http", host="127.0.0.1", port=args.port, stateless_http=True)
