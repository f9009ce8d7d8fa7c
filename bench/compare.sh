#!/usr/bin/env bash
# Side-by-side benchmark of the call path (issue 17): one nginx backend (`GET /users/{id}`, fixed
# JSON), the same one-operation OpenAPI document (bench/compare/users.yaml) served as MCP tools by
#   - Toolyard (the release gateway, one process) at 2026-07-28 (stateless) and 2025-06-18 (sessions),
#   - FastMCP from PyPI (the peer most Python users would pick; uvicorn, 2 workers, stateless HTTP),
# and one closed-loop client for all of them (gateway/examples/mcp_bench.rs), also calling nginx
# directly for the baseline. Rounds are interleaved (every system once per round, in turn) and each
# figure is the median over the rounds, so that a busy machine hurts every system alike.
#
#   bash bench/compare.sh                          # 3 rounds of 10 s per system and concurrency
#   ROUNDS=5 DURATION=20 bash bench/compare.sh
#   OUT=bench/compare-results.md bash bench/compare.sh   # also write the table there
#
# Also measures Toolyard's `tools/list` of a large real catalog (GitHub's REST API, about 1,200
# tools, from the real-spec cache compile/tests/fixtures/openapi/fetch-real-specs.sh fills) and its
# RSS with that catalog loaded. CPU per call: user+system time of the server's whole process tree
# over the measured window (from /proc), divided by the calls. Installs nginx (apt-get) and FastMCP
# (a venv under $TOOLYARD_CACHE) when missing. Nothing here is a pass/fail test: the exit status
# is non-zero only when a system failed requests or could not start.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${TOOLYARD_CACHE:-$HOME/.cache/toolyard}"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONCURRENCY=(${CONCURRENCY:-1 32})
FASTMCP_VERSION=4.2.3
FASTMCP_WORKERS=${FASTMCP_WORKERS:-2}
log() { printf '[compare] %s\n' "$*" >&2; }

# ---- parts ----------------------------------------------------------------------------------
if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
    log "installing nginx (apt-get)"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >&2 ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >&2
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
VENV="$CACHE/venv-fastmcp-$FASTMCP_VERSION"
if [[ ! -x $VENV/bin/uvicorn ]] || ! "$VENV/bin/python" -c "import fastmcp, httpx, yaml" 2>/dev/null; then
    log "installing fastmcp==$FASTMCP_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "fastmcp==$FASTMCP_VERSION" uvicorn pyyaml httpx
