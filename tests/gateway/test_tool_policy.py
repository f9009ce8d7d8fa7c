"""ToolPolicy (Cedar) on a standalone gateway with real tokens of the test OpenID provider: for a
reader (scope tools:call) and a writer (tools:call orders:write), tools/list, the search tool and
tools/call agree; an argument rule applies at call time; a policy change reaches the running
gateway without a restart; an invalid policy leaves the last good config serving."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import HERE, assert_ok, list_all_tools, mcp_session, run, text_of
from oidc_support import Provider

READER_SECRET = "reader-secret-5c1e9a7b3d"
WRITER_SECRET = "writer-secret-8f2d6b0c4e"
CLIENTS = [
    {"client_id": "reader", "client_secret": READER_SECRET, "token_endpoint_auth_method": "client_secret_basic",
     "scope": "tools:call"},
    {"client_id": "writer", "client_secret": WRITER_SECRET, "token_endpoint_auth_method": "client_secret_basic",
     "scope": "tools:call orders:write"},
]
SEARCH = "x_amz_bedrock_agentcore_search"
READ_ONLY = {"users___getUser", "users___listUsers", "users___getOrder", "users___ping"}
WRITES = {"users___createOrder", "users___updateOrderStatus"}


@pytest.fixture(scope="module")
def env(procs):
    prism = procs.prism("users.yaml")
    idp = Provider(procs, procs.workdir, "idp", CLIENTS, scopes=["tools:call", "orders:write"])
    gw = procs.gateway(["users", "policy"], {"PRISM_PORT": prism.port, "OIDC_PORT": idp.port})
    return {"gw": gw, "idp": idp}


def token(env, who: str) -> str:
    secret, scope = {"reader": (READER_SECRET, "tools:call"), "writer": (WRITER_SECRET, "tools:call orders:write")}[who]
    return env["idp"].token(who, secret, scope=scope, resource=env["gw"].url)


def view(env, who: str, calls: list[tuple[str, dict]]):
    """(listed names, search result names for "order", [(ok, text) per call]) as `who`."""
    headers = {"Authorization": f"Bearer {token(env, who)}"}

    async def go():
        async with mcp_session(env["gw"].url, headers=headers) as (session, _):
            tools, _pages = await list_all_tools(session)
            found = await session.call_tool(SEARCH, {"query": "order orders user create update"})
            assert_ok(found)
            results = []
            for name, args in calls:
                try:
                    r = await session.call_tool(name, args)
                    results.append((not r.isError, text_of(r)))
                except Exception as e:  # a JSON-RPC error (McpError)
                    results.append((False, str(e)))
            return {t.name for t in tools}, {t["name"] for t in json.loads(text_of(found))["tools"]}, results

    return run(go())


CREATE = {"X-Idempotency-Key": "key-12345678", "userId": "7", "items": [{"sku": "A-1", "quantity": 1}]}
# principal x tool x arguments -> allowed. A tool is listed (and may be found) for a principal
# exactly when some arguments are allowed; getOrder's argument rule is decided at call time.
TABLE = [
    ("reader", "users___getUser", {"userId": "7"}, True),
    ("reader", "users___getOrder", {"orderId": "o-1"}, True),
    ("reader", "users___getOrder", {"orderId": "ord-7f3c-hidden"}, False),
    ("reader", "users___createOrder", CREATE, False),
    ("reader", "users___updateOrderStatus", {"orderId": "o-1", "status": "shipped"}, False),
    ("writer", "users___getUser", {"userId": "7"}, True),
    ("writer", "users___getOrder", {"orderId": "o-1"}, True),
    ("writer", "users___getOrder", {"orderId": "ord-7f3c-hidden"}, False),
    ("writer", "users___createOrder", CREATE, True),
    ("writer", "users___updateOrderStatus", {"orderId": "o-1", "status": "shipped"}, True),
]
VISIBLE = {"reader": READ_ONLY, "writer": READ_ONLY | WRITES}
CALLS = [(tool, args) for who, tool, args, _ in TABLE if who == "reader" and tool != "users___getUser"]


@pytest.mark.parametrize("who", ["reader", "writer"])
def test_list_search_and_call_agree_with_the_table(env, who):
    rows = [(tool, args, allowed) for w, tool, args, allowed in TABLE if w == who]
    listed, found, calls = view(env, who, [(tool, args) for tool, args, _ in rows])
    assert listed == VISIBLE[who] | {SEARCH}
    # Every tool some row allows is listed; every tool all rows deny is not.
    for tool in {t for t, _, _ in rows}:
        assert (tool in listed) == any(a for t, _, a in rows if t == tool), tool
    assert found and found <= VISIBLE[who], found
    if who == "writer":
        assert found & WRITES, found
    for (tool, args, allowed), (ok, text) in zip(rows, calls):
        denied = "denied by policy" in text
        # An allowed call may still meet Prism's own validation, but never a denial.
        assert denied != allowed, (who, tool, args, ok, text)
        if denied:
            assert not ok and text.strip().endswith(f"Tool call denied by policy: {tool}"), text
            # The denial says nothing about the policy.
            assert "no-hidden-order" not in text and "forbid" not in text


def test_the_seed_strands_client_as_one_principal(env):
    """The seed's Strands code with the reader's token: it sees the read-only tools only and its
    getUser call succeeds."""
    run_env = dict(os.environ, GATEWAY_URL=env["gw"].url, TARGET_NAME="users", GATEWAY_TOKEN=token(env, "reader"))
    done = subprocess.run([sys.executable, HERE / "clients" / "strands_seed.py"], env=run_env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"seed client failed:\n{done.stdout}\n{done.stderr}"
    tools_line = next(l for l in done.stdout.splitlines() if l.startswith("Tools loaded in the agent are "))
    for tool in READ_ONLY:
        assert tool in tools_line, tools_line
    for tool in WRITES:
        assert tool not in tools_line, tools_line
    assert "Tool Call status: success" in done.stdout.splitlines(), done.stdout


def test_one_log_line_per_denial_with_principal_and_tool_never_arguments(env):
    view(env, "reader", [("users___getOrder", {"orderId": "ord-7f3c-hidden"})])
    log = env["gw"].proc.log.read_text()
    lines = [l for l in log.splitlines() if "tool call denied by policy" in l and "users___getOrder" in l]
    assert lines, log[-2000:]
    assert "OAuthUser" in lines[-1]
    assert "ord-7f3c-hidden" not in log


def test_a_policy_change_reaches_the_running_gateway(env):
    gw = env["gw"]
    pid = gw.proc.pid
    path = gw.config_dir / "20-tool-policy.yaml"
    before = path.read_text()
    path.write_text(before.replace(
        'when { principal.scopes.contains("orders:write") };',
        'when { principal.scopes.contains("orders:write") || action == Toolyard::Action::"users___updateOrderStatus" };'))
    try:
        deadline = time.time() + 20
        while True:
            listed, found, calls = view(env, "reader", CALLS[3:])
            if "users___updateOrderStatus" in listed:
                break
            assert time.time() < deadline, "the policy change was not served within 20 s"
            time.sleep(0.5)
        assert "denied by policy" not in calls[0][1]
        assert gw.proc.pid == pid

        # An invalid policy: the reload fails and the last good config (with the change) serves on.
        path.write_text(path.read_text().replace("resource.readOnly", "resource.readonly"))
        time.sleep(2)
        listed, _found, _calls = view(env, "reader", [])
        assert "users___updateOrderStatus" in listed and "users___getUser" in listed
    finally:
        path.write_text(before)
    deadline = time.time() + 20
    while "users___updateOrderStatus" in view(env, "reader", [])[0]:
        assert time.time() < deadline, "restoring the policy was not served within 20 s"
        time.sleep(0.5)


def test_log_only_changes_nothing_but_logs(env):
    gw = env["gw"]
    path = gw.config_dir / "20-tool-policy.yaml"
    before = path.read_text()
    path.write_text(before.replace("  gatewayRef: {name: e2e}\n", "  gatewayRef: {name: e2e}\n  mode: LogOnly\n"))
    try:
        deadline = time.time() + 20
        while True:
            listed, found, calls = view(env, "reader", CALLS)
            if listed == READ_ONLY | WRITES | {SEARCH}:
                break
            assert time.time() < deadline, f"LogOnly was not served within 20 s: {listed}"
            time.sleep(0.5)
        assert all("denied by policy" not in text for _, text in calls), calls
        log = gw.proc.log.read_text()
        would = [l for l in log.splitlines() if "would be denied by policy (LogOnly)" in l]
        assert any("users___updateOrderStatus" in l for l in would), log[-2000:]
        assert any("users___getOrder" in l for l in would), log[-2000:]
        assert "ord-7f3c-hidden" not in log
    finally:
        path.write_text(before)
    deadline = time.time() + 20
    while "users___updateOrderStatus" in view(env, "reader", [])[0]:
        assert time.time() < deadline, "restoring Enforce was not served within 20 s"
        time.sleep(0.5)
