#!/usr/bin/env bash
# A Docker 29 engine (dockerd, docker-proxy, containerd, containerd-shim-runc-v2, runc, the docker CLI) built from
# pinned Go modules through the module proxy, and run beside the machine's own dockerd on its own sockets, data roots,
# exec roots, pid files, logs and bridge. Machine setup only: the harness neither builds nor starts it.
#
# Usage (as root):
#   hack/engine/docker29.sh build             build into the content-stamped cache (a no-op when up to date)
#   hack/engine/docker29.sh start [--iptables=true|false]
#                                             start containerd + dockerd, wait until they answer, print the exports
#   hack/engine/docker29.sh stop              stop what start started (by its pid files), remove its bridge
#   hack/engine/docker29.sh status            what runs, where, with which settings
#   hack/engine/docker29.sh env               the export lines (DOCKER_HOST, PATH with the 29 CLI)
#   hack/engine/docker29.sh smoke             version, info, an image from scratch, `run --network none`, --privileged
#   hack/engine/docker29.sh bin-dir           the directory holding the binaries of the current pins
#
# Environment:
#   MESHCONFORM_CACHE   cache root (default /var/cache/meshconform); binaries go to engines/docker29-<stamp>/bin
#   DOCKER29_IPTABLES   true|false, the default of start's --iptables (default false)
#   DOCKER29_BRIDGE, DOCKER29_BRIDGE_CIDR   the default bridge (default mc29br0, 198.18.29.1/24)
#   DOCKER29_STORAGE_DRIVER   dockerd's storage-driver (default: Docker 29's own default, the containerd image store)
#
# iptables. Two dockerds that both manage iptables fight over the same chains: each creates and flushes DOCKER,
# DOCKER-USER, DOCKER-FORWARD, DOCKER-ISOLATION-STAGE-*, the nat DOCKER chain and the raw PREROUTING direct-access
# rules (Docker >= 28), each sets the FORWARD policy, and a restart of either rewrites rules the other relies on. So
# `start --iptables=true` (what the real e2e needs: NAT for published ports, masquerade, isolation) refuses while any
# other dockerd runs, naming it; stop that one first. `--iptables=false` (the default, for smoke tests) leaves every
# table alone and can run beside another daemon; its containers then have no NAT (use --network none or host).
# The guard looks only at start: do not start the other daemon while this one manages iptables. Docker leaves its
# chains behind when it stops; remove this engine's networks (`meshconform down`) before `stop`, so it deletes its
# per-network rules, then the other daemon recreates its own when it starts again.
#
# Why a bridge of our own: without --bridge, dockerd creates and owns "docker0", which belongs to the other daemon;
# with --bridge=none, Docker 29 deletes the host's "docker0" at startup (daemon_unix.go, removeDefaultBridgeInterface)
# and would break the other daemon's default network. So start creates $DOCKER29_BRIDGE and passes it as a
# user-managed bridge, and never sets default-address-pools (with them set, the same startup path deletes docker0 too).
set -euo pipefail

