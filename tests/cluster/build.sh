#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager, kubectl, helm) from Go
# modules and caches the binaries under $HOME/.cache keyed by the versions, so a warm run takes seconds.
# Prints the directory holding the binaries on its last line.
#
#   tests/cluster/build.sh           # the control plane (the `cluster` suite)
#   tests/cluster/build.sh --node    # also what a real node needs (the `node` suite, tests/cluster/node.sh):
#                                    #   kube-scheduler, kubelet, kube-proxy (same go build as the control plane);
#                                    #   from go/node, in one go build: a CoreDNS with only the plugins the
#                                    #   cluster uses, the pause program, go-httpbin (a test backend) and
#                                    #   mcpagent (an MCP client on the official Go SDK, run in an agent pod);
#                                    #   containerd, runc, CNI plugins, iptables, conntrack from Debian packages
#   REGEN=1 tests/cluster/build.sh   # regenerate go/k8s/go.mod's replace block from the proxy's go.mod
#
# Cold build times (empty Go build and module caches, 2 cores shared with other builds) are in
# tests/README.md.
set -euo pipefail
K8S=${K8S_VERSION:-v1.35.4}
ETCD=${ETCD_VERSION:-v3.6.13}
HELM=${HELM_VERSION:-v3.21.4}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${TESTCLUSTER_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/toolyard-testcluster/k8s-$K8S-etcd-$ETCD-helm-$HELM/bin}
mkdir -p "$BIN"
export CGO_ENABLED=0 GOFLAGS=-mod=mod

have() { for b in "$@"; do [[ -x $BIN/$b ]] || return 1; done; }

regen_k8s_mod() {
  local stg="v0.${K8S#v1.}" gomod
  gomod=$(cd "$(mktemp -d)" && go mod download -json "k8s.io/kubernetes@$K8S" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  cd "$HERE/go/k8s"
  rm -f go.mod go.sum
  go mod init testcluster/k8s
  go mod edit -go=1.26.0 -require="k8s.io/kubernetes@$K8S"
  for t in kube-apiserver kube-controller-manager kubectl kube-scheduler kubelet kube-proxy; do go mod edit -tool="k8s.io/kubernetes/cmd/$t"; done
  sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$gomod" |
    while read -r m; do go mod edit -replace="$m=$m@$stg"; done
  local gd; gd=$(sed -n 's/^godebug //p' "$gomod" | head -1)
  [[ -n $gd ]] && go mod edit -godebug="$gd"
  go mod tidy
}
[[ ${REGEN:-0} == 1 ]] && (regen_k8s_mod)

NODE=0
[[ ${1:-} == --node ]] && NODE=1
K8S_CMDS=(kube-apiserver kube-controller-manager kubectl)
((NODE)) && K8S_CMDS+=(kube-scheduler kubelet kube-proxy)

# Debian packages of the node's container runtime (the package does not start containerd:
# tests/cluster/node.sh runs its own, with its own config, root and socket).
NODE_PKGS=(containerd runc containernetworking-plugins iptables conntrack podman)
apt_node() {
  local missing=() p
  for p in "${NODE_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  echo "installing ${missing[*]} (apt-get)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

start=$(date +%s)
((NODE)) && apt_node
if ! have "${K8S_CMDS[@]}"; then
  minor=${K8S#v1.}; minor=${minor%%.*}; ldf="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf+=" -X $p.gitVersion=$K8S -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  (cd "$HERE/go/k8s" && go build -trimpath -tags selinux,notest -ldflags "$ldf" -o "$BIN/" \
    "${K8S_CMDS[@]/#/k8s.io/kubernetes/cmd/}") >&2
fi
# go/node's binaries, rebuilt whenever its sources change (a stamp named by their hash).
if ((NODE)); then
  stamp=$BIN/.node-$(cd "$HERE/go/node" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  if [[ ! -f $stamp ]] || ! have coredns pause mcpagent go-httpbin; then
    (cd "$HERE/go/node" && go build -trimpath -ldflags "-s -w" -o "$BIN/" \
      ./coredns ./pause ./mcpagent github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin) >&2
    rm -f "$BIN"/.node-*
    touch "$stamp"
  fi
fi
if ! have etcd; then
  (cd "$HERE/go/etcd" && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3) >&2
fi
if ! have helm; then
  GOBIN=$BIN go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM" \
    "helm.sh/helm/v3/cmd/helm@$HELM" >&2
fi
echo "control plane binaries ready in $(($(date +%s) - start))s" >&2
echo "$BIN"
