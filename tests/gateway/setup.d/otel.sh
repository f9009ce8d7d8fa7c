# Real parts of the tracing tests (sourced by tests/gateway/setup.sh):
#   venv-otel/   the official OTLP protobuf bindings (opentelemetry-proto + protobuf), used by
#                tests/gateway/otlp_receiver.py to decode the ExportTraceServiceRequests the
#                gateway sends over OTLP/HTTP.
OTEL_PROTO_VERSION="1.45.2"
OTEL_PKGS=("opentelemetry-proto==$OTEL_PROTO_VERSION")
make_venv "$CACHE/venv-otel" "${OTEL_PKGS[*]}" "${OTEL_PKGS[@]}"
echo "  otel: $(pyver "$CACHE/venv-otel" "opentelemetry-proto protobuf")"
cat >>"$CACHE/env.sh" <<ENV
export TOOLYARD_PY_OTEL="$CACHE/venv-otel/bin/python"
ENV
