package checks

import (
	"testing"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/topology"
)

func TestGatewayCannotRunReadsTheMeshRecord(t *testing.T) {
	topo, err := topology.Builtin("multi-primary-multi-network")
	if err != nil {
		t.Fatal(err)
	}
	mesh := func(cannotRun bool) *Mesh {
		st := topo.NewState(t.TempDir(), "test")
		st.Mesh = &env.Mesh{Clusters: map[string]env.MeshCluster{
			"cluster1": {EastWestGateway: "172.30.1.130", GatewayCannotRun: cannotRun},
			"cluster2": {EastWestGateway: "172.30.2.130", GatewayReady: true},
		}}
		return &Mesh{State: st}
	}
	m := mesh(true)
	if !m.GatewayCannotRun("cluster1") || m.GatewayCannotRun("cluster2") {
		t.Errorf("cluster1 recorded as unable to run: cannotRun(cluster1)=%v cannotRun(cluster2)=%v", m.GatewayCannotRun("cluster1"), m.GatewayCannotRun("cluster2"))
	}
	// A gateway that is merely not Ready must be tested, not skipped.
	if mesh(false).GatewayCannotRun("cluster1") {
		t.Error("a not-Ready gateway not recorded as unable to run was treated as unable to run")
	}
	if got := mesh(false).Reachable("cluster1"); len(got) != 2 {
		t.Errorf("with both gateways able to run, cluster1 must be expected to reach both clusters, got %v", got)
	}
	if got := m.Reachable("cluster2"); len(got) != 1 || got[0] != "cluster2" {
		t.Errorf("with cluster1's gateway unable to run, cluster2 reaches only itself, got %v", got)
	}
}
