#!/usr/bin/env bash
# The images of the real-node suite, as docker-archive tarballs in DIR, built the way a user builds
# them (charts/images.sh from the release binaries) plus the test backend and agent (charts/image.py
# around the static Go binaries of tests/cluster/build.sh --node):
#
#   tests/node/images.sh DIR BIN     # BIN: the directory build.sh printed
set -euo pipefail
OUT=${1:?usage: images.sh DIR BIN}
BIN=${2:?usage: images.sh DIR BIN}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p "$OUT"
bash "$ROOT/charts/images.sh" --no-build --out "$OUT"
# A second operator tag for `helm upgrade` (same binary; the tag is in the image config, so it is
# another image).
bash "$ROOT/charts/images.sh" --no-build --out "$OUT/upgrade" --tag 0.1.1
mv "$OUT/upgrade/toolyard-operator-0.1.1.tar" "$OUT/"
rm -rf "$OUT/upgrade"
python3 "$ROOT/charts/image.py" --binary "$BIN/go-httpbin" --path /usr/local/bin/go-httpbin \
  --tag localhost/go-httpbin:test --port 8080 --out "$OUT/go-httpbin.tar"
python3 "$ROOT/charts/image.py" --binary "$BIN/mcpagent" --path /usr/local/bin/mcpagent \
  --tag localhost/mcpagent:test --out "$OUT/mcpagent.tar"
