#!/usr/bin/env bash
# Sessions benchmark: 10,000 concurrent MCP sessions on one gateway process.
#
#   bash bench/sessions.sh              # 10,000 sessions; then 10,000 with their GET streams held
#   SESSIONS=2000 bash bench/sessions.sh
#
# Each run starts a fresh release gateway in front of the echo backend (bench/run-load.sh), opens
# the sessions (initialize + notifications/initialized + tools/list, 2025-06-18, signed session
# ids), measures the gateway's RSS before and after (memory per session), then calls
# echo___getItem at RATE calls/s for DURATION seconds spread over all sessions (latency p50/p99).
# Results go to bench/sessions-results.md by hand (the numbers depend on the machine).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SESSIONS=${SESSIONS:-10000}
RATE=${RATE:-200}
DURATION=${DURATION:-30}
cd "$ROOT"
cargo build --quiet --release -p toolyard-gateway --bin toolyard-gateway --example mcp_load
export TOOLYARD_GATEWAY_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/toolyard-gateway"
export MCP_LOAD_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/mcp_load"
echo "## $SESSIONS sessions, no GET streams"
bash bench/run-load.sh -- --sessions "$SESSIONS" --connect-concurrency 100 --rate "$RATE" --duration "$DURATION" --warmup-secs 0
echo
echo "## $SESSIONS sessions with their GET streams held open"
bash bench/run-load.sh -- --sessions "$SESSIONS" --connect-concurrency 100 --hold-streams --rate "$RATE" --duration "$DURATION" --warmup-secs 0
