package provision

import (
	"fmt"
	"slices"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/network"
	"github.com/meshconform/meshconform/framework/topology"
)

// The pure part of provisioning: which docker networks a topology needs, which one each cluster joins, and which
// MetalLB pool each cluster gets. Decided from the topology and the recorded networks alone, so it is the same on
// every re-run and can be tested without docker.

// DockerNetworkOf names the docker network a mesh network runs on in environment envName: one for the whole
// topology when bridged, one per mesh network when isolated.
func DockerNetworkOf(t *topology.Topology, envName, meshNetwork string) string {
	if t.Spec.Networking == topology.NetworkingBridged {
		return env.DockerNetworkName(envName, "bridge")
	}
	return env.DockerNetworkName(envName, meshNetwork)
}

// DockerNetworks are the docker networks a topology needs in environment envName, in order of first use.
func DockerNetworks(t *topology.Topology, envName string) []string {
	var want []string
	for _, mn := range t.Networks() {
		if n := DockerNetworkOf(t, envName, mn); !slices.Contains(want, n) {
			want = append(want, n)
		}
	}
	return want
}

// AssignPools gives every cluster its MetalLB range: the i-th cluster on a docker network (in topology order) gets
// that network's i-th pool, so pools never overlap and never depend on which cluster came up first.
func AssignPools(st *env.State) error {
	index := map[string]int{}
	for i := range st.Clusters {
		c := &st.Clusters[i]
		n, ok := st.Network(c.DockerNetwork)
		if !ok {
			return fmt.Errorf("cluster %s: network %s not recorded", c.Name, c.DockerNetwork)
		}
		first, last, err := network.Network(n).Pool(index[c.DockerNetwork])
		if err != nil {
			return err
		}
		index[c.DockerNetwork]++
		c.PoolFirst, c.PoolLast = first, last
	}
	return nil
}
