package topology

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDefaults(t *testing.T) {
	top, err := Parse([]byte(doc(`  clusters:
  - {name: cluster1, role: primary}
  - {name: cluster2, role: remote}
  - {name: cluster3, role: primary, workers: 2}
`)))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if top.Spec.Mesh.ID != "mesh1" || top.Spec.Mesh.TrustDomain != "cluster.local" {
		t.Errorf("mesh = %+v, want id mesh1, trustDomain cluster.local", top.Spec.Mesh)
	}
	if top.Spec.Networking != NetworkingBridged {
		t.Errorf("networking = %q, want bridged for one mesh network", top.Spec.Networking)
	}
	want := []Cluster{
		{Name: "cluster1", Role: RolePrimary, Network: "network1", PodSubnet: "10.10.0.0/16", ServiceSubnet: "10.255.10.0/24"},
		{Name: "cluster2", Role: RoleRemote, Network: "network1", Primary: "cluster1", PodSubnet: "10.20.0.0/16", ServiceSubnet: "10.255.20.0/24"},
		{Name: "cluster3", Role: RolePrimary, Network: "network1", Workers: 2, PodSubnet: "10.30.0.0/16", ServiceSubnet: "10.255.30.0/24"},
	}
	if !reflect.DeepEqual(top.Spec.Clusters, want) {
		t.Errorf("clusters =\n%+v\nwant\n%+v", top.Spec.Clusters, want)
	}
}

func TestDefaultNetworking(t *testing.T) {
	cases := []struct {
		name, spec string
		want       Networking
	}{
		{"one network", twoPrimaries, NetworkingBridged},
		{"two networks", "  clusters:\n  - {name: a, role: primary}\n  - {name: b, role: primary, network: network2}\n", NetworkingIsolated},
		{"explicit bridged kept", "  networking: bridged\n  clusters:\n  - {name: a, role: primary}\n  - {name: b, role: primary, network: network2}\n", NetworkingBridged},
		{"explicit isolated kept", "  networking: isolated\n" + twoPrimaries, NetworkingIsolated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			top, err := Parse([]byte(doc(tc.spec)))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if top.Spec.Networking != tc.want {
				t.Errorf("networking = %q, want %q", top.Spec.Networking, tc.want)
			}
		})
	}
}

func TestDefaultKeepsSetFields(t *testing.T) {
	top, err := Parse([]byte(doc(`  mesh: {id: prod, trustDomain: example.org}
  clusters:
  - {name: a, role: primary, network: west, podSubnet: 10.100.0.0/16, serviceSubnet: 10.200.0.0/20}
  - {name: b, role: primary, network: west}
  - {name: r, role: remote, network: west, primary: b}
`)))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if top.Spec.Mesh != (Mesh{ID: "prod", TrustDomain: "example.org"}) {
		t.Errorf("mesh = %+v", top.Spec.Mesh)
	}
	a := top.Spec.Clusters[0]
	if a.Network != "west" || a.PodSubnet != "10.100.0.0/16" || a.ServiceSubnet != "10.200.0.0/20" {
		t.Errorf("cluster a changed by defaulting: %+v", a)
	}
	// Cluster b keeps its index-derived subnets even though a set its own.
	if b := top.Spec.Clusters[1]; b.PodSubnet != "10.20.0.0/16" || b.ServiceSubnet != "10.255.20.0/24" {
		t.Errorf("cluster b subnets = %q %q, want 10.20.0.0/16 10.255.20.0/24", b.PodSubnet, b.ServiceSubnet)
	}
	if r := top.Spec.Clusters[2]; r.Primary != "b" {
		t.Errorf("remote r primary = %q, want the explicit b", r.Primary)
	}
}

func TestDefaultPrimary(t *testing.T) {
	top, err := Parse([]byte(doc(`  clusters:
  - {name: p1, role: primary, network: net1}
  - {name: p2, role: primary, network: net2}
  - {name: p3, role: primary, network: net2}
  - {name: r2, role: remote, network: net2}
  - {name: r3, role: remote, network: net3}
  - {name: r1, role: remote, network: net1}
`)))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	for remote, want := range map[string]string{
		"r2": "p2", // first primary on its own network, not the first in the file
		"r3": "p1", // no primary on net3: the first primary
		"r1": "p1",
	} {
		c, _ := top.Cluster(remote)
		if c.Primary != want {
			t.Errorf("%s.primary = %q, want %q", remote, c.Primary, want)
		}
	}
}

