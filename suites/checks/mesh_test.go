package checks

import (
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/lb"
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

// mix3 is mix-3-cluster as `up` records it with running gateways: cluster1 and its remote cluster2 on network1,
// cluster3 on network2, a gateway in every cluster.
func mix3(t *testing.T, dp env.DataPlane) *Mesh {
	t.Helper()
	topo, err := topology.Builtin("mix-3-cluster")
	if err != nil {
		t.Fatal(err)
	}
	st := topo.NewState(t.TempDir(), "test")
	st.Mesh = &env.Mesh{DataPlane: dp, Clusters: map[string]env.MeshCluster{
		"cluster1": {EastWestGateway: "172.30.1.130", GatewayReady: true},
		"cluster2": {EastWestGateway: "172.30.1.131", GatewayReady: true},
		"cluster3": {EastWestGateway: "172.30.2.130", GatewayReady: true},
	}}
	return &Mesh{State: st, DataPlane: dp}
}

func TestReachGroupsBehindGateways(t *testing.T) {
	for _, dp := range env.DataPlanes {
		m := mix3(t, dp)
		// Our client keeps one channel; a sidecar pools its connections: the gateway pins them on both planes.
		if m.Connections() != lb.ConnectionsReused {
			t.Errorf("%s: connections %s, want %s", dp, m.Connections(), lb.ConnectionsReused)
		}
		for src, want := range map[string]string{
			"cluster1": "cluster1, cluster2, network2 (cluster3)",
			"cluster2": "cluster1, cluster2, network2 (cluster3)",
			"cluster3": "cluster3, network1 (cluster1, cluster2)",
		} {
			if got := DescribeReach(m.ReachGroups(src)); got != want {
				t.Errorf("%s from %s: groups %q, want %q", dp, src, got, want)
			}
		}
	}
	p, err := lb.NewGroupPlan(mix3(t, env.DataPlaneProxyless).ReachGroups("cluster3"),
		map[string]int{"cluster1": 1, "cluster2": 1, "cluster3": 1}, lb.MaxFalseAlarm)
	if err != nil {
		t.Fatal(err)
	}
	// The client warms up until cluster3 and one of network1's clusters answered, not both.
	if got := strings.Join(warmUpGroups(p), ","); got != "cluster3,cluster1|cluster2" {
		t.Errorf("warm-up groups %q", got)
	}
	v := lb.Judge(p, "cluster3", map[string]int{"cluster3": 35}, 0, 2)
	if !missingKind(v, lb.GroupNetwork) || missingKind(v, lb.GroupCluster) {
		t.Errorf("network1 unreached: missing network %v, missing cluster %v", missingKind(v, lb.GroupNetwork), missingKind(v, lb.GroupCluster))
	}
	if v := lb.Judge(p, "cluster3", map[string]int{"cluster3": 15, "cluster2": 20}, 0, 2); !v.Pass || missingKind(v, lb.GroupNetwork) {
		t.Errorf("network1 reached via cluster2 only must pass: %s", v.Reason)
	}
}
