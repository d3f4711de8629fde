package env

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// mix is a three-cluster environment: a primary and its remote on network1, a primary on network2.
func mix(t *testing.T) *State {
	t.Helper()
	st := New(t.TempDir(), "mix1", Topology{Name: "mix", Networking: NetworkingIsolated, MeshID: "mesh1", TrustDomain: "cluster.local"})
	st.Networks = []Network{
		{Name: "meshconform-network1", Bridge: "br-1", Subnet: netip.MustParsePrefix("172.30.1.0/24")},
		{Name: "meshconform-network2", Bridge: "br-2", Subnet: netip.MustParsePrefix("172.30.2.0/24")},
	}
	st.Clusters = []Cluster{
		{Name: "cluster1", Role: RolePrimary, Network: "network1", DockerNetwork: "meshconform-network1", Provisioned: true,
			NodeIPs: []netip.Addr{netip.MustParseAddr("172.30.1.2")}, PodSubnet: "10.10.0.0/16",
			PoolFirst: netip.MustParseAddr("172.30.1.128"), PoolLast: netip.MustParseAddr("172.30.1.145"),
			Access: Access{Kubeconfig: "k1", ControlPlaneIP: "172.30.1.2"}},
		{Name: "cluster2", Role: RoleRemote, Primary: "cluster1", Network: "network1", DockerNetwork: "meshconform-network1"},
		{Name: "cluster3", Role: RolePrimary, Network: "network2", DockerNetwork: "meshconform-network2"},
	}
	st.Mesh = &Mesh{Installer: InstallerIstioctl, DataPlane: DataPlaneProxyless, ExposeIstiod: ExposeLoadBalancer,
		Clusters: map[string]MeshCluster{
			"cluster1": {EastWestGateway: "172.30.1.128", GatewayCannotRun: true},
			"cluster3": {EastWestGateway: "172.30.2.128", GatewayReady: true, GatewayCannotRun: true},
		}}
	return st
}

func TestSaveLoadRoundTripsAndKeepsTheFilePrivate(t *testing.T) {
	st := mix(t)
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(st.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("environment file mode %v, want 0600 (it names kubeconfigs)", fi.Mode().Perm())
	}
	got, err := Load(st.Dir())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(st)
	have, _ := json.Marshal(got)
	if string(want) != string(have) {
		t.Errorf("round trip changed the state:\n%s\n%s", want, have)
	}
	if got.FormatVersion != FormatVersion {
		t.Errorf("format version %d, want %d", got.FormatVersion, FormatVersion)
	}
}

func TestLoadWithoutAFileSaysNoEnvironment(t *testing.T) {
	_, err := Load(t.TempDir())
	if !errors.Is(err, ErrNoEnvironment) || !strings.Contains(err.Error(), "meshconform up") {
		t.Errorf("err = %v, want ErrNoEnvironment naming `meshconform up`", err)
	}
}

func TestLoadRefusesOtherFormatVersions(t *testing.T) {
	st := mix(t)
	for _, v := range []int{0, 1, FormatVersion + 1} {
		st.FormatVersion = v
		b, _ := json.Marshal(st)
		if err := os.WriteFile(filepath.Join(st.Dir(), fileName), b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(st.Dir())
		if !IsInvalid(err) || !strings.Contains(err.Error(), "format version") {
			t.Errorf("format %d: err = %v, want a format-version refusal", v, err)
		}
	}
}

func TestValidateListsEveryProblemWithItsField(t *testing.T) {
	st := mix(t)
	st.Topology.Name = ""
	st.Networks[1].Subnet = netip.MustParsePrefix("fd00::/64")
	st.Clusters[0].PodSubnet = "not-a-cidr"
	st.Clusters[1].Primary = "cluster9"
	st.Clusters[2].Role = "boss"
	st.Clusters = append(st.Clusters, Cluster{Name: "cluster1", Role: RolePrimary, Network: "network1"})
	st.Mesh.DataPlane = "ambient"
	st.Mesh.Clusters["ghost"] = MeshCluster{}
	err := st.Validate()
	if !IsInvalid(err) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	for _, want := range []string{"topology.name: missing", "networks[1].subnet", "clusters[0].podSubnet",
		"clusters[1].primary: \"cluster9\"", "clusters[2].role: \"boss\"", "clusters[3].name: \"cluster1\" appears twice",
		"mesh.dataPlane: \"ambient\"", "mesh.clusters.ghost"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("validation error lacks %q:\n%v", want, err)
		}
	}
}

func TestValidateAcceptsWhatAnInterruptedUpLeaves(t *testing.T) {
	// Recorded before anything was created: names and places only.
	st := New(t.TempDir(), "mix1", Topology{Name: "multi-primary"})
	st.EnsureCluster("cluster1").Role, st.EnsureCluster("cluster1").Network = RolePrimary, "network1"
	st.EnsureCluster("cluster2").Role, st.EnsureCluster("cluster2").Network = RolePrimary, "network1"
	if err := st.Validate(); err != nil {
		t.Errorf("a partial environment must load, so `down` can remove it: %v", err)
	}
}

