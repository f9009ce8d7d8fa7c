#!/usr/bin/env bash
# A real single-node Kubernetes cluster that runs pods, everything inside a network namespace this
# script creates: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd + runc,
# the CNI bridge, kubelet, kube-proxy (iptables) and CoreDNS. Images are imported from local
# docker-archive tarballs (charts/image.py); nothing is pulled, and no packet leaves the namespace
# (its default route points into a veth pair whose both ends are inside it).
# The recipe and the blockers it works around: ../shared/docs/real-cluster.md.
#
#   tests/cluster/node.sh up                  # start; prints TESTNODE_DIR=…, KUBECONFIG=…, NETNS=…
#   tests/cluster/node.sh down                # stop everything `up` started and remove what it made
#   tests/cluster/node.sh run -- cmd args…    # up, run cmd inside the namespace, always down
#   tests/cluster/node.sh import FILE.tar…    # import images into the node's containerd
#   tests/cluster/node.sh exec -- cmd args…   # run cmd inside the namespace of a running cluster
#
# Addressing (inside the namespace): node 10.200.0.1, pods 10.244.0.0/24 (bridge cni0, host-local),
# Services 10.0.0.0/24 (kubernetes 10.0.0.1, kube-dns 10.0.0.10, answered by CoreDNS on the node).
#
# Environment:
#   TESTCLUSTER_BIN   binaries (default: the last line of `tests/cluster/build.sh --node`)
#   TESTNODE_DIR      state directory (default: a new directory under /var/lib, not tmpfs: kubelet
#                     and containerd keep volumes and image layers there)
#   TESTNODE_TIMEOUT  seconds to wait for each component (default 180)
#   TESTNODE_KEEP=1   keep the state directory (logs) after `down`
#
# Inside `run` and `exec`, the command runs in the cluster's network namespace (host mount
# namespace), with KUBECONFIG, TESTNODE_DIR, TESTCLUSTER_BIN, NODE_IP set and PATH starting with the
# bin directory. Root is required.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MARK=.toolyard-testnode
TIMEOUT=${TESTNODE_TIMEOUT:-180}
NODE_IP=10.200.0.1
NODE_NAME=toolyard-node
POD_CIDR=10.244.0.0/24
SVC_CIDR=10.0.0.0/24
DNS_IP=10.0.0.10
# Started in this order, stopped in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy coredns)

log() { echo "node.sh: $*" >&2; }
die() { log "$*"; exit 1; }

find_bin() {
  if [[ -n ${TESTCLUSTER_BIN:-} ]]; then
    BIN=$TESTCLUSTER_BIN
  else
    BIN=$(bash "$HERE/build.sh" --node | tail -n1)
  fi
  local b
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl coredns pause; do
    [[ -x $BIN/$b ]] || die "missing $BIN/$b (run tests/cluster/build.sh --node)"
  done
  for b in containerd containerd-shim-runc-v2 runc ctr iptables conntrack ip nsenter; do
    command -v "$b" >/dev/null || die "missing $b (tests/cluster/build.sh --node installs the Debian packages)"
  done
}

existing_dir() {
  if [[ -n ${TESTNODE_DIR:-} ]]; then
    D=$TESTNODE_DIR
  elif [[ -n ${KUBECONFIG:-} && -f $(dirname "$KUBECONFIG")/$MARK ]]; then
    D=$(dirname "$KUBECONFIG")
  else
    die "set TESTNODE_DIR (or KUBECONFIG) to the cluster started by 'up'"
  fi
  [[ -f $D/$MARK ]] || die "$D is not a test node directory (no $MARK)"
  NETNS=$(cat "$D/netns")
  BIN=$(cat "$D/bin")
}

# in_ns CMD…: CMD in the cluster's network namespace, staying in the host mount namespace (so
# kubelet's volume mounts and containerd's rootfs mounts see each other).
in_ns() { nsenter --net="/run/netns/$NETNS" "$@"; }

# start NAME CMD…: CMD in the namespace, in the background; `exec` makes $! the component itself.
start() {
  local n=$1; shift
  (exec nsenter --net="/run/netns/$NETNS" "$@" >"$D/$n.log" 2>&1) &
  echo $! >"$D/$n.pid"
}

fail_with_log() {
  log "$1; last lines of $D/$2.log:"
  tail -n 40 "$D/$2.log" >&2 || true
  exit 1
}

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

