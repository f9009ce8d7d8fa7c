"""Inbound JWT authentication against a real OpenID provider (oidc-provider, tests/gateway/oidc):
the seed's flow (a client-credentials token, Strands `MCPClient` with a Bearer header), the Python
`mcp` SDK, RFC 9728 metadata, a negative suite of bad tokens with the exact status and
`WWW-Authenticate` header each, and the JWKS cache (rotation, provider down, reload)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from conftest import HERE, assert_ok, list_all_tools, mcp_session, run, text_of
from oidc_support import Provider, ec_key, hs256_with, other_rsa_key, unsigned

AGENT_SECRET = "agent-secret-3f9c2e7a51d84b06"
POST_SECRET = "agent-post-secret-8d1e4f0b2c7a9"
OTHER_SECRET = "other-client-secret-61b0c3e9d2"
CLIENTS = [
    {"client_id": "agent", "client_secret": AGENT_SECRET, "token_endpoint_auth_method": "client_secret_basic",
     "scope": "tools:call tools:read other"},
    {"client_id": "agent-post", "client_secret": POST_SECRET, "token_endpoint_auth_method": "client_secret_post",
     "scope": "tools:call"},
    {"client_id": "stranger", "client_secret": OTHER_SECRET, "token_endpoint_auth_method": "client_secret_basic",
     "scope": "tools:call"},
]
CLAIMS = {"department": "sales", "groups": ["ops", "dev"]}
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
MCP_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def env(procs):
    prism = procs.prism("users.yaml")
    idp = Provider(procs, procs.workdir, "idp", CLIENTS, claims=CLAIMS)
    other = Provider(procs, procs.workdir, "other-idp", CLIENTS, claims=CLAIMS)
    old = os.environ.get("RUST_LOG")
    os.environ["RUST_LOG"] = "debug"  # the secret-hygiene check reads the debug log
    try:
        gw = procs.gateway(["users", "auth-jwt"], {"PRISM_PORT": prism.port, "OIDC_PORT": idp.port})
    finally:
        if old is None:
            os.environ.pop("RUST_LOG", None)
        else:
            os.environ["RUST_LOG"] = old
    resource = gw.url
    return {"gw": gw, "idp": idp, "other": other, "resource": resource, "issued": []}


def good_token(env, client="agent", secret=AGENT_SECRET, scope="tools:call", post=False) -> str:
    token = env["idp"].token(client, secret, scope=scope, resource=env["resource"], post=post)
    env["issued"].append(token)
    return token


def post_mcp(env, authorization=None, headers: list | None = None) -> httpx.Response:
    h = list(MCP_HEADERS.items())
    if authorization is not None:
        h.append(("authorization", authorization))
    h.extend(headers or [])
    return httpx.post(env["gw"].url, headers=h, json=INIT, timeout=10)


def metadata_url(env) -> str:
    return f"http://127.0.0.1:{env['gw'].port}/.well-known/oauth-protected-resource/mcp"


def challenge(env, error=None, description=None) -> str:
    parts = []
    if error:
        parts += [f'error="{error}"', f'error_description="{description}"']
    parts += [f'resource_metadata="{metadata_url(env)}"', 'scope="tools:call"']
    return "Bearer " + ", ".join(parts)


# ---- the seed's flow and the SDK --------------------------------------------------------------


def test_seed_strands_client_with_a_provider_token(env):
    token = good_token(env)
    run_env = dict(os.environ, GATEWAY_URL=env["gw"].url, TARGET_NAME="users", GATEWAY_TOKEN=token)
    done = subprocess.run([sys.executable, HERE / "clients" / "strands_seed.py"], env=run_env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"seed client failed:\n{done.stdout}\n{done.stderr}"
    lines = done.stdout.splitlines()
    assert "users___getUser" in next(l for l in lines if l.startswith("Tools loaded in the agent are "))
    payload = json.loads(next(l for l in lines if l.startswith("Tool Call result: ")).removeprefix("Tool Call result: "))
    assert payload == {"id": "123", "name": "John Doe", "email": "john@example.com"}
    assert "Tool Call status: success" in lines


def test_python_mcp_sdk_with_a_client_secret_post_token(env):
    token = good_token(env, "agent-post", POST_SECRET, post=True)

    async def go():
        async with mcp_session(env["gw"].url, headers={"Authorization": f"Bearer {token}"}) as (session, _):
            tools, _pages = await list_all_tools(session)
            return tools, await session.call_tool("users___getUser", {"userId": "7"})

    tools, result = run(go())
    assert "users___getUser" in [t.name for t in tools]
    assert_ok(result)
    assert json.loads(text_of(result))["name"] == "John Doe"


def test_the_seed_client_without_a_valid_token_is_refused(env):
    run_env = dict(os.environ, GATEWAY_URL=env["gw"].url, TARGET_NAME="users", GATEWAY_TOKEN="not-a-real-token")
    done = subprocess.run([sys.executable, HERE / "clients" / "strands_seed.py"], env=run_env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Tool Call status: success" not in done.stdout


# ---- RFC 9728 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"])
def test_protected_resource_metadata(env, path):
    r = httpx.get(f"http://127.0.0.1:{env['gw'].port}{path}", timeout=5)
    assert r.status_code == 200
    doc = r.json()
    assert doc["resource"] == env["resource"]
    assert doc["authorization_servers"] == [env["idp"].issuer]
    assert doc["scopes_supported"] == ["tools:call"]
    assert doc["bearer_methods_supported"] == ["header"]


def test_metadata_points_to_a_provider_that_issues_usable_tokens(env):
    """What an MCP client does after a 401: follow resource_metadata to the authorization server,
    discover its token endpoint, get a token for the resource and retry."""
    first = post_mcp(env)
    assert first.status_code == 401
    url = first.headers["www-authenticate"].split('resource_metadata="')[1].split('"')[0]
    doc = httpx.get(url, timeout=5).json()
    issuer = doc["authorization_servers"][0]
    token_endpoint = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=5).json()["token_endpoint"]
    r = httpx.post(token_endpoint, data={"grant_type": "client_credentials", "scope": " ".join(doc["scopes_supported"]),
                                         "resource": doc["resource"]}, auth=("agent", AGENT_SECRET), timeout=10)
    token = r.json()["access_token"]
    env["issued"].append(token)
    assert post_mcp(env, f"Bearer {token}").status_code == 200


# ---- the negative suite --------------------------------------------------------------------------

INVALID = "invalid_token"


def cases(env):
    """(name, Authorization header or None, expected status, expected error, expected description)."""
    idp, other, aud = env["idp"], env["other"], env["resource"]
    now = int(time.time())
    good = idp.claims(aud)
    kid = idp.signing_jwk()["kid"]
    valid = idp.sign(good)
    head, body, sig = valid.split(".")
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    rs_header = {"alg": "RS256", "typ": "at+jwt", "kid": kid}
    return [
        ("no Authorization header", None, 401, None, None),
        ("Basic scheme", "Basic YWdlbnQ6c2VjcmV0", 401, None, None),
        ("Bearer without a token", "Bearer", 401, None, None),
        ("two tokens in one header", f"Bearer {valid} {valid}", 401, INVALID, "the bearer token is empty or malformed"),
        ("alg none", f"Bearer {unsigned(good, {'alg': 'none', 'kid': kid})}", 401, INVALID, "the token is not a well-formed JWT"),
        ("HS256 keyed with the RSA public key", f"Bearer {hs256_with(idp.public_pem(), good, {'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}",
         401, INVALID, "the token's algorithm does not match its key"),
        ("PS256 though the key says RS256", f"Bearer {idp.sign(good, alg='PS256')}", 401, INVALID, "the token's algorithm does not match its key"),
        ("ES256 with a foreign EC key under the provider's kid", f"Bearer {idp.sign(good, alg='ES256', key=ec_key())}",
         401, INVALID, "the token's algorithm does not match its key"),
        ("expired", f"Bearer {idp.sign(idp.claims(aud, exp=now - 3600, iat=now - 7200))}", 401, INVALID, "the token has expired"),
        ("expired beyond the leeway", f"Bearer {idp.sign(idp.claims(aud, exp=now - 45))}", 401, INVALID, "the token has expired"),
        ("not yet valid", f"Bearer {idp.sign(idp.claims(aud, nbf=now + 3600))}", 401, INVALID, "the token is not valid yet"),
        ("wrong issuer", f"Bearer {idp.sign(idp.claims(aud, iss=other.issuer))}", 401, INVALID,
         "the token's issuer is not the configured provider"),
        ("issuer with a trailing slash", f"Bearer {idp.sign(idp.claims(aud, iss=idp.issuer + '/'))}", 401, INVALID,
         "the token's issuer is not the configured provider"),
        ("no issuer", f"Bearer {idp.sign(idp.claims(aud, iss=None))}", 401, INVALID, "the token lacks a required claim (exp, iss)"),
        ("no expiry", f"Bearer {idp.sign(idp.claims(aud, exp=None))}", 401, INVALID, "the token lacks a required claim (exp, iss)"),
        ("wrong audience", f"Bearer {idp.sign(idp.claims('http://127.0.0.1:1/mcp'))}", 401, INVALID, "the token's audience is not allowed"),
        ("no audience", f"Bearer {idp.sign(idp.claims(aud, aud=None))}", 401, INVALID, "the token's audience is not allowed"),
        ("wrong client", f"Bearer {idp.sign(idp.claims(aud, client_id='stranger'))}", 401, INVALID, "the token's client is not allowed"),
        ("real token of a client that is not allowed",
         f"Bearer {idp.token('stranger', OTHER_SECRET, scope='tools:call', resource=aud)}", 401, INVALID, "the token's client is not allowed"),
        ("custom claim String Equals fails", f"Bearer {idp.sign(idp.claims(aud, department='hr'))}", 401, INVALID,
         "the token's claims do not match the gateway's rules"),
        ("custom claim missing", f"Bearer {idp.sign(idp.claims(aud, groups=None))}", 401, INVALID,
         "the token's claims do not match the gateway's rules"),
        ("custom claim StringArray ContainsAny fails", f"Bearer {idp.sign(idp.claims(aud, groups=['dev']))}", 401, INVALID,
         "the token's claims do not match the gateway's rules"),
        ("custom claim of the wrong type", f"Bearer {idp.sign(idp.claims(aud, groups='ops'))}", 401, INVALID,
         "the token's claims do not match the gateway's rules"),
        ("missing scope", f"Bearer {idp.sign(idp.claims(aud, scope='tools:read other'))}", 403, "insufficient_scope",
         "the token has none of the required scopes"),
        ("real token without the scope", f"Bearer {idp.token('agent', AGENT_SECRET, scope='other', resource=aud)}", 403,
         "insufficient_scope", "the token has none of the required scopes"),
        ("no scope claim", f"Bearer {idp.sign(idp.claims(aud, scope=None))}", 403, "insufficient_scope",
         "the token has none of the required scopes"),
        ("bad signature", f"Bearer {head}.{body}.{flipped}", 401, INVALID, "the token's signature is invalid"),
        ("signed by another key under the provider's kid", f"Bearer {idp.sign(good, key=other_rsa_key())}", 401, INVALID,
         "the token's signature is invalid"),
        ("claims swapped under a valid signature", f"Bearer {head}.{idp.sign(idp.claims(aud, sub='admin')).split('.')[1]}.{sig}",
         401, INVALID, "the token's signature is invalid"),
        ("unknown kid", f"Bearer {idp.sign(good, kid='no-such-key')}", 401, INVALID, "the token is signed with an unknown key"),
        ("real token of another provider", f"Bearer {other.token('agent', AGENT_SECRET, scope='tools:call', resource=aud)}",
         401, INVALID, "the token is signed with an unknown key"),
        ("another provider's key claiming our issuer and kid", f"Bearer {other.sign(good, kid=kid)}", 401, INVALID,
         "the token's signature is invalid"),
        ("truncated (no signature part)", f"Bearer {head}.{body}", 401, INVALID, "the token is not a well-formed JWT"),
        ("truncated signature", f"Bearer {head}.{body}.{sig[:40]}", 401, INVALID, "the token's signature is invalid"),
        ("oversized", f"Bearer {idp.sign(idp.claims(aud, padding='x' * 20000))}", 401, INVALID, "the token is too large"),
        ("garbage base64", "Bearer !!!.@@@.###", 401, INVALID, "the token is not a well-formed JWT"),
        ("not a JWT at all", "Bearer 3f9c2e7a51d84b06", 401, INVALID, "the token is not a well-formed JWT"),
        ("JWE-shaped (5 parts)", f"Bearer {b64(json.dumps({'alg': 'RSA-OAEP', 'enc': 'A256GCM'}))}.a.b.c.d", 401, INVALID,
         "the token is not a well-formed JWT"),
        ("header not JSON", f"Bearer {b64('nope')}.{body}.{sig}", 401, INVALID, "the token is not a well-formed JWT"),
        ("payload not JSON", f"Bearer {head}.{b64('nope')}.{sig}", 401, INVALID, "the token's signature is invalid"),
    ]


def b64(text: str) -> str:
    import base64
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def test_negative_suite(env):
    """Every bad token gets exactly its status and WWW-Authenticate header."""
    suite = cases(env)
    assert len(suite) >= 25
    failures = []
    for name, authorization, status, error, description in suite:
        r = post_mcp(env, authorization)
        expected = challenge(env, error, description)
        got = r.headers.get("www-authenticate")
        if r.status_code != status or got != expected:
            failures.append(f"{name}: got {r.status_code} {got!r}, want {status} {expected!r}")
        elif r.headers.get("content-type") != "application/json" or "error" not in r.json():
            failures.append(f"{name}: the body is not a JSON-RPC error: {r.text[:200]}")
    assert not failures, "\n".join(failures)


def test_two_authorization_headers_are_refused(env):
    token = good_token(env)
    r = post_mcp(env, f"Bearer {token}", headers=[("authorization", f"Bearer {token}")])
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == challenge(env, INVALID, "send exactly one Authorization header with a bearer token")


@pytest.mark.parametrize("variant", ["real token", "lower-case scheme", "within the exp leeway", "azp instead of client_id", "no kid (single-key JWKS)", "scope as scp array"])
def test_accepted_variants(env, variant):
    idp, aud = env["idp"], env["resource"]
    now = int(time.time())
    token = {
        "real token": lambda: good_token(env),
        "lower-case scheme": lambda: good_token(env),
        "within the exp leeway": lambda: idp.sign(idp.claims(aud, exp=now - 10)),
        "azp instead of client_id": lambda: idp.sign(idp.claims(aud, client_id=None, azp="agent-post")),
        "no kid (single-key JWKS)": lambda: idp.sign(idp.claims(aud), kid=None),
        "scope as scp array": lambda: idp.sign(idp.claims(aud, scope=None, scp=["tools:call"])),
    }[variant]()
    scheme = "bearer" if variant == "lower-case scheme" else "Bearer"
    r = post_mcp(env, f"{scheme} {token}")
    assert r.status_code == 200, f"{r.status_code} {r.headers.get('www-authenticate')} {r.text[:300]}"
    assert '"serverInfo":{"name":"toolyard-gateway"' in r.text


def test_tool_calls_need_the_token_too(env):
    async def go():
        async with mcp_session(env["gw"].url, headers={"Authorization": "Bearer nope"}) as (session, _):
            return await session.list_tools()

    with pytest.raises(BaseException):
        run(go())


def test_a_session_is_bound_to_its_principal(env):
    """A session id issued to client `agent` is refused (404: initialize again) with a valid token
    of another allowed client, and keeps working with a new token of the same client."""
    agent = good_token(env)
    r = post_mcp(env, f"Bearer {agent}")
    assert r.status_code == 200, r.text
    sid = r.headers["mcp-session-id"]
    list_request = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}

    def list_with(token: str) -> httpx.Response:
        headers = {**MCP_HEADERS, "authorization": f"Bearer {token}", "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18"}
        return httpx.post(env["gw"].url, headers=headers, json=list_request, timeout=10)

    other = good_token(env, client="agent-post", secret=POST_SECRET, post=True)
    refused = list_with(other)
    assert refused.status_code == 404, refused.text
    assert "another caller" in refused.json()["error"]["message"]
    again = list_with(good_token(env))
    assert again.status_code == 200, again.text
    assert "users___getUser" in again.text


def test_no_secret_or_token_in_the_debug_log(env):
    """Runs last in this module: the gateway ran with RUST_LOG=debug through every test above."""
    log = env["gw"].proc.log.read_text(errors="replace")
    assert "tool call" in log and 'client=Some("agent")' in log, "the principal did not reach the tool handler's log"
    leaked = [s for s in [AGENT_SECRET, POST_SECRET, OTHER_SECRET, *env["issued"]] if s in log]
    for token in env["issued"]:
        leaked += [token.split(".")[2]] if token.split(".")[2] in log else []
    assert not leaked, f"{len(leaked)} secret values appear in the gateway's log"
