"""ToolPolicy (Cedar) on a standalone gateway with real tokens of the test OpenID provider: for a
reader (scope tools:call) and a writer (tools:call orders:write), tools/list, the search tool and
tools/call agree; an argument rule applies at call time; a policy change reaches the running
gateway without a restart; an invalid policy leaves the last good config serving."""

from __future__ import annotations

import json
import time

import pytest

from conftest import assert_ok, list_all_tools, mcp_session, run, text_of
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


CALLS = [
    ("users___getUser", {"userId": "7"}),
    ("users___getOrder", {"orderId": "o-1"}),
    ("users___getOrder", {"orderId": "o-secret"}),
    ("users___updateOrderStatus", {"orderId": "o-1", "status": "shipped"}),
]


def test_list_search_and_call_agree_for_two_principals(env):
    listed, found, calls = view(env, "reader", CALLS)
    assert listed == READ_ONLY | {SEARCH}
    assert found and found <= READ_ONLY, found
    assert calls[0][0], calls[0]
    assert calls[1][0], calls[1]
    assert not calls[2][0] and "denied by policy" in calls[2][1], calls[2]
    assert not calls[3][0] and "denied by policy" in calls[3][1], calls[3]
    # The denial says nothing about the policy.
    assert "no-secret-order" not in calls[2][1] and "forbid" not in calls[2][1]

    listed, found, calls = view(env, "writer", CALLS)
    assert listed == READ_ONLY | WRITES | {SEARCH}
    assert found & WRITES, found
    assert calls[0][0] and calls[1][0]
    # The argument rule binds writers too; the tool stays listed (some arguments are allowed).
    assert not calls[2][0] and "denied by policy" in calls[2][1]
    assert "users___getOrder" in listed
    # updateOrderStatus is permitted; Prism may still answer with its own validation, but never a denial.
    assert "denied by policy" not in calls[3][1]


def test_one_log_line_per_denial_with_principal_and_tool_never_arguments(env):
    view(env, "reader", [("users___getOrder", {"orderId": "o-secret"})])
    log = env["gw"].proc.log.read_text()
    lines = [l for l in log.splitlines() if "denied by policy" in l and "users___getOrder" in l]
    assert lines, log[-2000:]
    assert "OAuthUser" in lines[-1]
    assert "o-secret" not in log


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
