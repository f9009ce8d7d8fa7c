"""Observability end to end: OpenTelemetry traces collected by a real OTLP/HTTP receiver (the
official `opentelemetry-proto` bindings decode what the gateway exports), the W3C `traceparent`
the backend receives, the Prometheus metrics after calls, and the per-target call logs with
credentials redacted.

Real parts: the gateway binary with OTEL_EXPORTER_OTLP_ENDPOINT set, the Python `mcp` SDK client
(sending a caller `traceparent` as a custom header), the FastAPI echo backend (it echoes the
headers it got) and tests/gateway/otlp_receiver.py under the venv of tests/gateway/setup.d/otel.sh.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path

import httpx
import pytest
from conftest import (
    CACHE,
    HERE,
    Gateway,
    free_port,
    gateway_bin,
    make_config,
    mcp_session,
    run,
    text_of,
)

PY_OTEL = Path(os.environ.get("TOOLYARD_PY_OTEL", CACHE / "venv-otel" / "bin" / "python"))

# The values of the echo-keys Secret (tests/gateway/fixtures/echo/10-echo-target.yaml).
HEADER_SECRET = "header-secret-123"
QUERY_SECRET = "query secret&456"


def start_gateway(procs, fixture_dirs: list[str], subs: dict, env: dict[str, str]) -> Gateway:
    """Like `procs.gateway`, with extra environment variables for the gateway process."""
    subs = {k: str(v) for k, v in subs.items()}
    port, admin_port = free_port(), free_port()
    subs.setdefault("GATEWAY_PORT", str(port))
    config_dir = make_config(procs.workdir / f"config-{len(procs.started)}", fixture_dirs, subs)
    proc = procs._start(
        "gateway",
        [gateway_bin(), "--config", config_dir, "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin_port}"],
        env={"RUST_LOG": "info", "NO_COLOR": "1", **env},
    )

    def ready() -> bool:
        r = httpx.get(f"http://127.0.0.1:{admin_port}/readyz", timeout=2)
        return r.status_code == 200 and (r.json().get("tools") or 0) >= 1

    proc.wait_ready(ready)
    return Gateway(proc, config_dir, port, admin_port, subs)


class Receiver:
    def __init__(self, url: str):
        self.url = url

    def spans(self) -> dict:
        return httpx.get(f"{self.url}/spans", timeout=5).json()

    def wait(self, predicate, timeout: float = 15.0) -> list[dict]:
        """Spans once `predicate(spans)` holds (the gateway exports in batches)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.spans()
            assert got["rejected"] == 0, f"the receiver could not decode {got['rejected']} export(s)"
            if predicate(got["spans"]):
                return got["spans"]
            if time.monotonic() > deadline:
                raise AssertionError(f"spans not received within {timeout}s: {json.dumps(got['spans'], indent=1)[:4000]}")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def receiver(procs) -> Receiver:
    if not os.access(PY_OTEL, os.X_OK):
        pytest.fail(f"{PY_OTEL} is missing: run tests/gateway/setup.sh (setup.d/otel.sh)", pytrace=False)
    port = free_port()
    proc = procs._start("otlp-receiver", [PY_OTEL, HERE / "otlp_receiver.py", "--port", port], cwd=HERE)
    proc.wait_ready(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200)
    return Receiver(f"http://127.0.0.1:{port}")


@pytest.fixture(scope="module")
def echo(procs):
    return procs.echo()


@pytest.fixture(scope="module")
def gw(procs, echo, receiver) -> Gateway:
    """Tracing on (OTLP/HTTP to the receiver, short batch delay), JSON logs, call logging on the
    `logged` targets."""
    return start_gateway(
        procs,
        ["echo", "call-logging"],
        {"ECHO_PORT": echo.port},
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "TOOLYARD_LOG_FORMAT": "json",
        },
    )


@pytest.fixture(scope="module")
def gw_off(procs, echo) -> Gateway:
    """Tracing off (the default): the endpoint variable empty."""
    return start_gateway(procs, ["echo"], {"ECHO_PORT": echo.port}, {"OTEL_EXPORTER_OTLP_ENDPOINT": ""})


def traceparent() -> tuple[str, str, str]:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{parent_id}-01", trace_id, parent_id


