"""A minimal OTLP/HTTP trace receiver for the tracing tests.

POST /v1/traces takes an `ExportTraceServiceRequest` (protobuf, as the OTLP/HTTP spec defines it),
decoded with the official `opentelemetry-proto` bindings, and keeps every span. GET /spans returns
them as JSON (ids in lower-case hex, attributes as plain values); GET /healthz answers "ok".
A body that does not decode is answered with 400 and counted in GET /spans' "rejected", so a
malformed export fails the test instead of vanishing.

Run (with the venv that has opentelemetry-proto): python otlp_receiver.py --port PORT
"""

from __future__ import annotations

import argparse
import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

LOCK = threading.Lock()
SPANS: list[dict] = []
STATS = {"requests": 0, "rejected": 0}


def any_value(v):
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    value = getattr(v, kind)
    if kind == "array_value":
        return [any_value(x) for x in value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.values}
    if kind == "bytes_value":
        return value.hex()
    return value


def attributes(kvs) -> dict:
    return {kv.key: any_value(kv.value) for kv in kvs}


def decode(body: bytes) -> list[dict]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    out = []
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for span in ss.spans:
                out.append(
                    {
                        "name": span.name,
                        "kind": Span.SpanKind.Name(span.kind),
                        "traceId": span.trace_id.hex(),
                        "spanId": span.span_id.hex(),
                        "parentSpanId": span.parent_span_id.hex(),
                        "status": Status.StatusCode.Name(span.status.code),
                        "attributes": attributes(span.attributes),
                        "resource": resource,
                        "scope": ss.scope.name,
                        "durationNs": span.end_time_unix_nano - span.start_time_unix_nano,
                    }
                )
    return out


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):  # quiet: the test reads /spans
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/healthz":
            return self._send(200, b"ok", "text/plain")
        if self.path == "/spans":
            with LOCK:
                body = json.dumps({"spans": SPANS, **STATS}).encode()
            return self._send(200, body, "application/json")
        return self._send(404, b"not found", "text/plain")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path != "/v1/traces":
            return self._send(404, b"not found", "text/plain")
        with LOCK:
            STATS["requests"] += 1
        try:
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if not self.headers.get("Content-Type", "").startswith("application/x-protobuf"):
                raise DecodeError(f"unexpected content type {self.headers.get('Content-Type')!r}")
            spans = decode(body)
        except (DecodeError, OSError) as e:
            with LOCK:
                STATS["rejected"] += 1
            return self._send(400, str(e).encode(), "text/plain")
        with LOCK:
            SPANS.extend(spans)
        return self._send(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
