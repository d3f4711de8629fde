#!/usr/bin/env bash
# Runs e2e packages (default: the provisioning e2e, bridged and isolated) against the Docker 29 engine that
# hack/engine/docker29.sh builds, then gives the machine its own dockerd back.
#
# Two dockerds cannot both manage iptables (docker29.sh explains why), so this: starts Docker 29 beside the machine's
# daemon without iptables and copies the kit's images into it (docker save | load; nothing is pulled), stops both,
# starts Docker 29 with iptables, runs `go test -tags e2e` with DOCKER_HOST pointing at it, then stops it and starts
# the machine's daemon again (.ci/setup-machine), on every exit path.
#
#   sudo hack/engine/e2e-docker29.sh [PACKAGE...]      e.g. ./e2e/provision/ (default)
#   sudo hack/engine/e2e-docker29.sh -- COMMAND...     any command instead, e.g. -- bin/meshconform run --topology
#                                                      multi-primary-multi-network --offline
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/usr/local/go/bin:$PATH
cmd=()
if [[ "${1:-}" == "--" ]]; then
  shift
  cmd=("$@")
else
  cmd=(go test -tags e2e -p 1 -count=1 -timeout 60m -v "${@:-./e2e/provision/}" -args -ginkgo.v)
fi
engine=hack/engine/docker29.sh
log() { echo "[e2e-docker29 $(date +%H:%M:%S)] $*"; }

restore() {
  local rc=$?
  log "stopping Docker 29 and starting the machine's dockerd again"
  bash "$engine" stop || true
  unset DOCKER_HOST # the machine's daemon is on the default socket
  # Its first start after another engine managed iptables can take over a minute (it restores its networks).
  bash .ci/setup-machine >/dev/null || bash .ci/setup-machine >/dev/null ||
    { log "could not restart the machine's dockerd: run .ci/setup-machine"; rc=1; }
  exit "$rc"
}

bash "$engine" build
go build -o bin/meshconform ./cmd/meshconform
# The images the e2e needs, built (or found up to date) on the machine's daemon.
bin/meshconform images build node workload metallb istio >/dev/null
mapfile -t imgs < <(docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^(meshconform\.io/(kind-node|workload|istio/)|quay\.io/metallb/)' )
trap restore EXIT
bash "$engine" start --iptables=false
sock=unix:///run/meshconform-docker29/docker.sock
log "copying ${#imgs[@]} images into Docker 29: ${imgs[*]}"
docker save "${imgs[@]}" | DOCKER_HOST=$sock docker load >/dev/null
bash "$engine" stop
log "stopping the machine's dockerd (its containers stop with it; nothing of ours may run there now)"
if docker ps -q | grep -q .; then
  log "refusing: the machine's dockerd runs containers: $(docker ps --format '{{.Names}}' | tr '\n' ' ')"
  exit 1
fi
pkill -x dockerd || true
for _ in $(seq 1 30); do pgrep -x dockerd >/dev/null || break; sleep 1; done
bash "$engine" start --iptables=true
export DOCKER_HOST=$sock
log "engine: $(docker version --format 'server {{.Server.Version}}, client {{.Client.Version}}')"
"${cmd[@]}"
