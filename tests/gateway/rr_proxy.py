"""A tiny round-robin HTTP reverse proxy for the scale-out test: every request (not every
connection) goes to the next backend, responses are streamed through (SSE included), and each
backend's share is counted at GET /_rr/stats.

    python rr_proxy.py --port 8000 --backend http://127.0.0.1:8081 --backend http://127.0.0.1:8082
"""

from __future__ import annotations

import argparse
import itertools

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length", "host"}


def build(backends: list[str]) -> Starlette:
    turn = itertools.cycle(range(len(backends)))
    served = [0] * len(backends)
    client = httpx.AsyncClient(timeout=httpx.Timeout(60.0, read=None))

    async def stats(_: Request) -> JSONResponse:
        return JSONResponse({"backends": backends, "served": served})

    async def forward(request: Request) -> StreamingResponse:
        i = next(turn)
        served[i] += 1
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        upstream = client.build_request(
            request.method,
            backends[i] + request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            headers=headers,
            content=await request.body(),
        )
        response = await client.send(upstream, stream=True)
        out_headers = {k: v for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP}
        out_headers["x-rr-backend"] = str(i)

        async def body():
            try:
                async for chunk in response.aiter_raw():
                    yield chunk
            finally:
                await response.aclose()

        return StreamingResponse(body(), status_code=response.status_code, headers=out_headers)

    return Starlette(
        routes=[
            Route("/_rr/stats", stats, methods=["GET"]),
            Route("/{path:path}", forward, methods=["GET", "POST", "DELETE"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", action="append", required=True)
    args = parser.parse_args()
    uvicorn.run(build(args.backend), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
