#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager, kubectl, helm) from Go
# modules and caches the binaries under $HOME/.cache keyed by the versions, so a warm run takes seconds.
# Prints the directory holding the binaries on its last line.
#
#   REGEN=1 tests/cluster/build.sh   # regenerate go/k8s/go.mod's replace block from the proxy's go.mod
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
  for t in kube-apiserver kube-controller-manager kubectl; do go mod edit -tool="k8s.io/kubernetes/cmd/$t"; done
  sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$gomod" |
    while read -r m; do go mod edit -replace="$m=$m@$stg"; done
  local gd; gd=$(sed -n 's/^godebug //p' "$gomod" | head -1)
  [[ -n $gd ]] && go mod edit -godebug="$gd"
  go mod tidy
}
[[ ${REGEN:-0} == 1 ]] && (regen_k8s_mod)

start=$(date +%s)
if ! have kube-apiserver kube-controller-manager kubectl; then
  minor=${K8S#v1.}; minor=${minor%%.*}; ldf="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf+=" -X $p.gitVersion=$K8S -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  (cd "$HERE/go/k8s" && go build -trimpath -tags selinux,notest -ldflags "$ldf" -o "$BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kubectl) >&2
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
