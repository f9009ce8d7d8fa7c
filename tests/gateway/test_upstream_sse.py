"""Legacy HTTP+SSE upstreams (MCP 2024-11-05, `transport: Sse`) behind the gateway, with real
parts only: the small FastMCP server (`upstream_server.py --transport sse`, Python `mcp` SDK,
with an API key header) and `@modelcontextprotocol/server-everything` in its `sse` mode; the
Python `mcp` client talks to the gateway over streamable HTTP. Covers listing and calling tools,
prompts and resources through the SSE client transport, the API key reaching the upstream (and the
caller's token not), and an SSE upstream killed and restarted (the stream ends, calls fail fast,
the gateway reconnects)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest

from conftest import HERE, NODE22, free_port, mcp_session, run
from test_upstream import EVERYTHING_JS, _port_open, text_of, wait_synced


class SseUpstreams:
    def __init__(self, procs):
        self.procs = procs
        self.small_port = free_port()
        self.everything_port = free_port()
        self.small = None

    def start_small(self):
        self.small = self.procs._start(
            "small-sse",
            [sys.executable, HERE / "upstream_server.py", "--port", self.small_port, "--transport", "sse"],
            cwd=HERE,
        )
        self.small.wait_ready(lambda: _port_open(self.small_port))

    def start_everything(self):
        for f in (NODE22, EVERYTHING_JS):
            if not Path(f).exists():
                pytest.fail(f"{f} is missing: run tests/gateway/setup.sh (setup.d/upstream.sh)", pytrace=False)
        proc = self.procs._start(
            "everything-sse", [NODE22, EVERYTHING_JS, "sse"], env={"PORT": str(self.everything_port)}
        )
        proc.wait_ready(lambda: _port_open(self.everything_port), timeout=60)


@pytest.fixture(scope="module")
def sse_env(procs):
    ups = SseUpstreams(procs)
    ups.start_everything()
    ups.start_small()
    gw = procs.gateway(
        ["upstream-sse"],
        {"SMALL_SSE_PORT": ups.small_port, "EVERYTHING_SSE_PORT": ups.everything_port},
        min_tools=0,
    )
    wait_synced(gw, ["legacy", "everything-sse"])
    return ups, gw


def test_sse_upstream_tools_are_listed_and_called(sse_env):
    _ups, gw = sse_env

    async def scenario():
        async with mcp_session(gw.url, headers={"Authorization": "Bearer caller-secret-token"}) as (s, _):
            names = {t.name for t in (await s.list_tools()).tools}
            assert {"legacy___add", "legacy___whoami", "everything-sse___echo"} <= names, sorted(names)
            added = await s.call_tool("legacy___add", {"a": 40, "b": 2})
            assert not added.isError and "42" in text_of(added), added
            echoed = await s.call_tool("everything-sse___echo", {"message": "over sse"})
            assert not echoed.isError and "over sse" in text_of(echoed), echoed
            seen = await s.call_tool("legacy___whoami", {})
            assert not seen.isError, seen
            headers = seen.structuredContent or json.loads(text_of(seen))
            headers = headers.get("result", headers)["headers"]
            assert headers.get("x-api-key") == "legacy-key-456", headers
            assert "caller-secret-token" not in json.dumps(headers), headers

    run(scenario())
    by_name = {u["target"]: u for u in gw.readyz()["upstreams"]}
    for target in ("legacy", "everything-sse"):
        assert by_name[target]["connected"] and by_name[target]["lastSynchronized"].endswith("Z"), by_name[target]


def test_sse_upstream_prompts_and_resources(sse_env):
    _ups, gw = sse_env

    async def scenario():
        async with mcp_session(gw.url) as (s, _):
            prompts = {p.name for p in (await s.list_prompts()).prompts}
            simple = next((p for p in prompts if "simple" in p), None)
            assert simple, sorted(prompts)
            got = await s.get_prompt(simple)
            assert got.messages, got
            resources = (await s.list_resources()).resources
            assert resources, "the everything-server lists resources"
            read = await s.read_resource(resources[0].uri)
            assert read.contents, read

    run(scenario())


def test_sse_upstream_killed_and_restarted(sse_env):
    ups, gw = sse_env

    async def call_add(s):
        started = time.monotonic()
        result = await asyncio.wait_for(s.call_tool("legacy___add", {"a": 1, "b": 2}), timeout=15)
        return result, time.monotonic() - started

    async def scenario():
        async with mcp_session(gw.url) as (s, _):
            ok, _ = await call_add(s)
            assert not ok.isError and "3" in text_of(ok), ok

            ups.small.stop()
            for _ in range(3):
                down, elapsed = await call_add(s)
                assert down.isError, down
                assert "legacy" in text_of(down), text_of(down)
                assert elapsed < 5, f"a call to a dead SSE upstream took {elapsed:.1f}s"
            names = {t.name for t in (await s.list_tools()).tools}
            assert "legacy___add" in names, sorted(names)

            ups.start_small()
            deadline = time.monotonic() + 30
            while True:
                back, _ = await call_add(s)
                if not back.isError:
                    break
                assert time.monotonic() < deadline, f"the SSE upstream did not come back: {text_of(back)}\n{gw.proc.log_tail()}"
                await asyncio.sleep(0.3)
            assert "3" in text_of(back), back

    run(scenario())
