package checks

import (
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/istiod"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
)

func threeClusters(t *testing.T) *env.State {
	st := env.New(t.TempDir(), "test", env.Topology{Name: "t"})
	st.Clusters = []env.Cluster{{Name: "c1", Role: env.RolePrimary}, {Name: "c2", Role: env.RolePrimary}, {Name: "c3", Role: env.RoleRemote, Primary: "c1"}}
	return st
}

func healthy() map[string]istiod.Settings {
	s := func(id string, primary bool) istiod.Settings {
		out := istiod.Settings{MeshID: "mesh1", TrustDomain: "cluster.local", Network: "network1", ClusterID: id, RootFingerprint: "AA:BB"}
		if primary {
			out.Version = "1.31.0"
		}
		return out
	}
	return map[string]istiod.Settings{"c1": s("c1", true), "c2": s("c2", true), "c3": s("c3", false)}
}

func TestCompareSettings(t *testing.T) {
	st := threeClusters(t)
	if f := CompareSettings(st, healthy()); f != nil {
		t.Fatalf("a consistent mesh fails: %v", f)
	}
	aliased := healthy()
	c2 := aliased["c2"]
	c2.TrustDomain, c2.TrustDomainAliases = "other.local", []string{"cluster.local"}
	aliased["c2"] = c2
	for _, n := range []string{"c1", "c3"} {
		s := aliased[n]
		s.TrustDomainAliases = []string{"other.local"}
		aliased[n] = s
	}
	if f := CompareSettings(st, aliased); f != nil {
		t.Errorf("trust domains that alias each other fail: %v", f)
	}
	for name, c := range map[string]struct {
		breakIt       func(map[string]istiod.Settings)
		observed, why string
	}{
		"mesh ID changed in one cluster": {func(m map[string]istiod.Settings) { s := m["c2"]; s.MeshID = "mesh2"; m["c2"] = s },
			"mesh IDs differ: mesh1 (c1, c3), mesh2 (c2)", "different meshID"},
		"trust domain without alias": {func(m map[string]istiod.Settings) { s := m["c3"]; s.TrustDomain = "foreign.local"; m["c3"] = s },
			`c1 has "cluster.local", c3 has "foreign.local"`, "trustDomainAliases"},
		"alias on one side only": {func(m map[string]istiod.Settings) {
			s := m["c2"]
			s.TrustDomain, s.TrustDomainAliases = "other.local", []string{"cluster.local"}
			m["c2"] = s
		}, `c1 has "cluster.local", c2 has "other.local"`, "trustDomainAliases"},
		"two roots": {func(m map[string]istiod.Settings) { s := m["c1"]; s.RootFingerprint = "CC:DD"; m["c1"] = s },
			"roots differ: CC:DD (c1), AA:BB (c2, c3)", "different roots"},
		"a cluster distributing no root": {func(m map[string]istiod.Settings) { s := m["c3"]; s.RootFingerprint = ""; m["c3"] = s },
			"roots differ: AA:BB (c1, c2), - (c3)", "different roots"},
		"duplicate cluster IDs": {func(m map[string]istiod.Settings) { s := m["c2"]; s.ClusterID = "c1"; m["c2"] = s },
			`clusters c1 and c2 share the cluster ID "c1"`, "cluster ID"},
		"versions two minors apart": {func(m map[string]istiod.Settings) { s := m["c2"]; s.Version = "1.29.3"; m["c2"] = s },
			"istiods run 1.29.3 and 1.31.0", "supported skew"},
	} {
		got := healthy()
		c.breakIt(got)
		f := CompareSettings(st, got)
		if f == nil {
			t.Errorf("%s: passes", name)
			continue
		}
		if f.Check != string(v1alpha1.AreaConfig) || !f.Final || !strings.Contains(f.Observed, c.observed) || !strings.Contains(f.Cause, c.why) {
			t.Errorf("%s: %v\nwant observed %q, cause mentioning %q", name, f, c.observed, c.why)
		}
	}
	oneMinor := healthy()
	s := oneMinor["c2"]
	s.Version = "1.30-dev"
	oneMinor["c2"] = s
	if f := CompareSettings(st, oneMinor); f != nil {
		t.Errorf("one minor apart (supported): %v", f)
	}
}