func TestDefaultIsIdempotent(t *testing.T) {
	top, err := Builtin("mix-3-cluster")
	if err != nil {
		t.Fatal(err)
	}
	before := *top
	before.Spec.Clusters = append([]Cluster(nil), top.Spec.Clusters...)
	top.Default()
	if !reflect.DeepEqual(before, *top) {
		t.Errorf("second Default changed the topology:\n%+v\n%+v", before, *top)
	}
}

func TestSubnetDerivation(t *testing.T) {
	cases := []struct {
		i        int
		pod, svc string
	}{
		{0, "10.10.0.0/16", "10.255.10.0/24"},
		{1, "10.20.0.0/16", "10.255.20.0/24"},
		{2, "10.30.0.0/16", "10.255.30.0/24"},
		{24, "10.250.0.0/16", "10.255.250.0/24"},
	}
	for _, tc := range cases {
		pod, err := DefaultPodSubnet(tc.i)
		if err != nil || pod != tc.pod {
			t.Errorf("DefaultPodSubnet(%d) = %q, %v; want %q", tc.i, pod, err, tc.pod)
		}
		svc, err := DefaultServiceSubnet(tc.i)
		if err != nil || svc != tc.svc {
			t.Errorf("DefaultServiceSubnet(%d) = %q, %v; want %q", tc.i, svc, err, tc.svc)
		}
	}
	for _, i := range []int{-1, MaxDerivedClusters} {
		if s, err := DefaultPodSubnet(i); err == nil {
			t.Errorf("DefaultPodSubnet(%d) = %q, want an error", i, s)
		}
		if s, err := DefaultServiceSubnet(i); err == nil {
			t.Errorf("DefaultServiceSubnet(%d) = %q, want an error", i, s)
		}
	}
	// Every derivable subnet is a canonical prefix, and none overlaps another.
	var all []netip.Prefix
	for i := range MaxDerivedClusters {
		pod, _ := DefaultPodSubnet(i)
		svc, _ := DefaultServiceSubnet(i)
		for _, s := range []string{pod, svc} {
			p, err := netip.ParsePrefix(s)
			if err != nil || p.Masked() != p {
				t.Fatalf("derived subnet %q for index %d is not a canonical prefix (%v)", s, i, err)
			}
			for _, q := range all {
				if p.Overlaps(q) {
					t.Errorf("derived subnet %s (index %d) overlaps %s", p, i, q)
				}
			}
			all = append(all, p)
		}
	}
}

var builtinNamesWant = []string{
	"mix-3-cluster",
	"mix-5-cluster",
	"multi-primary",
	"multi-primary-multi-network",
	"primary-remote",
	"primary-remote-multi-network",
}

