"""Backend faults at the TCP/HTTP level: a backend that is down, resets the connection, closes
without answering, answers with garbage, truncates its body, returns invalid JSON, never answers,
or drips its body. Each call ends as a tool result with `isError: true` within the target's 1 s
timeout (plus a margin), never a hang, a dropped MCP connection or a dead gateway — also with many
calls in flight at once (AgentCore users reported hung calls under concurrent load)."""

from __future__ import annotations

import asyncio
import sys
import time

import httpx
import pytest
from conftest import HERE, call, free_port, mcp_session, run, text_of

TIMEOUT_S = 1.0
MARGIN_S = 2.0


@pytest.fixture(scope="module")
def gw(procs):
    port = free_port()
    proc = procs._start("faulty", [sys.executable, HERE / "faulty_backend.py", "--port", port], cwd=HERE)
    proc.wait_ready(lambda: httpx.get(f"http://127.0.0.1:{port}/ok", timeout=2).status_code == 200)
    return procs.gateway(["faults"], {"FAULTY_PORT": port, "DOWN_PORT": free_port()})


def timed_call(url: str, tool: str):
    started = time.monotonic()
    result = call(url, tool, {})
    return result, time.monotonic() - started


def test_healthy_path_works(gw):
    result, _ = timed_call(gw.url, "faulty___ok")
    assert not result.isError, text_of(result)


@pytest.mark.parametrize(
    "tool",
    ["down___ok", "faulty___reset", "faulty___close", "faulty___garbage", "faulty___truncated"],
)
def test_broken_connections_are_quick_tool_errors(gw, tool):
    result, elapsed = timed_call(gw.url, tool)
    assert result.isError, text_of(result)
    assert text_of(result), "an error result needs a message"
    assert elapsed < TIMEOUT_S + MARGIN_S, f"{tool} took {elapsed:.2f}s"


@pytest.mark.parametrize("tool", ["faulty___hang", "faulty___drip"])
def test_stalled_backends_time_out(gw, tool):
    result, elapsed = timed_call(gw.url, tool)
    assert result.isError
    assert "1000 ms" in text_of(result), text_of(result)
    assert TIMEOUT_S * 0.9 <= elapsed < TIMEOUT_S + MARGIN_S, f"{tool} took {elapsed:.2f}s"


def test_invalid_json_is_returned_as_text_not_a_crash(gw):
    """A 200 whose body is not the JSON it claims: the caller gets the body as text (it may still be
    useful), without structured content."""
    result, elapsed = timed_call(gw.url, "faulty___badjson")
    assert elapsed < TIMEOUT_S + MARGIN_S
    assert "{this is not json" in text_of(result)
    assert result.structuredContent is None


def test_many_concurrent_calls_to_faulty_backends_all_end(gw):
    """60 calls in flight on one session, across every fault; all end within the timeout budget and
    the session stays usable."""
    tools = ["faulty___hang", "faulty___drip", "faulty___reset", "faulty___garbage", "down___ok", "faulty___ok"]

    async def go():
        async with mcp_session(gw.url) as (session, _):
            started = time.monotonic()
            results = await asyncio.wait_for(
                asyncio.gather(*(session.call_tool(tools[i % len(tools)], {}) for i in range(60))),
                timeout=30,
            )
            elapsed = time.monotonic() - started
            after = await session.call_tool("faulty___ok", {})
            return results, elapsed, after

    results, elapsed, after = run(go())
    assert len(results) == 60
    for i, r in enumerate(results):
        expected_error = tools[i % len(tools)] != "faulty___ok"
        assert r.isError == expected_error, (tools[i % len(tools)], text_of(r))
    assert elapsed < TIMEOUT_S + 2 * MARGIN_S, f"60 concurrent calls took {elapsed:.2f}s"
    assert not after.isError


def test_gateway_still_healthy_and_counts_the_errors(gw):
    assert gw.readyz()["tools"] >= 9
    metrics = httpx.get(f"http://127.0.0.1:{gw.admin_port}/metrics", timeout=5).text
    line = next(
        (l for l in metrics.splitlines() if l.startswith('toolyard_gateway_tool_errors_total{target="faulty",kind="backend"}')),
        None,
    )
    assert line is not None, metrics
    assert float(line.split()[-1]) >= 10
