#!/usr/bin/env bash
# The real-node suite: a user's first hour with Toolyard, on a single-node cluster that runs pods
# (tests/cluster/node.sh). Run by `bash tests/run.sh node`, which builds the images and calls
#
#   tests/cluster/node.sh run -- bash tests/node/suite.sh IMAGES_DIR
#
# IMAGES_DIR holds docker-archive tarballs: toolyard-operator-0.1.0.tar, toolyard-operator-0.1.1.tar
# (the same binary under a new tag, for `helm upgrade`), toolyard-gateway-0.1.0.tar, go-httpbin.tar,
# mcpagent.tar. Each test prints `PASS name` or `FAIL name: why`; the last line is
# `suite node: N passed, M failed`. Measurements (propagation p50/p95, churn counts) are printed,
# never asserted against a time.
#
# Environment: NODE_PROPAGATION_CHANGES (default 20), NODE_CHURN_SECONDS (default 60).
set -uo pipefail

IMAGES=${1:?usage: suite.sh IMAGES_DIR}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NS=agents
OPNS=toolyard-system
GW=tools
SVC_URL=http://$GW.$NS.svc.cluster.local/mcp
PASSED=0
FAILED=0
CHANGES=${NODE_PROPAGATION_CHANGES:-20}
CHURN=${NODE_CHURN_SECONDS:-60}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/toolyard-node-suite.XXXXXX")
# Background helpers (OIDC provider, port-forward) record their PIDs here; killed at exit.
trap 'while read -r p; do kill "$p" 2>/dev/null; done <"$WORK/bg.pids"; rm -rf "$WORK"' EXIT
: >"$WORK/bg.pids"
bg() { echo "$1" >>"$WORK/bg.pids"; }

say() { echo "node-suite: $*" >&2; }
pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }

# check NAME CMD…: runs the test function CMD in a subshell (`oops` ends it); the failure message is
# its last line on stderr.
check() {
  local name=$1; shift
  say "--- $name"
  if ("$@") 2>"$WORK/err"; then
    cat "$WORK/err" >&2
    pass "$name"
  else
    cat "$WORK/err" >&2
    fail "$name" "$(tail -n1 "$WORK/err")"
  fi
}
oops() { echo "$*" >&2; exit 1; }

# waituntil SECONDS CMD…: polls CMD every 0.2 s.
waituntil() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

now_ns() { date +%s%N; }
agent() { kubectl exec -n "$NS" agent -- /usr/local/bin/mcpagent -url "$SVC_URL" "$@"; }
cond() { kubectl get gateway "$GW" -n "$NS" -o jsonpath="{.status.conditions[?(@.type==\"$1\")].status}"; }
ready_gw_pods() {
  kubectl get pods -n "$NS" -l "app.kubernetes.io/name=toolyard-gateway,app.kubernetes.io/instance=$GW" \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True
}

# ---- setup ------------------------------------------------------------------------------------

