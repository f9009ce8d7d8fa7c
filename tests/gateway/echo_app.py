"""A FastAPI backend that answers every request with exactly what it received.

The gateway's HTTP request building (parameter styles, bodies, credentials) is checked by calling
tools against this app and reading back the request it saw. `fixtures/specs/echo.yaml` describes
it for the gateway.

Routes besides the catch-all echo:
  GET /healthz              readiness probe for the test harness
  GET /status/{code}        answers with that status and a JSON body naming it
  GET /sleep?seconds=S      sleeps S seconds, then echoes
  GET /bytes?type=T         a few fixed bytes (or a small CSV) with content type T

Run: python echo_app.py --port PORT
"""

from __future__ import annotations

import argparse
import asyncio
import json
from urllib.parse import unquote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

app = FastAPI(title="toolyard echo backend", openapi_url=None, docs_url=None, redoc_url=None)


async def describe(request: Request) -> dict:
    """Everything the backend received, raw where it matters (path, query, cookie header)."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    form: dict[str, list[str]] | None = None
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        parsed = await request.form()
        form = {}
        for key, value in parsed.multi_items():
            form.setdefault(key, []).append(value if isinstance(value, str) else f"<file {value.filename}>")
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    return {
        "method": request.method,
        "path": request.url.path,
        "rawPath": raw_path.decode("latin-1"),
        "rawQuery": request.scope.get("query_string", b"").decode("latin-1"),
        "query": [[k, v] for k, v in request.query_params.multi_items()],
        "headers": {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.scope["headers"]},
        "headerList": [[k.decode("latin-1").lower(), v.decode("latin-1")] for k, v in request.scope["headers"]],
        "cookieHeader": request.headers.get("cookie"),
        "cookies": {k: unquote(v) for k, v in request.cookies.items()},
        "contentType": content_type or None,
        "body": body.decode("utf-8", errors="replace"),
        "json": _json_or_none(body, content_type),
        "form": form,
    }


def _json_or_none(body: bytes, content_type: str):
    if not body or "json" not in content_type:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


@app.get("/healthz")
async def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")


@app.get("/status/{code}")
async def status(code: int, request: Request) -> JSONResponse:
    # Echoes the API key it received, as careless backends do: the gateway must redact it.
    return JSONResponse(
        {"error": f"backend failure {code}", "secretDetail": "stack trace here", "receivedKey": request.headers.get("x-api-key")},
        status_code=code,
    )


# A PNG signature followed by bytes that are not UTF-8.
FIXED_BYTES = b"\x89PNG\r\n\x1a\n\x00\xff\xfe toolyard"


@app.get("/bytes")
async def raw_bytes(request: Request) -> Response:
    kind = request.query_params.get("type", "application/octet-stream")
    if kind == "text/csv":
        return Response(b"a,b\n1,2\n", media_type="text/csv")
    return Response(FIXED_BYTES, media_type=kind)


@app.get("/sleep")
async def sleep(request: Request) -> JSONResponse:
    await asyncio.sleep(float(request.query_params.get("seconds", "0")))
    return JSONResponse(await describe(request))


@app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
async def echo(path: str, request: Request) -> JSONResponse:
    return JSONResponse(await describe(request))


if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