kc() { in_ns "$BIN/kubectl" --kubeconfig="$D/kubeconfig" "$@"; }

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
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout "$p/ca.key" -out "$p/ca.crt" \
    -subj /CN=toolyard-testnode-ca -config <(printf '%s\n' '[req]' distinguished_name=dn \
      x509_extensions=v3 '[dn]' '[v3]' basicConstraints=critical,CA:TRUE \
      keyUsage=critical,keyCertSign,cRLSign,digitalSignature subjectKeyIdentifier=hash) 2>/dev/null
  sign apiserver /CN=kube-apiserver \
    "subjectAltName=IP:$NODE_IP,IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth"
  sign kubelet-serving "/CN=$NODE_NAME" "subjectAltName=IP:$NODE_IP,DNS:$NODE_NAME\nextendedKeyUsage=serverAuth"
  sign admin "/O=system:masters/CN=testnode-admin" "extendedKeyUsage=clientAuth"
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth"
  sign kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "extendedKeyUsage=clientAuth"
  sign kube-proxy "/CN=system:kube-proxy" "extendedKeyUsage=clientAuth"
  sign kube-scheduler "/CN=system:kube-scheduler" "extendedKeyUsage=clientAuth"
  openssl genrsa -out "$p/sa.key" 2048 2>/dev/null
}

write_kubeconfig() {
  local f=$1 u=$2
  cat >"$f" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: testnode
  cluster:
    server: https://$NODE_IP:6443
    certificate-authority-data: $(base64 -w0 "$D/pki/ca.crt")
users:
- name: $u
  user:
    client-certificate-data: $(base64 -w0 "$D/pki/$u.crt")
    client-key-data: $(base64 -w0 "$D/pki/$u.key")
contexts:
- name: testnode
  context: {cluster: testnode, user: $u, namespace: default}
current-context: testnode
YAML
  chmod 600 "$f"
}

netns_up() {
  ip netns add "$NETNS"
  echo "$NETNS" >"$D/netns"
  in_ns ip link set lo up
  # The node address lives on a veth pair whose both ends stay in the namespace (this kernel has
  # no `dummy` links); the default route points into it, so nothing is routed out of the namespace.
  in_ns ip link add tyn0 type veth peer name tyn1
  in_ns ip addr add "$NODE_IP/24" dev tyn0
  in_ns ip addr add 10.200.0.2/24 dev tyn1
  in_ns ip link set tyn0 up
  in_ns ip link set tyn1 up
  in_ns ip route add default via 10.200.0.2 dev tyn0
  in_ns sysctl -qw net.ipv4.ip_forward=1
  in_ns sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
  # Pods resolve through CoreDNS only; an empty host resolver list for dnsPolicy: Default pods.
  printf 'options ndots:1\n' >"$D/resolv.conf"
}