fi
if [[ -z ${TOOLYARD_GATEWAY_BIN:-} || -z ${MCP_BENCH_BIN:-} ]]; then
    log "building the release gateway and mcp_bench"
    (cd "$ROOT" && cargo build --quiet --release -p toolyard-gateway --bin toolyard-gateway --example mcp_bench)
    TOOLYARD_GATEWAY_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/toolyard-gateway"
    MCP_BENCH_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/mcp_bench"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/toolyard-compare.XXXXXX")"
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
        sleep 0.2
    done
}
rss_mib() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
tree_rss_mib() { # pid: RSS of the process and its children
    local total=0 p
    for p in "$1" $(pgrep -P "$1" || true); do
        total=$((total + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
    done
    awk -v k="$total" 'BEGIN {printf "%.1f", k / 1024}'
}

# ---- the backend: nginx, one worker, fixed JSON ---------------------------------------------
NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
error_log $WORK/nginx/logs/error.log warn;
pid $WORK/nginx/nginx.pid;
events { worker_connections 4096; }
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
NGINX_PID=$!
wait_http "http://127.0.0.1:$NGINX_PORT/users/1" 20

# ---- Toolyard --------------------------------------------------------------------------------
gateway_config() { # dir target-name spec-file base-url
    mkdir -p "$1"
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
metadata: {name: $2}
spec:
  gatewayRef: {name: bench}
  openApi:
    baseUrl: $4
    schema: {configMapRef: {name: specs, key: spec}}
  timeout: 30s
---
apiVersion: v1
kind: ConfigMap
metadata: {name: specs}
data:
  spec: |
YAML
        sed 's/^/    /' "$3"
    } >"$1/gateway.yaml"
}
start_gateway() { # config-dir name → sets GW_PID GW_PORT
    GW_PORT=$(free_port)
    local admin
    admin=$(free_port)
    RUST_LOG=warn "$TOOLYARD_GATEWAY_BIN" --config "$1" --listen "127.0.0.1:$GW_PORT" \
        --admin-listen "127.0.0.1:$admin" >"$WORK/$2.log" 2>&1 &
    GW_PID=$!
    PIDS+=($GW_PID)
    wait_http "http://127.0.0.1:$admin/readyz" 120
}
gateway_config "$WORK/toolyard" users "$ROOT/bench/compare/users.yaml" "http://127.0.0.1:$NGINX_PORT"
start_gateway "$WORK/toolyard" toolyard
TY_PID=$GW_PID TY_PORT=$GW_PORT
TY_IDLE=$(rss_mib "$TY_PID")

# ---- FastMCP ---------------------------------------------------------------------------------
FM_PORT=$(free_port)
(cd "$ROOT/bench/compare" && BENCH_SPEC="$ROOT/bench/compare/users.yaml" \
    BENCH_BACKEND="http://127.0.0.1:$NGINX_PORT" FASTMCP_LOG_LEVEL=WARNING \
    exec "$VENV/bin/uvicorn" fastmcp_server:app --host 127.0.0.1 --port "$FM_PORT" \
    --workers "$FASTMCP_WORKERS" --log-level warning --no-access-log) >"$WORK/fastmcp.log" 2>&1 &
FM_PID=$!
PIDS+=($FM_PID)
wait_http "http://127.0.0.1:$FM_PORT/mcp" 60
sleep 2
FM_IDLE=$(tree_rss_mib "$FM_PID")
log "nginx :$NGINX_PORT, Toolyard :$TY_PORT (pid $TY_PID), FastMCP :$FM_PORT (pid $FM_PID), work dir $WORK"

# ---- rounds ----------------------------------------------------------------------------------
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
failed=0
run() { # label mode url pid tool [extra args]
    local label=$1 mode=$2 url=$3 pid=$4 tool=$5 c
    shift 5
    for c in "${CONCURRENCY[@]}"; do
        if ! "$MCP_BENCH_BIN" --label "$label" --mode "$mode" --url "$url" --pid "$pid" --tool "$tool" \
            --concurrency "$c" --duration "$DURATION" --warmup "$WARMUP" "$@" >>"$RESULTS"; then
            log "$label (c=$c) had failed requests: $(tail -n1 "$RESULTS")"
            failed=1
        fi
    done
}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 1; r <= ROUNDS; r++)); do
    log "round $r of $ROUNDS"
    run direct http "http://127.0.0.1:$NGINX_PORT/users/{i}" "$NGINX_PID" -
    run toolyard-stateless stateless "http://127.0.0.1:$TY_PORT/mcp" "$TY_PID" users___getUser
    run toolyard-session session "http://127.0.0.1:$TY_PORT/mcp" "$TY_PID" users___getUser
    run fastmcp session "http://127.0.0.1:$FM_PORT/mcp" "$FM_PID" getUser
done
TY_LOADED=$(rss_mib "$TY_PID")
FM_LOADED=$(tree_rss_mib "$FM_PID")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- a large real catalog: tools/list and RSS --------------------------------------------------
GITHUB_SPEC="$CACHE/real-specs/github-api.github.com.json"
LIST_LINE=""
if [[ -f $GITHUB_SPEC ]]; then
    gateway_config "$WORK/github" github "$GITHUB_SPEC" "http://127.0.0.1:$NGINX_PORT"
    start_gateway "$WORK/github" github
    GH_IDLE=$(rss_mib "$GW_PID")
    for mode in list list-bytes; do
        "$MCP_BENCH_BIN" --label "github-$mode" --mode "$mode" --url "http://127.0.0.1:$GW_PORT/mcp" \
            --pid "$GW_PID" --concurrency 1 --duration "$DURATION" --warmup "$WARMUP" >>"$RESULTS" || failed=1
    done
    GH_LOADED=$(rss_mib "$GW_PID")
    LIST_LINE="github $GH_IDLE $GH_LOADED"
else
    log "no $GITHUB_SPEC (run compile/tests/fixtures/openapi/fetch-real-specs.sh): tools/list of a large catalog not measured"
fi

# ---- table -----------------------------------------------------------------------------------
python3 - "$RESULTS" "$TY_IDLE" "$TY_LOADED" "$FM_IDLE" "$FM_LOADED" "$LOAD_BEFORE" "$LOAD_AFTER" \
    "$ROUNDS" "$DURATION" "$FASTMCP_VERSION" "$FASTMCP_WORKERS" "$LIST_LINE" <<'PY' | tee "$WORK/table.md"
import json, statistics, sys
from collections import defaultdict

(path, ty_idle, ty_loaded, fm_idle, fm_loaded, load_before, load_after, rounds, duration,
 fm_version, fm_workers, list_line) = sys.argv[1:]
