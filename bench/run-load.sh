#!/usr/bin/env bash
# Runs the MCP load generator (gateway/examples/mcp_load.rs) against one release gateway process
# in front of the FastAPI echo backend (tests/gateway/echo_app.py), both on loopback:
#
#   bash bench/run-load.sh -- --sessions 10000 --hold-streams --rate 200 --duration 60
#
# Everything after `--` goes to mcp_load (`--url` and `--pid` are set here). Uses the Python venv
# the gateway tests install (tests/gateway/setup.sh, cached under $TOOLYARD_CACHE) for the echo
# backend. Builds the gateway and the example in release mode unless TOOLYARD_GATEWAY_BIN and
# MCP_LOAD_BIN are set. Exit status: mcp_load's (non-zero when one of its checks failed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${TOOLYARD_CACHE:-$HOME/.cache/toolyard}"
[[ "${1:-}" == "--" ]] && shift
log() { printf '[load] %s\n' "$*" >&2; }

bash "$ROOT/tests/gateway/setup.sh" >/dev/null
PY="$CACHE/venv-mcp1/bin/python"
if [[ -z "${TOOLYARD_GATEWAY_BIN:-}" || -z "${MCP_LOAD_BIN:-}" ]]; then
    log "building the release gateway and mcp_load..."
    (cd "$ROOT" && cargo build --quiet --release -p toolyard-gateway --bin toolyard-gateway --example mcp_load)
    TOOLYARD_GATEWAY_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/toolyard-gateway"
    MCP_LOAD_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/mcp_load"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/toolyard-load.XXXXXX")"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url seconds
    local deadline=$((SECONDS + $2))
    until curl -sf -o /dev/null "$1"; do
        ((SECONDS < deadline)) || { log "no answer from $1"; return 1; }
        sleep 0.2
    done
}

ECHO_PORT=$(free_port)
(cd "$ROOT/tests/gateway" && exec "$PY" echo_app.py --port "$ECHO_PORT") >"$WORK/echo.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$ECHO_PORT/healthz" 30

mkdir -p "$WORK/config"
{
    cat <<YAML
apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata: {name: load}
spec:
  inboundAuth: {none: {}}
  security: {allowedDomains: ["127.0.0.1"]}
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {name: echo}
spec:
  gatewayRef: {name: load}
  openApi:
    baseUrl: http://127.0.0.1:$ECHO_PORT
    schema: {configMapRef: {name: specs, key: echo.yaml}}
  tools: {include: [getItem]}
  timeout: 10s
---
apiVersion: v1
kind: ConfigMap
metadata: {name: specs}
data:
  echo.yaml: |
YAML
    sed 's/^/    /' "$ROOT/tests/gateway/fixtures/specs/echo.yaml"
} >"$WORK/config/gateway.yaml"

PORT=$(free_port)
ADMIN=$(free_port)
RUST_LOG="${RUST_LOG:-warn}" "$TOOLYARD_GATEWAY_BIN" --config "$WORK/config" \
    --listen "127.0.0.1:$PORT" --admin-listen "127.0.0.1:$ADMIN" >"$WORK/gateway.log" 2>&1 &
GW=$!
PIDS+=($GW)
wait_http "http://127.0.0.1:$ADMIN/readyz" 30
log "gateway pid $GW on :$PORT, echo backend on :$ECHO_PORT, logs in $WORK"

rc=0
"$MCP_LOAD_BIN" --url "http://127.0.0.1:$PORT/mcp" --pid "$GW" "$@" || rc=$?
if ! kill -0 "$GW" 2>/dev/null; then
    log "the gateway exited during the run; its log:"
    tail -n 40 "$WORK/gateway.log" >&2
    rc=1
fi
exit $rc
