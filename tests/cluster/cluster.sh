#!/usr/bin/env bash
# A throw-away Kubernetes control plane on loopback: etcd, kube-apiserver and
# kube-controller-manager on free ports, certificates made with openssl, an admin kubeconfig.
# No scheduler and no nodes: objects are stored, validated and garbage-collected, pods never run.
#
#   tests/cluster/cluster.sh up                      # start; prints TESTCLUSTER_DIR=… and KUBECONFIG=…
#   tests/cluster/cluster.sh down                    # stop what `up` started (TESTCLUSTER_DIR or $KUBECONFIG's dir)
#   tests/cluster/cluster.sh run -- cmd args…        # up, run cmd with KUBECONFIG set, always down
#   tests/cluster/cluster.sh stop-apiserver          # stop kube-apiserver (and, with --etcd, etcd too) of
#                                                    # the cluster in TESTCLUSTER_DIR (outage tests)
#   tests/cluster/cluster.sh start-apiserver         # start them again on the same ports and data
#   tests/cluster/cluster.sh kubeconfig-for-user NAME [GROUP[,GROUP…]]
#                                                    # a non-admin client identity (CN=NAME, O=GROUP…);
#                                                    # prints the path of its kubeconfig
#
# Environment:
#   TESTCLUSTER_BIN      directory with etcd, kube-apiserver, kube-controller-manager, kubectl, helm
#                        (default: the last line printed by tests/cluster/build.sh, which builds and caches them)
#   TESTCLUSTER_DIR      state directory (default: a new mktemp directory)
#   TESTCLUSTER_TIMEOUT  seconds to wait for each component to become ready (default 120)
#   TESTCLUSTER_KEEP=1   keep the state directory (logs, certs) after `down`
#   KCM_CONTROLLERS      kube-controller-manager --controllers (default: a small set, see below)
#   DISABLE_ADMISSION    kube-apiserver --disable-admission-plugins (default ServiceAccount)
#
# Inside `run`, the command sees KUBECONFIG, TESTCLUSTER_DIR and TESTCLUSTER_BIN, and PATH starts
# with the bin directory (so `kubectl` and `helm` are the cluster's own).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MARK=.toolyard-testcluster
COMPONENTS=(etcd kube-apiserver kube-controller-manager)
TIMEOUT=${TESTCLUSTER_TIMEOUT:-120}
# Enough for namespaces, ServiceAccounts, Deployments and garbage collection on 2 cores.
DEFAULT_CONTROLLERS=garbage-collector-controller,deployment-controller,replicaset-controller,namespace-controller,serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller,job-controller,statefulset-controller,daemonset-controller,endpointslice-controller,pod-garbage-collector-controller

log() { echo "cluster.sh: $*" >&2; }
die() { log "$*"; exit 1; }

find_bin() {
  if [[ -n ${TESTCLUSTER_BIN:-} ]]; then
    BIN=$TESTCLUSTER_BIN
  else
    BIN=$(bash "$HERE/build.sh" | tail -n1)
  fi
  local b
  for b in etcd kube-apiserver kube-controller-manager kubectl; do
    [[ -x $BIN/$b ]] || die "missing $BIN/$b (run tests/cluster/build.sh)"
  done
}

# The state directory: TESTCLUSTER_DIR, else (for down/kubeconfig-for-user) the directory of a
# KUBECONFIG written by `up`.
existing_dir() {
  if [[ -n ${TESTCLUSTER_DIR:-} ]]; then
    D=$TESTCLUSTER_DIR
  elif [[ -n ${KUBECONFIG:-} && -f $(dirname "$KUBECONFIG")/$MARK ]]; then
    D=$(dirname "$KUBECONFIG")
  else
    die "set TESTCLUSTER_DIR (or KUBECONFIG) to the cluster started by 'up'"
  fi
  [[ -f $D/$MARK ]] || die "$D is not a test cluster directory (no $MARK)"
}

freeport() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start NAME CMD…: run CMD in the background, logging to $D/NAME.log, its PID in $D/NAME.pid.
start() {
  local n=$1; shift
  "$@" >"$D/$n.log" 2>&1 &
  echo $! >"$D/$n.pid"
}

fail_with_log() {
  log "$1; last lines of $D/$2.log:"
  tail -n 40 "$D/$2.log" >&2 || true
  exit 1
}

# waitfor NAME CMD…: poll CMD until it succeeds, for at most TIMEOUT seconds, while NAME is alive.
waitfor() {
  local n=$1; shift
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$(cat "$D/$n.pid")" 2>/dev/null || fail_with_log "$n exited" "$n"
    ((SECONDS < deadline)) || fail_with_log "$n not ready after ${TIMEOUT}s" "$n"
    sleep 0.5
  done
  log "$n ready"
}