runs = defaultdict(list)
for line in open(path):
    r = json.loads(line)
    runs[(r["label"], r["concurrency"])].append(r)

def med(label, c, key):
    vals = [r[key] for r in runs.get((label, c), []) if r.get(key) is not None]
    return statistics.median(vals) if vals else None

def us(v):
    return "n/a" if v is None else (f"{v / 1000:.2f} ms" if v >= 1000 else f"{v:.0f} µs")

def num(v, fmt="{:,.0f}"):
    return "n/a" if v is None else fmt.format(v)

cs = sorted({c for (_, c) in runs})
lo, hi = cs[0], cs[-1]
print(f"{rounds} interleaved rounds of {duration} s per system and concurrency, medians; "
      f"load average before {load_before}, after {load_after}.\n")
print(f"| | c={lo} p50 / p99 | added p50 over direct | c={hi} calls/s | CPU per call (c={hi}) | RSS idle → loaded |")
print("|---|---|---|---|---|---|")
rss = {"toolyard-stateless": (ty_idle, ty_loaded), "toolyard-session": (ty_idle, ty_loaded),
       "fastmcp": (fm_idle, fm_loaded)}
names = {"direct": "nginx, direct GET", "toolyard-stateless": "Toolyard, 2026-07-28 stateless",
         "toolyard-session": "Toolyard, 2025-06-18 session",
         "fastmcp": f"FastMCP {fm_version} ({fm_workers} workers, stateless HTTP, 2025-06-18)"}
direct_p50 = med("direct", lo, "p50_us")
for label in ["direct", "toolyard-stateless", "toolyard-session", "fastmcp"]:
    if not any(k[0] == label for k in runs):
        continue
    p50, p99 = med(label, lo, "p50_us"), med(label, lo, "p99_us")
    added = "—" if label == "direct" or p50 is None or direct_p50 is None else us(p50 - direct_p50)
    idle, loaded = rss.get(label, ("—", "—"))
    rss_cell = "—" if label == "direct" else f"{idle} → {loaded} MiB"
    print(f"| {names[label]} | {us(p50)} / {us(p99)} | {added} | {num(med(label, hi, 'calls_per_s'))} "
          f"| {us(med(label, hi, 'cpu_us_per_call'))} | {rss_cell} |")

def ratio(a, b, key, c):
    x, y = med(a, c, key), med(b, c, key)
    return "n/a" if not x or not y else f"{x / y:.2f}"
print()
print("Ratios (same run):")
print(f"- Toolyard stateless vs FastMCP: throughput ×{ratio('toolyard-stateless', 'fastmcp', 'calls_per_s', hi)}, "
      f"CPU per call ×{ratio('toolyard-stateless', 'fastmcp', 'cpu_us_per_call', hi)}, "
      f"c={lo} p50 ×{ratio('toolyard-stateless', 'fastmcp', 'p50_us', lo)}")
print(f"- Toolyard session vs stateless: c={lo} p50 ×{ratio('toolyard-session', 'toolyard-stateless', 'p50_us', lo)}, "
      f"throughput ×{ratio('toolyard-session', 'toolyard-stateless', 'calls_per_s', hi)}, "
      f"CPU per call ×{ratio('toolyard-session', 'toolyard-stateless', 'cpu_us_per_call', hi)}")
errors = sum(r["errors"] for rs in runs.values() for r in rs)
print(f"- failed requests over all runs: {errors}")
if list_line:
    _, idle, loaded = list_line.split()
    r = runs.get(("github-list", 1), [{}])[0]
    b = runs.get(("github-list-bytes", 1), [{}])[0]
    print(f"- `tools/list` of GitHub's REST API ({r.get('tools')} tools, {r.get('pages')} pages), whole listing, "
          f"stateless: p50 {us(r.get('p50_us'))}, p99 {us(r.get('p99_us'))} with every page parsed into a JSON tree; "
          f"p50 {us(b.get('p50_us'))}, p99 {us(b.get('p99_us'))} reading only the cursor; "
          f"gateway CPU per listing {us(b.get('cpu_us_per_call'))}; gateway RSS {idle} → {loaded} MiB")
PY
if [[ -n ${OUT:-} ]]; then
    {
        echo "## $(date -u +%Y-%m-%d) on $(nproc) cores ($(uname -r))"
        echo
        cat "$WORK/table.md"
        echo
    } >>"$OUT"
    log "appended to $OUT"
fi
log "raw results: $RESULTS"
exit $failed
