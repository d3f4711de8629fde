package preflight

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/inventory"
	"github.com/meshconform/meshconform/framework/topology"
)

// fakeHost is a machine with the given /proc files, commands, user and CPUs.
func fakeHost(files map[string]string, commands []string, euid, cpus int) host {
	return host{
		readFile: func(name string) ([]byte, error) {
			if s, ok := files[name]; ok {
				return []byte(s), nil
			}
			return nil, fs.ErrNotExist
		},
		lookPath: func(file string) (string, error) {
			for _, c := range commands {
				if c == file {
					return "/usr/sbin/" + file, nil
				}
			}
			return "", errors.New("not found")
		},
		geteuid: func() int { return euid },
		numCPU:  func() int { return cpus },
	}
}

func topo(networking topology.Networking, workers ...int) *topology.Topology {
	t := &topology.Topology{}
	t.Spec.Networking = networking
	for i, w := range workers {
		t.Spec.Clusters = append(t.Spec.Clusters, topology.Cluster{Name: fmt.Sprintf("cluster%d", i+1), Workers: w})
	}
	return t
}

func meminfo(availKiB uint64) string {
	return fmt.Sprintf("MemTotal:       16318480 kB\nMemFree:         1234567 kB\nMemAvailable:   %8d kB\nBuffers:          123456 kB\n", availKiB)
}

func inotify(watches, instances int) map[string]string {
	return map[string]string{
		"/proc/sys/fs/inotify/max_user_watches":   fmt.Sprintf("%d\n", watches),
		"/proc/sys/fs/inotify/max_user_instances": fmt.Sprintf("%d\n", instances),
	}
}

func with(m map[string]string, k, v string) map[string]string {
	m[k] = v
	return m
}

