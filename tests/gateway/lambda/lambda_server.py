"""A local AWS Lambda for the gateway's end-to-end tests.

It serves two APIs on loopback:

- the Lambda **Invoke API** (`POST /2015-03-31/functions/{function}/invocations`), which the
  gateway calls. Every request's SigV4 signature is checked with botocore's own signer (the
  reference implementation AWS's Python SDK signs with) against the test's credentials; a
  mismatch is answered 403 `InvalidSignatureException` like AWS does. `RequestResponse` only.
- the Lambda **Runtime API** (`/2018-06-01/runtime/...`), one listener per function, polled by
  AWS's real runtime interface client `awslambdaric`, which this server starts as a child process
  per function (same process group: stopping the server stops them). The event and the client
  context go to the runtime exactly as Lambda delivers them; the function's result or error comes
  back to the Invoke caller (errors with `X-Amz-Function-Error: Unhandled`).

Besides Lambda it has `/signed/...`: any method, SigV4-checked for `--http-service` (the
`gatewayIamRole` test of an HTTP target), echoing what it received.

Test hooks: `GET /_test/state` (runtimes polling, every request with its verdict).

    lambda_server.py --port P --access-key AK --secret-key SK [--session-token T]
        --region us-east-1 --account 123456789012 --runtime-python PY --handler-dir DIR
        --function orders=seed_orders.lambda_handler [--function ...]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ARGS: argparse.Namespace
LOCK = threading.Lock()
LOG: list[dict] = []  # every request to the Invoke API and /signed, with its verdict
FUNCTIONS: dict[str, "Function"] = {}
INVOCATIONS: dict[str, "Invocation"] = {}


class Invocation:
    def __init__(self, function: "Function", event: bytes, client_context: str | None, qualifier: str | None):
        self.id = str(uuid.uuid4())
        self.function = function
        self.event = event
        self.client_context = client_context
        self.qualifier = qualifier
        self.deadline_ms = int((time.time() + ARGS.function_timeout) * 1000)
        self.done = threading.Event()
        self.result: bytes = b""
        self.error: bool = False


class Function:
    def __init__(self, name: str, handler: str):
        self.name = name
        self.handler = handler
        self.arn = f"arn:aws:lambda:{ARGS.region}:{ARGS.account}:function:{name}"
        self.pending: "queue.Queue[Invocation]" = queue.Queue()
        self.polls = 0
        self.init_error: str | None = None
        self.server: ThreadingHTTPServer | None = None
        self.proc: subprocess.Popen | None = None


# ---- SigV4 verification ------------------------------------------------------------------------


class SignatureError(Exception):
    pass


def verify_sigv4(method: str, raw_path: str, headers, body: bytes, service: str) -> dict:
    """Recomputes the request's signature with botocore's SigV4 signer and compares it with the
    one sent. Returns the parsed Authorization fields; raises SignatureError with the reason."""
    auth = headers.get("Authorization") or ""
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        raise SignatureError("missing or non-SigV4 Authorization header")
    fields = {}
    for part in auth[len("AWS4-HMAC-SHA256 "):].split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value
    try:
        akid, date, region, svc, terminator = fields["Credential"].split("/")
        signed_headers = fields["SignedHeaders"].split(";")
        signature = fields["Signature"]
    except (KeyError, ValueError):
        raise SignatureError(f"malformed Authorization header fields: {sorted(fields)}")
    if akid != ARGS.access_key:
        raise SignatureError(f"unknown access key id {akid}")
    if (region, svc, terminator) != (ARGS.region, service, "aws4_request"):
        raise SignatureError(f"credential scope {region}/{svc}/{terminator}, expected {ARGS.region}/{service}/aws4_request")
    amz_date = headers.get("X-Amz-Date") or ""
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise SignatureError(f"bad X-Amz-Date {amz_date!r}")
    if abs((datetime.now(timezone.utc) - signed_at).total_seconds()) > 300:
        raise SignatureError("X-Amz-Date is more than 5 minutes off")
    if amz_date[:8] != date:
        raise SignatureError("credential scope date differs from X-Amz-Date")
    for required in ("host", "x-amz-date"):
        if required not in signed_headers:
            raise SignatureError(f"{required} is not signed")
    token = headers.get("X-Amz-Security-Token")
    if ARGS.session_token and token != ARGS.session_token:
        raise SignatureError("missing or wrong X-Amz-Security-Token")
    if ARGS.session_token and "x-amz-security-token" not in signed_headers:
        raise SignatureError("X-Amz-Security-Token is not signed")
    sha = headers.get("X-Amz-Content-SHA256")
    if sha is not None and sha != hashlib.sha256(body).hexdigest():
        raise SignatureError("X-Amz-Content-SHA256 does not match the body")

    # Rebuild the request as botocore would have signed it: only the signed headers, the URL as
    # received (botocore canonicalizes path and query itself), the body bytes.
    sent = {}
    for name in signed_headers:
        value = headers.get(name)
        if value is None:
            raise SignatureError(f"signed header {name} is missing")
        sent[name] = value
    request = AWSRequest(method=method, url=f"http://{headers.get('Host')}{raw_path}", headers=sent, data=body)
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(ARGS.access_key, ARGS.secret_key, ARGS.session_token or None), service, ARGS.region)
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    expected = signer.signature(string_to_sign, request)
    if not hmac.compare_digest(expected, signature):
        raise SignatureError("signature mismatch")
    return {"accessKeyId": akid, "service": svc, "region": region, "signedHeaders": signed_headers}


# ---- HTTP plumbing -----------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "toolyard-test-lambda"

    def log_message(self, fmt, *args):  # quiet; the test reads /_test/state
        pass

    def body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def reply(self, status: int, payload, headers: dict | None = None):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


class InvokeHandler(Handler):
    def do_GET(self):
        if self.path == "/_test/state":
            with LOCK:
                state = {
                    "functions": {n: {"polls": f.polls, "initError": f.init_error, "arn": f.arn} for n, f in FUNCTIONS.items()},
                    "requests": list(LOG),
                }
            return self.reply(200, state)
        self.route(b"")

    def do_POST(self):
        self.route(self.body())

    def do_PUT(self):
        self.route(self.body())

    def do_DELETE(self):
        self.route(self.body())

    def route(self, body: bytes):
        url = urlsplit(self.path)
        record = {
            "method": self.command,
            "path": url.path,
            "query": url.query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        }
        # Secrets are never recorded in clear: the test asserts on presence only.
        if "x-amz-security-token" in record["headers"]:
            record["headers"]["x-amz-security-token"] = "<present>"
        parts = url.path.split("/")
        is_invoke = len(parts) == 5 and parts[1:3] == ["2015-03-31", "functions"] and parts[4] == "invocations"
        service = "lambda" if is_invoke else ARGS.http_service
        try:
            record["sigv4"] = verify_sigv4(self.command, self.path, self.headers, body, service)
        except SignatureError as e:
            record["rejected"] = str(e)
            with LOCK:
                LOG.append(record)
            return self.reply(
                403,
                {"Type": "User", "message": f"The request signature we calculated does not match the signature you provided ({e})"},
                {"x-amzn-ErrorType": "InvalidSignatureException"},
            )
        with LOCK:
            LOG.append(record)
        if url.path.startswith("/signed/"):
            return self.reply(200, {"verified": True, "method": self.command, "path": url.path, "query": url.query,
                                    "body": record["body"], "sigv4": record["sigv4"]})
        if not is_invoke or self.command != "POST":
            return self.reply(404, {"message": f"no route {self.command} {url.path}"}, {"x-amzn-ErrorType": "ResourceNotFoundException"})
        self.invoke(unquote(parts[3]), parse_qs(url.query).get("Qualifier", [None])[0], body, record)

    def invoke(self, name: str, qualifier: str | None, body: bytes, record: dict):
        # The function is named by name, or by ARN (which must be this account and region).
        fname = name
        if name.startswith("arn:"):
            arn = name.split(":")
            if len(arn) != 7 or arn[3] != ARGS.region or arn[4] != ARGS.account or arn[5] != "function":
                return self.reply(404, {"Type": "User", "message": f"Function not found: {name}"}, {"x-amzn-ErrorType": "ResourceNotFoundException"})
            fname = arn[6]
        function = FUNCTIONS.get(fname)
        if function is None:
            return self.reply(404, {"Type": "User", "message": f"Function not found: {name}"}, {"x-amzn-ErrorType": "ResourceNotFoundException"})
        if (self.headers.get("X-Amz-Invocation-Type") or "RequestResponse") != "RequestResponse":
            return self.reply(400, {"Type": "User", "message": "only RequestResponse is supported here"}, {"x-amzn-ErrorType": "InvalidParameterValueException"})
        if len(body) > 6 * 1024 * 1024:
            return self.reply(413, {"Type": "User", "message": "Request must be smaller than 6291456 bytes"}, {"x-amzn-ErrorType": "RequestTooLargeException"})
        client_context = None
        raw = self.headers.get("X-Amz-Client-Context")
        if raw:
            try:
                client_context = base64.b64decode(raw, validate=True).decode()
                record["clientContext"] = json.loads(client_context)
            except ValueError as e:
                return self.reply(400, {"Type": "User", "message": f"Client context must be base64 JSON: {e}"}, {"x-amzn-ErrorType": "InvalidRequestContentException"})
        try:
            record["event"] = json.loads(body or b"null")
        except ValueError:
            return self.reply(400, {"Type": "User", "message": "Could not parse request body into json"}, {"x-amzn-ErrorType": "InvalidRequestContentException"})
        record["function"] = fname
        record["qualifier"] = qualifier
        inv = Invocation(function, body, client_context, qualifier)
        record["awsRequestId"] = inv.id
        with LOCK:
            INVOCATIONS[inv.id] = inv
        function.pending.put(inv)
        if not inv.done.wait(ARGS.function_timeout + 1):
            err = {"errorMessage": f"Task timed out after {ARGS.function_timeout:.2f} seconds", "errorType": "Sandbox.Timedout"}
            return self.reply(200, err, {"X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": qualifier or "$LATEST"})
        headers = {"X-Amz-Executed-Version": qualifier or "$LATEST"}
        if inv.error:
            headers["X-Amz-Function-Error"] = "Unhandled"
        self.reply(200, inv.result, headers)


def runtime_handler(function: Function):
    class RuntimeHandler(Handler):
        def do_GET(self):
            if self.path != "/2018-06-01/runtime/invocation/next":
                return self.reply(404, {"errorMessage": "no such runtime route"})
            with LOCK:
                function.polls += 1
            inv = function.pending.get()
            headers = {
                "Lambda-Runtime-Aws-Request-Id": inv.id,
                "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": function.arn + (f":{inv.qualifier}" if inv.qualifier else ""),
                "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
            }
            if inv.client_context is not None:
                # The Runtime API hands the client context over as JSON text (not base64).
                headers["Lambda-Runtime-Client-Context"] = inv.client_context
            self.reply(200, inv.event, headers)

        def do_POST(self):
            body = self.body()
            parts = self.path.split("/")
            if self.path == "/2018-06-01/runtime/init/error":
                with LOCK:
                    function.init_error = body.decode("utf-8", "replace")
                return self.reply(202, {"status": "OK"})
            if len(parts) == 6 and parts[1:4] == ["2018-06-01", "runtime", "invocation"] and parts[5] in ("response", "error"):
                with LOCK:
                    inv = INVOCATIONS.pop(parts[4], None)
                if inv is None:
                    return self.reply(400, {"errorMessage": "unknown request id", "errorType": "InvalidRequestID"})
                inv.result = body
                inv.error = parts[5] == "error"
                inv.done.set()
                return self.reply(202, {"status": "OK"})
            self.reply(404, {"errorMessage": "no such runtime route"})

    return RuntimeHandler


def serve(server: ThreadingHTTPServer):
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--access-key", required=True)
    p.add_argument("--secret-key", required=True)
    p.add_argument("--session-token", default="")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--account", default="123456789012")
    p.add_argument("--http-service", default="execute-api")
    p.add_argument("--function-timeout", type=float, default=10.0)
    p.add_argument("--runtime-python", default=sys.executable)
    p.add_argument("--handler-dir", required=True)
    p.add_argument("--function", action="append", default=[], help="name=module.handler")
    ARGS = p.parse_args()

    for spec in ARGS.function:
        name, _, handler = spec.partition("=")
        function = Function(name, handler)
        function.server = ThreadingHTTPServer(("127.0.0.1", 0), runtime_handler(function))
        function.server.daemon_threads = True
        serve(function.server)
        runtime_api = f"127.0.0.1:{function.server.server_address[1]}"
        env = dict(os.environ)
        env.update({
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_REGION": ARGS.region,
            "LAMBDA_TASK_ROOT": ARGS.handler_dir,
            "PYTHONUNBUFFERED": "1",
        })
        # The function does not get the caller's AWS credentials.
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(k, None)
        function.proc = subprocess.Popen([ARGS.runtime_python, "-m", "awslambdaric", handler], cwd=ARGS.handler_dir, env=env)
        FUNCTIONS[name] = function

    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), InvokeHandler)
    server.daemon_threads = True
    print(f"lambda test server on 127.0.0.1:{ARGS.port}: {', '.join(FUNCTIONS)}", flush=True)
    try:
        server.serve_forever()
    finally:
        for f in FUNCTIONS.values():
            if f.proc and f.proc.poll() is None:
                f.proc.terminate()


if __name__ == "__main__":
    main()