def call_tool(url: str, tool: str, args: dict, headers: dict | None = None):
    async def go():
        async with mcp_session(url, headers=headers) as (session, _):
            return await session.call_tool(tool, args)

    return run(go())


def of_trace(spans: list[dict], trace_id: str, kind: str, name: str | None = None) -> list[dict]:
    """Spans of one trace and kind (and name: the SDK's call_tool also sends a tools/list, for
    the output schema, with the same headers)."""
    return [s for s in spans if s["traceId"] == trace_id and s["kind"] == kind and (name is None or s["name"] == name)]


def test_tool_call_spans_join_the_callers_trace(gw, receiver):
    header, trace_id, parent_id = traceparent()
    result = call_tool(gw.url, "echo___getItem", {"itemId": "42"}, headers={"traceparent": header})
    assert not result.isError, text_of(result)
    seen = json.loads(text_of(result))

    name = "tools/call echo___getItem"
    spans = receiver.wait(lambda s: of_trace(s, trace_id, "SPAN_KIND_SERVER", name) and of_trace(s, trace_id, "SPAN_KIND_CLIENT"))
    [server] = of_trace(spans, trace_id, "SPAN_KIND_SERVER", name)
    [client] = of_trace(spans, trace_id, "SPAN_KIND_CLIENT")

    # The server span is the child of the caller's span.
    assert server["parentSpanId"] == parent_id
    assert server["name"] == "tools/call echo___getItem"
    assert server["attributes"]["mcp.method.name"] == "tools/call"
    assert server["attributes"]["gen_ai.tool.name"] == "echo___getItem"
    assert server["attributes"]["toolyard.target"] == "echo"
    assert server["status"] != "STATUS_CODE_ERROR"
    assert server["resource"]["service.name"] == "toolyard-gateway"

    # The client span is the child of the server span.
    assert client["parentSpanId"] == server["spanId"]
    assert client["name"] == "GET"
    assert client["attributes"]["http.request.method"] == "GET"
    assert client["attributes"]["http.response.status_code"] == 200
    assert client["attributes"]["server.address"] == "127.0.0.1"
    assert client["attributes"]["toolyard.target"] == "echo"

    # The backend got the client span's context: same trace, the client span as its parent.
    got = seen["headers"].get("traceparent")
    assert got is not None, seen["headers"]
    assert re.fullmatch(rf"00-{trace_id}-{client['spanId']}-01", got), got


def test_spans_hold_no_credentials_or_query_strings(gw, receiver):
    header, trace_id, _ = traceparent()
    result = call_tool(gw.url, "echoq___search", {"q": "qvalue-zz9"}, headers={"traceparent": header, "Authorization": "Bearer caller-token-777"})
    assert not result.isError, text_of(result)
    spans = receiver.wait(lambda s: of_trace(s, trace_id, "SPAN_KIND_CLIENT"))
    text = json.dumps([s for s in spans if s["traceId"] == trace_id])
    for secret in (QUERY_SECRET, "query+secret", "query%20secret", HEADER_SECRET, "caller-token-777", "api_key", "qvalue-zz9"):
        assert secret not in text, f"{secret!r} in spans: {text}"


def test_a_failed_call_marks_both_spans(gw, receiver):
    header, trace_id, _ = traceparent()
    result = call_tool(gw.url, "echo___failWithStatus", {"code": 503}, headers={"traceparent": header})
    assert result.isError
    name = "tools/call echo___failWithStatus"
    spans = receiver.wait(lambda s: of_trace(s, trace_id, "SPAN_KIND_SERVER", name) and of_trace(s, trace_id, "SPAN_KIND_CLIENT"))
    [server] = of_trace(spans, trace_id, "SPAN_KIND_SERVER", name)
    [client] = of_trace(spans, trace_id, "SPAN_KIND_CLIENT")
    assert server["status"] == "STATUS_CODE_ERROR"
    assert server["attributes"]["error.type"] == "backend"
    assert client["status"] == "STATUS_CODE_ERROR"
    assert client["attributes"]["http.response.status_code"] == 503


