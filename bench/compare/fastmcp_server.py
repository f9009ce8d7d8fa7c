"""The peer of bench/compare.sh: FastMCP (from PyPI) serving the same OpenAPI document as tools.

Run by uvicorn with several workers, so it uses stateless HTTP (a session could land on another
worker) and plain JSON responses, FastMCP's recommended setting for that deployment.
BENCH_BACKEND is the backend's base URL; BENCH_SPEC the OpenAPI document (YAML).
"""

import os

import httpx
import yaml
from fastmcp import FastMCP

with open(os.environ["BENCH_SPEC"], encoding="utf-8") as f:
    spec = yaml.safe_load(f)

mcp = FastMCP.from_openapi(
    openapi_spec=spec,
    client=httpx.AsyncClient(base_url=os.environ["BENCH_BACKEND"], timeout=30),
    name="users",
)
app = mcp.http_app(path="/mcp", stateless_http=True, json_response=True)