setup_images() {
  say "importing images"
  bash "$ROOT/tests/cluster/node.sh" import "$IMAGES"/*.tar
}

# The real OpenID provider of the gateway tests, on the node address (gateway pods reach its JWKS
# there; the Strands client on the host side of the namespace gets its token there).
setup_oidc() {
  # shellcheck disable=SC1091
  source "${TOOLYARD_CACHE:-$HOME/.cache/toolyard}/env.sh"
  OIDC_PORT=18443
  cat >"$WORK/oidc.json" <<JSON
{"port": $OIDC_PORT, "host": "$NODE_IP", "keysFile": "$WORK/oidc-keys.json", "ttl": 600,
 "clients": [{"client_id": "agent", "client_secret": "agent-secret",
              "token_endpoint_auth_method": "client_secret_basic", "scope": "tools:call"}],
 "scopes": ["tools:call"]}
JSON
  TOOLYARD_OIDC_MODULES=$TOOLYARD_OIDC_MODULES "$TOOLYARD_NODE22" "$ROOT/tests/gateway/oidc/provider.mjs" \
    "$WORK/oidc.json" >"$WORK/oidc.log" 2>&1 &
  bg $!
  OIDC=http://$NODE_IP:$OIDC_PORT
  waituntil 30 curl -sf "$OIDC/.well-known/openid-configuration" || { cat "$WORK/oidc.log" >&2; return 1; }
}

# ---- tests ------------------------------------------------------------------------------------

# `docker load` is not available here (no Docker engine); podman's loader reads the same
# docker-archive format, so it stands in: both product images load, carry the Dockerfiles' user,
# entrypoint, CMD and ports, and hold the release binary byte for byte.
t_images_load_like_docker() {
  local store=$WORK/podman rel=${CARGO_TARGET_DIR:-$ROOT/target}/release tag
  tag=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$ROOT/charts/toolyard/Chart.yaml")
  local podman=(podman --root "$store/root" --runroot "$store/run" --storage-driver vfs)
  local name image want got
  for name in toolyard-operator toolyard-gateway; do
    image=ghcr.io/toolyard/$name:$tag
    "${podman[@]}" load -i "$IMAGES/$name-$tag.tar" >&2 || oops "podman load rejected $name-$tag.tar"
    got=$("${podman[@]}" image inspect "$image" --format '{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.ExposedPorts}}')
    case $name in
      toolyard-operator) want='65532:65532 ["/usr/local/bin/toolyard-operator"] {"8081/tcp":{}}' ;;
      toolyard-gateway) want='65532:65532 ["/usr/local/bin/toolyard-gateway"] {"8080/tcp":{},"9090/tcp":{}}' ;;
    esac
    [[ $got == "$want" ]] || oops "$image config: got '$got', want '$want' (the Dockerfile's)"
    "${podman[@]}" create --name "load-$name" "$image" >/dev/null || oops "podman create $image failed"
    mkdir -p "$WORK/fs-$name"
    "${podman[@]}" export "load-$name" | tar -x -C "$WORK/fs-$name" "usr/local/bin/$name" ||
      oops "$image has no /usr/local/bin/$name"
    cmp -s "$WORK/fs-$name/usr/local/bin/$name" "$rel/$name" || oops "$image holds another binary than $rel/$name"
    say "$image: loaded by podman, $got"
  done
  [[ $("${podman[@]}" image inspect ghcr.io/toolyard/toolyard-gateway:"$tag" --format '{{json .Config.Cmd}}') == \
    '["--config","/etc/toolyard","--listen","0.0.0.0:8080","--admin-listen","0.0.0.0:9090"]' ]] ||
    oops "the gateway image's CMD differs from gateway/Dockerfile's"
  "${podman[@]}" rm -a >/dev/null 2>&1
  "${podman[@]}" rmi -a >/dev/null 2>&1
  true
}

t_helm_install() {
  helm install toolyard "$ROOT/charts/toolyard" -n "$OPNS" --create-namespace --wait --timeout 180s \
    --set gatewayImage.pullPolicy=IfNotPresent >&2 || oops "helm install failed"
  local pod holder
  pod=$(kubectl get pods -n "$OPNS" -l app.kubernetes.io/name=toolyard-operator -o jsonpath='{.items[0].metadata.name}')
  kubectl wait -n "$OPNS" --for=condition=Ready "pod/$pod" --timeout=120s >&2 || oops "operator pod $pod not Ready"
  waituntil 60 bash -c "[[ \$(kubectl get lease -n $OPNS toolyard-operator -o jsonpath='{.spec.holderIdentity}') == $pod ]]" ||
    oops "operator pod $pod does not hold the Lease"
  holder=$(kubectl get lease -n "$OPNS" toolyard-operator -o jsonpath='{.spec.holderIdentity}')
  say "operator $pod Ready, Lease held by $holder"
}

apply_backend_and_gateway() {
  kubectl create namespace "$NS" >/dev/null 2>&1 || true
  sed "s/namespace: default/namespace: $NS/; s#docker.io/mccutchen/go-httpbin:v2.15.0#localhost/go-httpbin:test#" \
    "$ROOT/examples/in-cluster/00-httpbin.yaml" | kubectl apply -f - >&2
  kubectl apply -f - >&2 <<YAML
apiVersion: v1
kind: Secret
metadata: {name: httpbin-key, namespace: $NS}
stringData: {key: first-key}
---
apiVersion: v1
kind: Secret
metadata: {name: not-for-gateways, namespace: $NS}
stringData: {password: do-not-read}
---
apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata: {name: $GW, namespace: $NS}
spec:
  inboundAuth: {none: {}}
  deployment: {replicas: 2}
  security: {allowedDomains: [httpbin.$NS.svc.cluster.local]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: httpbin-api, namespace: $NS}
data:
  openapi.yaml: |
$(sed 's/^/    /' "$WORK/spec-0.yaml")
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {name: httpbin, namespace: $NS}
spec:
  gatewayRef: {name: $GW}
  openApi:
    baseUrl: http://httpbin.$NS.svc.cluster.local:8080
    schema: {configMapRef: {name: httpbin-api, key: openapi.yaml}}
  credentials:
    apiKey: {secretRef: {name: httpbin-key, key: key}, parameterName: X-Api-Key}
  timeout: 5s
YAML
}

# spec N: the httpbin OpenAPI document with N extra operations (extraK: GET /anything/extraK).
spec() {
  local n=$1 k
  cat <<'YAML'
openapi: 3.0.3
info: {title: httpbin, version: "1"}
paths:
  /uuid:
    get:
      operationId: getUuid
      summary: A new random UUID
      responses: {"200": {description: A UUID}}
  /headers:
    get:
      operationId: getHeaders
      summary: The request headers as httpbin saw them
      responses: {"200": {description: The headers}}
  /anything/users/{userId}:
    get:
      operationId: getUser
      summary: A user by id (httpbin echoes the request)
      parameters: [{name: userId, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: The echoed request}}
YAML
  for ((k = 1; k <= n; k++)); do
    printf '  /anything/extra%d:\n    get:\n      operationId: extra%d\n      responses: {"200": {description: ok}}\n' "$k" "$k"
  done
}

t_gateway_programmed() {
  spec 0 >"$WORK/spec-0.yaml"
  apply_backend_and_gateway
  # Watch the Gateway from the moment it exists: when Programmed first turns True, at least one
  # gateway pod must be Ready (issue 14, defect 1).
  local deadline=$((SECONDS + 180)) ready
  until [[ $(cond Programmed) == True ]]; do
    ((SECONDS < deadline)) || oops "Gateway not Programmed after 180s: $(kubectl get gateway "$GW" -n "$NS" -o jsonpath='{.status.conditions}')"
    sleep 0.1
  done
  ready=$(ready_gw_pods)
  say "Programmed with $ready Ready gateway pod(s)"
  ((ready >= 1)) || oops "Programmed=True while no gateway pod is Ready"
  kubectl rollout status -n "$NS" "deployment/$GW" --timeout=120s >&2 || oops "gateway Deployment did not roll out"
  kubectl rollout status -n "$NS" deployment/httpbin --timeout=120s >&2 || oops "httpbin did not roll out"
  # The rendered pod as the kubelet runs it.
  local pod; pod=$(kubectl get pods -n "$NS" -l "app.kubernetes.io/name=toolyard-gateway,app.kubernetes.io/instance=$GW" -o jsonpath='{.items[0].metadata.name}')
  kubectl get pod -n "$NS" "$pod" -o json >"$WORK/gwpod.json"
  python3 - "$WORK/gwpod.json" "$GW" <<'PY' || oops "gateway pod spec is not as rendered (see above)"
import json, sys
p = json.load(open(sys.argv[1])); gw = sys.argv[2]
s = p["spec"]; c = s["containers"][0]; sc = c.get("securityContext", {})
problems = []
if s.get("serviceAccountName") != f"{gw}-toolyard": problems.append(f"serviceAccountName {s.get('serviceAccountName')}")
if not (s.get("securityContext", {}).get("runAsNonRoot") or sc.get("runAsNonRoot")): problems.append("runAsNonRoot unset")
if not sc.get("readOnlyRootFilesystem"): problems.append("readOnlyRootFilesystem unset")
if sc.get("allowPrivilegeEscalation") is not False: problems.append("allowPrivilegeEscalation not false")
for probe in ("readinessProbe", "livenessProbe"):
    if probe not in c: problems.append(f"no {probe}")
if not all(st.get("ready") for st in p["status"].get("containerStatuses", [])): problems.append("container not ready")
print("gateway pod:", c["image"], "user", p["status"].get("containerStatuses", [{}])[0].get("imageID", "?"), file=sys.stderr)
if problems:
    print("; ".join(problems), file=sys.stderr); sys.exit(1)
PY
}

start_agent_pod() {
  kubectl apply -f - >&2 <<YAML
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: $NS}
spec:
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: agent
      image: localhost/mcpagent:test
      imagePullPolicy: Never
      # 2025-06-18: at 2026-07-28 the Go SDK serves tools/list from its own cache for the result's
      # ttlMs (SEP-2549; the gateway says 5 s), which would measure the TTL, not the propagation.
      args: ["-url", "$SVC_URL", "-protocol", "2025-06-18", "-interval", "20ms", "watch"]
      securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
YAML
  kubectl wait -n "$NS" --for=condition=Ready pod/agent --timeout=120s >&2
}

# first_call_through_service URL: waits until the agent pod's first list through a gateway's
# Service succeeds. The Deployment has rolled out, so the Service has ready endpoints, but
# kube-proxy may still be writing its rules (the ClusterIP refuses connections until then).
# The refused attempts are counted and reported, not hidden; 30 s of them fail the test.
first_call_through_service() {
  local url=$1 out refused=0 t0=$SECONDS
  until out=$(agent -url "$url" -protocol 2025-06-18 list 2>&1); do
    refused=$((refused + 1))
    ((SECONDS - t0 < 30)) || oops "the gateway Service $url refused calls for 30s: $out"
    sleep 0.5
  done
  say "first call through $url: $refused failed attempt(s) before it, $((SECONDS - t0))s after the rollout"
}

t_agent_both_eras() {
  start_agent_pod || oops "agent pod did not start"
  local era out
  first_call_through_service "$SVC_URL"
  for era in 2025-06-18 2026-07-28; do
    out=$(agent -protocol "$era" list) || oops "list at $era failed: $out"
    say "$era: $(head -1 <<<"$out")"
    grep -qx 'httpbin___getUuid' <<<"$out" || oops "list at $era lacks httpbin___getUuid: $out"
    out=$(agent -protocol "$era" call httpbin___getUuid) || oops "call at $era failed: $out"
    grep -q '"uuid"' <<<"$out" || oops "call at $era: no uuid in $out"
  done
}

# extras_target N: a GatewayTarget `extras` whose inline OpenAPI document has N operations
# extraK (GET /anything/extraK on httpbin) besides getUuid.
extras_target() {
  local n=$1 k
  cat <<YAML
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {name: extras, namespace: $NS}
spec:
  gatewayRef: {name: $GW}
  openApi:
    baseUrl: http://httpbin.$NS.svc.cluster.local:8080
    schema:
      inline: |
        openapi: 3.0.3
        info: {title: extras, version: "$n"}
        paths:
          /uuid:
            get:
              operationId: getUuid
              responses: {"200": {description: ok}}
YAML
  for ((k = 1; k <= n; k++)); do
    printf '          /anything/extra%d:\n            get:\n              operationId: extra%d\n              responses: {"200": {description: ok}}\n' "$k" "$k"
  done
}

# CHANGES changes of a GatewayTarget by `kubectl apply`, each adding one operation; the time from
# `kubectl apply` returning until the agent pod's watcher (tools/list every 20 ms at 2026-07-28,
# on the node's clock, which the test shares) first sees the new tool.
t_propagation() {
  local i t0 seen ms all=()
  extras_target 0 | kubectl apply -f - >/dev/null || oops "kubectl apply of the extras target failed"
  waituntil 60 bash -c "kubectl logs -n $NS agent | grep -q 'extras___getUuid'" || oops "the agent never saw extras___getUuid"
  for ((i = 1; i <= CHANGES; i++)); do
    extras_target "$i" | kubectl apply -f - >/dev/null || oops "kubectl apply of change $i failed"
    t0=$(now_ns)
    waituntil 30 bash -c "kubectl logs -n $NS agent | grep -q '^seen extras___extra$i '" ||
      oops "change $i: the agent did not see extras___extra$i within 30s"
    seen=$(kubectl logs -n "$NS" agent | awk -v t="extras___extra$i" '$1 == "seen" && $2 == t { print $3; exit }')
    ms=$(((seen - t0) / 1000000))
    all+=("$ms")
  done
  printf '%s\n' "${all[@]}" | sort -n >"$WORK/prop"
  local n p50 p95
  n=$(wc -l <"$WORK/prop")
  p50=$(sed -n "$(((n + 1) / 2))p" "$WORK/prop")
  p95=$(sed -n "$(((n * 95 + 99) / 100))p" "$WORK/prop")
  echo "propagation: $n GatewayTarget changes, p50 ${p50} ms, p95 ${p95} ms, max $(tail -1 "$WORK/prop") ms (kubectl apply returned -> agent pod saw the tool)"
}

# Bounded call loops in the agent pod at both eras while the gateway Deployment is restarted and a
# replica is deleted: every call must succeed (issue 14, defect 2).
t_churn() {
  local era pids=() rc=0 pod
  for era in 2025-06-18 2026-07-28; do
    agent -protocol "$era" -duration "${CHURN}s" -interval 20ms loop httpbin___getUuid >"$WORK/loop-$era" 2>&1 &
    pids+=($!)
  done
  sleep 5
  kubectl rollout restart -n "$NS" "deployment/$GW" >&2
  kubectl rollout status -n "$NS" "deployment/$GW" --timeout=120s >&2
  sleep 3
  pod=$(kubectl get pods -n "$NS" -l "app.kubernetes.io/name=toolyard-gateway,app.kubernetes.io/instance=$GW" -o jsonpath='{.items[0].metadata.name}')
  kubectl delete pod -n "$NS" "$pod" --wait=true >&2
  kubectl rollout status -n "$NS" "deployment/$GW" --timeout=120s >&2
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  for era in 2025-06-18 2026-07-28; do
    echo "churn $era: $(grep '^loop ' "$WORK/loop-$era" || echo 'no summary')"
    grep '^failed call' "$WORK/loop-$era" | head -5 >&2
  done
  ((rc == 0)) || oops "calls failed through rollout restart + pod delete: $(grep -h '^loop ' "$WORK"/loop-* | tr '\n' ' ')"
}

gw_pod_uids() {
  kubectl get pods -n "$NS" -l "app.kubernetes.io/name=toolyard-gateway,app.kubernetes.io/instance=$GW" \
    -o jsonpath='{range .items[*]}{.metadata.uid}:{.status.containerStatuses[0].restartCount}{"\n"}{end}' | sort
}

t_secret_rotation() {
  local before out
  before=$(gw_pod_uids)
  out=$(agent call httpbin___getHeaders) || oops "getHeaders failed: $out"
  grep -q 'first-key' <<<"$out" || oops "the backend did not get the first key: $out"
  kubectl create secret generic httpbin-key -n "$NS" --from-literal=key=rotated-key --dry-run=client -o yaml |
    kubectl apply -f - >&2
  local t0=$SECONDS
  # Each call may land on either replica: both must have the new key.
  waituntil 60 bash -c "for i in 1 2 3 4 5 6; do kubectl exec -n $NS agent -- /usr/local/bin/mcpagent -url $SVC_URL call httpbin___getHeaders | grep -q rotated-key || exit 1; done" ||
    oops "the rotated key did not reach the gateway pods within 60s"
  say "rotated key served after $((SECONDS - t0))s"
  [[ $(gw_pod_uids) == "$before" ]] || oops "gateway pods were restarted or replaced by the rotation"
}

# The gateway's Role names only its own ConfigMaps and Secret: with the pod's own mounted token
# (read from the kubelet's volume on the node), reading another Secret of the namespace is denied.
t_secret_unreadable() {
  local pod uid tok code apiserver
  pod=$(kubectl get pods -n "$NS" -l "app.kubernetes.io/name=toolyard-gateway,app.kubernetes.io/instance=$GW" -o jsonpath='{.items[0].metadata.name}')
  uid=$(kubectl get pod -n "$NS" "$pod" -o jsonpath='{.metadata.uid}')
  tok=$(cat "$TESTNODE_DIR"/kubelet/pods/"$uid"/volumes/kubernetes.io~projected/*/token 2>/dev/null | head -1)
  [[ -n $tok ]] || oops "no projected ServiceAccount token mounted in gateway pod $pod"
  apiserver=https://10.0.0.1:443
  code=$(curl -s -o "$WORK/own" -w '%{http_code}' --cacert "$TESTNODE_DIR/pki/ca.crt" -H "Authorization: Bearer $tok" \
    "$apiserver/api/v1/namespaces/$NS/secrets/$GW-toolyard-credentials")
  [[ $code == 200 ]] || oops "the pod's token cannot read its own credentials Secret (HTTP $code)"
  code=$(curl -s -o "$WORK/other" -w '%{http_code}' --cacert "$TESTNODE_DIR/pki/ca.crt" -H "Authorization: Bearer $tok" \
    "$apiserver/api/v1/namespaces/$NS/secrets/not-for-gateways")
  [[ $code == 403 ]] || oops "reading another Secret with the gateway pod's token gave HTTP $code, not 403"
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TESTNODE_DIR/pki/ca.crt" -H "Authorization: Bearer $tok" \
    "$apiserver/api/v1/namespaces/$NS/secrets")
  [[ $code == 403 ]] || oops "listing Secrets with the gateway pod's token gave HTTP $code, not 403"
  ! grep -q do-not-read "$WORK/other" || oops "the other Secret's value came back"
}