configs() {
  mkdir -p "$D/containerd" "$D/cni/net.d" "$D/kubelet" "$D/pod-logs"
  cat >"$D/containerd/config.toml" <<TOML
version = 2
root = "$D/containerd/root"
state = "$D/containerd/state"
[grpc]
  address = "$D/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:test"
  # Root on these machines lacks CAP_SYS_RESOURCE: the sandbox's oom_score_adj -998 would fail.
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$D/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$D/cni/net.d"
TOML
  cat >"$D/cni/net.d/10-toolyard.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "toolyard-testnode", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$D/cni/ipam", "ranges": [[{"subnet": "$POD_CIDR"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
JSON
  cat >"$D/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupRoot: /$NETNS
containerRuntimeEndpoint: unix://$D/containerd.sock
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $D/pki/kubelet-serving.crt
tlsPrivateKeyFile: $D/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $D/pki/ca.crt}
authorization: {mode: AlwaysAllow}
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
resolvConf: $D/resolv.conf
podLogsDir: $D/pod-logs
failSwapOn: false
protectKernelDefaults: false
serializeImagePulls: false
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
syncFrequency: 10s
YAML
  cat >"$D/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $D/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Zero: leave the host-wide conntrack sysctls alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
  cat >"$D/Corefile" <<COREFILE
.:53 {
    errors
    health 127.0.0.1:8180
    ready 127.0.0.1:8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $D/kubeconfig
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
    loadbalance
    reload
}
COREFILE
}

start_control_plane() {
  local p=$D/pki
  start etcd "$BIN/etcd" --name=tn --data-dir="$D/etcd" --unsafe-no-fsync=true \
    --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
    --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
    --initial-cluster=tn=http://127.0.0.1:2380 --listen-metrics-urls=http://127.0.0.1:2381
  waitfor etcd in_ns curl -sf http://127.0.0.1:2379/health
  start kube-apiserver "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=0.0.0.0 --advertise-address="$NODE_IP" --secure-port=6443 --cert-dir="$D/apiserver" \
    --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" --client-ca-file="$p/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$p/sa.key" --service-account-signing-key-file="$p/sa.key" \
    --service-cluster-ip-range="$SVC_CIDR" --authorization-mode=Node,RBAC --allow-privileged=true \
    --enable-admission-plugins=NodeRestriction \
    --kubelet-client-certificate="$p/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$p/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP
  waitfor kube-apiserver in_ns curl -sf --cacert "$p/ca.crt" --cert "$p/admin.crt" --key "$p/admin.key" \
    "https://$NODE_IP:6443/readyz"
  start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$D/kubeconfig" \
    --leader-elect=false --secure-port=0 --controllers='*' --root-ca-file="$p/ca.crt" \
    --service-account-private-key-file="$p/sa.key" --use-service-account-credentials=false \
    --cluster-signing-cert-file="$p/ca.crt" --cluster-signing-key-file="$p/ca.key" \
    --service-cluster-ip-range="$SVC_CIDR" --node-monitor-grace-period=40s
  waitfor kube-controller-manager kc get serviceaccount default -n default
  start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$D/kube-scheduler.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port=10259
  waitfor kube-scheduler in_ns curl -sfk https://127.0.0.1:10259/healthz
}

start_node() {
  start containerd containerd --config "$D/containerd/config.toml"
  waitfor containerd in_ns ctr --address "$D/containerd.sock" version
  import_images "$D/images/pause.tar"
  start kubelet "$BIN/kubelet" --config="$D/kubelet/config.yaml" --kubeconfig="$D/kubelet.kubeconfig" \
    --root-dir="$D/kubelet" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --v=1
  waitfor kubelet kc wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
  start kube-proxy "$BIN/kube-proxy" --config="$D/kube-proxy.yaml" --v=1
  waitfor kube-proxy in_ns curl -sf http://127.0.0.1:10256/healthz
  # kube-dns: a selector-less Service whose endpoint is CoreDNS on the node address.
  kc apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: $DNS_IP
  ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-node
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns, endpointslice.kubernetes.io/managed-by: toolyard-testnode}
addressType: IPv4
endpoints: [{addresses: ["$NODE_IP"], conditions: {ready: true}}]
ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]
YAML
  start coredns "$BIN/coredns" -conf "$D/Corefile"
  waitfor coredns in_ns curl -sf http://127.0.0.1:8181/ready
}

# import_images FILE…: docker-archive tarballs into the node's containerd (the CRI namespace).
import_images() {
  local f
  for f in "$@"; do
    in_ns ctr --address "$D/containerd.sock" -n k8s.io images import "$f" >/dev/null ||
      die "importing $f into containerd failed"
  done
}

# The pause image (sandbox_image) from the pause program built by build.sh.
pause_image() {
  mkdir -p "$D/images"
  python3 "$HERE/../../charts/image.py" --binary "$BIN/pause" --path /pause --tag localhost/pause:test \
    --out "$D/images/pause.tar" >/dev/null
}

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

