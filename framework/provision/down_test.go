package provision

import (
	"slices"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
)

func TestDownWithoutAnEnvironmentRemovesNothing(t *testing.T) {
	others := []string{"meshconform-cluster1", "meshconform-cluster2"}
	nets := []string{"meshconform-bridge"}
	if r := planDown(nil, false, others, nets); !r.nothing || len(r.clusters)+len(r.networks) != 0 {
		t.Errorf("no state file, no --all: %+v, want nothing removed (the clusters may be another environment's)", r)
	}
	r := planDown(nil, true, others, nets)
	if r.nothing || !slices.Equal(r.clusters, others) || !slices.Equal(r.networks, nets) || r.ruleOwner != "" || !r.rules {
		t.Errorf("--all: %+v, want every meshconform cluster, network and rule", r)
	}
}

func TestDownRemovesWhatTheEnvironmentRecords(t *testing.T) {
	st := env.New(t.TempDir(), env.Topology{Name: "multi-primary"})
	st.Networks = []env.Network{{Name: "meshconform-bridge"}}
	st.Clusters = []env.Cluster{
		{Name: "cluster1", KindName: "meshconform-cluster1", Provisioned: true},
		{Name: "brought", Provisioned: false},
		{Name: "cluster3", KindName: "", Provisioned: true}, // recorded, never created
	}
	r := planDown(st, false, []string{"meshconform-other"}, []string{"meshconform-network9"})
	if r.nothing || !slices.Equal(r.clusters, []string{"meshconform-cluster1"}) ||
		!slices.Equal(r.networks, []string{"meshconform-bridge"}) || r.ruleOwner != "multi-primary" || !r.rules {
		t.Errorf("%+v: want only the recorded kind cluster, network and the topology's rules", r)
	}
}

// A state without a topology name has no owner tag; the empty owner means "every meshconform rule", so its down
// must remove no rule at all rather than everyone's.
func TestDownWithoutATopologyNameRemovesNoRule(t *testing.T) {
	st := env.New(t.TempDir(), env.Topology{})
	if r := planDown(st, false, nil, nil); r.rules {
		t.Errorf("%+v: a state with no topology name would remove every meshconform rule", r)
	}
}
