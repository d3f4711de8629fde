package provision

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/network"
	"github.com/meshconform/meshconform/framework/topology"
)

func builtin(t *testing.T, name string) *topology.Topology {
	t.Helper()
	top, err := topology.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func TestDockerNetworksFollowTheNetworkingMode(t *testing.T) {
	mix := builtin(t, "mix-3-cluster") // cluster1, cluster2 on network1; cluster3 on network2
	if mix.Spec.Networking != topology.NetworkingIsolated {
		t.Fatalf("mix-3-cluster networking %s, want the isolated default", mix.Spec.Networking)
	}
	if got := DockerNetworks(mix, "test"); !slices.Equal(got, []string{"mc-test-network1", "mc-test-network2"}) {
		t.Errorf("isolated: docker networks %v, want one per mesh network", got)
	}
	mix.Spec.Networking = topology.NetworkingBridged
	if got := DockerNetworks(mix, "test"); !slices.Equal(got, []string{"mc-test-bridge"}) {
		t.Errorf("bridged: docker networks %v, want one for the topology", got)
	}
	if got := DockerNetworkOf(mix, "test", "network2"); got != "mc-test-bridge" {
		t.Errorf("bridged: network2 runs on %s", got)
	}
}

func TestPoolsAreAssignedInTopologyOrderAndNeverOverlap(t *testing.T) {
	top := builtin(t, "mix-3-cluster")
	st := top.NewState(t.TempDir(), "test")
	for i, name := range DockerNetworks(top, "test") {
		st.Networks = append(st.Networks, env.Network{Name: name, Subnet: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 30, byte(i + 1), 0}), 24)})
	}
	for _, c := range top.Spec.Clusters {
		st.Cluster(c.Name).DockerNetwork = DockerNetworkOf(top, "test", c.Network)
	}
	if err := AssignPools(st); err != nil {
		t.Fatal(err)
	}
	c1, c2, c3 := st.Cluster("cluster1"), st.Cluster("cluster2"), st.Cluster("cluster3")
	if c1.PoolFirst != netip.MustParseAddr("172.30.1.128") || c3.PoolFirst != netip.MustParseAddr("172.30.2.128") {
		t.Errorf("the first cluster of each network starts its pool at .128: cluster1 %s, cluster3 %s", c1.PoolFirst, c3.PoolFirst)
	}
	if !c1.PoolLast.Less(c2.PoolFirst) {
		t.Errorf("clusters sharing network1 overlap: %s-%s and %s-%s", c1.PoolFirst, c1.PoolLast, c2.PoolFirst, c2.PoolLast)
	}
	// Assigning again (a re-run of `up`) gives the same pools.
	before := *c2
	if err := AssignPools(st); err != nil || st.Cluster("cluster2").PoolFirst != before.PoolFirst {
		t.Errorf("re-assignment moved cluster2's pool: %v %s -> %s", err, before.PoolFirst, st.Cluster("cluster2").PoolFirst)
	}
}

func TestPoolsRefuseMoreClustersThanANetworkHolds(t *testing.T) {
	st := env.New(t.TempDir(), "test", env.Topology{Name: "many"})
	st.Networks = []env.Network{{Name: "meshconform-bridge", Subnet: netip.MustParsePrefix("172.30.9.0/24")}}
	for i := range network.MaxClustersPerNetwork + 1 {
		c := st.EnsureCluster("c" + string(rune('a'+i)))
		c.Role, c.Network, c.DockerNetwork = env.RolePrimary, "network1", "meshconform-bridge"
	}
	if err := AssignPools(st); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("err = %v, want the per-network limit named", err)
	}
	st.Cluster("ca").DockerNetwork = "meshconform-gone"
	if err := AssignPools(st); err == nil || !strings.Contains(err.Error(), "not recorded") {
		t.Errorf("err = %v, want the unrecorded network named", err)
	}
}

// The topology's validation and provisioning's plan must agree on how many clusters fit on a docker network: a
// topology that validates must get a pool for every cluster, and one that does not fit must be refused before
// anything is created.
func TestValidationAndPoolsAgreeOnClustersPerNetwork(t *testing.T) {
	for _, networking := range []topology.Networking{topology.NetworkingBridged, topology.NetworkingIsolated} {
		for n := 1; n <= network.MaxClustersPerNetwork+1; n++ {
			top := &topology.Topology{APIVersion: topology.APIVersion, Kind: topology.Kind,
				Metadata: topology.Metadata{Name: "many"}, Spec: topology.Spec{Networking: networking}}
			for i := range n {
				top.Spec.Clusters = append(top.Spec.Clusters, topology.Cluster{Name: fmt.Sprintf("c%d", i), Role: topology.RolePrimary})
			}
			top.Default()
			valid := top.Validate() == nil
			st := top.NewState(t.TempDir(), "test")
			for i, name := range DockerNetworks(top, "test") {
				st.Networks = append(st.Networks, env.Network{Name: name, Subnet: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 30, byte(i + 1), 0}), 24)})
			}
			for _, c := range top.Spec.Clusters {
				st.Cluster(c.Name).DockerNetwork = DockerNetworkOf(top, "test", c.Network)
			}
			pooled := AssignPools(st) == nil
			if valid != pooled {
				t.Errorf("%s, %d clusters on one mesh network: validates=%v but pools assigned=%v", networking, n, valid, pooled)
			}
		}
	}
}