func TestQueries(t *testing.T) {
	st := mix(t)
	if got := st.Names(); !slices.Equal(got, []string{"cluster1", "cluster2", "cluster3"}) {
		t.Errorf("Names = %v", got)
	}
	if p, ok := st.PrimaryOf("cluster2"); !ok || p.Name != "cluster1" {
		t.Errorf("PrimaryOf(cluster2) = %v, %v", p.Name, ok)
	}
	if _, ok := st.PrimaryOf("cluster1"); ok {
		t.Error("a primary has no primary")
	}
	if r := st.RemotesOf("cluster1"); len(r) != 1 || r[0].Name != "cluster2" {
		t.Errorf("RemotesOf(cluster1) = %v", r)
	}
	if len(st.RemotesOf("cluster3")) != 0 || len(st.Primaries()) != 2 {
		t.Errorf("RemotesOf(cluster3) = %v, Primaries = %v", st.RemotesOf("cluster3"), st.Primaries())
	}
	if !st.MultiNetwork() || !st.SameNetwork("cluster1", "cluster2") || st.SameNetwork("cluster1", "cluster3") {
		t.Error("network queries wrong")
	}
	if st.SameNetwork("cluster1", "nope") {
		t.Error("an unknown cluster shares no network")
	}
	if st.Cluster("nope") != nil {
		t.Error("Cluster must not invent records")
	}
	// Recorded as unable to run, and not Ready: skipped. Ready wins over a stale record. No gateway: nothing to skip.
	if !st.GatewayCannotRun("cluster1") || st.GatewayCannotRun("cluster3") || st.GatewayCannotRun("cluster2") {
		t.Errorf("GatewayCannotRun: cluster1=%v cluster3=%v cluster2=%v", st.GatewayCannotRun("cluster1"),
			st.GatewayCannotRun("cluster3"), st.GatewayCannotRun("cluster2"))
	}
	st.Mesh = nil
	if st.GatewayCannotRun("cluster1") {
		t.Error("without a mesh no gateway is recorded")
	}
}

// TestLoadReadsTheFixtures: testdata holds real environment files (each built-in topology's new environment and a
// fully provisioned mix-3-cluster), which Load accepts and FuzzParse starts from.
func TestLoadReadsTheFixtures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	if len(files) < 2 {
		t.Fatalf("want the fixtures in testdata, found %v", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, fileName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	st, err := Parse(mustRead(t, filepath.Join("testdata", "environment.json")))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Clusters) != 3 || len(st.Networks) != 2 || st.Mesh == nil || !st.Clusters[0].Provisioned || !st.MultiNetwork() {
		t.Errorf("environment.json is not the provisioned mix-3-cluster: %+v", st)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzParse: whatever a file holds, Parse never panics, and what it accepts validates clean, survives a save and
// parse unchanged, and every query can read without panicking.
func FuzzParse(f *testing.F) {
	st := New("", "mix1", Topology{Name: "mix", Networking: NetworkingIsolated})
	st.Clusters = []Cluster{{Name: "a", Role: RolePrimary, Network: "n1"}, {Name: "b", Role: RoleRemote, Primary: "a", Network: "n1"}}
	b, _ := json.Marshal(st)
	f.Add(b)
	f.Add([]byte(`{"apiVersion":"meshconform.io/v1alpha1","kind":"Environment","formatVersion":3,"name":"x"}`))
	f.Add([]byte(`{"apiVersion":"meshconform.io/v1alpha1","kind":"Environment","formatVersion":3,"name":"x","networks":[{"name":"x","subnet":"::/0"}]}`))
	// Real environment files: each built-in's new environment and a provisioned one.
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			if s != nil {
				t.Fatal("Parse returned a state with an error")
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted state does not validate: %v", err)
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("marshal accepted state: %v", err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("accepted state, saved, is refused: %v\n%s", err, out)
		}
		if out2, _ := json.Marshal(back); string(out2) != string(out) {
			t.Fatalf("save and parse changed the state:\n%s\nvs\n%s", out, out2)
		}
		for _, n := range s.Names() {
			if s.Cluster(n) == nil {
				t.Fatalf("Names lists %q, Cluster does not find it", n)
			}
			s.PrimaryOf(n)
			s.RemotesOf(n)
			s.GatewayCannotRun(n)
			s.MeshCluster(n)
			for _, m := range s.Names() {
				s.SameNetwork(n, m)
			}
		}
		for _, c := range s.Clusters {
			s.Network(c.DockerNetwork)
		}
		s.Primaries()
		s.Remotes()
		s.MeshNetworks()
		s.MultiNetwork()
		for _, n := range s.Networks {
			_ = n.Subnet.Addr().As4() // validated IPv4
		}
	})
}
