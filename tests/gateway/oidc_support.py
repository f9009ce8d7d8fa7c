"""The OpenID provider of the auth tests (tests/gateway/oidc/provider.mjs: `oidc-provider` on
Node 22) and helpers to get real tokens from it and to craft bad ones with PyJWT/cryptography.

The provider's signing keys live in a file the test owns, so crafted tokens can carry a valid
signature of the real key with exactly one thing wrong (expired, wrong issuer, ...)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from conftest import CACHE, HERE, NODE22, Procs, free_port

OIDC_MODULES = Path(os.environ.get("TOOLYARD_OIDC_MODULES", CACHE / "npm-oidc" / "node_modules"))
PROVIDER_JS = HERE / "oidc" / "provider.mjs"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_rsa_jwk() -> dict:
    """A fresh private RSA JWK with a new kid (for provider key files)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key))
    jwk.update(kid=str(uuid.uuid4()), use="sig", alg="RS256")
    return jwk


class Provider:
    """One running provider instance (restartable on the same port with other keys)."""

    def __init__(self, procs: Procs, workdir: Path, name: str, clients: list[dict], *, ttl: int = 300,
                 claims: dict | None = None, scopes: list[str] | None = None):
        for f in (NODE22, OIDC_MODULES / "oidc-provider" / "package.json"):
            if not f.exists():
                pytest.fail(f"{f} is missing: run tests/gateway/setup.sh (setup.d/oidc.sh)", pytrace=False)
        self.procs = procs
        self.name = name
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"
        self.token_url = f"{self.issuer}/token"
        self.keys_file = workdir / f"{name}-keys.json"
        self.keys_file.write_text(json.dumps({"keys": [new_rsa_jwk()]}))
        self.config_file = workdir / f"{name}-config.json"
        self.config = {"port": self.port, "keysFile": str(self.keys_file), "ttl": ttl, "clients": clients,
                       "claims": claims or {}, "scopes": scopes or ["tools:call", "tools:read", "other", "items:read"]}
        self.config_file.write_text(json.dumps(self.config))
        self.proc = None
        self.start()

    def start(self) -> None:
        self.proc = self.procs._start(self.name, [NODE22, PROVIDER_JS, self.config_file],
                                      env={"TOOLYARD_OIDC_MODULES": str(OIDC_MODULES)})
        self.proc.wait_ready(lambda: httpx.get(self.discovery_url, timeout=2).status_code == 200)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def rotate(self) -> str:
        """Restarts the provider with a brand-new signing key (the old one is gone); returns its kid."""
        self.stop()
        jwk = new_rsa_jwk()
        self.keys_file.write_text(json.dumps({"keys": [jwk]}))
        self.start()
        return jwk["kid"]

    # ---- keys --------------------------------------------------------------------------------
    def signing_jwk(self) -> dict:
        return json.loads(self.keys_file.read_text())["keys"][0]

    def private_key(self):
        return RSAAlgorithm.from_jwk(json.dumps(self.signing_jwk()))

    def public_pem(self) -> bytes:
        return self.private_key().public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    # ---- tokens ------------------------------------------------------------------------------
    def token(self, client_id: str, secret: str, *, scope: str, resource: str, post: bool = False,
              **extra: str) -> str:
        """A real access token (client credentials grant)."""
        data = {"grant_type": "client_credentials", "scope": scope, "resource": resource, **extra}
        if post:
            r = httpx.post(self.token_url, data={**data, "client_id": client_id, "client_secret": secret}, timeout=10)
        else:
            r = httpx.post(self.token_url, data=data, auth=(client_id, secret), timeout=10)
        assert r.status_code == 200, f"token request failed: {r.status_code} {r.text}"
        return r.json()["access_token"]

    def claims(self, audience: str, **overrides) -> dict:
        """The claims of a good token for `audience`; `None` values remove a claim."""
        now = int(time.time())
        base = {"iss": self.issuer, "sub": "agent", "aud": audience, "client_id": "agent", "scope": "tools:call",
                "iat": now, "exp": now + 300, "jti": str(uuid.uuid4()), **self.config["claims"]}
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def sign(self, claims: dict, *, alg: str = "RS256", key=None, kid: str | None = "default", headers: dict | None = None) -> str:
        """A JWT over `claims` signed with the provider's key (or `key`), `kid` of the provider's key
        unless given (None: no kid)."""
        h = dict(headers or {})
        if kid == "default":
            kid = self.signing_jwk()["kid"]
        if kid is not None:
            h["kid"] = kid
        return jwt.encode(claims, key if key is not None else self.private_key(), algorithm=alg, headers=h)


def unsigned(claims: dict, header: dict) -> str:
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."


def hs256_with(secret: bytes, claims: dict, header: dict) -> str:
    """HS256 keyed with arbitrary bytes (PyJWT refuses PEM keys as HMAC secrets, an attacker does not)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(sig)}"


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def other_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)