func TestBuiltins(t *testing.T) {
	infos := Builtins()
	var names []string
	for _, info := range infos {
		names = append(names, info.Name)
		if info.Description == "" || strings.Contains(info.Description, "\n") || strings.HasPrefix(info.Description, "invalid") {
			t.Errorf("%s: description %q is not a one-line description", info.Name, info.Description)
		}
	}
	if !reflect.DeepEqual(names, builtinNamesWant) {
		t.Errorf("Builtins() names = %v, want %v (sorted)", names, builtinNamesWant)
	}

	type shape struct {
		networking Networking
		networks   []string
		primaries  int
		remotes    int
		features   []Feature
	}
	want := map[string]shape{
		"multi-primary":                {NetworkingBridged, []string{"network1"}, 2, 0, []Feature{MultiPrimary, BridgedNetworking}},
		"multi-primary-multi-network":  {NetworkingIsolated, []string{"network1", "network2"}, 2, 0, []Feature{MultiNetwork, MultiPrimary, IsolatedNetworking}},
		"primary-remote":               {NetworkingBridged, []string{"network1"}, 1, 1, []Feature{PrimaryRemote, BridgedNetworking}},
		"primary-remote-multi-network": {NetworkingIsolated, []string{"network1", "network2"}, 1, 1, []Feature{MultiNetwork, PrimaryRemote, IsolatedNetworking}},
		"mix-3-cluster":                {NetworkingIsolated, []string{"network1", "network2"}, 2, 1, []Feature{MultiNetwork, PrimaryRemote, MultiPrimary, IsolatedNetworking}},
		"mix-5-cluster":                {NetworkingIsolated, []string{"network1", "network2"}, 3, 2, []Feature{MultiNetwork, PrimaryRemote, MultiPrimary, IsolatedNetworking}},
	}
	for _, name := range builtinNamesWant {
		t.Run(name, func(t *testing.T) {
			top, err := Builtin(name)
			if err != nil {
				t.Fatalf("Builtin: %v", err)
			}
			if top.Metadata.Name != name {
				t.Errorf("metadata.name = %q, want the file name %q", top.Metadata.Name, name)
			}
			if err := top.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			if top.BringYourOwn() {
				t.Errorf("built-in is bring-your-own")
			}
			w := want[name]
			got := shape{top.Spec.Networking, top.Networks(), len(top.Primaries()), len(top.Remotes()), top.Features()}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("shape = %+v, want %+v", got, w)
			}
			for _, c := range top.Spec.Clusters {
				if p, ok := top.PrimaryOf(c.Name); !ok || !p.IsPrimary() {
					t.Errorf("PrimaryOf(%s) = %+v, %v", c.Name, p, ok)
				}
			}
		})
	}
}

func TestBuiltinReturnsACopy(t *testing.T) {
	a, err := Builtin("multi-primary")
	if err != nil {
		t.Fatal(err)
	}
	a.Spec.Clusters[0].Name = "changed"
	b, err := Builtin("multi-primary")
	if err != nil {
		t.Fatal(err)
	}
	if b.Spec.Clusters[0].Name != "cluster1" {
		t.Errorf("a change to one Builtin result leaked into the next: %q", b.Spec.Clusters[0].Name)
	}
}

func TestMixHelpers(t *testing.T) {
	top, err := Builtin("mix-3-cluster")
	if err != nil {
		t.Fatal(err)
	}
	names := func(cs []Cluster) []string {
		var ns []string
		for _, c := range cs {
			ns = append(ns, c.Name)
		}
		return ns
	}
	if got := top.Networks(); !reflect.DeepEqual(got, []string{"network1", "network2"}) {
		t.Errorf("Networks() = %v", got)
	}
	if got := names(top.ClustersOn("network1")); !reflect.DeepEqual(got, []string{"cluster1", "cluster2"}) {
		t.Errorf("ClustersOn(network1) = %v", got)
	}
	if got := names(top.ClustersOn("network2")); !reflect.DeepEqual(got, []string{"cluster3"}) {
		t.Errorf("ClustersOn(network2) = %v", got)
	}
	if got := top.ClustersOn("network3"); len(got) != 0 {
		t.Errorf("ClustersOn(network3) = %v, want none", got)
	}
	if got := names(top.Primaries()); !reflect.DeepEqual(got, []string{"cluster1", "cluster3"}) {
		t.Errorf("Primaries() = %v", got)
	}
	if got := names(top.Remotes()); !reflect.DeepEqual(got, []string{"cluster2"}) {
		t.Errorf("Remotes() = %v", got)
	}
	if got := names(top.RemotesOf("cluster1")); !reflect.DeepEqual(got, []string{"cluster2"}) {
		t.Errorf("RemotesOf(cluster1) = %v", got)
	}
	if got := top.RemotesOf("cluster3"); len(got) != 0 {
		t.Errorf("RemotesOf(cluster3) = %v, want none", got)
	}
	for cluster, want := range map[string]string{"cluster1": "cluster1", "cluster2": "cluster1", "cluster3": "cluster3"} {
		if p, ok := top.PrimaryOf(cluster); !ok || p.Name != want {
			t.Errorf("PrimaryOf(%s) = %q, %v; want %q", cluster, p.Name, ok, want)
		}
	}
	if p, ok := top.PrimaryOf("nope"); ok {
		t.Errorf("PrimaryOf(nope) = %+v, true; want false", p)
	}
	if !top.MultiNetwork() || !top.HasRemotes() || top.BringYourOwn() {
		t.Errorf("MultiNetwork %v HasRemotes %v BringYourOwn %v; want true true false", top.MultiNetwork(), top.HasRemotes(), top.BringYourOwn())
	}
	if !top.HasFeature(MultiPrimary) || top.HasFeature(BridgedNetworking) {
		t.Errorf("HasFeature: MultiPrimary %v BridgedNetworking %v; want true false", top.HasFeature(MultiPrimary), top.HasFeature(BridgedNetworking))
	}
	if c, ok := top.Cluster("cluster2"); !ok || !c.IsRemote() || c.Network != "network1" || c.PodSubnet != "10.20.0.0/16" {
		t.Errorf("Cluster(cluster2) = %+v, %v", c, ok)
	}
}

