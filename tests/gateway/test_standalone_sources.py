"""Standalone mode takes what the cluster takes: a schema in a ConfigMap's gzipped `binaryData`
and a `schema.url` (fetched with the operator's limits, from a real HTTP server here), and
`--print-config` exits non-zero when a target is left out (while still printing the others)."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys

import httpx
import pytest
import yaml
from conftest import SPECS, call_json, free_port, gateway_bin

GATEWAY = """apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata: {name: e2e}
spec:
  inboundAuth: {none: {}}
  security: {allowedDomains: ["127.0.0.1"]}
"""


def target(name: str, schema: dict, echo_port: int) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "toolyard.dev/v1alpha1",
            "kind": "GatewayTarget",
            "metadata": {"name": name},
            "spec": {
                "gatewayRef": {"name": "e2e"},
                "openApi": {"baseUrl": f"http://127.0.0.1:{echo_port}", "schema": schema},
                "tools": {"include": ["getItem"]},
            },
        }
    )


@pytest.fixture(scope="module")
def setup(procs, tmp_path_factory):
    echo = procs.echo()
    files = tmp_path_factory.mktemp("served")
    (files / "echo.yaml").write_text((SPECS / "echo.yaml").read_text())
    port = free_port()
    server = procs._start("http-server", [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)], cwd=files)
    server.wait_ready(lambda: httpx.get(f"http://127.0.0.1:{port}/echo.yaml", timeout=2).status_code == 200)
    gz = base64.b64encode(gzip.compress((SPECS / "echo.yaml").read_bytes())).decode()
    config = tmp_path_factory.mktemp("standalone")
    (config / "00-gateway.yaml").write_text(GATEWAY)
    (config / "10-configmap.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "binaryData": {"echo.yaml.gz": gz}})
    )
    (config / "20-zipped.yaml").write_text(target("zipped", {"configMapRef": {"name": "big", "key": "echo.yaml.gz"}}, echo.port))
    (config / "30-fetched.yaml").write_text(target("fetched", {"url": f"http://127.0.0.1:{port}/echo.yaml"}, echo.port))
    return config, port, echo


def print_config(config) -> subprocess.CompletedProcess:
    return subprocess.run([gateway_bin(), "--config", config, "--print-config"], capture_output=True, text=True, timeout=60)


def test_gzipped_binary_data_and_urls_compile(setup):
    config, _, _ = setup
    done = print_config(config)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    names = sorted(t["name"] for t in printed["targets"])
    assert names == ["fetched", "zipped"], done.stderr
    assert all(len(t["tools"]) == 1 for t in printed["targets"])


def test_print_config_fails_when_a_target_is_left_out(setup, tmp_path):
    config, port, echo = setup
    broken = tmp_path / "config"
    broken.mkdir()
    for f in config.iterdir():
        (broken / f.name).write_text(f.read_text())
    (broken / "40-missing.yaml").write_text(target("missing", {"url": f"http://127.0.0.1:{port}/nope.yaml"}, echo.port))
    done = print_config(broken)
    assert done.returncode != 0
    assert "GatewayTarget missing" in done.stderr and "HTTP 404" in done.stderr, done.stderr
    # The others are still printed.
    assert sorted(t["name"] for t in json.loads(done.stdout)["targets"]) == ["fetched", "zipped"]


def test_tools_of_both_sources_are_callable(procs, setup):
    config, _, _ = setup
    port, admin = free_port(), free_port()
    gw = procs._start("gateway", [gateway_bin(), "--config", config, "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin}"])
    gw.wait_ready(lambda: (httpx.get(f"http://127.0.0.1:{admin}/readyz", timeout=2).json().get("tools") or 0) >= 2)
    for tool in ("zipped___getItem", "fetched___getItem"):
        seen = call_json(f"http://127.0.0.1:{port}/mcp", tool, {"itemId": "7"})
        assert seen["rawPath"] == "/items/7"
