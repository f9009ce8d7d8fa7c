"""Scale-out without a shared store: two gateway processes on the same config and session key,
behind a round-robin proxy (tests/gateway/rr_proxy.py, a request goes to the next process). One
real Python `mcp` SDK session (2025 revision, so it has an `Mcp-Session-Id`) initializes, lists and
calls tools while its requests alternate between the processes; both must serve calls (counted
from their /metrics) and none may fail. Also: a session id is refused (404, so clients
re-initialize) by a gateway with another key, when forged, and after DELETE."""

from __future__ import annotations

import json
import secrets
import sys

import httpx
import pytest
from conftest import HERE, assert_ok, list_all_tools, mcp_session, run, text_of

CALLS = 60
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
}
HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def tool_calls(admin: str) -> int:
    """The sum of `toolyard_gateway_tool_calls_total` over all tools of one process."""
    text = httpx.get(f"{admin}/metrics", timeout=5).text
    return int(
        sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("toolyard_gateway_tool_calls_total{"))
    )


@pytest.fixture(scope="module")
def cluster(procs):
    echo = procs.echo()
    key = secrets.token_urlsafe(48)
    env = {"TOOLYARD_SESSION_KEY": key}
    a = procs.gateway(["echo"], {"ECHO_PORT": echo.port}, env=env)
    b = procs.gateway(["echo"], {"ECHO_PORT": echo.port}, env=env)
    from conftest import free_port

    port = free_port()
    proxy = procs._start(
        "rr-proxy",
        [sys.executable, HERE / "rr_proxy.py", "--port", port, "--backend", f"http://127.0.0.1:{a.port}", "--backend", f"http://127.0.0.1:{b.port}"],
        cwd=HERE,
    )
    proxy.wait_ready(lambda: httpx.get(f"http://127.0.0.1:{port}/_rr/stats", timeout=2).status_code == 200)
    return a, b, f"http://127.0.0.1:{port}"


def test_one_session_alternates_between_two_processes(cluster):
    a, b, proxy = cluster
    before = (tool_calls(a.admin), tool_calls(b.admin))

    async def go():
        async with mcp_session(f"{proxy}/mcp") as (session, init):
            assert init.protocolVersion.startswith("2025"), init.protocolVersion
            tools, _ = await list_all_tools(session)
            assert "echo___getItem" in {t.name for t in tools}
            for i in range(CALLS):
                result = await session.call_tool("echo___getItem", {"itemId": str(i)})
                assert_ok(result)
                assert json.loads(text_of(result))["path"].endswith(f"/items/{i}")
                # Lists too: any request of the session may land on either process.
                if i % 10 == 0:
                    again, _ = await list_all_tools(session)
                    assert len(again) == len(tools)

    run(go())
    served = (tool_calls(a.admin) - before[0], tool_calls(b.admin) - before[1])
    assert sum(served) == CALLS, served
    assert min(served) >= CALLS // 4, f"both processes must serve calls of the one session: {served}"
    stats = httpx.get(f"{proxy}/_rr/stats", timeout=5).json()
    assert min(stats["served"]) > 0, stats


def _initialize(url: str) -> str:
    r = httpx.post(url, headers=HEADERS, json=INIT, timeout=10)
    assert r.status_code == 200, r.text
    sid = r.headers.get("mcp-session-id")
    assert sid and all(0x21 <= ord(c) <= 0x7E for c in sid), sid
    return sid


def _list(url: str, sid: str) -> httpx.Response:
    headers = {**HEADERS, "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18"}
    return httpx.post(url, headers=headers, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, timeout=10)


def test_a_session_of_one_process_is_served_by_the_other(cluster):
    a, b, _ = cluster
    sid = _initialize(a.url)
    # B never saw the initialize (and has no shared store): it serves the session anyway.
    r = _list(b.url, sid)
    assert r.status_code == 200, r.text
    assert "echo___getItem" in r.text


def test_foreign_forged_and_deleted_ids_get_404(procs, cluster):
    a, b, _ = cluster
    sid = _initialize(a.url)
    # A process with another key does not accept it.
    echo_port = a.subs["ECHO_PORT"]
    other = procs.gateway(["echo"], {"ECHO_PORT": echo_port}, env={"TOOLYARD_SESSION_KEY": secrets.token_urlsafe(48)})
    r = _list(other.url, sid)
    assert r.status_code == 404, r.text
    assert "initialize a new session" in r.json()["error"]["message"]
    # A forged id (payload changed, signature kept) is refused.
    body, tag = sid.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + tag
    assert _list(a.url, forged).status_code == 404
    assert _list(a.url, "not-a-session").status_code == 404
    # DELETE ends the session on the process that receives it.
    d = httpx.delete(a.url, headers={**HEADERS, "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18"}, timeout=10)
    assert d.status_code in (200, 202, 204), d.text
    assert _list(a.url, sid).status_code == 404
