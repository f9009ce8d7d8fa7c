"""The current python `mcp` 2.x SDK (its own venv, run as a subprocess) lists and calls a tool:
in `auto` mode (server/discover → the stateless 2026-07-28 revision) and in `legacy` mode (the
initialize handshake)."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import HERE, PY_MCP2


@pytest.fixture(scope="module")
def gw(procs):
    if not PY_MCP2.exists():
        pytest.fail(f"{PY_MCP2} is missing: run tests/gateway/setup.sh", pytrace=False)
    prism = procs.prism("users.yaml")
    return procs.gateway(["users"], {"PRISM_PORT": prism.port})


def run_client(url: str, mode: str, tool: str, args: dict) -> dict:
    done = subprocess.run(
        [PY_MCP2, HERE / "clients" / "mcp2_client.py", url, mode, tool, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"mcp 2.x client failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode,version", [("auto", "2026-07-28"), ("legacy", None)])
def test_mcp2_lists_and_calls(gw, mode, version):
    out = run_client(gw.url, mode, "users___getUser", {"userId": "123"})
    if version:
        assert out["protocol_version"] == version
    else:
        assert out["protocol_version"] < "2026-07-28"
    assert "users___getUser" in out["tools"]
    assert out["tools"] == sorted(out["tools"])
    assert out["input_schema"]["properties"]["userId"]["type"] == "string"
    assert out["is_error"] is False, out
    expected = {"id": "123", "name": "John Doe", "email": "john@example.com"}
    assert json.loads(out["content"][0]["text"]) == expected
    assert out["structured_content"] == expected