func byCheck(fs []Finding, check string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

func TestInotifyLimitsDependOnClusterCount(t *testing.T) {
	cases := []struct {
		name               string
		watches, instances int
		clusters           int
		want               []string // fixes expected, in order
	}{
		{"one cluster, Debian defaults pass the single-cluster floor", 65536, 256, 1, nil},
		{"one cluster, too few watches", 65535, 256, 1, []string{"sudo sysctl -w fs.inotify.max_user_watches=65536"}},
		{"two clusters, Debian's 128 instances", 524288, 128, 2, []string{"sudo sysctl -w fs.inotify.max_user_instances=512"}},
		{"two clusters, both low", 65536, 256, 2, []string{"sudo sysctl -w fs.inotify.max_user_watches=524288",
			"sudo sysctl -w fs.inotify.max_user_instances=512"}},
		{"four clusters, kind's figures exactly", 524288, 512, 4, nil},
	}
	for _, c := range cases {
		var out []Finding
		checkInotify(&out, fakeHost(inotify(c.watches, c.instances), nil, 0, 8), c.clusters)
		var got []string
		for _, f := range out {
			if f.Check != "inotify" || f.Severity != Error {
				t.Errorf("%s: unexpected finding %+v", c.name, f)
			}
			got = append(got, f.Fix)
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: fixes %q, want %q", c.name, got, c.want)
		}
	}
	var out []Finding
	checkInotify(&out, fakeHost(inotify(8192, 128), nil, 0, 8), 3)
	if len(out) != 2 || !strings.Contains(out[0].Message, "fs.inotify.max_user_watches is 8192; 3 clusters need at least 524288") {
		t.Errorf("message does not name the value, the clusters and the floor: %+v", out)
	}
}

func TestInotifyUnreadableIsNotAFinding(t *testing.T) {
	var out []Finding
	checkInotify(&out, fakeHost(nil, nil, 0, 8), 4) // e.g. a macOS docker host: no /proc
	if len(out) != 0 {
		t.Errorf("findings without /proc: %+v", out)
	}
}

func TestMemAvailableParsesMeminfo(t *testing.T) {
	cases := []struct {
		meminfo string
		want    uint64
		ok      bool
	}{
		{meminfo(2048), 2048 << 10, true},
		{"MemTotal: 100 kB\n", 0, false},                             // old kernels without MemAvailable
		{"MemAvailable: lots kB\n", 0, false},                        // unparseable
		{"MemAvailableX: 5 kB\nMemAvailable: 7 kB\n", 7 << 10, true}, // the field, not a prefix
	}
	for _, c := range cases {
		got, ok := memAvailable(fakeHost(map[string]string{"/proc/meminfo": c.meminfo}, nil, 0, 8))
		if got != c.want || ok != c.ok {
			t.Errorf("%q: %d, %v; want %d, %v", c.meminfo, got, ok, c.want, c.ok)
		}
	}
	if _, ok := memAvailable(fakeHost(nil, nil, 0, 8)); ok {
		t.Error("no /proc/meminfo reported as available memory")
	}
}

func TestMemoryNeedGrowsWithClustersAndWorkers(t *testing.T) {
	// Two clusters, one with two workers: 2*1200 MiB + 2*600 MiB = 3600 MiB.
	tp := topo(topology.NetworkingBridged, 0, 2)
	const need = 3600 << 10 // KiB
	for _, c := range []struct {
		availKiB uint64
		sev      Severity
	}{{need, OK}, {need - 1, Error}, {need * 4, OK}} {
		var out []Finding
		checkResources(&out, fakeHost(map[string]string{"/proc/meminfo": meminfo(c.availKiB)}, nil, 0, 8), tp)
		mem := byCheck(out, "memory")
		if len(mem) != 1 || mem[0].Severity != c.sev {
			t.Errorf("%d KiB available: %+v, want one %s memory finding", c.availKiB, mem, c.sev)
			continue
		}
		if !strings.Contains(mem[0].Message, "the topology needs about 3.5 GiB") {
			t.Errorf("message %q does not state the need", mem[0].Message)
		}
		if (mem[0].Fix != "") != (c.sev == Error) {
			t.Errorf("%s finding with fix %q", c.sev, mem[0].Fix)
		}
	}
	var out []Finding
	checkResources(&out, fakeHost(nil, nil, 0, 8), tp)
	if len(byCheck(out, "memory")) != 0 {
		t.Errorf("memory finding without /proc/meminfo: %+v", out)
	}
}

func TestCPUs(t *testing.T) {
	cases := []struct {
		cpus, clusters int
		want           Severity // "" = no finding
	}{{1, 1, Error}, {2, 1, ""}, {2, 3, Warning}, {3, 3, ""}, {8, 4, ""}}
	for _, c := range cases {
		var out []Finding
		checkResources(&out, fakeHost(nil, nil, 0, c.cpus), topo(topology.NetworkingBridged, make([]int, c.clusters)...))
		cpu := byCheck(out, "cpu")
		switch {
		case c.want == "" && len(cpu) != 0:
			t.Errorf("%d CPUs, %d clusters: %+v, want none", c.cpus, c.clusters, cpu)
		case c.want != "" && (len(cpu) != 1 || cpu[0].Severity != c.want):
			t.Errorf("%d CPUs, %d clusters: %+v, want one %s", c.cpus, c.clusters, cpu, c.want)
		}
	}
}

func TestIsolatedNetworkingNeedsIptablesAndRoot(t *testing.T) {
	ok := with(inotify(1<<20, 1024), "/proc/meminfo", meminfo(64<<20))
	cases := []struct {
		name       string
		networking topology.Networking
		commands   []string
		euid       int
		want       []string // checks with an error
	}{
		{"bridged needs neither", topology.NetworkingBridged, nil, 1000, nil},
		{"isolated as root with iptables", topology.NetworkingIsolated, []string{"iptables"}, 0, nil},
		{"isolated without iptables", topology.NetworkingIsolated, nil, 0, []string{"iptables"}},
		{"isolated without iptables, not root: the missing command first", topology.NetworkingIsolated, nil, 1000, []string{"iptables"}},
		{"isolated not root", topology.NetworkingIsolated, []string{"iptables"}, 1000, []string{"privileges"}},
	}
	for _, c := range cases {
		var out []Finding
		checkHost(&out, fakeHost(ok, c.commands, c.euid, 8), topo(c.networking, 0, 0), nil)
		var errs []string
		for _, f := range out {
			if f.Severity == Error {
				errs = append(errs, f.Check)
			}
		}
		if strings.Join(errs, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: errors %v, want %v (%+v)", c.name, errs, c.want, out)
		}
	}
}

func TestHostChecksOrder(t *testing.T) {
	files := with(inotify(100, 100), "/proc/meminfo", meminfo(1))
	var out []Finding
	checkHost(&out, fakeHost(files, nil, 1000, 1), topo(topology.NetworkingIsolated, 0, 0), nil)
	var checks []string
	for _, f := range out {
		checks = append(checks, f.Check)
	}
	if got, want := strings.Join(checks, ","), "inotify,inotify,memory,cpu,iptables"; got != want {
		t.Errorf("checks %s, want %s", got, want)
	}
}

func TestOtherEnvironmentsAreNotLeftovers(t *testing.T) {
	others := inventory.Inventory{
		{Name: "ab", Clusters: []string{"mc-ab-cluster1", "mc-ab-cluster2"}, Networks: []string{"mc-ab-bridge"}},
		{Name: "", Clusters: []string{"meshconform-cluster1"}, Networks: []string{"meshconform-bridge"}},
	}
	var out []Finding
	checkOthers(&out, others)
	if len(out) != 2 {
		t.Fatalf("findings %+v, want two", out)
	}
	if f := out[0]; f.Check != "leftovers" || f.Severity != Warning || !strings.Contains(f.Message, "meshconform-cluster1") ||
		strings.Contains(f.Message, "mc-ab") || !strings.Contains(f.Fix, "down --all") {
		t.Errorf("older leftovers: %+v", f)
	}
	if f := out[1]; f.Check != "environments" || f.Severity == Error || !strings.Contains(f.Message, "ab: clusters mc-ab-cluster1, mc-ab-cluster2") {
		t.Errorf("another environment: %+v", f)
	}
	out = nil
	checkOthers(&out, nil)
	if len(out) != 0 {
		t.Errorf("nothing else on the machine: %+v", out)
	}
}

// Another environment's clusters hold inotify instances too: 1 cluster here + 2 there need the multi-cluster limits.
func TestInotifyCountsOtherEnvironmentsClusters(t *testing.T) {
	files := map[string]string{"/proc/sys/fs/inotify/max_user_watches": "65536", "/proc/sys/fs/inotify/max_user_instances": "256",
		"/proc/meminfo": "MemAvailable: 99999999 kB\n"}
	var alone, shared []Finding
	checkHost(&alone, fakeHost(files, nil, 0, 4), topo(topology.NetworkingBridged, 0), nil)
	checkHost(&shared, fakeHost(files, nil, 0, 4), topo(topology.NetworkingBridged, 0),
		inventory.Inventory{{Name: "x", Clusters: []string{"mc-x-a", "mc-x-b"}}})
	count := func(fs []Finding) (n int) {
		for _, f := range fs {
			if f.Check == "inotify" && f.Severity == Error {
				n++
			}
		}
		return n
	}
	if count(alone) != 0 || count(shared) != 2 {
		t.Errorf("inotify errors alone %d (want 0), with another environment's 2 clusters %d (want 2)", count(alone), count(shared))
	}
}

func TestPrintReportsFailureOnlyForErrors(t *testing.T) {
	var b bytes.Buffer
	failed := Print(&b, []Finding{
		{"docker", OK, "docker daemon 27.1.1", ""},
		{"cpu", Warning, "2 CPUs for 3 clusters: expect slow starts", ""},
	})
	if failed {
		t.Error("ok and warning findings reported as a failure")
	}
	want := "  ok       docker     docker daemon 27.1.1\n  warning  cpu        2 CPUs for 3 clusters: expect slow starts\n"
	if b.String() != want {
		t.Errorf("printed\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	if !Print(&b, []Finding{{"leftovers", Error, "found x", "meshconform down --all"}}) {
		t.Error("an error finding not reported as a failure")
	}
	if want := "  error    leftovers  found x\n           fix: meshconform down --all\n"; b.String() != want {
		t.Errorf("printed %q, want %q", b.String(), want)
	}
	if Print(&b, nil) {
		t.Error("no findings reported as a failure")
	}
}

func TestFirstLine(t *testing.T) {
	for in, want := range map[string]string{
		"": "",
		"\n  Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\nIs the docker daemon running?\n": "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.",
		"one line": "one line",
	} {
		if got := firstLine(in); got != want {
			t.Errorf("firstLine(%q) = %q, want %q", in, got, want)
		}
	}
}
