#!/usr/bin/env bash
# Instruction counts per proxied call (issue 17): the release gateway runs under
# `valgrind --tool=callgrind` in front of nginx (the one-operation target of bench/compare.sh)
# while gateway/examples/mcp_bench sends calls at c=1, first stateless (2026-07-28), then in a
# session (2025-06-18). Counters are zeroed after a warm-up and dumped after the measured window,
# so start-up and the first connections are not in the numbers. Instruction counts do not depend
# on how busy the machine is, which makes them the stable "before/after" measure here.
#
#   bash bench/profile.sh                 # 6 s per mode under valgrind (a few hundred calls)
#   DURATION=20 TOP=30 bash bench/profile.sh
#
# Needs valgrind and nginx (apt-get install valgrind nginx-light). Prints, per mode, the calls,
# instructions per call and the top functions by inclusive and self cost; the raw callgrind files
# stay in the work directory it prints (open them with callgrind_annotate or kcachegrind).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION=${DURATION:-6}
WARMUP=${WARMUP:-3}
TOP=${TOP:-25}
MODES=(${MODES:-stateless session})
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
GATEWAY="${TOOLYARD_GATEWAY_BIN:-$TARGET/release/toolyard-gateway}"
BENCH="${MCP_BENCH_BIN:-$TARGET/release/examples/mcp_bench}"
log() { printf '[profile] %s\n' "$*" >&2; }
for bin in "$GATEWAY" "$BENCH"; do
    [[ -x $bin ]] || {
        log "missing $bin: cargo build --release -p toolyard-gateway --bin toolyard-gateway --example mcp_bench"
        exit 1
    }
done
command -v valgrind >/dev/null || { log "valgrind is not installed (apt-get install valgrind)"; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $NGINX ]] || { log "nginx is not installed (apt-get install nginx-light)"; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/toolyard-profile.XXXXXX")"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url seconds
    local deadline=$((SECONDS + $2))
    until curl -s -o /dev/null "$1"; do
        ((SECONDS < deadline)) || { log "no answer from $1"; return 1; }
        sleep 0.5
    done
}

NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
error_log $WORK/nginx/logs/error.log warn;
pid $WORK/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx;
  proxy_temp_path $WORK/nginx;
  fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx;
  scgi_temp_path $WORK/nginx;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location ~ ^/users/([A-Za-z0-9_-]+)\$ {
      default_type application/json;
      return 200 '{"id":"\$1","name":"Ada Lovelace","email":"ada@example.com"}';
    }
  }
}
EOF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
wait_http "http://127.0.0.1:$NGINX_PORT/users/1" 20

mkdir -p "$WORK/config"
{
    cat <<YAML
apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata: {name: bench}
spec:
  inboundAuth: {none: {}}
  security: {allowedDomains: ["127.0.0.1"]}
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {name: users}
spec:
  gatewayRef: {name: bench}
  openApi:
    baseUrl: http://127.0.0.1:$NGINX_PORT
    schema: {configMapRef: {name: specs, key: spec}}
  timeout: 30s
---
apiVersion: v1
kind: ConfigMap
metadata: {name: specs}
data:
  spec: |
YAML
    sed 's/^/    /' "$ROOT/bench/compare/users.yaml"
} >"$WORK/config/gateway.yaml"

for mode in "${MODES[@]}"; do
    port=$(free_port)
    admin=$(free_port)
    out="$WORK/callgrind.$mode"
    RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$out.%p" --dump-instr=no \
        "$GATEWAY" --config "$WORK/config" --listen "127.0.0.1:$port" \
        --admin-listen "127.0.0.1:$admin" >"$WORK/gateway.$mode.log" 2>&1 &
    gw=$!
    PIDS+=($gw)
    wait_http "http://127.0.0.1:$admin/readyz" 300
    # Warm-up (connections, lazily built state), then zero the counters and measure.
    "$BENCH" --mode "$mode" --url "http://127.0.0.1:$port/mcp" --concurrency 1 \
        --duration "$WARMUP" --warmup 0 >/dev/null
    callgrind_control -z "$gw" >/dev/null
    "$BENCH" --label "$mode" --mode "$mode" --url "http://127.0.0.1:$port/mcp" --concurrency 1 \
        --duration "$DURATION" --warmup 0 >"$WORK/bench.$mode.json"
    callgrind_control -d "$gw" >/dev/null
    kill "$gw"
    wait "$gw" 2>/dev/null || true
    # The dump taken with -d is the file with a ".1" part suffix.
    dump=$(ls -t "$out".*.1 2>/dev/null | head -n1 || true)
    [[ -n $dump ]] || { log "no callgrind dump for $mode in $WORK"; exit 1; }
    # `session` mode counts the handshake of its one session in the warm-up, not here.
    calls=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["calls"])' "$WORK/bench.$mode.json")
    total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
    echo "## $mode: $calls calls, $((total / calls)) instructions per call"
    echo
    echo "Top $TOP by inclusive cost (instructions per call, share of the total):"
    echo
    callgrind_annotate --threshold=100 --auto=no --inclusive=yes "$dump" 2>/dev/null | python3 "$ROOT/bench/profile_top.py" "$calls" "$TOP"
    echo
    echo "Top $TOP by self cost:"
    echo
    callgrind_annotate --threshold=100 --auto=no "$dump" 2>/dev/null | python3 "$ROOT/bench/profile_top.py" "$calls" "$TOP" self
    echo
done
log "callgrind files in $WORK"
