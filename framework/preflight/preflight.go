// Package preflight checks, before anything is created, that this machine can run a topology; each problem comes
// with the command that fixes it.
package preflight

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/meshconform/meshconform/framework/inventory"
	"github.com/meshconform/meshconform/framework/topology"
)

// Severity of a finding: errors stop `up`, warnings do not.
type Severity string

const (
	OK      Severity = "ok"
	Warning Severity = "warning"
	Error   Severity = "error"
)

// Finding is one check's result.
type Finding struct {
	Check    string
	Severity Severity
	Message  string
	Fix      string
}

// Per-cluster footprint measured on our machines (research/offline-kind.md, offline-istio-proxyless.md): an idle
// node ~0.5 GiB; with Istio and workloads ~1.2 GiB per single-node cluster.
const (
	memPerCluster = 1200 << 20
	memPerWorker  = 600 << 20
)

// Options tune Run.
type Options struct {
	// Env is the environment about to come up: its own clusters and networks are neither leftovers nor others'.
	Env string
}

// Run performs every check for the topology.
func Run(ctx context.Context, t *topology.Topology, opts Options) []Finding {
	var out []Finding
	dockerOK := checkDocker(ctx, &out)
	if t.BringYourOwn() {
		return out
	}
	var others inventory.Inventory
	if dockerOK {
		// A listing that fails contributes nothing: the docker check already reports an unreachable daemon.
		if inv, err := inventory.Take(ctx); err == nil {
			others = inv.Others(opts.Env)
		}
	}
	checkHost(&out, system, t, others)
	checkOthers(&out, others)
	return out
}

// host is what the checks that need no docker read from this machine; tests give their own.
type host struct {
	readFile func(name string) ([]byte, error)
	lookPath func(file string) (string, error)
	geteuid  func() int
	numCPU   func() int
}

var system = host{readFile: os.ReadFile, lookPath: exec.LookPath, geteuid: os.Geteuid, numCPU: runtime.NumCPU}

// checkHost runs the checks of the kernel limits, memory, CPUs and (isolated networking) iptables and privileges.
// Clusters of other environments count: their kubelets hold inotify instances too. (Their memory is already out of
// MemAvailable.)
func checkHost(out *[]Finding, h host, t *topology.Topology, others inventory.Inventory) {
	n := len(t.Spec.Clusters)
	for _, e := range others {
		n += len(e.Clusters)
	}
	checkInotify(out, h, n)
	checkResources(out, h, t)
	if t.Spec.Networking == topology.NetworkingIsolated {
		if _, err := h.lookPath("iptables"); err != nil {
			*out = append(*out, Finding{"iptables", Error, "isolated networking needs the iptables command on this host",
				"apt-get install -y iptables   (or use spec.networking: bridged)"})
		} else if h.geteuid() != 0 {
			*out = append(*out, Finding{"privileges", Error, "isolated networking edits the host's DOCKER-USER iptables chain, which needs root",
				"run meshconform as root (sudo), or use spec.networking: bridged"})
		}
	}
}

func checkDocker(ctx context.Context, out *[]Finding) bool {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := exec.LookPath("docker"); err != nil {
		*out = append(*out, Finding{"docker", Error, "the docker command is not installed", "apt-get install -y docker.io"})
		return false
	}
	b, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	if err != nil {
		*out = append(*out, Finding{"docker", Error, "the docker daemon is not reachable: " + firstLine(string(b)),
			"start it: `sudo systemctl start docker` (or `sudo bash .ci/setup-machine` on machines like our CI)"})
		return false
	}
	*out = append(*out, Finding{"docker", OK, "docker daemon " + strings.TrimSpace(string(b)), ""})
	return true
}

func checkInotify(out *[]Finding, h host, clusters int) {
	// kind's known-issues figures; several clusters exhaust Debian's defaults (128 instances).
	want := map[string]int{"max_user_watches": 524288, "max_user_instances": 512}
	if clusters <= 1 {
		want = map[string]int{"max_user_watches": 65536, "max_user_instances": 256}
	}
	for _, k := range []string{"max_user_watches", "max_user_instances"} {
		b, err := h.readFile("/proc/sys/fs/inotify/" + k)
		if err != nil {
			continue
		}
		v, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if v < want[k] {
			*out = append(*out, Finding{"inotify", Error,
				fmt.Sprintf("fs.inotify.%s is %d; %d clusters need at least %d (kubelets fail with 'too many open files')", k, v, clusters, want[k]),
				fmt.Sprintf("sudo sysctl -w fs.inotify.%s=%d", k, want[k])})
		}
	}
}

func checkResources(out *[]Finding, h host, t *topology.Topology) {
	need := uint64(0)
	for _, c := range t.Spec.Clusters {
		need += memPerCluster + uint64(c.Workers)*memPerWorker
	}
	if avail, ok := memAvailable(h); ok {
		sev, msg := OK, fmt.Sprintf("%.1f GiB available, the topology needs about %.1f GiB", gib(avail), gib(need))
		if avail < need {
			sev = Error
		}
		fix := ""
		if sev == Error {
			fix = "free memory, give the docker VM more, or choose a topology with fewer clusters/workers"
		}
		*out = append(*out, Finding{"memory", sev, msg, fix})
	}
	if n := h.numCPU(); n < 2 {
		*out = append(*out, Finding{"cpu", Error, fmt.Sprintf("%d CPU; kind clusters need at least 2", n), "use a machine with 2 or more CPUs"})
	} else if n < len(t.Spec.Clusters) {
		*out = append(*out, Finding{"cpu", Warning, fmt.Sprintf("%d CPUs for %d clusters: expect slow starts", n, len(t.Spec.Clusters)), ""})
	}
}

// checkOthers names the other environments on the machine (they share its memory, CPUs and inotify instances, and
// are never touched by this one) and warns of unnamed ones an older meshconform left.
func checkOthers(out *[]Finding, others inventory.Inventory) {
	var named []string
	for _, e := range others {
		if e.Name == "" {
			*out = append(*out, Finding{"leftovers", Warning, "resources of an older meshconform, which named no environment: " +
				strings.TrimPrefix(e.String(), "(unnamed: an older meshconform's): "), "meshconform down --all   (lists them and asks first)"})
			continue
		}
		named = append(named, e.String())
	}
	if len(named) > 0 {
		*out = append(*out, Finding{"environments", OK, fmt.Sprintf("%d other environment(s) on this machine, left alone and "+
			"counted in the limits above: %s", len(named), strings.Join(named, " | ")), ""})
	}
}

func memAvailable(h host) (uint64, bool) {
	b, err := h.readFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemAvailable:" {
			kb, err := strconv.ParseUint(fields[1], 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

func gib(b uint64) float64 { return float64(b) / (1 << 30) }

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Print writes findings, one per line, fixes indented; it returns whether any is an error.
func Print(w io.Writer, findings []Finding) (failed bool) {
	for _, f := range findings {
		fmt.Fprintf(w, "  %-8s %-10s %s\n", f.Severity, f.Check, f.Message)
		if f.Fix != "" {
			fmt.Fprintf(w, "           fix: %s\n", f.Fix)
		}
		if f.Severity == Error {
			failed = true
		}
	}
	return failed
}