# --- pins: everything here is part of the cache stamp -----------------------------------------------------------------
MOBY_MODULE=github.com/moby/moby/v2
MOBY_VERSION=v2.0.0-beta.24
# moby v2.0.0-beta.24 (tagged 2026-09-15) is the Docker Engine 29.8.1 release: its releases/versions.yaml says
# "next: 29.8.1" (last 29.8.0), and 29.8.1 was released that day. `docker version` reports this.
ENGINE_VERSION=29.8.1
CONTAINERD_MODULE=github.com/containerd/containerd/v2
CONTAINERD_VERSION=v2.4.2
RUNC_MODULE=github.com/opencontainers/runc
RUNC_VERSION=v1.5.3
CLI_MODULE=github.com/docker/cli
CLI_VERSION=v29.10.0+incompatible
# The CLI's vendor.mod wants swarmkit v2.1.3, whose zip the module proxy refuses ("403 Forbidden: This module version
# is not available"); the CLI uses only its api and api/defaults packages, so it gets the swarmkit the engine
# itself is built with (moby v2.0.0-beta.24's go.mod), which the proxy serves.
CLI_REPLACE="github.com/moby/swarmkit/v2 => github.com/moby/swarmkit/v2 v2.1.3-0.20260828175525-ad0357aedfca"
# Build tags, as the projects' own release builds use them, minus what needs libraries Debian lacks or we never use:
# - dockerd, docker-proxy: static, no cgo (upstream builds them static with cgo only for btrfs, zfs, disk quota and
#   journald/libnftables): exclude_graphdriver_btrfs/zfs (we use overlay), exclude_disk_quota (its cgo half is the
#   only thing needing headers), nri_no_wasm as upstream.
DOCKERD_TAGS="netgo osusergo static_build nri_no_wasm exclude_graphdriver_btrfs exclude_graphdriver_zfs exclude_disk_quota"
# - containerd: no_cri (dockerd never uses the Kubernetes CRI plugin; Docker's own managed containerd disables it, and
#   it is most of the build), no_btrfs/no_zfs/no_devmapper (snapshotters we do not use; btrfs needs cgo), static.
CONTAINERD_TAGS="urfave_cli_no_docs no_cri no_btrfs no_zfs no_devmapper netgo osusergo static_build"
# - the shim: as upstream, the containerd tags plus no_grpc (it talks ttrpc), static.
SHIM_TAGS="urfave_cli_no_docs no_grpc no_btrfs no_zfs no_devmapper netgo osusergo static_build"
# - runc: seccomp (cgo against Debian's libseccomp-dev, linked statically as upstream's static-pie release), without
#   libpathrs (a Rust library Debian bookworm does not package; runc then uses its Go path-safety fallback).
RUNC_TAGS="seccomp urfave_cli_no_docs netgo osusergo"
# - the CLI: upstream's grpcnotrace; no cgo (nothing on Linux needs it), static.
CLI_TAGS="grpcnotrace netgo osusergo"
BINARIES="dockerd docker-proxy containerd containerd-shim-runc-v2 runc docker"
# --- end of pins ------------------------------------------------------------------------------------------------------