func TestSettingsTableShowsEveryCluster(t *testing.T) {
	got := healthy()
	s := got["c3"]
	s.Missing = []string{"mesh config (ConfigMap istio-system/istio)"}
	got["c3"] = s
	table := SettingsTable(threeClusters(t), got)
	lines := strings.Split(table, "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "CLUSTER") || !strings.Contains(lines[3], "mesh config (ConfigMap") ||
		!strings.Contains(lines[1], "1.31.0") || !strings.Contains(lines[2], "mesh1") {
		t.Errorf("table:\n%s", table)
	}
}

func TestParseMeshConfig(t *testing.T) {
	id, td, aliases, err := istiod.ParseMeshConfig("defaultConfig:\n  meshId: mesh1\n  discoveryAddress: istiod:15012\ntrustDomain: td1\ntrustDomainAliases: [a, b]\n")
	if err != nil || id != "mesh1" || td != "td1" || len(aliases) != 2 {
		t.Errorf("parsed %q %q %q %v", id, td, aliases, err)
	}
	// Istio's defaults: trust domain cluster.local, mesh ID = trust domain.
	if id, td, _, err := istiod.ParseMeshConfig("enablePrometheusMerge: true\n"); err != nil || id != "cluster.local" || td != "cluster.local" {
		t.Errorf("defaults: %q %q %v", id, td, err)
	}
	if _, _, _, err := istiod.ParseMeshConfig("trustDomain: [unclosed"); err == nil {
		t.Error("malformed mesh config accepted")
	}
}

// A remote with an external control plane has no mesh config of its own: it uses its primary's, which is no
// disagreement (measured on primary-remote-multi-network, where the spec false-failed before). A primary without one
// still fails.
func TestRemoteWithoutMeshConfigUsesItsPrimarys(t *testing.T) {
	st := threeClusters(t)
	got := healthy()
	s := got["c3"]
	s.MeshID, s.TrustDomain, s.Missing = "", "", []string{"mesh config (ConfigMap istio-system/istio)"}
	got["c3"] = s
	if f := CompareSettings(st, got); f == nil {
		t.Fatal("without Effective the missing mesh config must read as a disagreement")
	}
	eff := Effective(st, got)
	if f := CompareSettings(st, eff); f != nil {
		t.Errorf("a remote using its primary's mesh config fails: %v", f)
	}
	if e := eff["c3"]; e.MeshID != "mesh1" || e.MeshConfigFrom != "c1" || len(e.Missing) != 0 {
		t.Errorf("effective remote settings %+v", e)
	}
	if table := SettingsTable(st, eff); !strings.Contains(table, "mesh1 (c1's)") {
		t.Errorf("table does not say where the remote's mesh ID comes from:\n%s", table)
	}
	p := got["c2"]
	p.MeshID, p.TrustDomain = "", ""
	got["c2"] = p
	if f := CompareSettings(st, Effective(st, got)); f == nil || !strings.Contains(f.Observed, "mesh IDs differ") {
		t.Errorf("a primary without mesh config: %v", f)
	}
}

// Istio's supported releases page: "The Istio control plane can be one version ahead of the data plane. However, the
// data plane cannot be ahead of control plane." Versions as istiod reports them and as image tags carry them.
func TestSkewProblem(t *testing.T) {
	for _, c := range []struct {
		dataPlane, controlPlane, want string
	}{
		{"1.31-alpha.eed52ebb66ad", "1.31-alpha.eed52ebb66ad", ""},
		{"1.30.2", "1.31.0", ""},
		{"1.24.2-distroless", "1.25.0", ""},
		{"1.31.3", "1.31.0", ""}, // patches: same minor
		{"1.29.3", "1.31.0", "the control plane is 2 minor versions ahead of its data plane (at most 1 is supported)"},
		{"1.28.0", "1.31-alpha.eed52ebb66ad", "the control plane is 3 minor versions ahead of its data plane (at most 1 is supported)"},
		{"1.31.0", "1.30.2", "the data plane is 1 minor version ahead of its control plane"},
		{"1.32-dev", "1.30.0", "the data plane is 2 minor versions ahead of its control plane"},
		{"", "1.31.0", ""},       // unknown: the table says so, no verdict
		{"latest", "1.31.0", ""}, // not a release's tag
	} {
		if got := SkewProblem(c.dataPlane, c.controlPlane); got != c.want {
			t.Errorf("SkewProblem(%s, %s) = %q, want %q", c.dataPlane, c.controlPlane, got, c.want)
		}
	}
}

// A remote's pods are injected by whatever its webhook calls: its primary's istiod (the remote profile), or a local
// injector istiod, or a URL. Only the last two can differ from the istiod that serves them, and beyond one minor
// version (or ahead of it) the spec fails naming both.
func TestRemoteInjectorSkew(t *testing.T) {
	st := threeClusters(t)
	st.Mesh = &env.Mesh{Clusters: map[string]env.MeshCluster{"c1": {IstiodAddress: "172.18.0.240"}}}
	base := func() map[string]istiod.Settings {
		got := healthy()
		s := got["c3"]
		s.InjectorFromPrimary, s.Injector = true, "istio-sidecar-injector-canary → istio-system/istiod-canary (no pods here: the primary's istiod)"
		got["c3"] = s
		return got
	}
	eff := Effective(st, base())
	if f := CompareSettings(st, eff); f != nil {
		t.Fatalf("a remote injected by its primary's istiod fails: %v", f)
	}
	if e := eff["c3"]; e.InjectorVersion != "1.31.0" || !strings.HasPrefix(e.Injector, "c1's istiod") {
		t.Errorf("effective injector %+v", e)
	}
	if table := SettingsTable(st, eff); !strings.Contains(table, "1.31.0 by c1's istiod") {
		t.Errorf("table does not say who injects the remote:\n%s", table)
	}

	for name, c := range map[string]struct {
		breakIt func(s *istiod.Settings)
		want    string
	}{
		"local injector two minors behind": {func(s *istiod.Settings) {
			s.InjectorFromPrimary, s.InjectorVersion, s.Injector = false, "1.29.1", "istio-sidecar-injector → istio-system/istiod (local pods)"
		}, "c3's pods are injected with proxies 1.29.1, served by c1's istiod 1.31.0: the control plane is 2 minor versions ahead"},
		"local injector ahead": {func(s *istiod.Settings) { s.InjectorFromPrimary, s.InjectorVersion = false, "1.32.0" },
			"c3's pods are injected with proxies 1.32.0, served by c1's istiod 1.31.0: the data plane is 1 minor version ahead"},
	} {
		got := base()
		s := got["c3"]
		c.breakIt(&s)
		got["c3"] = s
		f := CompareSettings(st, Effective(st, got))
		if f == nil || !strings.Contains(f.Observed, c.want) || !strings.Contains(f.Cause, "supported control plane/data plane skew") {
			t.Errorf("%s: %v\nwant %q", name, f, c.want)
		}
	}

	// A URL at the primary's exposed istiod is the primary's istiod; any other is unknown, and said to be.
	got := base()
	s := got["c3"]
	s.InjectorFromPrimary, s.InjectorURL = false, "https://172.18.0.240:15017/inject/cluster/c3/net/network1"
	got["c3"] = s
	if e := Effective(st, got)["c3"]; !e.InjectorFromPrimary || e.InjectorVersion != "1.31.0" {
		t.Errorf("URL at the primary's istiod: %+v", e)
	}
	s.InjectorURL = "https://10.9.9.9:15017/inject"
	got["c3"] = s
	if e := Effective(st, got)["c3"]; e.InjectorFromPrimary || !strings.Contains(strings.Join(e.Missing, ";"), "injector version") {
		t.Errorf("URL elsewhere: %+v", e)
	}

	// A primary whose injector pins an old proxy is as skewed as a remote.
	got = base()
	p := got["c2"]
	p.ProxyVersion = "1.29.0"
	got["c2"] = p
	if f := CompareSettings(st, Effective(st, got)); f == nil || !strings.Contains(f.Observed, "c2's pods are injected with proxies 1.29.0, served by its own istiod 1.31.0") {
		t.Errorf("pinned proxy on a primary: %v", f)
	}
}
