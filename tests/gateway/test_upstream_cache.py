"""What the gateway caches of upstream MCP servers, with real parts only: three MCP 2026-07-28
upstreams (`upstream_server_2026.py`, the Python `mcp` 2.x SDK, stateless streamable HTTP, each
logging the requests it gets) behind one gateway (`fixtures/upstream-cache/`), driven by the
Python `mcp` client.

- `cached` (ttlMs 6000, syncInterval 10m): a tool added upstream without any notification shows
  up through the gateway once the ttl ran out, without a gateway restart; until then the gateway
  serves its cached list; re-lists are spaced by the ttl, never a busy loop.
- `zero` (ttlMs 0): no freshness promise, so the gateway re-lists at syncInterval, not at the floor.
- `static` (`listingMode: Static`, tools declared in the GatewayTarget): the gateway never sends
  `tools/list` upstream and serves the declared tools; calls are still forwarded.
- `/readyz` shows listingMode, the last ttl and the next refresh per upstream."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import HERE, PY_MCP2, free_port, list_all_tools, mcp_session, run, text_of
from test_upstream import _port_open, wait_synced

TTL_MS = {"cached": 6000, "zero": 0, "static": 6000}
GATEWAY_AGENT = "toolyard-gateway/"


class Upstream:
    def __init__(self, procs, name: str):
        self.name = name
        self.port = free_port()
        self.log = procs.workdir / f"requests-{name}.log"
        self.log.write_text("")
        if not PY_MCP2.exists():
            pytest.fail(f"{PY_MCP2} is missing: run tests/gateway/setup.sh", pytrace=False)
        argv = [PY_MCP2, HERE / "upstream_server_2026.py", "--port", self.port, "--ttl-ms", TTL_MS[name], "--log", self.log]
        self.proc = procs._start(f"upstream-{name}", argv, cwd=HERE)
        self.proc.wait_ready(lambda: _port_open(self.port))

    def gateway_requests(self, method: str) -> list[float]:
        """When the gateway sent `method` (unix times, in order)."""
        out = []
        for line in Path(self.log).read_text().splitlines():
            at, m, agent = line.split("\t", 2)
            if m == method and agent.startswith(GATEWAY_AGENT):
                out.append(float(at))
        return out


@pytest.fixture(scope="module")
def env(procs):
    ups = {name: Upstream(procs, name) for name in TTL_MS}
    subs = {f"{name.upper()}_PORT": u.port for name, u in ups.items()}
    gw = procs.gateway(["upstream-cache"], subs, min_tools=0)
    wait_synced(gw, list(TTL_MS))
    return ups, gw


def upstream_status(gw, target: str) -> dict:
    return next(u for u in gw.readyz()["upstreams"] if u["target"] == target)


def gateway_tools(gw) -> list[str]:
    async def go():
        async with mcp_session(gw.url) as (s, _):
            tools, _pages = await list_all_tools(s)
            return sorted(t.name for t in tools)

    return run(go())


def call(gw, name: str, args: dict):
    async def go():
        async with mcp_session(gw.url) as (s, _):
            return await s.call_tool(name, args)

    return run(go())


def test_readyz_shows_listing_mode_ttl_and_next_refresh(env):
    _ups, gw = env
    cached = upstream_status(gw, "cached")
    assert cached["listingMode"] == "Cached", cached
    assert cached["protocolVersion"] == "2026-07-28", cached
    assert cached["ttlMs"] == 6000, cached
    assert cached["refreshBasis"] == "ttl", cached
    assert cached["refreshAfterMs"] == 6500, cached
    assert cached["nextRefresh"] >= cached["lastSynchronized"], cached
    # A stateless 2026-07-28 upstream has no stream to announce list changes on.
    assert cached["listChangedNotifications"] is False, cached

    zero = upstream_status(gw, "zero")
    assert zero["listingMode"] == "Cached", zero
    assert zero["ttlMs"] == 0, zero
    assert (zero["refreshBasis"], zero["refreshAfterMs"]) == ("syncInterval", 600_000), zero

    static = upstream_status(gw, "static")
    assert static["listingMode"] == "Static", static
    assert static["connected"], static


def test_a_cached_target_picks_up_a_changed_tool_list_after_the_ttl(env):
    ups, gw = env
    up = ups["cached"]
    pid, reloads = gw.proc.pid, gw.readyz()["reload"]["reloads"]
    before = gateway_tools(gw)
    assert "cached___add" in before and "cached___fresh" not in before, before

    result = call(gw, "cached___add_tool_quietly", {"name": "fresh"})
    assert not result.isError, text_of(result)
    added_at = time.time()
    lists_at_add = len(up.gateway_requests("tools/list"))

    # Until the gateway lists again, it serves its cached list (the upstream was not asked).
    now = gateway_tools(gw)
    if len(up.gateway_requests("tools/list")) == lists_at_add:
        assert "cached___fresh" not in now, now

    deadline = added_at + TTL_MS["cached"] / 1000 + 0.5 + 5.0
    while time.time() < deadline:
        if "cached___fresh" in gateway_tools(gw):
            break
        time.sleep(0.25)
    else:
        pytest.fail(f"cached___fresh not listed {deadline - added_at:.1f}s after it was added: {upstream_status(gw, 'cached')}")
    seen_after = time.time() - added_at
    print(f"\nnew upstream tool listed through the gateway {seen_after:.1f}s after it was added (ttlMs 6000)")
    assert seen_after <= TTL_MS["cached"] / 1000 + 0.5 + 5.0

    result = call(gw, "cached___fresh", {"word": "ttl"})
    assert not result.isError and text_of(result) == "added tool got ttl", text_of(result)
    # Same process, no reload: the ttl did it.
    assert gw.proc.pid == pid and gw.proc.alive()
    assert gw.readyz()["reload"]["reloads"] == reloads

    # Re-lists follow the ttl: spaced by about 6.5 s, never a busy loop.
    lists = up.gateway_requests("tools/list")
    gaps = [b - a for a, b in zip(lists, lists[1:])]
    assert gaps, lists
    assert min(gaps) >= 5.0, gaps


def test_ttl_zero_means_the_sync_interval_not_a_poll(env):
    ups, gw = env
    # The module has run for longer than the 5 s floor by now (the ttl test waits 6.5 s or more).
    time.sleep(max(0.0, 6.0 - (time.time() - ups["zero"].gateway_requests("tools/list")[0])))
    assert len(ups["zero"].gateway_requests("tools/list")) == 1, ups["zero"].log.read_text()
    assert upstream_status(gw, "zero")["syncs"] == 1


def test_a_static_target_serves_declared_tools_and_never_lists_them(env):
    ups, gw = env
    up = ups["static"]
    tools = [t for t in gateway_tools(gw) if t.startswith("static___")]
    # The upstream also has add_tool_quietly; only the declared tools are served.
    assert tools == ["static___add", "static___echo"], tools

    result = call(gw, "static___add", {"a": 2, "b": 3})
    assert not result.isError and text_of(result) == "5", text_of(result)
    result = call(gw, "static___echo", {"message": "hi"})
    assert not result.isError and text_of(result) == "cache-upstream says: hi", text_of(result)
    assert len(up.gateway_requests("tools/call")) >= 2

    # Across more than one ttl the gateway synced the other lists again, and never tools/list.
    first = upstream_status(gw, "static")
    deadline = time.time() + 15
    while upstream_status(gw, "static")["syncs"] < first["syncs"] + 1 and time.time() < deadline:
        time.sleep(0.25)
    status = upstream_status(gw, "static")
    assert status["syncs"] >= 2, status
    assert up.gateway_requests("tools/list") == [], up.log.read_text()
    assert status["listingMode"] == "Static", status
