package inventory

import (
	"slices"
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/network"
)

func TestBuildSortsByEnvironmentAndTakesNoLookAlike(t *testing.T) {
	nets := []network.Labelled{
		{Name: "mc-a-bridge", Env: "a"},
		{Name: "mc-ab-network1", Env: "ab"}, {Name: "mc-ab-network2", Env: "ab"},
		{Name: "meshconform-bridge"},        // an older meshconform's
		{Name: "weird", Env: "Not A Name!"}, // a label no meshconform wrote
	}
	att := map[string][]string{
		"mc-a-cluster1":        {"mc-a-bridge"},
		"mc-a-cluster2":        {"mc-a-bridge"},
		"mc-ab-cluster1":       {"mc-ab-network1"},
		"mc-ab-cluster2":       {"mc-ab-network2", "kind"},
		"mc-a-lookalike":       {"kind"},        // named like a's, but on no network of a's: the user's
		"mc-ab-cluster3":       {"mc-a-bridge"}, // named for ab, on a's network: neither's
		"kind":                 {"kind"},        // the user's own
		"meshconform-cluster1": {"meshconform-bridge"},
		"meshconform-mine":     {"kind"}, // legacy-looking, not on a meshconform network
	}
	rules := strings.Join([]string{
		`-A DOCKER-USER -s 172.30.1.2/32 -m comment --comment "meshconform:env:a" -j DROP`,
		`-A DOCKER-USER -s 172.30.1.3/32 -m comment --comment "meshconform:env:a" -j DROP`,
		`-A DOCKER-USER -s 172.30.2.3/32 -m comment --comment "meshconform:env:ab" -j DROP`,
		`-A DOCKER-USER -s 172.30.2.4/32 -m comment --comment "meshconform:env:gone" -j DROP`,
		`-A DOCKER-USER -s 172.30.2.5/32 -m comment --comment "meshconform:multi-primary" -j DROP`,
		`-A DOCKER-USER -s 10.0.0.0/8 -m comment --comment "vpn" -j ACCEPT`,
		`-A FORWARD -m comment --comment "meshconform:env:a" -j ACCEPT`,
	}, "\n")
	inv := build(nets, att, rules)
	var names []string
	for _, e := range inv {
		names = append(names, e.Name)
	}
	if !slices.Equal(names, []string{"a", "ab", "gone", ""}) {
		t.Fatalf("environments %q", names)
	}
	a := inv.Env("a")
	if !slices.Equal(a.Clusters, []string{"mc-a-cluster1", "mc-a-cluster2"}) || !slices.Equal(a.Networks, []string{"mc-a-bridge"}) || a.Rules != 2 {
		t.Errorf("a: %+v", a)
	}
	ab := inv.Env("ab")
	if !slices.Equal(ab.Clusters, []string{"mc-ab-cluster1", "mc-ab-cluster2"}) || len(ab.Networks) != 2 || ab.Rules != 1 {
		t.Errorf("ab: %+v", ab)
	}
	if g := inv.Env("gone"); g.Rules != 1 || len(g.Clusters)+len(g.Networks) != 0 {
		t.Errorf("an environment with only rules left: %+v", g)
	}
	legacy := inv.Env("")
	if !slices.Equal(legacy.Clusters, []string{"meshconform-cluster1"}) || !slices.Equal(legacy.Networks, []string{"meshconform-bridge"}) || legacy.Rules != 1 {
		t.Errorf("unnamed: %+v", legacy)
	}
	for _, e := range inv {
		for _, c := range e.Clusters {
			if c == "mc-a-lookalike" || c == "kind" || c == "meshconform-mine" || c == "mc-ab-cluster3" {
				t.Errorf("%s taken for environment %q", c, e.Name)
			}
		}
		if slices.Contains(e.Networks, "weird") {
			t.Errorf("a network with a foreign label taken for %q", e.Name)
		}
	}
	if got := inv.Others("a"); len(got) != 3 || got[0].Name != "ab" {
		t.Errorf("others of a: %+v", got)
	}
	if e := inv.Env("nope"); !e.Empty() || e.Name != "nope" {
		t.Errorf("missing environment: %+v", e)
	}
}
