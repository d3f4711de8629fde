package checks

import (
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
)

func TestPlanSubsetAndScopingSources(t *testing.T) {
	m := mix3(t, env.DataPlaneProxyless)
	p, ok := PlanSubset(m)
	if !ok || p.Target != "cluster3" || strings.Join(p.Sources, ",") != "cluster1,cluster2,cluster3" {
		t.Errorf("gateways running: %+v %v, want cluster3 reached by every cluster", p, ok)
	}
	if got := strings.Join(ScopingSources(m), ","); got != "cluster1,cluster2,cluster3" {
		t.Errorf("scoping sources %s", got)
	}
	for _, c := range []string{"cluster1", "cluster2", "cluster3"} {
		mc := m.State.Mesh.Clusters[c]
		mc.GatewayReady, mc.GatewayCannotRun = false, true
		m.State.Mesh.Clusters[c] = mc
	}
	// Without gateways cluster3 is alone on network2: the target must be one network1's callers reach.
	p, ok = PlanSubset(m)
	if !ok || p.Target != "cluster2" || strings.Join(p.Sources, ",") != "cluster1,cluster2" {
		t.Errorf("no gateways: %+v %v, want cluster2 reached by cluster1 and cluster2", p, ok)
	}
	if got := strings.Join(ScopingSources(m), ","); got != "cluster1,cluster2" {
		t.Errorf("no gateways: scoping sources %s, want network1's clusters", got)
	}
}
