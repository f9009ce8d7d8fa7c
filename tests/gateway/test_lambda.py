"""Lambda targets and SigV4 end to end.

Real parts: the seed's `lambda_handler` (tests/gateway/lambda/seed_orders.py, unmodified) run by
AWS's runtime interface client `awslambdaric`, behind a local Invoke API
(tests/gateway/lambda/lambda_server.py) that checks every request's SigV4 signature with
botocore's signer; the Python `mcp` SDK as the client. The gateway gets its AWS identity the way a
pod does, from the AWS SDK's default credential chain (here: environment variables with a session
token).
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest

from conftest import CACHE, HERE, assert_ok, free_port, run, text_of

LAMBDA_DIR = HERE / "lambda"
AWS_PY = Path(os.environ.get("TOOLYARD_PY_AWS", CACHE / "venv-aws-lambda" / "bin" / "python"))

ACCESS_KEY = "AKIDTOOLYARDE2E"
SECRET_KEY = "toolyard/e2e+" + secrets.token_hex(12)
SESSION_TOKEN = "toolyard-session-" + secrets.token_hex(16)
WRONG_SECRET = "wrong/" + secrets.token_hex(12)
WEB_IDENTITY_TOKEN = "eyJhbGciOiJSUzI1NiJ9." + secrets.token_hex(24) + ".sig"
ROLE_ARN = "arn:aws:iam::123456789012:role/toolyard-gateway"
FUNCTIONS = {
    "orders": "seed_orders.lambda_handler",
    "failing": "extra_handlers.fail",
    "slow": "extra_handlers.slow",
    "echo": "extra_handlers.echo",
}


class LambdaServer:
    def __init__(self, proc, port: int):
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def state(self) -> dict:
        return httpx.get(f"{self.url}/_test/state", timeout=5).json()

    def requests(self) -> list[dict]:
        return self.state()["requests"]


@contextmanager
def aws_identity(secret: str | None):
    """The gateway process's AWS identity, as the default chain finds it in a pod with static or
    injected credentials; nothing else (no profile files, no instance metadata). `None`: no
    identity at all."""
    env = {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent/toolyard-aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/toolyard-aws-credentials",
        # aws-sigv4 traces canonical requests (session token included) at trace level: asked
        # for explicitly here, the gateway must still keep them out.
        "RUST_LOG": "debug,aws_sigv4=trace,aws_config=trace,aws_credential_types=trace",
    }
    unset = ["AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
             "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_PROFILE"]
    if secret is None:
        unset += ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]
    saved = {k: os.environ.get(k) for k in list(env) + unset}
    os.environ.update({k: v for k, v in env.items() if k not in unset})
    for k in unset:
        os.environ.pop(k, None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def lam(procs):
    if not os.access(AWS_PY, os.X_OK):
        pytest.fail(f"{AWS_PY} is missing: run tests/gateway/setup.sh (setup.d/aws-lambda.sh)", pytrace=False)
    port = free_port()
    argv = [AWS_PY, LAMBDA_DIR / "lambda_server.py", "--port", port, "--access-key", ACCESS_KEY,
            "--secret-key", SECRET_KEY, "--session-token", SESSION_TOKEN, "--function-timeout", "10",
            "--web-identity-token", WEB_IDENTITY_TOKEN,
            "--runtime-python", AWS_PY, "--handler-dir", LAMBDA_DIR]
    for name, handler in FUNCTIONS.items():
        argv += ["--function", f"{name}={handler}"]
    proc = procs._start("lambda", argv, cwd=LAMBDA_DIR)
    server = LambdaServer(proc, port)

    def ready() -> bool:
        functions = server.state()["functions"]
        return len(functions) == len(FUNCTIONS) and all(f["polls"] >= 1 for f in functions.values())

    proc.wait_ready(ready, timeout=60)
    return server


@pytest.fixture(scope="module")
def gw(procs, lam):
    with aws_identity(SECRET_KEY):
        return procs.gateway(["lambda"], {"LAMBDA_PORT": lam.port})


@pytest.fixture(scope="module")
def gw_wrong(procs, lam):
    with aws_identity(WRONG_SECRET):
        return procs.gateway(["lambda"], {"LAMBDA_PORT": lam.port})


@pytest.fixture(scope="module")
def gw_anonymous(procs, lam):
    with aws_identity(None):
        return procs.gateway(["lambda"], {"LAMBDA_PORT": lam.port})


@pytest.fixture(scope="module")
def gw_irsa(procs, lam, tmp_path_factory):
    """A gateway with only what IRSA injects into a pod: a projected token file, the role ARN and
    the region (plus AWS_ENDPOINT_URL_STS, pointing the SDK's STS client at the local server)."""
    token_file = tmp_path_factory.mktemp("irsa") / "token"
    token_file.write_text(WEB_IDENTITY_TOKEN)
    with aws_identity(None):
        os.environ.update({"AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file), "AWS_ROLE_ARN": ROLE_ARN,
                           "AWS_ENDPOINT_URL_STS": lam.url})
        try:
            return procs.gateway(["lambda"], {"LAMBDA_PORT": lam.port})
        finally:
            for k in ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ENDPOINT_URL_STS"):
                os.environ.pop(k, None)


@pytest.fixture(scope="module")
def gw_pod_identity(procs, lam, tmp_path_factory):
    """A gateway with only what EKS Pod Identity injects: the agent's credentials URI and the
    projected token file it must present."""
    token_file = tmp_path_factory.mktemp("pod-identity") / "token"
    token_file.write_text(WEB_IDENTITY_TOKEN)
    keys = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{lam.url}/pod-identity/credentials",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file)}
    with aws_identity(None):
        os.environ.update(keys)
        try:
            return procs.gateway(["lambda"], {"LAMBDA_PORT": lam.port})
        finally:
            for k in keys:
                os.environ.pop(k, None)


@asynccontextmanager
async def session_with_id(url: str):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(url) as (read, write, get_session_id):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session, get_session_id()


def call_tool(url: str, tool: str, args: dict):
    async def go():
        async with session_with_id(url) as (session, session_id):
            return await session.call_tool(tool, args), session_id

    return run(go())


def invocations(lam: LambdaServer, function: str) -> list[dict]:
    return [r for r in lam.requests() if r.get("function") == function]


def test_seed_get_order_tool_returns_the_handlers_body(gw, lam):
    before = len(invocations(lam, "orders"))
    result, session_id = call_tool(gw.url, "LambdaUsingSDK___get_order_tool", {"orderId": "123"})
    assert_ok(result)
    assert json.loads(text_of(result)) == {"statusCode": 200, "body": "Order Id 123 is in shipped status"}
    assert result.structuredContent is None  # no output schema on the seed's tools

    calls = invocations(lam, "orders")
    assert len(calls) == before + 1
    inv = calls[-1]
    # The event is the arguments object; the client context is AgentCore's.
    assert inv["event"] == {"orderId": "123"}
    assert inv["qualifier"] is None
    assert inv["path"] == "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aorders/invocations"
    assert inv["headers"]["x-amz-invocation-type"] == "RequestResponse"
    custom = inv["clientContext"]["custom"]
    assert custom["bedrockAgentCoreMessageVersion"] == "1.0"
    assert custom["bedrockAgentCoreGatewayId"] == "e2e"
    assert custom["bedrockAgentCoreTargetId"] == "lambda-using-sdk"
    assert custom["bedrockAgentCoreToolName"] == "LambdaUsingSDK___get_order_tool"
    assert custom["bedrockAgentCoreMcpMessageId"] not in ("", None)
    assert custom["bedrockAgentCoreSessionId"] == (session_id or "")
    assert str(uuid.UUID(custom["bedrockAgentCoreAwsRequestId"])) == custom["bedrockAgentCoreAwsRequestId"]
    # Signed for lambda in the ARN's region, with the session token and the client context signed.
    assert inv["sigv4"]["service"] == "lambda" and inv["sigv4"]["region"] == "us-east-1"
    assert {"host", "x-amz-date", "x-amz-security-token", "x-amz-client-context", "content-type"} <= set(inv["sigv4"]["signedHeaders"])

    # What the handler itself printed (its stdout goes to the server's log).
    log = lam.proc.log.read_text(errors="replace")
    assert "Original toolName: , LambdaUsingSDK___get_order_tool" in log
    assert "Converted toolName: , get_order_tool" in log
    assert "{'orderId': '123'}" in log
    assert "'bedrockAgentCoreToolName': 'LambdaUsingSDK___get_order_tool'" in log


def test_seed_update_order_tool(gw, lam):
    result, _ = call_tool(gw.url, "LambdaUsingSDK___update_order_tool", {"orderId": "123"})
    assert_ok(result)
    assert json.loads(text_of(result))["body"] == "Updated the order details successfully"
    assert invocations(lam, "orders")[-1]["clientContext"]["custom"]["bedrockAgentCoreToolName"] == "LambdaUsingSDK___update_order_tool"


def test_function_sees_event_client_context_and_alias(gw, lam):
    args = {"text": "héllo", "nested": {"a": [1, 2, {"b": None}]}}
    result, session_id = call_tool(gw.url, "echo-fn___inspect", args)
    assert_ok(result)
    seen = result.structuredContent
    assert seen is not None, "tools with an output schema return structuredContent"
    assert json.loads(text_of(result)) == seen
    assert seen["event"] == args
    assert seen["custom"]["bedrockAgentCoreToolName"] == "echo-fn___inspect"
    assert seen["custom"]["bedrockAgentCoreTargetId"] == "echo-fn"
    assert seen["functionArn"].endswith(":function:echo:live")
    inv = invocations(lam, "echo")[-1]
    assert inv["qualifier"] == "live" and inv["query"] == "Qualifier=live"
    assert seen["awsRequestId"] == inv["awsRequestId"]


def test_function_error_is_a_tool_error(gw, lam):
    result, _ = call_tool(gw.url, "failing___lookup", {"orderId": "9"})
    assert result.isError
    text = text_of(result)
    assert "The Lambda function failed (Unhandled: KeyError)." == text
    assert invocations(lam, "failing")[-1]["event"] == {"orderId": "9"}


def test_timeout_is_a_tool_error(gw):
    result, _ = call_tool(gw.url, "slow___wait", {"seconds": 3})
    assert result.isError
    assert "did not answer within 1000 ms" in text_of(result)


def test_event_over_the_request_limit_is_refused_before_invoking(gw, lam):
    before = len(lam.requests())
    result, _ = call_tool(gw.url, "echo-fn___inspect", {"text": "x" * 70_000})
    assert result.isError
    assert "over the limit of 65536 bytes" in text_of(result)
    assert len(lam.requests()) == before


def test_wrong_secret_is_rejected_by_the_signature_check(gw_wrong, lam):
    before = len(lam.requests())
    result, _ = call_tool(gw_wrong.url, "LambdaUsingSDK___get_order_tool", {"orderId": "123"})
    assert result.isError
    text = text_of(result)
    assert "HTTP 403 (InvalidSignatureException)" in text and "lambda:InvokeFunction" in text
    new = lam.requests()[before:]
    assert len(new) == 1 and new[0]["rejected"] == "signature mismatch"
    assert "function" not in new[0], "a rejected request must not reach the function"


def test_no_aws_identity_is_a_clear_tool_error(gw_anonymous, lam):
    before = len(lam.requests())
    result, _ = call_tool(gw_anonymous.url, "LambdaUsingSDK___get_order_tool", {"orderId": "123"})
    assert result.isError
    text = text_of(result)
    assert text.startswith("Could not sign the request for LambdaUsingSDK___get_order_tool: no AWS credentials for the gateway:"), text
    assert "IRSA" in text and "AWS_ACCESS_KEY_ID" in text
    assert "did not answer" not in text, text
    assert len(lam.requests()) == before, "nothing unsigned is sent"


@pytest.fixture(scope="module")
def gw_strict(procs, lam):
    with aws_identity(SECRET_KEY):
        return procs.gateway(["lambda", "lambda-strict"], {"LAMBDA_PORT": lam.port})


def test_lambda_endpoint_outside_allowed_domains_is_refused(gw_strict, lam):
    """security.allowedDomains applies to Lambda endpoints (overrides included) as to every other
    backend: nothing is sent to a host the platform team did not allow."""
    before = len(lam.requests())
    result, _ = call_tool(gw_strict.url, "LambdaUsingSDK___get_order_tool", {"orderId": "123"})
    assert result.isError
    text = text_of(result)
    assert text.startswith("Host 127.0.0.1 is not in the gateway's security.allowedDomains"), text
    assert len(lam.requests()) == before, "a refused call must not reach the Invoke API"


def test_irsa_web_identity_credentials_sign_calls(gw_irsa, lam):
    before = len(lam.requests())
    for _ in range(2):
        result, _ = call_tool(gw_irsa.url, "LambdaUsingSDK___get_order_tool", {"orderId": "123"})
        assert_ok(result)
        assert json.loads(text_of(result))["body"] == "Order Id 123 is in shipped status"
    new = lam.requests()[before:]
    sts = [r for r in new if "sts" in r]
    assert len(sts) == 1, "one AssumeRoleWithWebIdentity, then the cached credentials"
    assert sts[0]["sts"]["RoleArn"] == ROLE_ARN and sts[0]["sts"]["tokenOk"] is True
    invokes = [r for r in new if r.get("function") == "orders"]
    assert len(invokes) == 2 and all(r["sigv4"]["accessKeyId"] == ACCESS_KEY for r in invokes)


def test_eks_pod_identity_credentials_sign_calls(gw_pod_identity, lam):
    before = len(lam.requests())
    result, _ = call_tool(gw_pod_identity.url, "LambdaUsingSDK___get_order_tool", {"orderId": "123"})
    assert_ok(result)
    new = lam.requests()[before:]
    assert [r["podIdentity"] for r in new if "podIdentity" in r] == [{"tokenOk": True}]
    assert [r["sigv4"]["accessKeyId"] for r in new if r.get("function") == "orders"] == [ACCESS_KEY]


def test_replayed_signature_with_a_tampered_body_is_rejected(gw, lam):
    """The checker is not a rubber stamp: the gateway's exact signed headers replayed with the
    same body pass, with another body they fail."""
    call_tool(gw.url, "LambdaUsingSDK___get_order_tool", {"orderId": "123"})
    inv = invocations(lam, "orders")[-1]
    headers = {k: v for k, v in inv["headers"].items() if k not in ("content-length", "x-amz-security-token")}
    headers["x-amz-security-token"] = SESSION_TOKEN
    url = f"{lam.url}{inv['path']}"
    same = httpx.post(url, headers=headers, content=inv["body"].encode(), timeout=10)
    assert same.status_code == 200, same.text
    tampered = httpx.post(url, headers=headers, content=b'{"orderId": "124"}', timeout=10)
    assert tampered.status_code == 403
    assert tampered.headers["x-amzn-errortype"] == "InvalidSignatureException"


def test_gateway_iam_role_signs_http_targets(gw, lam):
    result, _ = call_tool(gw.url, "signed___putItem", {"itemId": "a b/c", "note": "x&y=z", "name": "widget"})
    assert_ok(result)
    echoed = json.loads(text_of(result))
    assert echoed["verified"] is True
    assert echoed["method"] == "PUT"
    assert echoed["sigv4"]["service"] == "execute-api"
    assert json.loads(echoed["body"]) == {"name": "widget"}
    assert "note=x%26y%3Dz" in echoed["query"]
    get = call_tool(gw.url, "signed___getItem", {"itemId": "42"})[0]
    assert_ok(get)
    assert json.loads(text_of(get))["path"] == "/signed/items/42"


def test_sigv4_query_with_spaces_and_reserved_characters(gw, lam):
    """A space and reserved characters in query values (`allowReserved` leaves `:/?*` raw in the
    URL it builds): the gateway sends the canonical encoding it signed, and botocore, which
    canonicalizes the query exactly as received, verifies the signature."""
    value = "a b+c:d/e?f*g(h)'i!j@k,l;m~n"
    result, _ = call_tool(gw.url, "signed___findItems", {"q": value, "tag": "x y"})
    assert_ok(result)
    echoed = json.loads(text_of(result))
    assert echoed["verified"] is True, echoed
    assert "%20" in echoed["query"] and "+" not in echoed["query"], echoed["query"]
    assert "q=a%20b%2Bc%3Ad%2Fe%3Ff%2Ag%28h%29%27i%21j%40k%2Cl%3Bm~n" in echoed["query"], echoed["query"]
    assert "tag=x%20y" in echoed["query"], echoed["query"]


def test_secrets_never_reach_logs_or_results(gw, gw_wrong, gw_irsa, gw_pod_identity, lam):
    # Runs last in this module: every call above has been logged at debug level by now.
    for g in (gw, gw_wrong, gw_irsa, gw_pod_identity):
        log = g.proc.log.read_text(errors="replace")
        assert "DEBUG" in log, "the gateways run with RUST_LOG=debug"
        assert SECRET_KEY not in log and WRONG_SECRET not in log and SESSION_TOKEN not in log
        assert WEB_IDENTITY_TOKEN not in log
    result, _ = call_tool(gw_wrong.url, "signed___getItem", {"itemId": "1"})
    assert result.isError
    text = text_of(result)
    assert WRONG_SECRET not in text and SESSION_TOKEN not in text