def test_without_a_traceparent_the_gateway_starts_the_trace(gw, receiver):
    result = call_tool(gw.url, "echo___getItem", {"itemId": "fresh"})
    assert not result.isError, text_of(result)
    got = json.loads(text_of(result))["headers"].get("traceparent")
    assert got, "the backend got no traceparent"
    trace_id = got.split("-")[1]
    name = "tools/call echo___getItem"
    spans = receiver.wait(lambda s: of_trace(s, trace_id, "SPAN_KIND_SERVER", name))
    [server] = of_trace(spans, trace_id, "SPAN_KIND_SERVER", name)
    assert server["parentSpanId"] == ""


def test_tools_list_has_a_server_span(gw, receiver):
    header, trace_id, parent_id = traceparent()

    async def go():
        async with mcp_session(gw.url, headers={"traceparent": header}) as (session, _):
            return await session.list_tools()

    assert run(go()).tools
    spans = receiver.wait(lambda s: of_trace(s, trace_id, "SPAN_KIND_SERVER", "tools/list"))
    [server] = of_trace(spans, trace_id, "SPAN_KIND_SERVER", "tools/list")
    assert server["attributes"]["mcp.method.name"] == "tools/list"
    assert server["parentSpanId"] == parent_id


def test_tracing_off_propagates_nothing(gw_off):
    header, _, _ = traceparent()
    result = call_tool(gw_off.url, "echo___getItem", {"itemId": "1"}, headers={"traceparent": header})
    assert not result.isError, text_of(result)
    assert "traceparent" not in json.loads(text_of(result))["headers"]


# ---- metrics ------------------------------------------------------------------------------------

# Every gateway metric family docs/operations.md lists, with the labels it may carry.
DOCUMENTED = {
    "toolyard_gateway_tool_calls_total": {"target", "tool"},
    "toolyard_gateway_tool_errors_total": {"target", "kind"},
    "toolyard_gateway_tool_call_duration_seconds": {"target"},
    "toolyard_gateway_reloads_total": set(),
    "toolyard_gateway_reload_failures_total": set(),
    "toolyard_gateway_config_generation": set(),
    "toolyard_gateway_tools": set(),
    "toolyard_gateway_upstream_connected": {"target"},
    "toolyard_gateway_upstream_tools": {"target"},
    "toolyard_gateway_upstream_syncs": {"target"},
    "toolyard_gateway_upstream_sync_failures": {"target"},
    "toolyard_gateway_upstream_sync_error": {"target"},
    "toolyard_gateway_search_query_embedding_failures_total": set(),
    "toolyard_gateway_search_embedding_healthy": set(),
    "toolyard_gateway_search_embedded_texts": set(),
}
# Families with a sample per upstream MCP target (none in this gateway: they do not appear).
ONLY_WITH_UPSTREAMS = {name for name in DOCUMENTED if "_upstream_" in name}
SAMPLE = re.compile(r'^([a-z_]+?)(?:_bucket|_sum|_count)?(?:\{(.*)\})? (\S+)$')


