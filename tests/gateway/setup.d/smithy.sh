# Real parts of the Smithy target tests (sourced by tests/gateway/setup.sh):
#   venv-moto/       moto's server mode (`moto_server`), the AWS backend the gateway calls
#   smithy-models/   real AWS service models (Smithy JSON AST) from Maven Central, group
#                    software.amazon.api.models: each jar holds META-INF/smithy/<model>.json
# Both pinned and stamped; a failed download fails the setup (a missing real part must fail tests).
MOTO_VERSION="5.2.5"
MOTO_PKGS=("moto[server]==$MOTO_VERSION")
make_venv "$CACHE/venv-moto" "${MOTO_PKGS[*]}" "${MOTO_PKGS[@]}"

# artifact:version of the models (only these are served by the registry mirror we can reach).
SMITHY_MODELS=(dynamodb:1.0.14 sqs:1.0.6)
SMITHY_DIR="$CACHE/smithy-models"
smithy_stamp="${SMITHY_MODELS[*]}"
if [[ ! -f "$SMITHY_DIR/.stamp" || "$(cat "$SMITHY_DIR/.stamp")" != "$smithy_stamp" ]]; then
    log "downloading Smithy models into $SMITHY_DIR"
    rm -rf "$SMITHY_DIR"
    mkdir -p "$SMITHY_DIR/jars"
    for m in "${SMITHY_MODELS[@]}"; do
        artifact="${m%%:*}" version="${m##*:}"
        jar="$SMITHY_DIR/jars/$artifact-$version.jar"
        curl -fsSL --retry 3 -o "$jar" \
            "https://repo1.maven.org/maven2/software/amazon/api/models/$artifact/$version/$artifact-$version.jar"
        # The model is the one .json under META-INF/smithy (the manifest lists it).
        member="$("$PYTHON" - "$jar" <<'PY'
import sys, zipfile
names = [n for n in zipfile.ZipFile(sys.argv[1]).namelist() if n.startswith("META-INF/smithy/") and n.endswith(".json")]
print(names[0] if len(names) == 1 else "")
PY
)"
        [[ -n "$member" ]] || { echo "setup: no single META-INF/smithy/*.json in $jar" >&2; exit 1; }
        "$PYTHON" - "$jar" "$member" "$SMITHY_DIR/$artifact.json" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[3], "wb") as out:
    out.write(z.read(sys.argv[2]))
PY
    done
    echo "$smithy_stamp" >"$SMITHY_DIR/.stamp"
fi
echo "  smithy: $(pyver "$CACHE/venv-moto" "moto flask werkzeug"), models ${SMITHY_MODELS[*]} in $SMITHY_DIR"
cat >>"$CACHE/env.sh" <<ENV
export TOOLYARD_MOTO_SERVER="$CACHE/venv-moto/bin/moto_server"
export TOOLYARD_SMITHY_MODELS="$SMITHY_DIR"
ENV