# sign NAME SUBJECT EXTENSIONS: a key and a certificate signed by the cluster CA, in $D/pki.
sign() {
  local p=$D/pki
  openssl req -newkey rsa:2048 -nodes -keyout "$p/$1.key" -out "$p/$1.csr" -subj "$2" 2>/dev/null
  openssl x509 -req -in "$p/$1.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial -days 365 \
    -out "$p/$1.crt" -extfile <(printf '%b' "$3") 2>/dev/null
  rm -f "$p/$1.csr"
}

certs() {
  local p=$D/pki
  mkdir -p "$p"
  # An explicit -config avoids duplicate basicConstraints from a distribution's v3_ca section.
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout "$p/ca.key" -out "$p/ca.crt" \
    -subj /CN=toolyard-testcluster-ca -config <(printf '%s\n' '[req]' distinguished_name=dn \
      x509_extensions=v3 '[dn]' '[v3]' basicConstraints=critical,CA:TRUE \
      keyUsage=critical,keyCertSign,cRLSign,digitalSignature subjectKeyIdentifier=hash) 2>/dev/null
  sign apiserver /CN=kube-apiserver \
    "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth"
  sign admin "/O=system:masters/CN=testcluster-admin" "extendedKeyUsage=clientAuth"
  openssl genrsa -out "$p/sa.key" 2048 2>/dev/null
}

# write_kubeconfig FILE USER: a kubeconfig for the client certificate $D/pki/USER.{crt,key}.
write_kubeconfig() {
  local f=$1 u=$2 port
  port=$(cat "$D/apiserver.port")
  cat >"$f" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: testcluster
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $(base64 -w0 "$D/pki/ca.crt")
users:
- name: $u
  user:
    client-certificate-data: $(base64 -w0 "$D/pki/$u.crt")
    client-key-data: $(base64 -w0 "$D/pki/$u.key")
contexts:
- name: testcluster
  context: {cluster: testcluster, user: $u, namespace: default}
current-context: testcluster
YAML
  chmod 600 "$f"
}

# start_etcd / start_apiserver: start the component on the ports recorded in $D (the same ports
# and data on a restart) and wait until it is ready.
start_etcd() {
  local ep pp
  read -r ep pp <"$D/etcd.ports"
  start etcd "$BIN/etcd" --name=tc --data-dir="$D/etcd" --unsafe-no-fsync=true \
    --listen-client-urls="http://127.0.0.1:$ep" --advertise-client-urls="http://127.0.0.1:$ep" \
    --listen-peer-urls="http://127.0.0.1:$pp" --initial-advertise-peer-urls="http://127.0.0.1:$pp" \
    --initial-cluster="tc=http://127.0.0.1:$pp"
  waitfor etcd curl -sf "http://127.0.0.1:$ep/health"
}

start_apiserver() {
  local ep ap p=$D/pki
  read -r ep _ <"$D/etcd.ports"
  ap=$(cat "$D/apiserver.port")
  start kube-apiserver "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$ep" \
    --bind-address=127.0.0.1 --secure-port="$ap" --cert-dir="$D/apiserver" \
    --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
    --client-ca-file="$p/ca.crt" \
    --service-account-issuer="https://127.0.0.1:$ap" --service-account-key-file="$p/sa.key" \
    --service-account-signing-key-file="$p/sa.key" --service-cluster-ip-range=10.0.0.0/24 \
    --authorization-mode=RBAC --allow-privileged=true --endpoint-reconciler-type=none \
    --disable-admission-plugins="${DISABLE_ADMISSION:-ServiceAccount}"
  waitfor kube-apiserver curl -sf --cacert "$p/ca.crt" --cert "$p/admin.crt" --key "$p/admin.key" \
    "https://127.0.0.1:$ap/readyz"
}

start_kcm() {
  local p=$D/pki
  start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$D/kubeconfig" \
    --leader-elect=false --secure-port=0 --controllers="${KCM_CONTROLLERS:-$DEFAULT_CONTROLLERS}" \
    --root-ca-file="$p/ca.crt" --service-account-private-key-file="$p/sa.key" \
    --cluster-signing-cert-file="$p/ca.crt" --cluster-signing-key-file="$p/ca.key"
  waitfor kube-controller-manager \
    "$BIN/kubectl" --kubeconfig="$D/kubeconfig" get serviceaccount default -n default
}

# stop_component NAME: stops one component started by `up` (SIGTERM, then SIGKILL after 10 s).
stop_component() {
  local n=$1 pid
  [[ -f $D/$n.pid ]] || return 0
  pid=$(cat "$D/$n.pid")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$D/$n.pid"
}

