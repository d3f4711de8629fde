#!/usr/bin/env bash
# Runs `meshconform run` over the built-in topologies ROUNDS times in a row and prints one line per run (exit code,
# wall time, result, and the phase timings from the conformance report), then the number of failed runs.
# Usage: sudo hack/matrix.sh [ROUNDS] [TOPOLOGY...]   (default: 5 rounds, every built-in)
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
shift || true
topologies=("$@")
if [ ${#topologies[@]} -eq 0 ]; then
  topologies=(multi-primary multi-primary-multi-network primary-remote primary-remote-multi-network mix-3-cluster)
fi
make build >/dev/null
out=${MATRIX_OUT:-_out/matrix}
mkdir -p "$out"
failed=0
for r in $(seq 1 "$rounds"); do
  for t in "${topologies[@]}"; do
    dir="$out/$r-$t"
    start=$(date +%s)
    bin/meshconform run --topology "$t" --report-dir "$dir" >"$dir.log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    result=$(awk '/^result:/ {print $2; exit}' "$dir/conformance-report.yaml" 2>/dev/null)
    phases=$(awk '/^timings:/ {on=1; next} on && /^[a-z]/ {on=0} on && /duration:/ {d=$NF} on && /phase:/ {sub(/.*phase: /, ""); gsub(/ /, "_"); printf "%s=%s ", $0, d}' \
      "$dir/conformance-report.yaml" 2>/dev/null)
    echo "round $r $t: rc=$rc ${secs}s result=${result:-none} $phases"
    [ "$rc" -eq 0 ] || failed=$((failed + 1))
  done
done
echo "failed runs: $failed of $(( rounds * ${#topologies[@]} ))"
[ "$failed" -eq 0 ]