func TestNetworksInOrderOfFirstAppearance(t *testing.T) {
	top, err := Parse([]byte(doc(`  clusters:
  - {name: a, role: primary, network: zeta}
  - {name: b, role: primary, network: alpha}
  - {name: c, role: remote, network: zeta}
`)))
	if err != nil {
		t.Fatal(err)
	}
	if got := top.Networks(); !reflect.DeepEqual(got, []string{"zeta", "alpha"}) {
		t.Errorf("Networks() = %v, want [zeta alpha]", got)
	}
}

func TestResolve(t *testing.T) {
	top, err := Resolve("primary-remote")
	if err != nil || top.Metadata.Name != "primary-remote" {
		t.Fatalf("Resolve(primary-remote) = %v, %v", top, err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(path, []byte(doc(twoPrimaries)), 0o600); err != nil {
		t.Fatal(err)
	}
	top, err = Resolve(path)
	if err != nil || top.Metadata.Name != "t" {
		t.Fatalf("Resolve(%s) = %v, %v", path, top, err)
	}

	for _, arg := range []string{"multi-primery", filepath.Join(dir, "missing.yaml"), ""} {
		_, err = Resolve(arg)
		if err == nil {
			t.Fatalf("Resolve(%q) succeeded", arg)
		}
		for _, name := range builtinNamesWant {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("Resolve(%q) error does not list built-in %q: %v", arg, name, err)
			}
		}
	}

	// A file that exists but is invalid is reported as such, not as unknown.
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(doc("  clusters:\n  - {name: a, role: primery}\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Resolve(bad)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Source != bad || !strings.Contains(err.Error(), bad+": ") {
		t.Errorf("Resolve(bad file) = %v, want a ValidationError naming %s", err, bad)
	}
}

func TestBuiltinRejectsPaths(t *testing.T) {
	for _, name := range []string{"", "../envs/multi-primary", "envs/multi-primary", "multi-primary.yaml", "nope"} {
		if _, err := Builtin(name); err == nil {
			t.Errorf("Builtin(%q) succeeded", name)
		}
	}
}

func TestLoadResolvesKubeconfigRelativeToFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "byo.yaml")
	content := doc(`  clusters:
  - {name: east, role: primary, kubeconfig: kube/east.yaml, context: east}
  - {name: west, role: primary, kubeconfig: /abs/west.yaml, context: west}
`)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	top, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, want := top.Spec.Clusters[0].Kubeconfig, filepath.Join(dir, "kube/east.yaml"); got != want {
		t.Errorf("relative kubeconfig = %q, want %q", got, want)
	}
	if got := top.Spec.Clusters[1].Kubeconfig; got != "/abs/west.yaml" {
		t.Errorf("absolute kubeconfig = %q, want it unchanged", got)
	}
	// Parse has no file to be relative to and leaves the path alone.
	top, err = Parse([]byte(content))
	if err != nil {
		t.Fatal(err)
	}
	if got := top.Spec.Clusters[0].Kubeconfig; got != "kube/east.yaml" {
		t.Errorf("Parse changed the kubeconfig path to %q", got)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want a not-exist error", err)
	}
}
