"""The official TypeScript MCP SDK (`@modelcontextprotocol/sdk`, run with Node 22) lists and calls a
tool through the gateway, with Prism behind it."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import HERE, NODE22, NPM


@pytest.fixture(scope="module")
def gw(procs):
    if not (NPM / "@modelcontextprotocol" / "sdk").exists():
        pytest.fail("@modelcontextprotocol/sdk is missing: run tests/gateway/setup.sh", pytrace=False)
    prism = procs.prism("users.yaml")
    return procs.gateway(["users"], {"PRISM_PORT": prism.port})


def test_typescript_sdk_lists_and_calls(gw):
    done = subprocess.run(
        [NODE22, HERE / "clients" / "ts_client.mjs", gw.url, "users___getUser", json.dumps({"userId": "123"})],
        capture_output=True,
        text=True,
        timeout=120,
        env={"TOOLYARD_NODE_MODULES": str(NPM)},
    )
    assert done.returncode == 0, f"TypeScript client failed:\n{done.stdout}\n{done.stderr}"
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["sessionId"], "a 2025-xx client gets a session id"
    assert "users___getUser" in out["tools"]
    assert out["tools"] == sorted(out["tools"])
    assert out["inputSchema"]["properties"]["userId"]["type"] == "string"
    assert out["isError"] is False, out
    expected = {"id": "123", "name": "John Doe", "email": "john@example.com"}
    assert json.loads(out["content"][0]["text"]) == expected
    assert out["structuredContent"] == expected
