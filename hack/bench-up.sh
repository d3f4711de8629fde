#!/usr/bin/env bash
# Compares `meshconform up` of the 2-cluster multi-primary topology with a bare parallel `kind create cluster` of the
# same two clusters (same node image, same subnets), alternating, on this machine. Needs root and docker.
# Usage: hack/bench-up.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
$GO build -o bin/meshconform ./cmd/meshconform
$GO build -o bin/kind sigs.k8s.io/kind   # the kind CLI of the version we link, built from the pinned module
bin/meshconform images build node metallb >/dev/null
image=meshconform.io/kind-node:v1.34.2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for i in 1 2; do
  cat > "$tmp/c$i.yaml" <<CFG
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking: {podSubnet: 10.$((i*10)).0.0/16, serviceSubnet: 10.255.$((i*10)).0/24}
CFG
done
now() { date +%s.%N; }
for r in $(seq 1 "$rounds"); do
  t0=$(now)
  bin/kind create cluster --name bench1 --image "$image" --config "$tmp/c1.yaml" --kubeconfig "$tmp/k1" >/dev/null 2>&1 &
  bin/kind create cluster --name bench2 --image "$image" --config "$tmp/c2.yaml" --kubeconfig "$tmp/k2" >/dev/null 2>&1 &
  wait
  t1=$(now)
  bin/kind delete cluster --name bench1 >/dev/null 2>&1; bin/kind delete cluster --name bench2 >/dev/null 2>&1
  docker network rm kind >/dev/null 2>&1 || true
  t2=$(now)
  bin/meshconform up --topology multi-primary --offline --skip-preflight --no-mesh --state-dir "$tmp/state" > "$tmp/up.log"
  t3=$(now)
  clusters=$(grep -o 'clusters done in [0-9ms.]*' "$tmp/up.log" | awk '{print $4}')
  bin/meshconform down --state-dir "$tmp/state" >/dev/null
  awk -v r="$r" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v cl="$clusters" 'BEGIN {
    printf "round %d: bare kind create x2 (parallel) %.1fs | meshconform up %.1fs (clusters phase %s) | ratio %.2f\n",
      r, b - a, d - c, cl, (d - c) / (b - a) }'
  grep -E 'done in' "$tmp/up.log" | sed 's/^/    /'
done
