# Real parts of the Lambda tests (sourced by tests/gateway/setup.sh): AWS's Lambda runtime
# interface client `awslambdaric` (runs the seed's handler against the Runtime API) and botocore
# (its SigV4 signer verifies every request the gateway signs), in their own venv.
AWSLAMBDARIC_VERSION=3.1.1
BOTOCORE_VERSION=1.42.97
AWS_PKGS=("awslambdaric==$AWSLAMBDARIC_VERSION" "botocore==$BOTOCORE_VERSION")
make_venv "$CACHE/venv-aws-lambda" "${AWS_PKGS[*]}" "${AWS_PKGS[@]}"
echo "  venv-aws-lambda: python $("$CACHE/venv-aws-lambda/bin/python" -c 'import platform; print(platform.python_version())') $(pyver "$CACHE/venv-aws-lambda" "awslambdaric botocore")"
echo "export TOOLYARD_PY_AWS=\"$CACHE/venv-aws-lambda/bin/python\"" >>"$CACHE/env.sh"
