"""The gateway's JWKS cache against a real provider: a new signing key (new `kid`) is picked up
without a restart, a provider that is down does not lock out holders of valid tokens (keys stay
cached, also across a config reload), and an unknown `kid` does not make the gateway fetch the
JWKS once per request."""

from __future__ import annotations

import time

import httpx
import pytest

from oidc_support import Provider

SECRET = "jwks-agent-secret-0b7d51c9e4"
CLIENTS = [{"client_id": "agent", "client_secret": SECRET, "token_endpoint_auth_method": "client_secret_basic",
            "scope": "tools:call"}]
CLAIMS = {"department": "sales", "groups": ["ops"]}
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
GATEWAY_CHANGED = """\
apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata:
  name: e2e
spec:
  description: changed while the provider is down
  inboundAuth:
    jwt:
      discoveryUrl: http://127.0.0.1:{{OIDC_PORT}}/.well-known/openid-configuration
      allowedAudiences: ["http://127.0.0.1:{{GATEWAY_PORT}}/mcp"]
      allowedClients: [agent]
      allowedScopes: ["tools:call"]
  security:
    allowedDomains: ["127.0.0.1"]
"""


@pytest.fixture(scope="module")
def env(procs):
    idp = Provider(procs, procs.workdir, "idp", CLIENTS, claims=CLAIMS)
    echo = procs.echo()
    gw = procs.gateway(["echo", "auth-jwt"], {"ECHO_PORT": echo.port, "OIDC_PORT": idp.port})
    return {"gw": gw, "idp": idp, "resource": gw.url}


def status(env, token: str) -> int:
    r = httpx.post(env["gw"].url, json=INIT, timeout=10,
                   headers={"authorization": f"Bearer {token}", "accept": "application/json, text/event-stream"})
    return r.status_code


def token(env) -> str:
    return env["idp"].token("agent", SECRET, scope="tools:call", resource=env["resource"])


def jwks_fetches(env) -> int:
    return env["gw"].proc.log.read_text(errors="replace").count("fetched the JWT signing keys")


def test_rotation_to_a_new_kid_is_picked_up(env):
    old = token(env)
    assert status(env, old) == 200
    new_kid = env["idp"].rotate()
    new = token(env)
    import jwt
    assert jwt.get_unverified_header(new)["kid"] == new_kid
    # The refetch for an unknown kid is rate-limited (one per 5 s): the new key works at the latest
    # after that interval.
    deadline = time.monotonic() + 15
    while status(env, new) != 200:
        assert time.monotonic() < deadline, "the new signing key was not picked up within 15 s"
        time.sleep(0.5)
    # The old key left the provider's JWKS, so tokens it signed are refused now.
    assert status(env, old) == 401


def test_unknown_kids_do_not_cause_a_fetch_per_request(env):
    before = jwks_fetches(env)
    idp = env["idp"]
    started = time.monotonic()
    for i in range(30):
        forged = idp.sign(idp.claims(env["resource"]), kid=f"random-{i}")
        assert status(env, forged) == 401
    # At most one fetch per 5 s interval (MIN_REFRESH_INTERVAL), however many requests.
    allowed = 1 + int((time.monotonic() - started) // 5)
    assert jwks_fetches(env) - before <= allowed < 30


def test_provider_down_keeps_the_cached_keys_across_a_reload(env):
    idp, gw = env["idp"], env["gw"]
    good = token(env)
    assert status(env, good) == 200
    idp.stop()
    try:
        # Tokens signed with the cached key keep working while the provider is down ...
        assert status(env, good) == 200
        assert status(env, idp.sign(idp.claims(env["resource"]))) == 200
        # ... also after a config reload (same discovery URL: the cache is carried over).
        before = gw.readyz()
        gw.write("00-gateway.yaml", GATEWAY_CHANGED)
        gw.wait_reload(before)
        assert status(env, good) == 200
        # An unknown kid cannot be resolved while the provider is down: still a clean 401.
        assert status(env, idp.sign(idp.claims(env["resource"]), kid="unknown")) == 401
    finally:
        idp.start()
    assert status(env, token(env)) == 200
