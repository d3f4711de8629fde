package checks

import (
	"testing"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio"
	"github.com/meshconform/meshconform/framework/topology"
)

func TestGatewayCannotRunReadsTheInstallNote(t *testing.T) {
	topo, err := topology.Builtin("multi-primary-multi-network")
	if err != nil {
		t.Fatal(err)
	}
	mesh := func(notes ...string) *Mesh {
		return &Mesh{State: &env.State{Topology: topo, Clusters: []env.Cluster{{Name: "cluster1"}, {Name: "cluster2"}}, Mesh: &env.Mesh{Notes: notes, Clusters: map[string]env.MeshCluster{
			"cluster1": {EastWestGateway: "172.30.1.130"},
			"cluster2": {EastWestGateway: "172.30.2.130", GatewayReady: true},
		}}}}
	}
	m := mesh(istio.NoteGatewayCannotRun + " (clusters: cluster1, cluster3)")
	if !m.GatewayCannotRun("cluster1") || m.GatewayCannotRun("cluster2") {
		t.Errorf("note names cluster1: cannotRun(cluster1)=%v cannotRun(cluster2)=%v", m.GatewayCannotRun("cluster1"), m.GatewayCannotRun("cluster2"))
	}
	// A gateway that is merely not Ready (no note) must be tested, not skipped.
	if mesh().GatewayCannotRun("cluster1") {
		t.Error("a not-Ready gateway without the install note was treated as unable to run")
	}
	if got := mesh().Reachable("cluster1"); len(got) != 2 {
		t.Errorf("without the note, cluster1 must be expected to reach both clusters, got %v", got)
	}
	if got := m.Reachable("cluster2"); len(got) != 1 || got[0] != "cluster2" {
		t.Errorf("with cluster1's gateway unable to run, cluster2 reaches only itself, got %v", got)
	}
}