# Kills every container and sandbox containerd runs for the node and removes them, and the pods'
# network namespaces (CRI makes them under /run/netns).
remove_containers() {
  local sock=$D/containerd.sock ids id nsp
  [[ -S $sock ]] || return 0
  local c=(ctr --address "$sock" -n k8s.io)
  ids=$(in_ns "${c[@]}" containers ls -q 2>/dev/null || true)
  for id in $ids; do
    nsp=$(in_ns "${c[@]}" containers info "$id" 2>/dev/null |
      python3 -c 'import json,sys
for n in json.load(sys.stdin).get("Spec",{}).get("linux",{}).get("namespaces",[]):
    if n.get("type")=="network" and n.get("path"): print(n["path"])' 2>/dev/null || true)
    [[ -n $nsp ]] && echo "$nsp" >>"$D/pod-netns"
    in_ns "${c[@]}" tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
  done
  for id in $ids; do
    for _ in $(seq 20); do
      in_ns "${c[@]}" tasks delete "$id" >/dev/null 2>&1 && break
      in_ns "${c[@]}" tasks ls -q 2>/dev/null | grep -qx "$id" || break
      sleep 0.2
    done
    in_ns "${c[@]}" containers delete "$id" >/dev/null 2>&1 || true
  done
}

# Unmounts everything mounted below DIR, deepest first.
unmount_below() {
  local m
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# The kubelet's cgroupRoot must exist in every hierarchy; a new cpuset cgroup starts with no CPUs
# and memory nodes, so copy its parent's.
make_cgroups() {
  local root=$1 h
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [[ -f ${h}cgroup.procs ]] || continue
    mkdir -p "$h$root"
  done
  if [[ -f /sys/fs/cgroup/cpuset/cpuset.cpus ]]; then
    cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$root/cpuset.cpus"
    cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$root/cpuset.mems"
  fi
}

# Removes a cgroup subtree in every v1 hierarchy and the unified one, leaves first.
remove_cgroups() {
  local root=$1 h
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [[ -d $h$root ]] || continue
    find "$h$root" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

down() {
  local i
  # kubelet first, so it does not restart what is being removed.
  stop_component kube-proxy
  stop_component kubelet
  remove_containers
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    stop_component "${COMPONENTS[i]}"
  done
  local nsp
  if [[ -f $D/pod-netns ]]; then
    sort -u "$D/pod-netns" | while read -r nsp; do
      [[ $nsp == /run/netns/* || $nsp == /var/run/netns/* ]] || continue
      umount "$nsp" 2>/dev/null || true
      rm -f "$nsp"
    done
  fi
  unmount_below "$D"
  NETNS=${NETNS:-$(cat "$D/netns" 2>/dev/null || true)}
  if [[ -n $NETNS ]]; then
    ip netns delete "$NETNS" 2>/dev/null || true
    remove_cgroups "$NETNS"
  fi
  # containerd keeps shim sockets in /run/containerd/s (ctr its fifos in /run/containerd/fifo) whatever
  # its state directory: remove those directories if they are left empty.
  rmdir /run/containerd/fifo /run/containerd/s /run/containerd/runc/k8s.io /run/containerd/runc /run/containerd 2>/dev/null || true
  # kubelet links container logs into /var/log/containers; drop the links into this node's logs.
  find /var/log/containers -maxdepth 1 -type l -lname "$D/*" -delete 2>/dev/null || true
  rmdir /var/log/containers 2>/dev/null || true
  if [[ ${TESTNODE_KEEP:-0} == 1 ]]; then
    log "stopped; state kept in $D"
  elif [[ -f $D/$MARK ]]; then
    rm -rf "$D"
  fi
}

up() {
  [[ $(id -u) == 0 ]] || die "needs root (network namespace, containerd, kubelet)"
  find_bin
  if [[ -n ${TESTNODE_DIR:-} ]]; then
    [[ -e $TESTNODE_DIR && -n $(ls -A "$TESTNODE_DIR") ]] && die "TESTNODE_DIR=$TESTNODE_DIR exists and is not empty"
    mkdir -p "$TESTNODE_DIR"
    D=$TESTNODE_DIR
  else
    D=$(mktemp -d /var/lib/toolyard-testnode.XXXXXX)
  fi
  touch "$D/$MARK"
  echo "$BIN" >"$D/bin"
  NETNS=toolyard-node-$(basename "$D" | tr -dc 'A-Za-z0-9' | tail -c 7)
  netns_up
  make_cgroups "$NETNS"
  certs
  write_kubeconfig "$D/kubeconfig" admin
  write_kubeconfig "$D/kubelet.kubeconfig" kubelet
  write_kubeconfig "$D/kube-proxy.kubeconfig" kube-proxy
  write_kubeconfig "$D/kube-scheduler.kubeconfig" kube-scheduler
  configs
  pause_image
  start_control_plane
  start_node
  echo "TESTNODE_DIR=$D"
  echo "KUBECONFIG=$D/kubeconfig"
  echo "NETNS=$NETNS"
}

cleanup_failed_up() {
  local rc=$?
  ((rc == 0)) || [[ -z ${D:-} ]] || { TESTNODE_KEEP=1 down; log "startup failed; logs in $D"; }
}

in_cluster_env() {
  in_ns env KUBECONFIG="$D/kubeconfig" TESTNODE_DIR="$D" TESTCLUSTER_BIN="$BIN" NODE_IP="$NODE_IP" \
    NETNS="$NETNS" PATH="$BIN:$PATH" "$@"
}

case ${1:-} in
  up) D= ; trap cleanup_failed_up EXIT; up ;;
  down) existing_dir; down ;;
  import) shift; existing_dir; import_images "$@" ;;
  exec)
    shift
    [[ ${1:-} == -- ]] && shift
    existing_dir
    in_cluster_env "$@"
    ;;
  run)
    shift
    [[ ${1:-} == -- ]] && shift
    (($# > 0)) || die "usage: node.sh run -- cmd args…"
    D=
    trap '[[ -n $D ]] && down' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    up >&2
    set +e
    in_cluster_env "$@"
    rc=$?
    set -e
    exit "$rc"
    ;;
  *)
    echo "usage: $0 up | down | run -- cmd args… | exec -- cmd args… | import FILE.tar…" >&2
    exit 2
    ;;
esac
