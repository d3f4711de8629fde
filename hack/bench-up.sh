#!/usr/bin/env bash
# Compares `meshconform up` of the 2-cluster multi-primary topology (the whole up: infrastructure, Istio, workloads;
# --no-mesh for the infrastructure only) with a bare parallel `kind create cluster` of the same two clusters (same
# node image and subnets), alternating, on this machine, and prints each phase of `up`. Needs root and docker.
#
# It touches nothing it did not create: the bare clusters and their docker network get names of their own
# (mc-bench-<random>), and `up` runs as its own environment in a temporary state directory.
# Usage: hack/bench-up.sh [ROUNDS] [--no-mesh]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
mesh_flag=${2:-}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
$GO build -o bin/meshconform ./cmd/meshconform
$GO build -o bin/kind sigs.k8s.io/kind # the kind CLI of the version we link, built from the pinned module
bin/meshconform images build >/dev/null
image=meshconform.io/kind-node:v1.34.2 # images.NodeImage
id=$(head -c2 /dev/urandom | od -An -tx1 | tr -d ' \n')
bare=mc-bench-$id envname=bench$id
tmp=$(mktemp -d)
cleanup() {
  bin/kind delete cluster --name "$bare-1" >/dev/null 2>&1 || true
  bin/kind delete cluster --name "$bare-2" >/dev/null 2>&1 || true
  docker network rm "$bare" >/dev/null 2>&1 || true
  [ -f "$tmp/state/environment.json" ] && bin/meshconform down --state-dir "$tmp/state" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for i in 1 2; do
  cat >"$tmp/c$i.yaml" <<CFG
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking: {podSubnet: 10.$((i * 10)).0.0/16, serviceSubnet: 10.255.$((i * 10)).0/24}
CFG
done
docker network create "$bare" >/dev/null
now() { date +%s.%N; }
declare -a ratios
for r in $(seq 1 "$rounds"); do
  t0=$(now)
  KIND_EXPERIMENTAL_DOCKER_NETWORK=$bare bin/kind create cluster --name "$bare-1" --image "$image" --config "$tmp/c1.yaml" --kubeconfig "$tmp/k1" >/dev/null 2>&1 &
  KIND_EXPERIMENTAL_DOCKER_NETWORK=$bare bin/kind create cluster --name "$bare-2" --image "$image" --config "$tmp/c2.yaml" --kubeconfig "$tmp/k2" >/dev/null 2>&1 &
  wait
  t1=$(now)
  bin/kind delete cluster --name "$bare-1" >/dev/null 2>&1
  bin/kind delete cluster --name "$bare-2" >/dev/null 2>&1
  t2=$(now)
  # shellcheck disable=SC2086 # mesh_flag is empty or one flag
  bin/meshconform up --topology multi-primary --offline --skip-preflight $mesh_flag --env "$envname" --state-dir "$tmp/state" >"$tmp/up.log"
  t3=$(now)
  bin/meshconform down --state-dir "$tmp/state" >/dev/null
  ratio=$(awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN { printf "%.2f", (d - c) / (b - a) }')
  ratios+=("$ratio")
  awk -v r="$r" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v q="$ratio" 'BEGIN {
    printf "round %d: bare kind create x2 (parallel) %.1fs | meshconform up %.1fs | ratio %s\n", r, b - a, d - c, q }'
  grep -E '\] [a-z -]+ done in' "$tmp/up.log" | sed -E 's/^\[([a-z]+) +[0-9ms]+\] /    \1: /'
done
echo "ratios: ${ratios[*]}"
