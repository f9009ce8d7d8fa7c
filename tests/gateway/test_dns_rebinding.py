"""DNS-rebinding protection on the MCP endpoint: a foreign `Host` or `Origin` gets 403; loopback
names (with a port) and configured allowed hosts/origins work."""

from __future__ import annotations

import httpx
import pytest

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "dns-rebinding-test", "version": "1"},
    },
}

ALLOWED_GATEWAY = """\
apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata:
  name: e2e
spec:
  mcp:
    allowedHosts: [gw.example.com, "*.apps.example.org"]
    allowedOrigins: ["https://app.example.com"]
  inboundAuth:
    none: {}
"""


@pytest.fixture(scope="module")
def gw(procs):
    # The target's backend is never called here; any port will do.
    return procs.gateway(["users"], {"PRISM_PORT": 9})


def post(gw, headers: dict[str, str]) -> httpx.Response:
    base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    base.update(headers)
    with httpx.Client(timeout=10) as client:
        return client.post(gw.url, json=INITIALIZE, headers=base)


def test_foreign_host_is_forbidden(gw):
    r = post(gw, {"Host": "evil.example"})
    assert r.status_code == 403
    assert r.json()["error"]["message"].startswith("Forbidden")


def test_foreign_host_with_port_is_forbidden(gw):
    assert post(gw, {"Host": f"evil.example:{gw.port}"}).status_code == 403


def test_foreign_origin_is_forbidden(gw):
    assert post(gw, {"Origin": "http://evil.example"}).status_code == 403


def test_lookalike_origin_is_forbidden(gw):
    assert post(gw, {"Origin": "http://localhost.evil.example"}).status_code == 403


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "localhost"])
def test_loopback_host_works(gw, host):
    r = post(gw, {"Host": host.format(port=gw.port)})
    assert r.status_code == 200, r.text
    assert "toolyard-gateway" in r.text


def test_loopback_origin_works(gw):
    r = post(gw, {"Origin": f"http://localhost:{gw.port}"})
    assert r.status_code == 200, r.text


def test_configured_hosts_and_origins_hot_reload(gw):
    before = gw.readyz()
    gw.write("00-gateway.yaml", ALLOWED_GATEWAY)
    gw.wait_reload(before)
    assert post(gw, {"Host": "gw.example.com"}).status_code == 200
    assert post(gw, {"Host": "a.apps.example.org:443"}).status_code == 200
    assert post(gw, {"Host": "apps.example.org.evil.example"}).status_code == 403
    assert post(gw, {"Origin": "https://app.example.com"}).status_code == 200
    assert post(gw, {"Origin": "https://evil.example"}).status_code == 403
    assert post(gw, {"Host": "evil.example"}).status_code == 403
