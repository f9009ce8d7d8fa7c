#!/usr/bin/env bash
# Gateway memory with large catalogs: for each size, a synthetic OpenAPI document with that many
# operations (each a GET with a path and a query parameter and an object output schema) is served
# standalone by the release gateway; once /readyz reports the tools, the process's resident memory
# (VmRSS) and its peak (VmHWM, reached while the document is parsed and compiled) are printed, and
# the resident memory again after one complete `tools/list` (which renders every tool's JSON once
# and keeps it for the next listings, see gateway/src/runtime/listed.rs).
#
#   bash bench/catalog_memory.sh                 # 1,000 and 10,000 tools
#   SIZES="1000 5000" bash bench/catalog_memory.sh
#   SEMANTIC=~/.cache/toolyard/models/all-MiniLM-L6-v2 bash bench/catalog_memory.sh
#
# With SEMANTIC (a model directory), the Gateway has `search: {type: Semantic}` with that local
# model: the script also waits until /readyz reports the hybrid index and prints the seconds from
# serving BM25 (the tools listed in /readyz) to the hybrid index (every tool's two texts embedded on the machine's cores; the synthetic texts are
# shorter than a real API's, see bench/search.sh for those) and the RSS then, model included.
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

SEMANTIC=${SEMANTIC:-}
if [[ -n $SEMANTIC ]]; then
  echo "| Tools | RSS after the reload | Peak RSS (compile) | RSS after a complete tools/list | BM25 to hybrid | RSS with the hybrid index | Peak RSS |"
  echo "|---|---|---|---|---|---|---|"
else
  echo "| Tools | RSS after the reload | Peak RSS (compile) | RSS after a complete tools/list |"
  echo "|---|---|---|---|"
fi
for n in $SIZES; do
  mkdir -p "$WORK/$n"
  python3 - "$n" "$SEMANTIC" >"$WORK/$n/catalog.yaml" <<'PY'
import json, sys
n, model = int(sys.argv[1]), sys.argv[2]
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
if model:
    print("  search:\n    type: Semantic\n    embedding: {localModel: {path: " + json.dumps(model) + "}}")
print("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: catalog}\ndata:\n  openapi.json: " + json.dumps(doc))
print("---\napiVersion: toolyard.dev/v1alpha1\nkind: GatewayTarget\nmetadata: {name: api}\nspec:\n"
      "  gatewayRef: {name: catalog}\n  openApi:\n    baseUrl: http://127.0.0.1:9\n"
      "    schema: {configMapRef: {name: catalog, key: openapi.json}}")
PY
  port=$(free_port) admin=$(free_port)
  RUST_LOG=warn "$TOOLYARD_GATEWAY_BIN" --config "$WORK/$n" --listen "127.0.0.1:$port" \
    --admin-listen "127.0.0.1:$admin" >"$WORK/$n/gateway.log" 2>&1 &
  PID=$!
  ready= served=$n
  [[ -z $SEMANTIC ]] || served=$((n + 1)) # and the search tool
  for _ in $(seq 1 600); do
    if curl -sf "http://127.0.0.1:$admin/readyz" | grep -q "\"tools\":$served[,}]"; then ready=1; break; fi
    sleep 0.2
  done
  [[ -n $ready ]] || { echo "the gateway did not serve $n tools; its log:" >&2; cat "$WORK/$n/gateway.log" >&2; exit 1; }
  served_at=$(date +%s.%N)
  sleep 1
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
  listed=$(python3 - "http://127.0.0.1:$port/mcp" <<'PY'
import json, sys, urllib.request
meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "catalog_memory", "version": "1"}}
headers = {"content-type": "application/json", "accept": "application/json, text/event-stream",
           "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list"}
cursor, tools = None, 0
while True:
    params = {"_meta": meta} | ({"cursor": cursor} if cursor else {})
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": params}).encode()
    with urllib.request.urlopen(urllib.request.Request(sys.argv[1], body, headers)) as answer:
        result = json.load(answer)["result"]
    tools += len(result["tools"])
    cursor = result.get("nextCursor")
    if not cursor:
        break
print(tools)
PY
)
  [[ $listed -ge $n ]] || { echo "the listing returned $listed tools, not $n" >&2; exit 1; }
  after=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
  line=$(awk -v n="$n" -v rss="$rss" -v hwm="$hwm" -v after="$after" \
    'BEGIN { printf "| %s | %.1f MiB | %.1f MiB | %.1f MiB |", n, rss / 1024, hwm / 1024, after / 1024 }')
  if [[ -n $SEMANTIC ]]; then
    hybrid=
    for _ in $(seq 1 3600); do
      state=$(curl -sf "http://127.0.0.1:$admin/readyz" || true)
      if grep -q '"index":"hybrid"' <<<"$state"; then hybrid=$(date +%s.%N); break; fi
      if grep -q '"embedding":"failed"' <<<"$state"; then break; fi
      sleep 0.5
    done
    [[ -n $hybrid ]] || { echo "no hybrid index for $n tools: $state; log:" >&2; cat "$WORK/$n/gateway.log" >&2; exit 1; }
    took=$(awk -v a="$served_at" -v b="$hybrid" 'BEGIN { print b - a }')
    sleep 1
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
    line+=$(awk -v t="$took" -v rss="$rss" -v hwm="$hwm" \
      'BEGIN { printf " %.1f s | %.1f MiB | %.1f MiB |", t, rss / 1024, hwm / 1024 }')
  fi
  echo "$line"
  kill "$PID" && wait "$PID" 2>/dev/null || true
  PID=
done