up() {
  find_bin
  if [[ -n ${TESTCLUSTER_DIR:-} ]]; then
    # Checked before D is set, so a refused `up` never stops someone else's cluster.
    local dir=$TESTCLUSTER_DIR n
    if [[ -f $dir/$MARK ]]; then
      for n in "${COMPONENTS[@]}"; do
        [[ -f $dir/$n.pid ]] && kill -0 "$(cat "$dir/$n.pid")" 2>/dev/null &&
          die "a cluster is already running in $dir (cluster.sh down first)"
      done
    elif [[ -e $dir && -n $(ls -A "$dir") ]]; then
      die "TESTCLUSTER_DIR=$dir exists and is not empty"
    fi
    mkdir -p "$dir"
    D=$dir
  else
    D=$(mktemp -d "${TMPDIR:-/tmp}/toolyard-testcluster.XXXXXX")
  fi
  touch "$D/$MARK"
  echo "$BIN" >"$D/bin"
  certs

  local ep pp ap
  ep=$(freeport); pp=$(freeport); ap=$(freeport)
  echo "$ap" >"$D/apiserver.port"

  echo "$ep $pp" >"$D/etcd.ports"
  start_etcd
  start_apiserver

  write_kubeconfig "$D/kubeconfig" admin
  start_kcm

  echo "TESTCLUSTER_DIR=$D"
  echo "KUBECONFIG=$D/kubeconfig"
}

# Stops exactly the processes `up` started, by their PID files, newest first.
down() {
  local i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    stop_component "${COMPONENTS[i]}"
  done
  if [[ ${TESTCLUSTER_KEEP:-0} == 1 ]]; then
    log "stopped; state kept in $D"
  elif [[ -f $D/$MARK ]]; then
    rm -rf "$D"
  fi
}

kubeconfig_for_user() {
  local name=${1:?usage: cluster.sh kubeconfig-for-user NAME [GROUP[,GROUP…]]} groups=${2:-} subj="" g
  [[ $name =~ ^[A-Za-z0-9:._@-]+$ ]] || die "bad user name: $name"
  existing_dir
  IFS=, read -r -a gs <<<"$groups"
  for g in "${gs[@]}"; do
    [[ $g =~ ^[A-Za-z0-9:._@-]+$ ]] || die "bad group name: $g"
    subj+="/O=$g"
  done
  mkdir -p "$D/users"
  sign "user-$name" "$subj/CN=$name" "extendedKeyUsage=clientAuth"
  write_kubeconfig "$D/users/$name.kubeconfig" "user-$name"
  echo "$D/users/$name.kubeconfig"
}

# On a failed `up`, stop what was started but keep the logs.
cleanup_failed_up() {
  local rc=$?
  ((rc == 0)) || [[ -z ${D:-} ]] || { TESTCLUSTER_KEEP=1 down; log "startup failed; logs in $D"; }
}

case ${1:-} in
  up) D= ; trap cleanup_failed_up EXIT; up ;;
  down) existing_dir; down ;;
  run)
    shift
    [[ ${1:-} == -- ]] && shift
    (($# > 0)) || die "usage: cluster.sh run -- cmd args…"
    D=
    trap '[[ -n $D ]] && down' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    up >&2
    set +e
    KUBECONFIG=$D/kubeconfig TESTCLUSTER_DIR=$D TESTCLUSTER_BIN=$BIN PATH="$BIN:$PATH" "$@"
    rc=$?
    set -e
    exit "$rc"
    ;;
  stop-apiserver)
    existing_dir
    stop_component kube-apiserver
    [[ ${2:-} == --etcd ]] && stop_component etcd
    log "kube-apiserver stopped${2:+ (and etcd)}"
    ;;
  start-apiserver)
    existing_dir
    BIN=$(cat "$D/bin")
    if [[ ! -f $D/etcd.pid ]] || ! kill -0 "$(cat "$D/etcd.pid")" 2>/dev/null; then start_etcd; fi
    start_apiserver
    # kube-controller-manager may have given up while the API server was away.
    if [[ ! -f $D/kube-controller-manager.pid ]] || ! kill -0 "$(cat "$D/kube-controller-manager.pid")" 2>/dev/null; then
      start_kcm
    fi
    ;;
  kubeconfig-for-user) shift; kubeconfig_for_user "$@" ;;
  *)
    echo "usage: $0 up | down | run -- cmd args… | stop-apiserver [--etcd] | start-apiserver | kubeconfig-for-user NAME [GROUP[,GROUP…]]" >&2
    exit 2
    ;;
esac