CACHE_ROOT=${MESHCONFORM_CACHE:-/var/cache/meshconform}/engines
NAME=meshconform-docker29
RUN_DIR=/run/$NAME                       # sockets, pid files, exec roots, generated configs
DATA_DIR=/var/lib/$NAME                  # dockerd data-root and containerd root
LOG_DIR=/var/log/$NAME
DOCKER_SOCK=$RUN_DIR/docker.sock
DOCKER_PID=$RUN_DIR/docker.pid
CTRD_SOCK=$RUN_DIR/containerd/containerd.sock
CTRD_PID=$RUN_DIR/containerd/containerd.pid
STATE_FILE=$RUN_DIR/state                # what start did: iptables mode, bridge created, bin dir
BRIDGE=${DOCKER29_BRIDGE:-mc29br0}
BRIDGE_CIDR=${DOCKER29_BRIDGE_CIDR:-198.18.29.1/24}   # RFC 2544 benchmark range: clashes with no harness pool

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
T0=$(date +%s)
log() { printf '[docker29 %s +%ss] %s\n' "$(date +%H:%M:%S)" "$(( $(date +%s) - T0 ))" "$*"; }
die() { log "error: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "$1 needs root"; }

# The recipe: each function below is hashed into the stamp (declare -f drops comments, so only code counts).
recipe_functions="write_module go_build build_runc build_containerd build_moby build_cli"

stamp() {
  {
    declare -p MOBY_MODULE MOBY_VERSION ENGINE_VERSION CONTAINERD_MODULE CONTAINERD_VERSION RUNC_MODULE RUNC_VERSION \
      CLI_MODULE CLI_VERSION CLI_REPLACE DOCKERD_TAGS CONTAINERD_TAGS SHIM_TAGS RUNC_TAGS CLI_TAGS BINARIES
    # shellcheck disable=SC2086
    declare -f $recipe_functions
    "$GO" env GOVERSION GOOS GOARCH GOAMD64
  } | sha256sum | cut -c1-16
}

bin_dir() { echo "$CACHE_ROOT/docker29-$(stamp)/bin"; }

up_to_date() { # $1 bin dir
  [ -f "$1/.stamp" ] && [ "$(cat "$1/.stamp")" = "$(stamp)" ] || return 1
  local b; for b in $BINARIES; do [ -x "$1/$b" ] || return 1; done
}

# write_module DIR NAME MODULE VERSION [EXTRA_REQUIRES]: a throwaway main module requiring the pinned one. -mod=mod
# resolves the rest from the pinned module's own go.mod (none of them has replace directives that would be lost).
write_module() {
  mkdir -p "$1"
  {
    echo "module meshconform.local/engine-build/$2"
    echo
    echo "go $("$GO" env GOVERSION | sed 's/^go//')"
    echo
    echo "require $3 $4"
    [ -z "${5:-}" ] || printf '\n%s\n' "$5"
  } >"$1/go.mod"
}

# go_build DIR OUT CGO TAGS LDFLAGS PKG [extra go build flags...]
go_build() {
  local dir=$1 out=$2 cgo=$3 tags=$4 ldflags=$5 pkg=$6; shift 6
  (cd "$dir" && CGO_ENABLED=$cgo GOFLAGS="-mod=mod -buildvcs=false" GOWORK=off GOTOOLCHAIN=local \
    nice -n 10 "$GO" build -trimpath "$@" -tags "$tags" -ldflags "$ldflags" -o "$out" "$pkg")
}

build_runc() { # $1 work dir, $2 out dir
  write_module "$1/runc" runc "$RUNC_MODULE" "$RUNC_VERSION"
  go_build "$1/runc" "$2/runc" 1 "$RUNC_TAGS" \
    "-X main.gitCommit=$RUNC_VERSION -linkmode external -extldflags -static-pie" "$RUNC_MODULE" -buildmode=pie
}

build_containerd() {
  write_module "$1/containerd" containerd "$CONTAINERD_MODULE" "$CONTAINERD_VERSION"
  local x="-X $CONTAINERD_MODULE/version.Version=$CONTAINERD_VERSION -X $CONTAINERD_MODULE/version.Revision=$CONTAINERD_VERSION -X $CONTAINERD_MODULE/version.Package=$CONTAINERD_MODULE"
  go_build "$1/containerd" "$2/containerd" 0 "$CONTAINERD_TAGS" "-s -w $x" "$CONTAINERD_MODULE/cmd/containerd"
  go_build "$1/containerd" "$2/containerd-shim-runc-v2" 0 "$SHIM_TAGS" "-s -w $x" "$CONTAINERD_MODULE/cmd/containerd-shim-runc-v2"
}

build_moby() {
  write_module "$1/moby" moby "$MOBY_MODULE" "$MOBY_VERSION"
  local v=$MOBY_MODULE/dockerversion
  local now x
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  x="-X $v.Version=$ENGINE_VERSION -X $v.GitCommit=moby-$MOBY_VERSION -X $v.BuildTime=$now"
  x="$x -X '$v.PlatformName=Docker Engine $ENGINE_VERSION (meshconform build of moby $MOBY_VERSION)'"
  go_build "$1/moby" "$2/dockerd" 0 "$DOCKERD_TAGS" "-w $x" "$MOBY_MODULE/cmd/dockerd"
  go_build "$1/moby" "$2/docker-proxy" 0 "$DOCKERD_TAGS" "-w $x" "$MOBY_MODULE/cmd/docker-proxy"
}

build_cli() {
  # docker/cli has no go.mod (it is +incompatible: CalVer) but a vendor.mod; required as a dependency it would compile
  # at language version go1.16 and fail. So, as upstream's scripts/with-go-mod.sh does, the temporary module is a copy
  # of its source with vendor.mod as go.mod (the module proxy's zip has no vendored code, only vendor/modules.txt).
  local src
  src=$(GOFLAGS=-mod=mod "$GO" mod download -json "$CLI_MODULE@$CLI_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -f "$src/vendor.mod" ] || die "no vendor.mod in $CLI_MODULE@$CLI_VERSION ($src)"
  cp -r "$src" "$1/cli" && chmod -R u+w "$1/cli" && rm -rf "$1/cli/vendor"
  mv "$1/cli/vendor.mod" "$1/cli/go.mod" && mv "$1/cli/vendor.sum" "$1/cli/go.sum"
  printf '\nreplace %s\n' "$CLI_REPLACE" >>"$1/cli/go.mod"
  local v=github.com/docker/cli/cli/version ver=${CLI_VERSION#v}
  ver=${ver%%+*}
  local now x
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  x="-X $v.Version=$ver -X $v.GitCommit=v$ver -X $v.BuildTime=$now"
  go_build "$1/cli" "$2/docker" 0 "$CLI_TAGS" "-w $x" ./cmd/docker
}

ensure_packages() {
  local p need=()
  for p in libseccomp-dev pkg-config gcc libc6-dev iptables jq iproute2; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
  ((${#need[@]})) || return 0
  need_root "installing ${need[*]}"
  log "apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
}

cmd_build() {
  local force=0
  for a in "$@"; do case $a in --force) force=1 ;; *) die "build: unknown argument $a" ;; esac; done
  local bin top stamp
  stamp=$(stamp); top=$CACHE_ROOT/docker29-$stamp; bin=$top/bin
  if [ "$force" = 0 ] && up_to_date "$bin"; then
    log "up to date: $bin (stamp $stamp)"; return 0
  fi
  ensure_packages
  mkdir -p "$top"
  local buildlog=$top/build.log
  BUILD_WORK=$(mktemp -d "$top/.work.XXXXXX"); BUILD_OUT=$(mktemp -d "$top/.bin.XXXXXX")
  trap 'rm -rf "$BUILD_WORK" "$BUILD_OUT"' EXIT
  : >"$buildlog"
  log "building Docker $ENGINE_VERSION (moby $MOBY_VERSION), containerd $CONTAINERD_VERSION, runc $RUNC_VERSION, CLI $CLI_VERSION with $("$GO" env GOVERSION); log: $buildlog"
  local step t
  for step in runc containerd moby cli; do
    t=$(date +%s)
    log "building $step"
    if ! "build_$step" "$BUILD_WORK" "$BUILD_OUT" >>"$buildlog" 2>&1; then
      tail -30 "$buildlog" >&2; die "building $step failed (whole log: $buildlog)"
    fi
    log "built $step in $(( $(date +%s) - t ))s"
  done
  local b versions=""
  for b in dockerd docker-proxy containerd runc docker; do
    versions+="$("$BUILD_OUT/$b" --version 2>&1 | head -1); " || die "$b does not run: $versions"
  done
  echo "$versions" >>"$buildlog"
  echo "$stamp" >"$BUILD_OUT/.stamp"
  rm -rf "$bin" && mv "$BUILD_OUT" "$bin" && chmod 0755 "$bin"
  log "built into $bin in $(( $(date +%s) - T0 ))s: $versions"
  # Builds of other pins are superseded (~180 MB each), unless a running engine uses them.
  local d inuse; inuse=$(sed -n 's/^bin=//p' "$STATE_FILE" 2>/dev/null || true)
  for d in "$CACHE_ROOT"/docker29-*; do
    [ "$d" = "$top" ] || [ "$d/bin" = "$inuse" ] || { rm -rf "$d" && log "removed superseded $d"; }
  done
}

# --- running ----------------------------------------------------------------------------------------------------------

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
dk() { "$BIN/docker" -H "unix://$DOCKER_SOCK" "$@"; }

# Other dockerd processes: any dockerd whose pid is not in our pid file. Prints "pid: command line" per daemon.
other_dockerds() {
  local ours="" p
  [ -f "$DOCKER_PID" ] && ours=$(cat "$DOCKER_PID")
  for p in $(pgrep -x dockerd || true); do
    [ "$p" = "$ours" ] && continue
    # Its API socket(s): what it listens on, minus its internal libnetwork/metrics sockets.
    local socks; socks=$(ss -xlpn 2>/dev/null | grep -F "pid=$p," | awk '{print $5}' | grep -v '/libnetwork/\|metrics.sock\|^@' | sort -u | paste -sd' ')
    printf '  pid %s: %s(listening on %s)\n' "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" "${socks:-?}"
  done
}

write_configs() { # $1 iptables true|false
  mkdir -p "$RUN_DIR/containerd" "$DATA_DIR/containerd/daemon" "$DATA_DIR/docker" "$LOG_DIR"
  # containerd: its own socket, root and state (Docker's own layout for the containerd it manages); no imports of
  # /etc/containerd/conf.d (the default); CRI is not built in; NRI off (its socket would be the machine-wide
  # /var/run/nri/nri.sock); no debug, metrics or TCP listeners. Config version 4 (containerd 2.4): the listeners are
  # server plugins, and a version-3 style [grpc] table under version 4 is ignored (containerd then serves on the
  # default /run/containerd/containerd.sock). So start also passes --address/--root/--state and checks the log.
  cat >"$RUN_DIR/containerd/config.toml" <<EOF
version = 4
root = '$DATA_DIR/containerd/daemon'
state = '$RUN_DIR/containerd/daemon'
imports = []
disabled_plugins = ['io.containerd.grpc.v1.cri', 'io.containerd.nri.v1.nri']

[plugins]
  [plugins.'io.containerd.server.v1.grpc']
    address = '$CTRD_SOCK'
  [plugins.'io.containerd.server.v1.ttrpc']
    address = '$CTRD_SOCK.ttrpc'
  [plugins.'io.containerd.server.v1.debug']
    address = ''
  [plugins.'io.containerd.server.v1.metrics']
    address = ''
  [plugins.'io.containerd.server.v1.grpc-tcp']
    address = ''
  [plugins.'io.containerd.internal.v1.opt']
    path = '$DATA_DIR/containerd/opt'
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
EOF
  # The runc wrapper of .ci/setup-machine, calling our runc: it drops CAP_SYS_RESOURCE, which this VM's bounding set
  # lacks, from the OCI config (`create/run --bundle`) and from `exec --process` files. Docker 29 itself already
  # leaves capabilities outside its bounding set out of --privileged (daemon/pkg/oci/caps), so `--runtime runc
  # --privileged` works here too; the wrapper stays as the default runtime so both engines run containers alike.
  cat >"$RUN_DIR/runc-nosysres.new" <<WRAP
#!/bin/bash
strip() { # \$1 file, \$2 jq path of the process object ("" when the file is the process itself)
  [ -f "\$1" ] || return 0
  local tmp="\$1.nosysres" p="\$2.capabilities"
  jq "if \$p then \$p |= with_entries(.value |= (if type==\"array\" then map(select(. != \"CAP_SYS_RESOURCE\")) else . end)) else . end" "\$1" >"\$tmp" && mv "\$tmp" "\$1"
}
bundle="" process="" prev=""
for a in "\$@"; do
  case "\$prev" in --bundle|-b) bundle=\$a ;; --process|-p) process=\$a ;; esac
  case "\$a" in --bundle=*) bundle=\${a#--bundle=} ;; --process=*) process=\${a#--process=} ;; esac
  prev=\$a
done
[ -n "\$bundle" ] && strip "\$bundle/config.json" .process
[ -n "\$process" ] && strip "\$process" ""
exec "$BIN/runc" "\$@"
WRAP
  chmod 0755 "$RUN_DIR/runc-nosysres.new" && mv "$RUN_DIR/runc-nosysres.new" "$RUN_DIR/runc-nosysres"
  # dockerd: its own config file (never /etc/docker/daemon.json, the other daemon's), socket, pid file, roots, cgroup
  # parent and bridge. With iptables off it also leaves ip_forward alone.
  jq -n --arg data "$DATA_DIR/docker" --arg exec "$RUN_DIR/exec" --arg pid "$DOCKER_PID" \
    --arg host "unix://$DOCKER_SOCK" --arg ctrd "$CTRD_SOCK" --arg wrapper "$RUN_DIR/runc-nosysres" \
    --arg bridge "$BRIDGE" --arg proxy "$BIN/docker-proxy" --argjson ipt "$1" \
    --arg storage "${DOCKER29_STORAGE_DRIVER:-}" \
    '{"data-root": $data, "exec-root": $exec, "pidfile": $pid, "hosts": [$host], "containerd": $ctrd,
      "runtimes": {"nosysres": {"path": $wrapper}}, "default-runtime": "nosysres",
      "bridge": $bridge, "iptables": $ipt, "ip6tables": $ipt, "ip-forward": $ipt, "ip-masq": $ipt,
      "userland-proxy-path": $proxy, "cgroup-parent": "/meshconform-docker29",
      "log-driver": "json-file", "log-opts": {"max-size": "20m"}}
     + (if $storage != "" then {"storage-driver": $storage} else {} end)' >"$RUN_DIR/daemon.json"
}

ensure_bridge() {
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    echo "bridge_created=${bridge_created:-0}" >>"$STATE_FILE"; return 0
  fi
  ip link add "$BRIDGE" type bridge
  ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  echo "bridge_created=1" >>"$STATE_FILE"
  log "created bridge $BRIDGE ($BRIDGE_CIDR)"
}

log_since() { tail -n +"$(($1 + 1))" "$LOG_DIR/containerd.log" | grep -qF -- "$2"; } # $1 line count, $2 text

wait_for() { # $1 seconds, $2 description, $3 pid file, then the command that must succeed
  local secs=$1 what=$2 pidf=$3 i; shift 3
  for ((i = 0; i < secs * 2; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    alive "$pidf" || return 1
    sleep 0.5
  done
  return 1
}

cmd_start() {
  need_root start
  local ipt=${DOCKER29_IPTABLES:-false} a
  for a in "$@"; do
    case $a in
      --iptables=true|--iptables) ipt=true ;;
      --iptables=false) ipt=false ;;
      *) die "start: unknown argument $a (known: --iptables=true|false)" ;;
    esac
  done
  case $ipt in true|false) ;; *) die "DOCKER29_IPTABLES must be true or false, not $ipt" ;; esac
  BIN=$(bin_dir)
  up_to_date "$BIN" || die "no binaries for the current pins in $BIN: run '$0 build' first"
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/start-stop.lock"; flock -n 9 || die "another start/stop of this engine is running"
  if alive "$DOCKER_PID" && alive "$CTRD_PID"; then
    local cur; cur=$(sed -n 's/^iptables=//p' "$STATE_FILE" 2>/dev/null)
    [ "$cur" = "$ipt" ] || die "already running with iptables=$cur; stop it first to change to iptables=$ipt"
    BIN=$(sed -n 's/^bin=//p' "$STATE_FILE")
    log "already running (dockerd pid $(cat "$DOCKER_PID"), containerd pid $(cat "$CTRD_PID"), binaries $BIN)"
    print_env; return 0
  fi
  if [ "$ipt" = true ]; then
    local others; others=$(other_dockerds)
    [ -z "$others" ] || die "refusing --iptables=true while another dockerd runs (two daemons managing iptables fight
  over the DOCKER chains, the FORWARD policy and the raw direct-access rules); stop it first:
$others"
  fi
  alive "$DOCKER_PID" && die "dockerd (pid $(cat "$DOCKER_PID")) runs without its containerd: run '$0 stop' first"
  local bridge_created; bridge_created=$(sed -n 's/^bridge_created=//p' "$STATE_FILE" 2>/dev/null || true)
  printf 'iptables=%s\nbin=%s\nstarted=%s\n' "$ipt" "$BIN" "$(date -u +%FT%TZ)" >"$STATE_FILE"
  write_configs "$ipt"
  ensure_bridge
  local path=$BIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  if ! alive "$CTRD_PID"; then
    rm -f "$CTRD_SOCK" "$CTRD_SOCK.ttrpc"
    log "starting containerd (log $LOG_DIR/containerd.log)"
    # PATH: containerd finds the shim, and the shim runc, by name; ours come first.
    local mark; mark=$(wc -l <"$LOG_DIR/containerd.log" 2>/dev/null || echo 0)
    env -i PATH="$path" nohup "$BIN/containerd" --config "$RUN_DIR/containerd/config.toml" --address "$CTRD_SOCK" \
      --root "$DATA_DIR/containerd/daemon" --state "$RUN_DIR/containerd/daemon" \
      >>"$LOG_DIR/containerd.log" 2>&1 </dev/null 9>&- &
    echo $! >"$CTRD_PID"
    if ! wait_for 30 containerd "$CTRD_PID" log_since "$mark" 'containerd successfully booted'; then
      tail -20 "$LOG_DIR/containerd.log" >&2; stop_pid "$CTRD_PID" containerd 10
      die "containerd did not come up (log $LOG_DIR/containerd.log)"
    fi
    # It must serve on our sockets only, never on the machine's default /run/containerd/containerd.sock.
    local served
    served=$(tail -n +"$((mark + 1))" "$LOG_DIR/containerd.log" | sed -n 's/.*msg=serving\.\.\. address=\([^ ]*\).*/\1/p' | sort -u | tr '\n' ' ')
    if [ "$served" != "$CTRD_SOCK $CTRD_SOCK.ttrpc " ] || [ ! -S "$CTRD_SOCK" ]; then
      stop_pid "$CTRD_PID" containerd 10
      die "containerd served on '$served', not only on $CTRD_SOCK(.ttrpc): stopped it; check $RUN_DIR/containerd/config.toml"
    fi
  fi
  rm -f "$DOCKER_SOCK"
  log "starting dockerd, iptables=$ipt (log $LOG_DIR/dockerd.log)"
  env -i PATH="$path" nohup "$BIN/dockerd" --config-file "$RUN_DIR/daemon.json" \
    >>"$LOG_DIR/dockerd.log" 2>&1 </dev/null 9>&- &
  local dpid=$!
  # dockerd writes the pid file itself once it is up; until then remember the pid we started.
  echo "$dpid" >"$RUN_DIR/docker.started.pid"
  if ! wait_for 90 dockerd "$RUN_DIR/docker.started.pid" dk version; then
    tail -20 "$LOG_DIR/dockerd.log" >&2
    die "dockerd did not answer on $DOCKER_SOCK in 90 s (log $LOG_DIR/dockerd.log; '$0 stop' cleans up)"
  fi
  rm -f "$RUN_DIR/docker.started.pid"
  log "ready: $(dk version --format 'server {{.Server.Version}} (API {{.Server.APIVersion}}, min {{.Server.MinAPIVersion}}), client {{.Client.Version}}')"
  print_env
}

