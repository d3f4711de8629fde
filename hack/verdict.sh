#!/usr/bin/env bash
# Time to a verdict: for each topology, `meshconform up`, then `meshconform test` on the healthy mesh and again on a
# mesh broken the way users break it (the echo host made cluster-local in the first primary's mesh config, as
# meshConfig.serviceSettings does: its callers never leave their cluster), printing each test's wall time, result
# and the specs that failed with their durations. Needs root and docker.
#
# It touches nothing it did not create: each topology runs as its own environment (mc-verdict<random>) in a
# temporary state directory, and `down` with that directory removes it (also on Ctrl-C).
# Usage: sudo hack/verdict.sh [TOPOLOGY...]   (default: the four 2-cluster built-ins)
set -euo pipefail
cd "$(dirname "$0")/.."
topologies=("$@")
if [ ${#topologies[@]} -eq 0 ]; then
  topologies=(multi-primary multi-primary-multi-network primary-remote primary-remote-multi-network)
fi
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
$GO build -o bin/meshconform ./cmd/meshconform
tmp=$(mktemp -d)
state=
cleanup() {
  [ -n "$state" ] && [ -f "$state/environment.json" ] && bin/meshconform down --state-dir "$state" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# failed_specs DIR: "spec (duration)" of every spec that failed, from Ginkgo's JSON report.
failed_specs() {
  python3 - "$1/ginkgo-report.json" <<'PY' 2>/dev/null || echo "(no report)"
import json, sys
out = []
for suite in json.load(open(sys.argv[1])):
    for s in suite.get("SpecReports") or []:
        if s.get("LeafNodeType") == "It" and s.get("State") not in ("passed", "skipped", "pending"):
            out.append("%s (%.0fs)" % (s.get("LeafNodeText"), s.get("RunTime", 0) / 1e9))
print("; ".join(out) or "none")
PY
}
run_test() { # label dir
  local t0 t1 rc
  t0=$(date +%s)
  rc=0
  bin/meshconform test --state-dir "$state" --report-dir "$2" --no-artifacts --verbose=false >"$2.log" 2>&1 || rc=$?
  t1=$(date +%s)
  echo "  $1: test ${rc:+rc=$rc} $((t1 - t0))s; failed: $(failed_specs "$2")"
}
for t in "${topologies[@]}"; do
  id=$(head -c2 /dev/urandom | od -An -tx1 | tr -d ' \n')
  state=$tmp/$t/state
  mkdir -p "$tmp/$t"
  echo "$t:"
  t0=$(date +%s)
  bin/meshconform up --topology "$t" --offline --skip-preflight --env "verdict$id" --state-dir "$state" >"$tmp/$t/up.log" 2>&1 ||
    { echo "  up failed:"; tail -5 "$tmp/$t/up.log"; exit 1; }
  echo "  up $(( $(date +%s) - t0 ))s"
  run_test healthy "$tmp/$t/healthy"
  # The first primary's control-plane node runs kubectl with the cluster's admin kubeconfig.
  node=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print([c for c in s["clusters"] if c.get("role","primary")=="primary"][0]["nodes"][0])' "$state/environment.json")
  k=(docker exec -i "$node" kubectl --kubeconfig /etc/kubernetes/admin.conf -n istio-system)
  mesh=$("${k[@]}" get configmap istio -o jsonpath='{.data.mesh}')
  printf '%s\nserviceSettings:\n- settings:\n    clusterLocal: true\n  hosts:\n  - echo.echo.svc.cluster.local\n' "$mesh" >"$tmp/$t/mesh"
  "${k[@]}" create configmap istio --from-file=mesh=/dev/stdin --dry-run=client -o yaml <"$tmp/$t/mesh" |
    "${k[@]}" patch configmap istio --type merge --patch-file=/dev/stdin >/dev/null
  echo "  broke: echo.echo.svc.cluster.local cluster-local in $node's mesh config"
  run_test broken "$tmp/$t/broken"
  bin/meshconform down --state-dir "$state" >/dev/null
done
