"""What the gateway relays from upstream MCP servers, with real parts only: the small FastMCP server
(`upstream_server.py`) three times (streamable HTTP with sessions, stateless, legacy HTTP+SSE) and
`@modelcontextprotocol/server-everything` (sessions, resumable streams), driven by the Python `mcp`
client.

- Progress: many short calls with a progress token from several sessions at once, through the
  gateway and directly to the same upstreams: every notification arrives, the same count both ways.
- An upstream killed while a call is in flight: the call fails at once (not at the target's 30 s
  timeout), for every transport, and the error text names target and URL without Rust internals.
- `_meta` of results: the upstream's protocol keys (its server identity) are dropped, application
  keys kept.
- `roots/list` from an upstream outside any call: answered with the gateway's empty roots list.
- Tool annotations of an upstream: listed unchanged.

The numbers (notifications delivered, time to fail) are printed (`pytest -s`) and recorded in
tests/README.md."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import pytest

from conftest import HERE, NODE22, free_port, mcp_session, run
from test_upstream import EVERYTHING_JS, _port_open, text_of, wait_synced

TARGETS = ["stateful", "stateless", "legacy", "everything"]


class RelayUpstreams:
    def __init__(self, procs):
        self.procs = procs
        self.ports = {t: free_port() for t in TARGETS}
        self.running = {}

    def start(self, target: str):
        port = self.ports[target]
        if target == "everything":
            argv = [NODE22, EVERYTHING_JS, "streamableHttp"]
            proc = self.procs._start(f"relay-{target}", argv, env={"PORT": str(port)})
            proc.wait_ready(lambda: _port_open(port), timeout=60)
        else:
            extra = {"stateful": [], "stateless": ["--stateless"], "legacy": ["--transport", "sse"]}[target]
            argv = [sys.executable, HERE / "upstream_server.py", "--port", port, *extra]
            proc = self.procs._start(f"relay-{target}", argv, cwd=HERE)
            proc.wait_ready(lambda: _port_open(port))
        self.running[target] = proc

    def kill(self, target: str):
        """SIGKILL: the upstream dies without closing its streams politely."""
        proc = self.running.pop(target)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.popen.wait(timeout=5)
        proc.stop()

    def url(self, target: str) -> str:
        return f"http://127.0.0.1:{self.ports[target]}/mcp"


@pytest.fixture(scope="module")
def relay(procs):
    ups = RelayUpstreams(procs)
    for t in TARGETS:
        ups.start(t)
    subs = {f"{t.upper()}_PORT": p for t, p in ups.ports.items()}
    gw = procs.gateway(["upstream-relay"], subs, min_tools=0)
    wait_synced(gw, TARGETS)
    return ups, gw


# --- progress -------------------------------------------------------------------------------

SESSIONS = 4
CALLS_PER_SESSION = 25
RUNS = 3


def _progress_call(target: str, gateway: bool) -> tuple[str, dict, int]:
    """(tool name, arguments, notifications expected) of a short call that reports progress."""
    if target == "everything":
        name, args, steps = "trigger-long-running-operation", {"duration": 0.05, "steps": 5}, 5
    else:
        name, args, steps = "progress", {"steps": 6}, 6
    return (f"{target}___{name}" if gateway else name), args, steps


async def _count_progress(url: str, name: str, args: dict) -> list[int]:
    """Runs SESSIONS sessions of CALLS_PER_SESSION calls at once; notifications per call."""

    async def one_session() -> list[int]:
        counts = []
        async with mcp_session(url) as (s, _):
            for _ in range(CALLS_PER_SESSION):
                got = []

                async def on_progress(progress, total, message, got=got):
                    got.append(progress)

                result = await s.call_tool(name, args, progress_callback=on_progress)
                assert not result.isError, result
                counts.append(len(got))
        return counts

    per_session = await asyncio.gather(*(one_session() for _ in range(SESSIONS)))
    return [c for counts in per_session for c in counts]


@pytest.mark.parametrize("target", ["stateful", "stateless", "everything"])
def test_progress_is_never_lost(relay, target):
    ups, gw = relay
    totals = {"gateway": 0, "direct": 0}
    for _ in range(RUNS):
        for via in ("gateway", "direct"):
            name, args, steps = _progress_call(target, via == "gateway")
            url = gw.url if via == "gateway" else ups.url(target)
            counts = run(_count_progress(url, name, args))
            assert len(counts) == SESSIONS * CALLS_PER_SESSION
            lost = [c for c in counts if c != steps]
            assert not lost, f"{via}: calls with fewer than {steps} notifications: {lost}"
            totals[via] += sum(counts)
    print(f"\nprogress {target}: {totals['gateway']} via the gateway, {totals['direct']} direct "
          f"({RUNS} runs x {SESSIONS} sessions x {CALLS_PER_SESSION} calls)")
    assert totals["gateway"] == totals["direct"], totals


# --- an upstream dies during a call ---------------------------------------------------------


def _slow_call(target: str) -> tuple[str, dict]:
    if target == "everything":
        return "everything___trigger-long-running-operation", {"duration": 20, "steps": 20}
    return f"{target}___slow", {"seconds": 20}


@pytest.mark.parametrize("target", ["everything", "stateful", "stateless", "legacy"])
def test_call_in_flight_fails_at_once_when_its_upstream_dies(relay, target):
    ups, gw = relay
    name, args = _slow_call(target)

    async def scenario():
        async with mcp_session(gw.url) as (s, _):
            call = asyncio.create_task(s.call_tool(name, args))
            await asyncio.sleep(1.5)
            assert not call.done(), call
            ups.kill(target)
            killed = time.monotonic()
            result = await asyncio.wait_for(call, timeout=40)
            return result, time.monotonic() - killed

    try:
        result, elapsed = run(scenario())
    finally:
        if target not in ups.running:
            ups.start(target)
    text = text_of(result)
    print(f"\n{target}: the call in flight failed {elapsed * 1000:.0f} ms after the upstream died: {text}")
    assert result.isError, result
    # Not the target's 30 s timeout: the call ends when its stream is gone (bounded retry).
    assert elapsed < 2.0, f"the call took {elapsed:.1f}s to fail after its upstream died"
    assert target in text and f"127.0.0.1:{ups.ports[target]}" in text, text
    assert "rmcp::" not in text and "Transport [" not in text, text
    wait_synced(gw, [target])


# --- _meta and roots -------------------------------------------------------------------------


def test_upstream_identity_in_meta_is_not_relayed(relay):
    _ups, gw = relay

    async def scenario():
        async with mcp_session(gw.url) as (s, _):
            return await s.call_tool("stateful___with_meta", {})

    result = run(scenario())
    assert not result.isError, result
    meta = result.meta or {}
    assert "io.modelcontextprotocol/serverInfo" not in meta, meta
    assert meta.get("com.example/trace") == "abc", meta


def test_roots_list_outside_a_call_gets_the_gateways_empty_roots(relay):
    """The everything-server asks for roots right after connecting and logs what it got
    ("Roots updated: N root(s) received from client"); the gateway records upstream log
    notifications in its own log. Before the fix it answered -32600 and the server logged
    "Failed to request roots" on its stderr instead."""
    ups, gw = relay
    log = gw.proc.log.read_text(errors="replace")
    assert "Roots updated: 0 root(s) received from client" in log, gw.proc.log_tail()
    assert "Failed to request roots" not in ups.running["everything"].log.read_text(errors="replace")


def test_tool_annotations_pass_through_unchanged(relay):
    _ups, gw = relay

    async def scenario():
        async with mcp_session(gw.url) as (s, _):
            return {t.name: t for t in (await s.list_tools()).tools}

    tools = run(scenario())
    hints = tools["stateful___with_meta"].annotations
    assert hints is not None, tools["stateful___with_meta"]
    assert (hints.readOnlyHint, hints.openWorldHint, hints.idempotentHint) == (True, False, True), hints