print_env() {
  BIN=${BIN:-$(bin_dir)}
  echo "export DOCKER_HOST=unix://$DOCKER_SOCK"
  echo "export PATH=$BIN:\$PATH   # the Docker 29 CLI"
}

stop_pid() { # $1 pid file, $2 name, $3 seconds
  local pidf=$1 name=$2 secs=$3 pid i
  [ -f "$pidf" ] || return 0
  pid=$(cat "$pidf")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid"
    for ((i = 0; i < secs * 2; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then log "$name did not stop in ${secs}s: SIGKILL"; kill -KILL "$pid"; sleep 1; fi
  fi
  rm -f "$pidf"
}

cmd_stop() {
  need_root stop
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/start-stop.lock"; flock -n 9 || die "another start/stop of this engine is running"
  # dockerd stops its containers (10 s each by default) before it exits.
  stop_pid "$RUN_DIR/docker.started.pid" "dockerd (starting)" 30
  stop_pid "$DOCKER_PID" dockerd 60
  stop_pid "$CTRD_PID" containerd 20
  # Shims of our containerd outlive it by design; only ours name our containerd's socket.
  local p
  for p in $(pgrep -f -- "^containerd-shim-runc-v2 .*-address $CTRD_SOCK( |\$)" || true); do
    log "stopping leftover shim pid $p"; kill -TERM "$p" 2>/dev/null || true
  done
  if [ "$(sed -n 's/^bridge_created=//p' "$STATE_FILE" 2>/dev/null)" = 1 ] && ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link del "$BRIDGE" && log "removed bridge $BRIDGE"
  fi
  rm -f "$STATE_FILE" "$DOCKER_SOCK" "$CTRD_SOCK" "$CTRD_SOCK.ttrpc"
  log "stopped"
}

cmd_status() {
  BIN=$(bin_dir)
  if up_to_date "$BIN"; then echo "binaries: $BIN (stamp $(stamp))"; else echo "binaries: not built for the current pins ($BIN)"; fi
  local what pidf
  for what in containerd:"$CTRD_PID" dockerd:"$DOCKER_PID"; do
    pidf=${what#*:}
    if alive "$pidf"; then echo "${what%%:*}: running, pid $(cat "$pidf")"; else echo "${what%%:*}: not running"; fi
  done
  [ -f "$STATE_FILE" ] && sed 's/^/state: /' "$STATE_FILE"
  echo "socket: unix://$DOCKER_SOCK   data: $DATA_DIR   logs: $LOG_DIR   bridge: $BRIDGE"
  if alive "$DOCKER_PID" && [ -x "$BIN/docker" ]; then
    dk version --format 'engine: server {{.Server.Version}} (API {{.Server.APIVersion}}), client {{.Client.Version}}' 2>&1 || true
  fi
  local others; others=$(other_dockerds)
  [ -z "$others" ] || { echo "other dockerd processes:"; echo "$others"; }
}

cmd_smoke() {
  need_root smoke
  BIN=$(bin_dir)
  alive "$DOCKER_PID" || die "not running: '$0 start' first"
  log "docker version"; dk version
  log "docker info (storage, runtimes, cgroups)"
  dk info --format 'server {{.ServerVersion}}; storage driver {{.Driver}} {{range .DriverStatus}}{{index . 0}}={{index . 1}} {{end}}; default runtime {{.DefaultRuntime}}; cgroup {{.CgroupDriver}} v{{.CgroupVersion}}; root {{.DockerRootDir}}; {{len .Warnings}} warning(s):'
  dk info 2>&1 | grep -iE 'warning' || true
  # An image from scratch with a static Go binary: no registry, no base image.
  local tmp; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  mkdir -p "$tmp/src" "$tmp/ctx"
  cat >"$tmp/src/main.go" <<'EOF'
package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "CapEff:") {
			fmt.Println("hello from a scratch image;", l)
		}
	}
	if len(os.Args) > 1 && os.Args[1] == "sleep" {
		time.Sleep(time.Hour)
	}
}
EOF
  printf 'module smoke\n\ngo 1.22\n' >"$tmp/src/go.mod"
  (cd "$tmp/src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false "$GO" build -o "$tmp/ctx/hello" .)
  printf 'FROM scratch\nCOPY hello /hello\nENTRYPOINT ["/hello"]\n' >"$tmp/ctx/Dockerfile"
  # The CLI is built without the buildx plugin, so `docker build` is the daemon's legacy builder; the image kit itself
  # loads images with `docker import`, checked second.
  log "docker build, legacy builder (FROM scratch + a static Go binary)"
  local out
  out=$(DOCKER_BUILDKIT=0 dk build -q -t meshconform/docker29-smoke:1 "$tmp/ctx" 2>&1) || { echo "$out"; die "docker build failed"; }
  echo "${out##*$'\n'}"   # the image ID; the legacy builder's deprecation notice above it is not news
  log "docker import (a tarball, as the image kit loads images)"
  tar -C "$tmp/ctx" -c hello | dk import --change 'ENTRYPOINT ["/hello"]' - meshconform/docker29-smoke:import >/dev/null
  dk run --rm --network none meshconform/docker29-smoke:import
  log "docker run --rm --network none"
  dk run --rm --network none meshconform/docker29-smoke:1
  log "docker run --rm --network none --privileged (through the runc wrapper)"
  dk run --rm --network none --privileged meshconform/docker29-smoke:1
  log "docker exec into a privileged container"
  dk run -d --name docker29-smoke --network none --privileged meshconform/docker29-smoke:1 sleep >/dev/null
  local rc=0
  dk exec docker29-smoke /hello || rc=$?
  dk rm -f docker29-smoke >/dev/null
  [ "$rc" = 0 ] || die "docker exec failed"
  dk image rm meshconform/docker29-smoke:1 meshconform/docker29-smoke:import >/dev/null
  dk image prune -f >/dev/null
  log "smoke test passed"
}

case ${1:-} in
  build) shift; cmd_build "$@" ;;
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) print_env ;;
  smoke) cmd_smoke ;;
  bin-dir) bin_dir ;;
  stamp) stamp ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
