package provision

import (
	"slices"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/inventory"
	"github.com/meshconform/meshconform/framework/network"
)

// machine holds two environments, "a" and "ab" (a's name is a prefix of ab's), and an older version's leftovers.
var machine = inventory.Inventory{
	{Name: "a", Clusters: []string{"mc-a-cluster1", "mc-a-cluster2"}, Networks: []string{"mc-a-bridge"}, Rules: 3},
	{Name: "ab", Clusters: []string{"mc-ab-cluster1"}, Networks: []string{"mc-ab-network1"}, Rules: 2},
	{Name: "", Clusters: []string{"meshconform-cluster1"}, Networks: []string{"meshconform-bridge"}, Rules: 1},
}

func TestDownWithoutAnEnvironmentRemovesNothing(t *testing.T) {
	if r := planDown(nil, "", false, machine); !r.nothing || len(r.clusters)+len(r.networks)+len(r.ruleTags) != 0 {
		t.Errorf("no state file, no --env, no --all: %+v, want nothing removed (everything is another environment's)", r)
	}
}

func TestDownAllRemovesEveryEnvironment(t *testing.T) {
	r := planDown(nil, "", true, machine)
	if r.nothing || len(r.clusters) != 4 || len(r.networks) != 3 || !slices.Equal(r.ruleTags, []string{""}) {
		t.Errorf("--all: %+v, want every environment's clusters, networks and every meshconform rule", r)
	}
}

func TestDownOfOneEnvironmentLeavesTheOthers(t *testing.T) {
	st := env.New(t.TempDir(), "a", env.Topology{Name: "multi-primary"})
	st.Networks = []env.Network{{Name: "mc-a-bridge"}}
	st.Clusters = []env.Cluster{
		{Name: "cluster1", KindName: "mc-a-cluster1", Provisioned: true},
		{Name: "brought", Provisioned: false},
		{Name: "cluster3", KindName: "", Provisioned: true}, // recorded, never created
	}
	r := planDown(st, st.Name, false, machine)
	// mc-a-cluster2 is not recorded (an interrupted up) but carries a's name on a's network: a's.
	if r.nothing || !slices.Equal(r.clusters, []string{"mc-a-cluster1", "mc-a-cluster2"}) ||
		!slices.Equal(r.networks, []string{"mc-a-bridge"}) || !slices.Equal(r.ruleTags, []string{network.EnvRuleTag("a")}) {
		t.Errorf("%+v: want only a's clusters, network and rules", r)
	}
	for _, c := range r.clusters {
		if c == "mc-ab-cluster1" || c == "meshconform-cluster1" {
			t.Errorf("down of a removes %s", c)
		}
	}
}

// `down --env ab` with ab's file gone finds ab by its labels and tags alone.
func TestDownOfANamedEnvironmentWithoutItsFile(t *testing.T) {
	r := planDown(nil, "ab", false, machine)
	if r.nothing || !slices.Equal(r.clusters, []string{"mc-ab-cluster1"}) || !slices.Equal(r.networks, []string{"mc-ab-network1"}) ||
		!slices.Equal(r.ruleTags, []string{network.EnvRuleTag("ab")}) {
		t.Errorf("%+v: want ab's things only", r)
	}
	if r := planDown(nil, "zz", false, machine); r.nothing || len(r.clusters)+len(r.networks) != 0 {
		t.Errorf("an environment with nothing on the machine: %+v", r)
	}
}
