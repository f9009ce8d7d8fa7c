# Sourced by tests/gateway/setup.sh (CACHE, NODE22, log, pyver in scope).
# The OpenID provider of the auth tests: `oidc-provider` (a certified OpenID Provider library for
# Node) in its own npm folder, run by tests/gateway/oidc/provider.mjs with Node 22. The tests craft
# bad tokens with PyJWT + cryptography, which the venv-mcp1 already has (dependencies of `mcp`).
OIDC_PROVIDER_VERSION="9.13.3"
OIDC_DIR="$CACHE/npm-oidc"
oidc_stamp="oidc-provider@$OIDC_PROVIDER_VERSION"
if [[ ! -f "$OIDC_DIR/.stamp" || "$(cat "$OIDC_DIR/.stamp")" != "$oidc_stamp" ]]; then
    log "installing $oidc_stamp into $OIDC_DIR"
    rm -rf "$OIDC_DIR"
    mkdir -p "$OIDC_DIR"
    echo '{"name": "toolyard-test-oidc", "private": true, "type": "module"}' >"$OIDC_DIR/package.json"
    (cd "$OIDC_DIR" && npm install --no-audit --no-fund --loglevel=error "oidc-provider@$OIDC_PROVIDER_VERSION" >&2)
    echo "$oidc_stamp" >"$OIDC_DIR/.stamp"
fi
[[ -f "$OIDC_DIR/node_modules/oidc-provider/package.json" ]] || { echo "setup: oidc-provider missing in $OIDC_DIR" >&2; exit 1; }
"$CACHE/venv-mcp1/bin/python" -c 'import jwt, cryptography' || { echo "setup: venv-mcp1 lacks PyJWT/cryptography" >&2; exit 1; }
echo "  oidc: oidc-provider $("$NODE22" -p "require('$OIDC_DIR/node_modules/oidc-provider/package.json').version") (node $("$NODE22" --version)), $(pyver "$CACHE/venv-mcp1" "pyjwt cryptography")"
echo "export TOOLYARD_OIDC_MODULES=\"$OIDC_DIR/node_modules\"" >>"$CACHE/env.sh"
