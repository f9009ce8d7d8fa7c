"""Outbound OAuth2 client credentials against the same real provider: the gateway gets tokens
(client_secret_basic with a token URL, client_secret_post with discovery), sends scopes, resource,
audience and custom parameters, caches the token per target, renews it before expiry, and after a
401 from the backend refreshes once and retries. The backend (oauth_backend.py) validates each
token with the provider's JWKS. Also: rate-limited calls are counted in a metric, and with
RUST_LOG=debug no client secret, API key or access token appears in the gateway's log or results."""

from __future__ import annotations

import json
import os
import sys
import time

import httpx
import pytest

from conftest import HERE, Echo, mcp_session, run, text_of
from oidc_support import Provider

BASIC_SECRET = "basic-client-secret-7c1e93a0f5d2"
POST_SECRET = "post-client-secret-2a8f61d4b09e"
WRONG_SECRET = "wrong-client-secret-e4b7c2091f3a"
API_KEY = "outbound-api-key-5d3a9e1c7b20"
TTL = 6  # seconds: the gateway renews a token in the last 20 % of its lifetime


@pytest.fixture(scope="module")
def env(procs):
    idp = Provider(procs, procs.workdir, "idp", [
        {"client_id": "backend-basic", "client_secret": BASIC_SECRET, "token_endpoint_auth_method": "client_secret_basic",
         "scope": "items:read"},
        {"client_id": "backend-post", "client_secret": POST_SECRET, "token_endpoint_auth_method": "client_secret_post",
         "scope": "items:read"},
    ], ttl=TTL)
    port = __import__("conftest").free_port()
    backend_url = f"http://127.0.0.1:{port}"
    proc = procs._start("oauth-backend", [sys.executable, HERE / "oauth_backend.py", "--port", port, "--issuer", idp.issuer,
                                          "--audience", backend_url, "--api-key", API_KEY], cwd=HERE)
    proc.wait_ready(lambda: httpx.get(f"{backend_url}/healthz", timeout=2).status_code == 200)
    backend = Echo(proc, port)
    old = os.environ.get("RUST_LOG")
    os.environ["RUST_LOG"] = "debug"
    try:
        gw = procs.gateway(["auth-oauth"], {"BACKEND_PORT": port, "OIDC_PORT": idp.port, "BASIC_SECRET": BASIC_SECRET,
                                             "POST_SECRET": POST_SECRET, "WRONG_SECRET": WRONG_SECRET, "API_KEY": API_KEY})
    finally:
        if old is None:
            os.environ.pop("RUST_LOG", None)
        else:
            os.environ["RUST_LOG"] = old
    return {"gw": gw, "idp": idp, "backend": backend, "texts": []}


def call(env, tool: str, item: str = "1"):
    async def go():
        async with mcp_session(env["gw"].url) as (session, _):
            return await session.call_tool(tool, {"itemId": item})

    result = run(go())
    env["texts"].append(text_of(result))
    return result


def claims_of(env, tool: str) -> dict:
    result = call(env, tool)
    assert not result.isError, text_of(result)
    return json.loads(text_of(result))["claims"]


def seen(env) -> dict:
    return httpx.get(f"{env['backend'].url}/admin/seen", timeout=5).json()


def test_client_secret_basic_with_scope_resource_and_custom_parameter(env):
    claims = claims_of(env, "basic___getItem")
    assert claims["client_id"] == "backend-basic"
    assert claims["scope"] == "items:read"
    assert claims["aud"] == env["backend"].url
    assert claims["tenant"] == "acme"  # customParameters reached the provider


def test_client_secret_post_with_discovery_and_audience(env):
    claims = claims_of(env, "post___getItem")
    assert claims["client_id"] == "backend-post"
    assert claims["requested_audience"] == "items-api"
    assert claims["aud"] == env["backend"].url


def test_token_is_cached_and_renewed_before_expiry(env):
    time.sleep(TTL)  # whatever token is cached now is due for renewal
    fetched = time.monotonic()
    jtis = {claims_of(env, "basic___getItem")["jti"] for _ in range(4)}
    assert time.monotonic() - fetched < TTL * 0.8, "the calls were too slow for this check"
    assert len(jtis) == 1, "the token was not reused between calls"
    rejected = seen(env)["rejected"]
    time.sleep(max(0.0, fetched + TTL * 0.9 - time.monotonic()))  # renewal window, before expiry
    renewed = claims_of(env, "basic___getItem")["jti"]
    assert renewed not in jtis
    assert seen(env)["rejected"] == rejected, "the token was renewed only after the backend refused it"


def test_backend_401_triggers_one_refresh_and_one_retry(env):
    before = claims_of(env, "post___getItem")["jti"]
    rejected = seen(env)["rejected"]
    httpx.post(f"{env['backend'].url}/admin/revoke", timeout=5)
    after = claims_of(env, "post___getItem")["jti"]
    assert after != before
    assert seen(env)["rejected"] == rejected + 1
    # The next call reuses the refreshed token.
    assert claims_of(env, "post___getItem")["jti"] == after


def test_wrong_client_secret_is_a_clear_tool_error(env):
    result = call(env, "badsecret___getItem")
    assert result.isError
    text = text_of(result)
    assert "Could not obtain an OAuth2 access token for target badsecret" in text
    assert "HTTP 401: invalid_client" in text
    assert WRONG_SECRET not in text


def test_api_key_target_still_works(env):
    result = call(env, "keyed___getItem")
    assert not result.isError, text_of(result)
    assert json.loads(text_of(result))["apiKey"] is True


def test_throttled_calls_are_counted_in_a_metric(procs):
    echo = procs.echo()
    gw = procs.gateway(["echo", "echo-limited"], {"ECHO_PORT": echo.port})

    async def go():
        async with mcp_session(gw.url) as (session, _):
            out = []
            for i in range(4):
                started = time.monotonic()
                result = await session.call_tool("limited___getItem", {"itemId": str(i)})
                out.append((result, time.monotonic() - started))
            return out

    results = run(go())
    throttled = [(r, t) for r, t in results if r.isError]
    assert len(throttled) >= 2
    assert all("Rate limit exceeded for target limited; retry later." == text_of(r) for r, _ in throttled)
    metrics = httpx.get(f"{gw.admin}/metrics", timeout=5).text
    line = next(l for l in metrics.splitlines() if l.startswith("toolyard_gateway_tool_errors_total{") and 'kind="throttled"' in l)
    assert 'target="limited"' in line
    assert float(line.rsplit(" ", 1)[1]) == len(throttled)


def test_no_secret_or_token_in_the_debug_log_or_results(env):
    """Runs after the calls above (module order): the gateway logged at debug level throughout."""
    log = env["gw"].proc.log.read_text(errors="replace")
    assert "obtained an OAuth2 access token" in log, "debug logging was not on"
    tokens = seen(env)["tokens"]
    assert len(tokens) >= 5
    secrets = [BASIC_SECRET, POST_SECRET, WRONG_SECRET, API_KEY, *tokens, *[t.split(".")[2] for t in tokens]]
    leaked_log = [s[:6] + "..." for s in secrets if s in log]
    leaked_results = [s[:6] + "..." for s in secrets for text in env["texts"] if s in text]
    assert not leaked_log, f"secret values in the gateway log: {leaked_log}"
    assert not leaked_results, f"secret values in tool results: {leaked_results}"
    readyz = json.dumps(env["gw"].readyz())
    assert not [s for s in secrets if s in readyz]
