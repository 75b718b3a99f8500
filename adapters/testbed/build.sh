#!/usr/bin/env bash
# Builds the test bed's binaries once per version and prints the folder that holds them:
#   testbed-k8s  the real kube-apiserver, kube-controller-manager, kube-scheduler and etcd
#                (k8s.io/kubernetes and go.etcd.io/etcd from the Go module proxy, see k8s/)
#   kwok         sigs.k8s.io/kwok, which simulates nodes and runs their pods (see kwok/)
#   kwok-stages.yaml  kwok's own default stages: nodes Ready, scheduled pods Running
# The folder is keyed by the sources, so a second run is instant. Use it as
#   export FLEETPLAN_TESTBED_BIN=$(bash adapters/testbed/build.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v go >/dev/null || { echo "build.sh: Go is needed to build the test bed (go 1.26 or later)" >&2; exit 1; }
k8s_version=$(sed -n "s/^[[:space:]]*\(require \)\{0,1\}k8s.io\/kubernetes v\([^ ]*\).*/\2/p" "$here/k8s/go.mod" | head -n 1)
kwok_version=$(sed -n "s/^[[:space:]]*\(require \)\{0,1\}sigs.k8s.io\/kwok v\([^ ]*\).*/\2/p" "$here/kwok/go.mod" | head -n 1)
key=$(cat "$here"/k8s/go.mod "$here"/k8s/go.sum "$here"/k8s/main.go "$here"/kwok/go.mod "$here"/kwok/go.sum "$here"/kwok/main.go | sha256sum | cut -c1-12)
out="${FLEETPLAN_TESTBED_CACHE:-$HOME/.cache/fleetplan/testbed}/k8s-v$k8s_version-kwok-v$kwok_version-$key"
if [ -x "$out/testbed-k8s" ] && [ -x "$out/kwok" ] && [ -s "$out/kwok-stages.yaml" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
started=$(date +%s)
echo "build.sh: building Kubernetes v$k8s_version and kwok v$kwok_version into $out (first time only; about 7 minutes on 2 cores with empty Go caches)" >&2
(cd "$here/k8s" && go build -trimpath -o "$out/testbed-k8s.partial" . && mv "$out/testbed-k8s.partial" "$out/testbed-k8s")
(cd "$here/kwok" && go build -trimpath -o "$out/kwok" sigs.k8s.io/kwok/cmd/kwok && go run . > "$out/kwok-stages.yaml")
echo "build.sh: built in $(( $(date +%s) - started )) s" >&2
echo "$out"
