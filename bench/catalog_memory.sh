#!/usr/bin/env bash
# Gateway memory with large catalogs: for each size, a synthetic OpenAPI document with that many
# operations (each a GET with a path and a query parameter and an object output schema) is served
# standalone by the release gateway; once /readyz reports the tools, the process's resident memory
# (VmRSS) and its peak (VmHWM, reached while the document is parsed and compiled) are printed.
#
#   bash bench/catalog_memory.sh                 # 1,000 and 10,000 tools
#   SIZES="1000 5000" bash bench/catalog_memory.sh
#
# Environment: TOOLYARD_GATEWAY_BIN (default: builds target/release/toolyard-gateway).
# Not a test: nothing asserts a number. Results go to the README by hand.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZES=${SIZES:-"1000 10000"}
if [[ -z ${TOOLYARD_GATEWAY_BIN:-} ]]; then
  (cd "$REPO" && cargo build --release -p toolyard-gateway >&2)
  TOOLYARD_GATEWAY_BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/toolyard-gateway"
fi
WORK=$(mktemp -d)
PID=
cleanup() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "| Tools | RSS after the reload | Peak RSS (compile) |"
echo "|---|---|---|"
for n in $SIZES; do
  mkdir -p "$WORK/$n"
  python3 - "$n" >"$WORK/$n/catalog.yaml" <<'PY'
import json, sys
n = int(sys.argv[1])
paths = {
    f"/items{i}/{{id}}": {"get": {
        "operationId": f"getItem{i}", "summary": f"Get item {i} by id",
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "verbose", "in": "query", "schema": {"type": "boolean"}}],
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"ok": {"type": "boolean"}}}}}}}}}
    for i in range(n)
}
doc = json.dumps({"openapi": "3.0.3", "info": {"title": "catalog", "version": "1"}, "paths": paths})
print("apiVersion: toolyard.dev/v1alpha1\nkind: Gateway\nmetadata: {name: catalog}\nspec:\n  inboundAuth: {none: {}}")
print("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: catalog}\ndata:\n  openapi.json: " + json.dumps(doc))
print("---\napiVersion: toolyard.dev/v1alpha1\nkind: GatewayTarget\nmetadata: {name: api}\nspec:\n"
      "  gatewayRef: {name: catalog}\n  openApi:\n    baseUrl: http://127.0.0.1:9\n"
      "    schema: {configMapRef: {name: catalog, key: openapi.json}}")
PY
  port=$(free_port) admin=$(free_port)
  RUST_LOG=warn "$TOOLYARD_GATEWAY_BIN" --config "$WORK/$n" --listen "127.0.0.1:$port" \
    --admin-listen "127.0.0.1:$admin" >"$WORK/$n/gateway.log" 2>&1 &
  PID=$!
  ready=
  for _ in $(seq 1 600); do
    if curl -sf "http://127.0.0.1:$admin/readyz" | grep -q "\"tools\":$n[,}]"; then ready=1; break; fi
    sleep 0.2
  done
  [[ -n $ready ]] || { echo "the gateway did not serve $n tools; its log:" >&2; cat "$WORK/$n/gateway.log" >&2; exit 1; }
  sleep 1
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
  awk -v n="$n" -v rss="$rss" -v hwm="$hwm" 'BEGIN { printf "| %s | %.1f MiB | %.1f MiB |\n", n, rss / 1024, hwm / 1024 }'
  kill "$PID" && wait "$PID" 2>/dev/null || true
  PID=
done
