#!/usr/bin/env bash
# The gateway's end-to-end entry point: installs the real parts (setup.sh), builds the gateway
# (release), runs the pytest suite in tests/gateway and the MCP conformance run
# (tests/conformance/run.sh), and prints one line per suite:
#   suite gateway-e2e: N passed, M failed, K skipped
#   suite conformance: N passed, M failed
# Exit status is non-zero when anything failed.
#
#   tests/gateway/run.sh                  # everything
#   tests/gateway/run.sh -k echo -x       # extra arguments go to pytest
# Environment: TOOLYARD_GATEWAY_BIN (use this binary, skip the build), CARGO_TARGET_DIR,
# TOOLYARD_CACHE (install location, default ~/.cache/toolyard), SKIP_CONFORMANCE=1.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${TOOLYARD_CACHE:-$HOME/.cache/toolyard}"
export TOOLYARD_CACHE="$CACHE"

"$HERE/setup.sh" || { echo "suite gateway-e2e: 0 passed, 1 failed, 0 skipped"; echo "setup failed" >&2; exit 1; }

if [[ -z "${TOOLYARD_GATEWAY_BIN:-}" ]]; then
    echo "building toolyard-gateway (release)..."
    if ! (cd "$REPO" && cargo build -p toolyard-gateway --release 2>&1 | tail -n 3); then
        echo "suite gateway-e2e: 0 passed, 1 failed, 0 skipped"
        echo "cargo build failed" >&2
        exit 1
    fi
    TOOLYARD_GATEWAY_BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/toolyard-gateway"
    [[ -x "$TOOLYARD_GATEWAY_BIN" ]] || { echo "no binary at $TOOLYARD_GATEWAY_BIN after the build" >&2; exit 1; }
fi
export TOOLYARD_GATEWAY_BIN
echo "gateway binary: $TOOLYARD_GATEWAY_BIN"

REPORT="$(mktemp -d "${TMPDIR:-/tmp}/toolyard-gateway-e2e.XXXXXX")"
(cd "$HERE" && "$CACHE/venv-mcp1/bin/python" -m pytest -rfEsxX --junitxml="$REPORT/junit.xml" "$@")
pytest_rc=$?

summary="$("$CACHE/venv-mcp1/bin/python" - "$REPORT/junit.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print("0 0 0 1")
    sys.exit()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = f = e = s = 0
for suite in suites:
    t += int(suite.get("tests", 0)); f += int(suite.get("failures", 0))
    e += int(suite.get("errors", 0)); s += int(suite.get("skipped", 0))
print(t - f - e - s, f + e, s, 0)
PY
)"
read -r e2e_passed e2e_failed e2e_skipped no_report <<<"$summary"
if [[ "$no_report" == 1 || ( $pytest_rc -ne 0 && $e2e_failed -eq 0 ) ]]; then
    e2e_failed=$((e2e_failed + 1))   # pytest itself failed (collection error, no tests, ...)
fi

conformance_rc=0
conformance_line="suite conformance: skipped"
if [[ "${SKIP_CONFORMANCE:-}" != 1 ]]; then
    conformance_out="$("$REPO/tests/conformance/run.sh" 2>&1)"
    conformance_rc=$?
    grep -v "^suite conformance: " <<<"$conformance_out"
    conformance_line="$(grep -E '^suite conformance: ' <<<"$conformance_out" | tail -1)"
    [[ -n "$conformance_line" ]] || conformance_line="suite conformance: 0 passed, 1 failed"
fi

echo
echo "suite gateway-e2e: $e2e_passed passed, $e2e_failed failed, $e2e_skipped skipped"
echo "$conformance_line"
[[ $e2e_failed -eq 0 && $conformance_rc -eq 0 ]]
