#!/usr/bin/env bash
# Soak: a sustained rate of tool calls through one release gateway process to the echo backend
# (bench/run-load.sh, gateway/examples/mcp_load.rs), with RSS sampled every 10 s.
#
#   bash tests/soak/soak.sh                     # 600 s at 200 calls/s over 50 sessions
#   SOAK_SECONDS=60 bash tests/soak/soak.sh     # shorter
#
# Environment: SOAK_SECONDS (default 600), SOAK_RATE (calls/s, default 200), SOAK_SESSIONS
# (default 50), SOAK_MAX_RSS_GROWTH_PCT (default 50: RSS may not grow more than this over the
# first sample after warm-up, the first fifth of the run or 60 s, whichever is shorter).
# Checks (each printed as `check <name>: ok|FAIL …`): the sessions open without error, every call
# succeeds (no transport error, no JSON-RPC error, no `isError` result), RSS stays within the bound.
# Ends with `suite soak: <passed> passed, <failed> failed`; exits non-zero when a check failed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SECONDS_TOTAL=${SOAK_SECONDS:-600}
RATE=${SOAK_RATE:-200}
SESSIONS=${SOAK_SESSIONS:-50}
GROWTH=${SOAK_MAX_RSS_GROWTH_PCT:-50}
WARMUP=$((SECONDS_TOTAL / 5 < 60 ? SECONDS_TOTAL / 5 : 60))
LOG="$(mktemp "${TMPDIR:-/tmp}/toolyard-soak.XXXXXX")"

echo "soak: ${SECONDS_TOTAL}s at ${RATE} calls/s over ${SESSIONS} sessions (warm-up ${WARMUP}s, RSS bound +${GROWTH}%)"
bash "$ROOT/bench/run-load.sh" -- --sessions "$SESSIONS" --rate "$RATE" --duration "$SECONDS_TOTAL" \
    --sample-every 10 --warmup-secs "$WARMUP" --max-rss-growth-pct "$GROWTH" 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
passed=$(grep -c '^check [a-z_-]*: ok' "$LOG")
failed=$(grep -c '^check [a-z_-]*: FAIL' "$LOG")
# Three checks are expected; a run that stopped early (build or setup failure) is a failure.
if ((passed + failed < 3)); then
    failed=$((failed + 3 - passed - failed))
fi
if ((rc != 0 && failed == 0)); then
    failed=1
fi
echo "suite soak: $passed passed, $failed failed"
((failed == 0))
