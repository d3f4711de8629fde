package checks

import (
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/workload"
)

// A rotation replaces the remote secrets of every primary that reads the cluster, with a caller that reaches it
// (on its network when one does); behind gateways that cannot run only a same-network caller counts; the remote
// secrets of a preinstalled mesh are not the environment's.
func TestPlanRotation(t *testing.T) {
	m := mix3(t, env.DataPlaneProxyless)
	p, ok := PlanRotation(m)
	if !ok || p.Remote != "cluster1" || strings.Join(p.Primaries, ",") != "cluster3" || p.Source != "cluster3" {
		t.Errorf("mix-3-cluster, gateways running: %+v %v, want cluster1 rotated in cluster3, cluster3 calling", p, ok)
	}
	for _, c := range []string{"cluster1", "cluster2", "cluster3"} {
		mc := m.State.Mesh.Clusters[c]
		mc.GatewayReady, mc.GatewayCannotRun = false, true
		m.State.Mesh.Clusters[c] = mc
	}
	p, ok = PlanRotation(m)
	if !ok || p.Remote != "cluster2" || strings.Join(p.Primaries, ",") != "cluster1,cluster3" || p.Source != "cluster1" {
		t.Errorf("mix-3-cluster, no gateway can run: %+v %v, want cluster2 rotated in cluster1 and cluster3, cluster1 calling", p, ok)
	}
	m.State.Mesh.Installer = env.InstallerPreinstalled
	if p, ok := PlanRotation(m); ok {
		t.Errorf("preinstalled: %+v planned", p)
	}
}

func TestNoFailedCalls(t *testing.T) {
	plan := RotationPlan{Remote: "cluster2", Primaries: []string{"cluster1"}, Source: "cluster1"}
	for _, c := range []struct {
		name  string
		tally workload.Tally
		want  string
	}{
		{"all fine", workload.Tally{Sent: 50, OK: 50, ByCluster: map[string]int{"cluster1": 20, "cluster2": 30}}, ""},
		{"one failed", workload.Tally{Sent: 50, OK: 49, FirstError: "Unavailable: x", ByCluster: map[string]int{"cluster2": 30}},
			"1 of 50 calls from cluster1 failed while rotating (first error: Unavailable: x"},
		{"never reached", workload.Tally{Sent: 50, OK: 50, ByCluster: map[string]int{"cluster1": 50}},
			"none of the 50 calls from cluster1 while rotating reached cluster2"},
	} {
		err := NoFailedCalls(plan, c.tally, nil, "while rotating")
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
