package checks

import (
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/workload"
)

// The drained cluster is the first one a caller reaches next to another; behind gateways that cannot run, a
// cluster of another network is no failover target.
func TestPlanFailover(t *testing.T) {
	m := mix3(t, env.DataPlaneProxyless)
	p, ok := PlanFailover(m)
	if !ok || p.Drained != "cluster1" || strings.Join(p.Sources, ",") != "cluster1,cluster2,cluster3" {
		t.Errorf("mix-3-cluster, gateways running: %+v %v, want cluster1 drained, every cluster calling", p, ok)
	}
	for _, c := range []string{"cluster1", "cluster2", "cluster3"} {
		mc := m.State.Mesh.Clusters[c]
		mc.GatewayReady, mc.GatewayCannotRun = false, true
		m.State.Mesh.Clusters[c] = mc
	}
	p, ok = PlanFailover(m)
	if !ok || p.Drained != "cluster1" || strings.Join(p.Sources, ",") != "cluster1,cluster2" {
		t.Errorf("mix-3-cluster, no gateway can run: %+v %v, want cluster1 drained, network1's clusters calling", p, ok)
	}
	m.State.Clusters = m.State.Clusters[2:] // cluster3 alone
	if p, ok := PlanFailover(m); ok {
		t.Errorf("one cluster: %+v planned", p)
	}
}

func TestJudgeFailover(t *testing.T) {
	reach := []string{"cluster1", "cluster2"}
	for _, c := range []struct {
		name  string
		tally workload.Tally
		want  string
	}{
		{"all through cluster2", workload.Tally{Sent: 30, OK: 30, ByCluster: map[string]int{"cluster2": 30}}, ""},
		{"calls fail", workload.Tally{Sent: 30, OK: 0, FirstError: "Unavailable: no children to pick from"},
			"30 of 30 failed (first error: Unavailable: no children to pick from)"},
		{"drained still answers", workload.Tally{Sent: 30, OK: 30, ByCluster: map[string]int{"cluster1": 3, "cluster2": 27}},
			"3 answered by cluster1, whose echo pods are gone"},
		{"unreachable cluster answers", workload.Tally{Sent: 30, OK: 30, ByCluster: map[string]int{"cluster2": 20, "cluster9": 10}},
			"10 answered by cluster9, which it cannot reach"},
		{"nothing sent", workload.Tally{}, "no call was made"},
	} {
		if got := JudgeFailover("cluster1", reach, c.tally); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