def test_metrics_are_documented_and_bounded(gw_off):
    for item in ("1", "2", "3"):
        assert not call_tool(gw_off.url, "echo___getItem", {"itemId": item}).isError
    assert call_tool(gw_off.url, "echo___failWithStatus", {"code": 500}).isError
    text = httpx.get(f"{gw_off.admin}/metrics", timeout=5).text
    families = {m.group(1) for m in re.finditer(r"^# TYPE (\S+) ", text, re.M)}
    for name in DOCUMENTED:
        if name in ONLY_WITH_UPSTREAMS:
            continue
        base = name.removesuffix("_total")
        assert base in families or name in families, f"{name} missing from /metrics:\n{text}"

    targets = {"echo", "echoq"}
    seen_labels: dict[str, set[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"unparsable sample: {line}"
        name, labels = m.group(1), m.group(2) or ""
        pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        pairs.pop("le", None)
        family = next((d for d in DOCUMENTED if name in (d, d.removesuffix("_total"))), None)
        if family is None:
            continue
        assert set(pairs) <= DOCUMENTED[family], f"{line}: labels beyond {DOCUMENTED[family]}"
        if "target" in pairs:
            assert pairs["target"] in targets, line
        if "kind" in pairs:
            assert pairs["kind"] in {"user", "backend", "throttled", "auth"}, line
        if "tool" in pairs:
            assert pairs["tool"].split("___")[0] in targets, line
        seen_labels.setdefault(family, set()).update(pairs.values())
    assert "echo___getItem" in seen_labels["toolyard_gateway_tool_calls_total"]
    assert "backend" in seen_labels["toolyard_gateway_tool_errors_total"]
    # The argument values never become label values (bounded cardinality).
    assert not {"1", "2", "3"} & set().union(*seen_labels.values())
    calls = next(l for l in text.splitlines() if l.startswith('toolyard_gateway_tool_calls_total{target="echo",tool="echo___getItem"}'))
    assert float(calls.split()[-1]) >= 3


# ---- call logs ----------------------------------------------------------------------------------


def log_records(gw: Gateway) -> list[dict]:
    """The JSON log lines of the gateway, each flattened to its event fields plus `target`."""
    records = []
    for line in gw.proc.log.read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("{"):
            record = json.loads(line)
            records.append({"target": record.get("target"), "level": record.get("level"), **record.get("fields", {})})
    return records


def wait_records(gw: Gateway, predicate, timeout: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        records = [r for r in log_records(gw) if predicate(r)]
        if records or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def test_call_logs_show_headers_and_bodies_without_secrets(gw):
    marker = secrets.token_hex(6)
    # An argument equal to a known secret is redacted too (it is echoed back in the response).
    args = {"name": f"Seoul-{marker}", "tags": [HEADER_SECRET], "meta": {"source": "weather-app"}}
    result = call_tool(gw.url, "logged___postJson", args, headers={"Authorization": "Bearer caller-token-777"})
    assert not result.isError, text_of(result)
    seen = json.loads(text_of(result))
    assert seen["headers"]["x-weather-key"] == HEADER_SECRET  # the backend did get the key

    requests = wait_records(gw, lambda r: r.get("message") == "backend request" and marker in r.get("request_body", ""))
    responses = wait_records(gw, lambda r: r.get("message") == "backend response" and marker in r.get("response_body", ""))
    assert requests and responses, f"no call records:\n{gw.proc.log_tail(30)}"
    req, resp = requests[-1], responses[-1]
    assert req["target"] == "toolyard::calls" and req["target_name"] == "logged"
    assert req["method"] == "POST" and req["path"] == "/json"
    headers = json.loads(req["request_headers"])
    assert headers["x-weather-key"] == "[REDACTED]"
    assert headers["content-type"] == "application/json"
    assert "weather-app" in req["request_body"] and "[REDACTED]" in req["request_body"]
    assert resp["status"] == 200 and resp["duration_ms"] >= 0
    assert json.loads(resp["response_headers"])["content-type"] == "application/json"
    assert f"Seoul-{marker}" in resp["response_body"] and "weather-app" in resp["response_body"]

    log = gw.proc.log.read_text(errors="replace")
    assert HEADER_SECRET not in log, "the API key value reached the log"
    assert "caller-token-777" not in log


def test_call_logs_redact_a_query_api_key(gw):
    marker = secrets.token_hex(6)
    result = call_tool(gw.url, "loggedq___getItem", {"itemId": marker})
    assert not result.isError, text_of(result)
    assert json.loads(text_of(result))["query"] == [["appid", QUERY_SECRET]]
    [req] = wait_records(gw, lambda r: r.get("message") == "backend request" and r.get("path") == f"/items/{marker}")
    assert req["query"] == "appid=[REDACTED]"
    [resp] = wait_records(gw, lambda r: r.get("message") == "backend response" and marker in r.get("response_body", ""))
    assert "[REDACTED]" in resp["response_body"]
    log = gw.proc.log.read_text(errors="replace")
    for form in (QUERY_SECRET, "query+secret", "query%20secret", "secret%26456", "secret&456"):
        assert form not in log, f"{form!r} reached the log"


def test_targets_without_call_logging_log_no_successful_calls(gw):
    marker = secrets.token_hex(6)
    assert not call_tool(gw.url, "echo___getItem", {"itemId": marker}).isError
    time.sleep(0.3)
    assert not [r for r in log_records(gw) if marker in json.dumps(r)]