# The seed's Strands client code, unmodified, from the host side through `kubectl port-forward`,
# against a second Gateway with JWT inbound auth from the real OIDC provider.
t_strands_jwt() {
  setup_oidc || oops "the OIDC provider did not start"
  kubectl apply -f - >&2 <<YAML
apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata: {name: secured, namespace: $NS}
spec:
  inboundAuth:
    jwt:
      discoveryUrl: $OIDC/.well-known/openid-configuration
      allowedClients: [agent]
  deployment: {replicas: 1}
  security: {allowedDomains: [httpbin.$NS.svc.cluster.local]}
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {name: users, namespace: $NS}
spec:
  gatewayRef: {name: secured}
  openApi:
    baseUrl: http://httpbin.$NS.svc.cluster.local:8080
    schema: {configMapRef: {name: httpbin-api, key: openapi.yaml}}
YAML
  kubectl wait -n "$NS" --for=condition=Programmed gateway/secured --timeout=180s >&2 || oops "Gateway secured not Programmed"
  kubectl rollout status -n "$NS" deployment/secured --timeout=120s >&2 || oops "secured did not roll out"
  kubectl port-forward -n "$NS" svc/secured 18080:80 >"$WORK/pf.log" 2>&1 &
  bg $!
  waituntil 30 bash -c "curl -s -o /dev/null http://127.0.0.1:18080/mcp" || oops "port-forward did not start: $(cat "$WORK/pf.log")"
  local token code out
  token=$(curl -sf -u agent:agent-secret -d grant_type=client_credentials -d scope=tools:call \
    -d resource=http://secured.$NS.svc.cluster.local/mcp "$OIDC/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') ||
    oops "no token from the OIDC provider"
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -d '{}' http://127.0.0.1:18080/mcp)
  [[ $code == 401 ]] || oops "a call without a token gave HTTP $code, not 401"
  out=$(GATEWAY_URL=http://127.0.0.1:18080/mcp TARGET_NAME=users GATEWAY_TOKEN=$token \
    timeout 120 "$TOOLYARD_PY_MCP1" "$ROOT/tests/gateway/clients/strands_seed.py" 2>&1) || oops "seed client failed: $out"
  echo "$out" >&2
  grep -q "users___getUser" <<<"$out" || oops "the seed client did not list users___getUser"
  grep -q 'Tool Call status: success' <<<"$out" || oops "the seed client's call did not succeed"
  grep -q '/anything/users/123' <<<"$out" || oops "the call did not reach httpbin with userId 123"
}

# Semantic search by default in a cluster (issue 18): a Gateway with `search: {type: Semantic}` and
# no `embedding` gets the model the gateway image carries; its pod swaps the hybrid index in
# (/readyz) and a query that shares no word with the tool's text still finds it first.
t_semantic_search_bundled_model() {
  kubectl apply -f - >&2 <<YAML
apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata: {name: semantic, namespace: $NS}
spec:
  inboundAuth: {none: {}}
  search: {type: Semantic}
  deployment: {replicas: 1}
  security: {allowedDomains: [httpbin.$NS.svc.cluster.local]}
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {name: uuids, namespace: $NS}
spec:
  gatewayRef: {name: semantic}
  openApi:
    baseUrl: http://httpbin.$NS.svc.cluster.local:8080
    schema: {configMapRef: {name: httpbin-api, key: openapi.yaml}}
YAML
  kubectl wait -n "$NS" --for=condition=Programmed gateway/semantic --timeout=180s >&2 || oops "Gateway semantic not Programmed"
  kubectl rollout status -n "$NS" deployment/semantic --timeout=120s >&2 || oops "semantic did not roll out"
  kubectl port-forward -n "$NS" deployment/semantic 19090:9090 >"$WORK/pf-admin.log" 2>&1 &
  bg $!
  waituntil 30 bash -c "curl -s -o /dev/null http://127.0.0.1:19090/readyz" || oops "port-forward did not start: $(cat "$WORK/pf-admin.log")"
  local t0=$SECONDS out first
  waituntil 300 bash -c "curl -s http://127.0.0.1:19090/readyz | grep -q '\"index\":\"hybrid\"'" ||
    oops "no hybrid index after 300s: $(curl -s http://127.0.0.1:19090/readyz)"
  say "semantic: hybrid index served $((SECONDS - t0))s after the rollout"
  first_call_through_service "http://semantic.$NS.svc.cluster.local/mcp"
  out=$(agent -url "http://semantic.$NS.svc.cluster.local/mcp" call x_amz_bedrock_agentcore_search \
    '{"query": "generate a unique identifier"}' 2>"$WORK/search.err") || oops "search call failed: $out $(cat "$WORK/search.err")"
  first=$(python3 -c 'import json,sys; t=json.loads(sys.stdin.read())["tools"]; print(t[0]["name"] if t else "")' <<<"$out") ||
    oops "search result is not the expected JSON: $out"
  [[ $first == uuids___getUuid ]] || oops "the first hit for a paraphrase is '$first', not uuids___getUuid: $out"
  kubectl delete gatewaytarget -n "$NS" uuids --wait=false >&2
  kubectl delete gateway -n "$NS" semantic --wait=false >&2
}

# A gateway pod that cannot start shows up in the Gateway's status with the reason: a missing
# image (never pulled: ErrImageNeverPull) and a container that exits at once (CrashLoopBackOff).
t_pod_failures_in_status() {
  kubectl apply -f - >&2 <<YAML
apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata: {name: missing-image, namespace: $NS}
spec:
  inboundAuth: {none: {}}
  deployment: {replicas: 1, image: "localhost/no-such-image:1", imagePullPolicy: Never}
---
apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata: {name: crashing, namespace: $NS}
spec:
  inboundAuth: {none: {}}
  # mcpagent is no gateway: it exits at once with a usage error.
  deployment: {replicas: 1, image: "localhost/mcpagent:test", imagePullPolicy: Never}
YAML
  local gw want ok=1 conds
  for gw in missing-image:ErrImageNeverPull crashing:CrashLoopBackOff; do
    want=${gw#*:}; gw=${gw%%:*}
    if waituntil 90 bash -c "kubectl get gateway -n $NS $gw -o jsonpath='{.status.conditions}' | grep -q $want"; then
      say "$gw: status names $want"
    else
      conds=$(kubectl get gateway -n "$NS" "$gw" -o jsonpath='{.status.conditions}')
      say "$gw: pods $(kubectl get pods -n "$NS" -l "app.kubernetes.io/instance=$gw" --no-headers 2>&1 | tr -s ' ')"
      say "$gw: status conditions without $want: $conds"
      ok=0
    fi
  done
  kubectl delete gateway -n "$NS" missing-image crashing --wait=false >&2
  ((ok)) || oops "the Gateway status does not name why its pod fails (see above)"
}

resource_versions() {
  local k
  for k in deployment/$GW service/$GW configmap/$GW-toolyard-config secret/$GW-toolyard-credentials \
    serviceaccount/$GW-toolyard role/$GW-toolyard rolebinding/$GW-toolyard; do
    echo "$k $(kubectl get -n "$NS" "$k" -o jsonpath='{.metadata.resourceVersion}')"
  done
}

t_helm_upgrade() {
  local before rv_before old new
  before=$(gw_pod_uids)
  rv_before=$(resource_versions)
  old=$(kubectl get pods -n "$OPNS" -l app.kubernetes.io/name=toolyard-operator -o jsonpath='{.items[0].metadata.name}')
  helm upgrade toolyard "$ROOT/charts/toolyard" -n "$OPNS" --wait --timeout 180s \
    --set image.tag=0.1.1 --set gatewayImage.tag=0.1.0 --set gatewayImage.pullPolicy=IfNotPresent >&2 ||
    oops "helm upgrade failed"
  waituntil 120 bash -c "kubectl get pods -n $OPNS -l app.kubernetes.io/name=toolyard-operator -o name | grep -vq $old && ! kubectl get pod -n $OPNS $old >/dev/null 2>&1" ||
    oops "the old operator pod $old is still there"
  new=$(kubectl get pods -n "$OPNS" -l app.kubernetes.io/name=toolyard-operator -o jsonpath='{.items[0].metadata.name}')
  kubectl get pod -n "$OPNS" "$new" -o jsonpath='{.spec.containers[0].image}' | grep -q ':0.1.1$' || oops "new operator pod does not run 0.1.1"
  waituntil 90 bash -c "[[ \$(kubectl get lease -n $OPNS toolyard-operator -o jsonpath='{.spec.holderIdentity}') == $new ]]" ||
    oops "the new operator pod $new does not lead"
  # Let the new leader reconcile every Gateway, then nothing it owns may have been rewritten.
  sleep 15
  [[ $(resource_versions) == "$rv_before" ]] || { diff <(echo "$rv_before") <(resource_versions) >&2; oops "the new operator wrote unchanged objects"; }
  [[ $(gw_pod_uids) == "$before" ]] || oops "gateway pods were restarted by the operator upgrade"
  [[ $(cond Programmed) == True ]] || oops "Gateway not Programmed after the upgrade"
}

t_helm_uninstall() {
  helm uninstall toolyard -n "$OPNS" --wait --timeout 120s >&2 || oops "helm uninstall failed"
  waituntil 60 bash -c "! kubectl get deployment -n $OPNS toolyard-operator" || oops "operator Deployment still there"
  kubectl get crd gateways.toolyard.dev >/dev/null || oops "CRD gateways.toolyard.dev was removed (Helm keeps crds/)"
  kubectl get gateway -n "$NS" "$GW" >/dev/null || oops "the Gateway was removed with the release"
  kubectl get deployment -n "$NS" "$GW" >/dev/null || oops "the gateway Deployment was removed with the release"
  # Gateways keep serving without the operator.
  agent call httpbin___getUuid >/dev/null || oops "the gateway stopped serving after helm uninstall"
}

setup_images || { echo "suite node: 0 passed, 1 failed"; exit 1; }
check images_load_like_docker t_images_load_like_docker
check helm_install t_helm_install
check gateway_programmed_when_pods_ready t_gateway_programmed
check agent_pod_lists_and_calls_both_eras t_agent_both_eras
check propagation_20_changes t_propagation
check zero_failed_calls_through_churn t_churn
check credential_rotation_without_restart t_secret_rotation
check other_secret_unreadable_with_pod_token t_secret_unreadable
check strands_seed_client_jwt_port_forward t_strands_jwt
check semantic_search_from_the_bundled_model t_semantic_search_bundled_model
check pod_failures_in_gateway_status t_pod_failures_in_status
check helm_upgrade_operator_only t_helm_upgrade
check helm_uninstall_keeps_crds_and_gateways t_helm_uninstall
echo "suite node: $PASSED passed, $FAILED failed"
((FAILED == 0))
