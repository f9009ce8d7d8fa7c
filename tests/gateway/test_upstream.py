"""Upstream MCP servers behind the gateway, with real parts only: the MCP reference
`@modelcontextprotocol/server-everything` (npm, streamable HTTP) prefixed as `everything___*`, and
a small FastMCP server (`upstream_server.py`, Python `mcp` SDK) unprefixed with an API key; the
Python `mcp` client talks to the gateway. Covers tools, prompts, resources, templates, progress,
structured content, credentials (the caller's token never goes upstream), name collisions of
`prefix: Never`, `tools/list_changed` from an upstream, and an upstream killed and restarted
mid-test (calls fail fast with isError, never hang; tools stay listed and work again)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import CACHE, HERE, NODE22, free_port, mcp_session, run

EVERYTHING_JS = Path(
    os.environ.get(
        "TOOLYARD_EVERYTHING_JS",
        CACHE / "npm-everything" / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js",
    )
)


class Upstreams:
    def __init__(self, procs):
        self.procs = procs
        self.small_port = free_port()
        self.everything_port = free_port()
        self.small = None
        self.everything = None

    def start_small(self):
        self.small = self.procs._start(
            "small-upstream", [sys.executable, HERE / "upstream_server.py", "--port", self.small_port], cwd=HERE
        )
        self.small.wait_ready(lambda: _port_open(self.small_port))

    def start_everything(self):
        for f in (NODE22, EVERYTHING_JS):
            if not Path(f).exists():
                pytest.fail(f"{f} is missing: run tests/gateway/setup.sh (setup.d/upstream.sh)", pytrace=False)
        self.everything = self.procs._start(
            "everything", [NODE22, EVERYTHING_JS, "streamableHttp"], env={"PORT": str(self.everything_port)}
        )
        self.everything.wait_ready(lambda: _port_open(self.everything_port), timeout=60)


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def env(procs):
    ups = Upstreams(procs)
    ups.start_everything()
    ups.start_small()
    gw = procs.gateway(["upstream"], {"EVERYTHING_PORT": ups.everything_port, "SMALL_PORT": ups.small_port}, min_tools=0)
    wait_synced(gw, ["everything", "small", "small-again"])
    return ups, gw


def wait_synced(gw, targets, timeout=30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = gw.readyz()
        by_name = {u["target"]: u for u in ready.get("upstreams", [])}
        if all(by_name.get(t, {}).get("syncs", 0) > 0 for t in targets):
            return ready
        time.sleep(0.1)
    raise AssertionError(f"upstreams not synced within {timeout}s: {gw.readyz()}\n{gw.proc.log_tail()}")


def text_of(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", None) == "text")


def test_everything_server_tools_prompts_and_resources(env):
    _ups, gw = env

    async def scenario():
        async with mcp_session(gw.url) as (s, init):
            caps = init.capabilities
            assert caps.tools and caps.prompts and caps.resources, caps
            names = {t.name for t in (await s.list_tools()).tools}
            for expected in ("everything___echo", "everything___get-sum", "everything___get-structured-content",
                             "everything___trigger-long-running-operation", "add", "echo", "whoami", "add_tool"):
                assert expected in names, sorted(names)

            echo = await s.call_tool("everything___echo", {"message": "through the gateway"})
            assert not echo.isError and text_of(echo) == "Echo: through the gateway", echo

            total = await s.call_tool("everything___get-sum", {"a": 2, "b": 40})
            assert not total.isError and "42" in text_of(total), total

            structured = await s.call_tool("everything___get-structured-content", {"location": "New York"})
            assert not structured.isError, structured
            assert isinstance(structured.structuredContent, dict) and structured.structuredContent, structured

            progress = []

            async def on_progress(p, total, message):
                progress.append((p, total))

            long = await s.call_tool(
                "everything___trigger-long-running-operation", {"duration": 1, "steps": 3}, progress_callback=on_progress
            )
            assert not long.isError, long
            assert [p for p, _ in progress] == [1.0, 2.0, 3.0], progress

            prompts = {p.name: p for p in (await s.list_prompts()).prompts}
            assert "everything___simple-prompt" in prompts and "everything___args-prompt" in prompts, list(prompts)
            got = await s.get_prompt("everything___args-prompt", {"city": "Seoul", "state": "KR"})
            assert any("Seoul" in m.content.text for m in got.messages if m.content.type == "text"), got

            resources = (await s.list_resources()).resources
            assert resources, "no resources listed"
            first = resources[0]
            read = await s.read_resource(first.uri)
            assert read.contents and str(read.contents[0].uri) == str(first.uri), read

            templates = (await s.list_resource_templates()).resourceTemplates
            text_template = next(t for t in templates if "{resourceId}" in t.uriTemplate and "text" in t.uriTemplate)
            uri = text_template.uriTemplate.replace("{resourceId}", "7")
            templated = await s.read_resource(uri)
            assert templated.contents and "7" in str(templated.contents[0].uri), templated

            with pytest.raises(Exception) as missing:
                await s.get_prompt("everything___no-such-prompt", {})
            assert "no-such-prompt" in str(missing.value)

    run(scenario())


def test_unprefixed_upstream_gets_its_api_key_never_the_callers_token(env):
    _ups, gw = env

    async def scenario():
        async with mcp_session(gw.url, headers={"Authorization": "Bearer caller-secret-token"}) as (s, _):
            added = await s.call_tool("add", {"a": 20, "b": 22})
            assert not added.isError and "42" in text_of(added), added
            seen = await s.call_tool("whoami", {})
            assert not seen.isError, seen
            headers = (seen.structuredContent or json.loads(text_of(seen)))
            headers = headers.get("result", headers)["headers"]
            assert headers.get("x-api-key") == "upstream-key-123", headers
            assert "authorization" not in headers, headers
            assert "caller-secret-token" not in json.dumps(headers)

    run(scenario())


def test_prefix_never_collisions_are_reported_not_served_twice(env):
    _ups, gw = env
    ready = gw.readyz()
    skipped = "\n".join(ready["upstreamSkipped"])
    for tool in ("add", "echo", "whoami", "add_tool"):
        assert f'small-again: upstream tool "{tool}" is not served: the name {tool} is already used by small' in skipped, skipped
    # The everything-server's echo is prefixed, so it does not collide with the small server's.
    assert "everything___echo" not in skipped

    async def scenario():
        async with mcp_session(gw.url) as (s, _):
            tools = [t.name for t in (await s.list_tools()).tools]
            assert tools.count("echo") == 1, tools
            result = await s.call_tool("echo", {"message": "hi"})
            assert text_of(result) == "small says: hi", result

    run(scenario())


def test_upstream_list_changed_reaches_the_client(env):
    _ups, gw = env

    async def scenario():
        changed = asyncio.Event()

        async def on_message(message):
            method = getattr(getattr(message, "root", None), "method", None)
            if method == "notifications/tools/list_changed":
                changed.set()

        from mcp import ClientSession
        from mcp.client.streamable_http import streamablehttp_client

        async with streamablehttp_client(gw.url) as (read, write, _):
            async with ClientSession(read, write, message_handler=on_message) as s:
                await s.initialize()
                before = {t.name for t in (await s.list_tools()).tools}
                assert "fresh_tool" not in before
                added = await s.call_tool("add_tool", {"name": "fresh_tool"})
                assert not added.isError, added
                await asyncio.wait_for(changed.wait(), timeout=10)
                after = {t.name for t in (await s.list_tools()).tools}
                assert "fresh_tool" in after, sorted(after)
                used = await s.call_tool("fresh_tool", {"word": "hello"})
                assert text_of(used) == "added tool got hello", used

    run(scenario())


def test_upstream_killed_and_restarted(env):
    ups, gw = env

    async def call_add(s):
        started = time.monotonic()
        result = await asyncio.wait_for(s.call_tool("add", {"a": 1, "b": 2}), timeout=15)
        return result, time.monotonic() - started

    async def scenario():
        async with mcp_session(gw.url) as (s, _):
            ok, _ = await call_add(s)
            assert not ok.isError and "3" in text_of(ok), ok

            ups.small.stop()
            # Down: every call ends quickly with isError and says what is wrong; never a hang.
            for _ in range(3):
                down, elapsed = await call_add(s)
                assert down.isError, down
                assert "small" in text_of(down) and ("unreachable" in text_of(down) or "failed" in text_of(down)), text_of(down)
                assert elapsed < 5, f"a call to a dead upstream took {elapsed:.1f}s"
            # The last known tools stay listed.
            names = {t.name for t in (await s.list_tools()).tools}
            assert {"add", "whoami"} <= names, names
            status = {u["target"]: u for u in gw.readyz()["upstreams"]}["small"]
            assert status["tools"] >= 4, status

            ups.start_small()
            deadline = time.monotonic() + 30
            while True:
                back, _ = await call_add(s)
                if not back.isError:
                    break
                assert time.monotonic() < deadline, f"the upstream did not come back: {text_of(back)}\n{gw.proc.log_tail()}"
                await asyncio.sleep(0.3)
            assert "3" in text_of(back), back

    run(scenario())
    status = {u["target"]: u for u in gw.readyz()["upstreams"]}["small"]
    assert status["connected"] is True and status["failures"] >= 1, status


def test_upstream_status_in_readyz_and_metrics(env):
    _ups, gw = env
    ready = gw.readyz()
    by_name = {u["target"]: u for u in ready["upstreams"]}
    everything = by_name["everything"]
    assert everything["connected"] and everything["protocolVersion"] == "2025-11-25", everything
    assert everything["lastSynchronized"].endswith("Z") and everything["tools"] >= 10, everything
    assert everything["prompts"] >= 3 and everything["resources"] >= 1, everything
    metrics = httpx.get(f"{gw.admin}/metrics", timeout=5).text
    assert 'toolyard_gateway_upstream_connected{target="everything"} 1' in metrics, metrics
    assert 'toolyard_gateway_upstream_tools{target="small"}' in metrics, metrics


def test_typescript_sdk_uses_an_upstream_tool(env):
    """The TypeScript SDK client (clients/ts_client.mjs) lists the federated tools and calls one."""
    import subprocess

    from conftest import NPM

    _ups, gw = env
    done = subprocess.run(
        [NODE22, HERE / "clients" / "ts_client.mjs", gw.url, "everything___get-sum", json.dumps({"a": 5, "b": 6})],
        capture_output=True,
        text=True,
        timeout=120,
        env={"TOOLYARD_NODE_MODULES": str(NPM)},
    )
    assert done.returncode == 0, f"TypeScript client failed:\n{done.stdout}\n{done.stderr}"
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"everything___get-sum", "everything___echo", "add", "whoami"} <= set(out["tools"]), out["tools"]
    assert out["tools"] == sorted(out["tools"])
    assert out["inputSchema"]["properties"]["a"]["type"] == "number", out["inputSchema"]
    assert out["isError"] is False, out
    assert "11" in out["content"][0]["text"], out


@pytest.mark.parametrize("mode,version", [("auto", "2026-07-28"), ("legacy", None)])
def test_upstream_elicitation_reaches_a_real_client(env, mode, version):
    """The small upstream's `greet_person` elicits in the middle of the call (2025-11-25). A
    2026-07-28 client (`auto`) gets an InputRequiredResult from the gateway and its SDK repeats
    the call with the answer (MRTR translation); a legacy client gets the request relayed on its
    session. Both end with the greeting, and the callback ran exactly once."""
    import subprocess

    from conftest import PY_MCP2

    if not PY_MCP2.exists():
        pytest.fail(f"{PY_MCP2} is missing: run tests/gateway/setup.sh", pytrace=False)
    _ups, gw = env
    done = subprocess.run(
        [PY_MCP2, HERE / "clients" / "mcp2_elicit_client.py", gw.url, mode, "greet_person", "Ada"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"mcp 2.x client failed:\n{done.stdout}\n{done.stderr}\n{gw.proc.log_tail()}"
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if version:
        assert out["protocol_version"] == version, out
    else:
        assert out["protocol_version"] < "2026-07-28", out
    assert out["asked"] == ["What is your name?"], out
    assert out["is_error"] is False and "Hello, Ada!" in out["text"], out
