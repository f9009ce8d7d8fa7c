#!/usr/bin/env bash
# Bounded coverage-guided fuzzing of every target in fuzz/ (cargo-fuzz + libFuzzer on the stable
# toolchain), the `fuzz` suite of tests/run.sh:
#
#   bash fuzz/run.sh                    # every target, FUZZ_SECONDS (default 60) each
#   FUZZ_SECONDS=600 bash fuzz/run.sh jwt_verify mcp_request
#
# Installs cargo-fuzz itself (pinned, cached under $HOME/.cache/toolyard-fuzz/cargo-fuzz-<version>),
# builds the targets with `--sanitizer none` (AddressSanitizer needs a nightly toolchain; safe
# Rust needs it least) and RUSTC_BOOTSTRAP=1 (cargo-fuzz passes a few -Z flags), then runs each
# target from its committed seeds (fuzz/seeds/<target>) plus a growing corpus cached under
# $TOOLYARD_FUZZ_CORPUS (default $HOME/.cache/toolyard-fuzz/corpus/<target>).
#
# A target passes when it ran its whole time without a crash, a panic, a timeout (-timeout,
# default 30 s per input) or running out of memory; crash inputs are written to
# $FUZZ_ARTIFACTS/<target>/ (default: a temporary directory) and named in the output. Ends with
# `suite fuzz: <passed> passed, <failed> failed`.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CARGO_FUZZ_VERSION=0.13.1
CACHE=$HOME/.cache/toolyard-fuzz
TOOL_DIR=$CACHE/cargo-fuzz-$CARGO_FUZZ_VERSION
CORPUS=${TOOLYARD_FUZZ_CORPUS:-$CACHE/corpus}
ARTIFACTS=${FUZZ_ARTIFACTS:-$(mktemp -d "${TMPDIR:-/tmp}/toolyard-fuzz.XXXXXX")}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
INPUT_TIMEOUT=${FUZZ_INPUT_TIMEOUT:-30}
ALL_TARGETS=(openapi_compile smithy_compile jwt_verify mcp_request)
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=("${ALL_TARGETS[@]}")

log() { printf '[fuzz] %s\n' "$*"; }
fail_all() {
  log "$1"
  echo "suite fuzz: 0 passed, ${#TARGETS[@]} failed"
  exit 1
}

if ! command -v c++ >/dev/null && ! command -v g++ >/dev/null && ! command -v clang++ >/dev/null; then
  fail_all "no C++ compiler (libfuzzer-sys builds libFuzzer from C++): install g++ or clang"
fi
if [[ ! -x $TOOL_DIR/bin/cargo-fuzz ]]; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION into $TOOL_DIR"
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" --root "$TOOL_DIR" ||
    fail_all "cargo install cargo-fuzz $CARGO_FUZZ_VERSION failed"
fi
export PATH=$TOOL_DIR/bin:$PATH
export RUSTC_BOOTSTRAP=1
log "cargo-fuzz: $(cargo fuzz --version)"

cd "$HERE" || exit 1
log "building ${TARGETS[*]} (release, debug assertions, sanitizer none)"
for t in "${TARGETS[@]}"; do
  cargo fuzz build --sanitizer none "$t" || fail_all "building fuzz target $t failed"
done

passed=0
failed=0
for t in "${TARGETS[@]}"; do
  mkdir -p "$CORPUS/$t" "$ARTIFACTS/$t"
  out=$ARTIFACTS/$t.log
  log "running $t for ${SECONDS_PER_TARGET}s (corpus $CORPUS/$t, seeds fuzz/seeds/$t)"
  cargo fuzz run --sanitizer none "$t" "$CORPUS/$t" "seeds/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout="$INPUT_TIMEOUT" -rss_limit_mb=3072 \
    -artifact_prefix="$ARTIFACTS/$t/" -print_final_stats=1 >"$out" 2>&1
  rc=$?
  runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$out" | tail -n1)
  rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$out" | tail -n1)
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$out" | tail -n1)
  crashes=$(find "$ARTIFACTS/$t" -type f | head -n 5)
  if ((rc == 0)) && [[ -z $crashes && -n $runs ]]; then
    log "PASS $t: ${runs} runs, ${rate} exec/s, ${cov}"
    passed=$((passed + 1))
  else
    log "FAIL $t (exit status $rc): ${runs:-0} runs; log $out"
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written' "$out" | head -n 8 | sed 's/^/[fuzz]   /'
    for c in $crashes; do log "  crash input: $c (reproduce: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none $t $c)"; done
    failed=$((failed + 1))
  fi
done
echo "suite fuzz: $passed passed, $failed failed"
((failed == 0))
