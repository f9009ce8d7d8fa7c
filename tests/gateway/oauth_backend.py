"""An OAuth-protected backend for the outbound OAuth2 tests: a FastAPI app that accepts a call only
with a bearer JWT of the test provider for its own resource (signature checked against the
provider's JWKS with PyJWT), or with the API key of the `keyed` target in `api_key`.

Routes:
  GET  /healthz               readiness
  GET  /items/{itemId}        the caller's token claims (or {"apiKey": true}) and the path
  POST /admin/revoke          from now on, every token seen so far is answered with 401
  GET  /admin/seen            {"tokens": [...], "rejected": N}: every bearer token received, 401s sent

Run: python oauth_backend.py --port PORT --issuer URL --audience URL --api-key KEY
"""

from __future__ import annotations

import argparse

import jwt
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
STATE: dict = {"tokens": [], "revoked": set(), "rejected": 0}
ARGS: argparse.Namespace


def deny(reason: str) -> JSONResponse:
    STATE["rejected"] += 1
    return JSONResponse({"error": "invalid_token", "reason": reason}, status_code=401,
                        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


@app.get("/healthz")
async def healthz():
    return {"ok": True}


@app.get("/items/{item_id}")
async def item(item_id: str, request: Request):
    if request.query_params.get("api_key") is not None:
        if request.query_params.get("api_key") != ARGS.api_key:
            return deny("wrong api key")
        return {"path": request.url.path, "apiKey": True}
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Bearer "):
        return deny("no bearer token")
    token = auth.removeprefix("Bearer ")
    STATE["tokens"].append(token)
    if token in STATE["revoked"]:
        return deny("revoked")
    try:
        key = JWKS.get_signing_key_from_jwt(token).key
        claims = jwt.decode(token, key, algorithms=["RS256"], audience=ARGS.audience, issuer=ARGS.issuer)
    except jwt.PyJWTError as e:
        return deny(f"{type(e).__name__}")
    return {"path": request.url.path, "claims": claims}


@app.post("/admin/revoke")
async def revoke():
    STATE["revoked"].update(STATE["tokens"])
    return {"revoked": len(STATE["revoked"])}


@app.get("/admin/seen")
async def seen():
    return {"tokens": STATE["tokens"], "rejected": STATE["rejected"]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument("--api-key", required=True)
    ARGS = parser.parse_args()
    JWKS = jwt.PyJWKClient(f"{ARGS.issuer}/jwks", cache_keys=True)
    uvicorn.run(app, host="127.0.0.1", port=ARGS.port, log_level="warning")
