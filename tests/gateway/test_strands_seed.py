"""The seed's Strands client code (clients/strands_seed.py, verbatim but for the URL, target and
tool names, minus the Bedrock parts) against the gateway, with Prism behind the `users` target."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import HERE


@pytest.fixture(scope="module")
def gw(procs):
    prism = procs.prism("users.yaml")
    return procs.gateway(["users"], {"PRISM_PORT": prism.port})


def test_seed_strands_client_lists_and_calls_get_user(gw):
    env = dict(os.environ, GATEWAY_URL=gw.url, TARGET_NAME="users")
    done = subprocess.run(
        [sys.executable, HERE / "clients" / "strands_seed.py"], env=env, capture_output=True, text=True, timeout=120
    )
    print(done.stdout)
    assert done.returncode == 0, f"seed client failed:\n{done.stdout}\n{done.stderr}"
    lines = done.stdout.splitlines()
    tools_line = next(line for line in lines if line.startswith("Tools loaded in the agent are "))
    assert "users___getUser" in tools_line
    result_line = next(line for line in lines if line.startswith("Tool Call result: "))
    payload = json.loads(result_line.removeprefix("Tool Call result: "))
    assert payload == {"id": "123", "name": "John Doe", "email": "john@example.com"}
    assert "Tool Call status: success" in lines
