package lb

import (
	"fmt"
	"slices"
	"strings"

	"github.com/meshconform/meshconform/framework/env"
)

// What calls from one cluster must reach, as data.
//
// Istio promises that a client reaches every endpoint of a service, but it does not balance every hop per call:
//
//   - Inside the caller's own network, the client (proxyless gRPC) or its sidecar (Envoy) talks to the pods of every
//     cluster directly and picks an endpoint per call: every cluster of the caller's network must answer.
//   - Another network is reached through its east-west gateways (port 15443, TLS passthrough, AUTO_PASSTHROUGH):
//     the gateway sees only a TLS stream and picks one upstream pod per connection. A client whose connection to a
//     gateway lives for the whole run therefore reaches ONE of the clusters behind it, whichever the gateway picked
//     when the connection opened (istio#32208; Istio's own checker requires each network, and every cluster only
//     inside the caller's network). When two clusters share the remote network (mix-3-cluster seen from cluster3),
//     "every cluster answered" fails a healthy mesh about half the time.
//   - Only a client that opens a fresh connection to the gateway for every call gets a fresh pick per call, and then
//     every cluster behind the gateway must answer.
//
// A reach group is one thing the calls must reach: a cluster of the caller's network, or another network (reached if
// any of its clusters answers), or, with fresh connections per call, a cluster of another network. ReachGroups
// computes them from the environment file alone; NewGroupPlan and Judge apply the statistical test to them.

// Connections is how long a client's connection to a remote network's east-west gateway lives.
type Connections string

const (
	// ConnectionsReused: one connection per gateway address, kept for the whole run. The gateway picks the cluster
	// behind it once per connection, so the calls through it reach one cluster of that network.
	ConnectionsReused Connections = "reused"
	// ConnectionsPerCall: a fresh connection to the gateway for every call, hence a fresh pick per call.
	ConnectionsPerCall Connections = "perCall"
)

// ClientConnections says how the connections of a client to a remote gateway live, for each data plane:
//
//   - sidecar: always ConnectionsReused, whatever the application does. The application's connection ends at its
//     own Envoy, which balances each request (HTTP/2) over the endpoints istiod sent it, a remote network's gateways
//     among them, and keeps a pool of upstream connections per endpoint: calls to a gateway share its pooled,
//     multiplexed connection, so the gateway sees one long-lived connection (the case istio#32208 reports).
//   - proxyless: the gRPC channel itself holds one subchannel (one HTTP/2 connection) per endpoint address istiod
//     hands out: the pod IPs of the caller's network and, for another network, its gateways' ip:15443. So the
//     connection to the gateway lives as long as the channel: ConnectionsPerCall only when freshChannelPerCall (the
//     client opens a new channel for every call), else ConnectionsReused.
//
// meshconform's own client (fixtures/workload) opens one channel per run (wire.OneChannelPerRun), so the suites use
// ConnectionsReused on both data planes.
func ClientConnections(dp env.DataPlane, freshChannelPerCall bool) Connections {
	if dp == env.DataPlaneProxyless && freshChannelPerCall {
		return ConnectionsPerCall
	}
	return ConnectionsReused
}

// GroupKind says how calls reach a group.
type GroupKind string

const (
	// GroupCluster: a cluster of the caller's network, whose pods the client calls directly.
	GroupCluster GroupKind = "cluster"
	// GroupNetwork: another network, through its east-west gateways on connections kept for the run: reached when
	// any of its clusters answers.
	GroupNetwork GroupKind = "network"
	// GroupRemoteCluster: a cluster of another network, through that network's gateways on a fresh connection per
	// call (ConnectionsPerCall).
	GroupRemoteCluster GroupKind = "remoteCluster"
)

// Group is one thing the calls from a source must reach.
type Group struct {
	// Name is the cluster's name (GroupCluster, GroupRemoteCluster) or the network's (GroupNetwork).
	Name string    `json:"name"`
	Kind GroupKind `json:"kind"`
	// Network is the mesh network of the group's clusters.
	Network string `json:"network"`
	// Members are the clusters an answer from which reaches the group, in topology order.
	Members []string `json:"members"`
	// Gateways is, for a group behind another network, how many east-west gateway addresses of that network the
	// client balances over (each cluster of a multi-network mesh runs one); 0 for a cluster called directly.
	Gateways int `json:"gateways,omitempty"`
}

// Route is what the client balances over to reach the group: a cluster's pods (the cluster's name), or a remote
// network's gateways (the network's name, shared by the GroupRemoteCluster groups of that network).
func (g Group) Route() string {
	if g.Kind == GroupCluster {
		return g.Name
	}
	return "network " + g.Network
}

// String names the group for people: "cluster2", or "network2 (cluster3, cluster4)".
func (g Group) String() string {
	if g.Kind == GroupNetwork {
		return g.Name + " (" + strings.Join(g.Members, ", ") + ")"
	}
	return g.Name
}

// Reach is what calls from Source must reach, derived from the environment.
type Reach struct {
	Source string `json:"source"`
	// Network is the source's mesh network.
	Network     string      `json:"network"`
	Connections Connections `json:"connections"`
	// Groups: a GroupCluster per cluster of the source's network (the source's own among them), in topology order;
	// then, per other network in order of first appearance, one GroupNetwork or (ConnectionsPerCall) a
	// GroupRemoteCluster per cluster.
	Groups []Group `json:"groups"`
	// Unreachable maps each cluster of the mesh calls from Source cannot reach here to why: an answer from it fails
	// the verdict.
	Unreachable map[string]string `json:"unreachable,omitempty"`
	// Mesh lists every cluster of the mesh, in topology order: an answer from a cluster outside it fails the
	// verdict too.
	Mesh []string `json:"mesh"`
}

// Clusters are the members of every group, in group order.
func (r Reach) Clusters() []string {
	var out []string
	for _, g := range r.Groups {
		out = append(out, g.Members...)
	}
	return out
}

// ReachGroups computes, from the environment file alone (networks, gateways and whether their pods can run; no
// cluster is contacted), what calls from src must reach:
//
//   - each cluster of src's network, src included, is a GroupCluster;
//   - each other network whose east-west gateways run (or may run: no gateway recorded means a mesh whose gateways
//     meshconform did not install, counted as one address) is one GroupNetwork of its clusters, or with
//     ConnectionsPerCall a GroupRemoteCluster per cluster;
//   - the clusters of a network whose every recorded gateway cannot run here (no Envoy) are Unreachable.
//
// Roles do not change the groups: every primary's istiod watches every cluster through remote secrets, a remote's
// pods are endpoints like a primary's, and a remote's gateway forwards like a primary's (its pods are injected by its
// primary's istiod, which GatewayCannotRun already covers). A source that is not in the environment reaches nothing.
func ReachGroups(st *env.State, src string, conns Connections) Reach {
	r := Reach{Source: src, Connections: conns, Unreachable: map[string]string{}, Mesh: st.Names()}
	self := st.Cluster(src)
	if self == nil {
		return r
	}
	r.Network = self.Network
	clustersOf := func(network string) []string {
		var out []string
		for _, c := range st.Clusters {
			if c.Network == network {
				out = append(out, c.Name)
			}
		}
		return out
	}
	for _, c := range clustersOf(self.Network) {
		r.Groups = append(r.Groups, Group{Name: c, Kind: GroupCluster, Network: self.Network, Members: []string{c}})
	}
	for _, n := range st.MeshNetworks() {
		if n == self.Network {
			continue
		}
		members := clustersOf(n)
		recorded, running := 0, 0
		var cannot []string
		for _, c := range members {
			if st.MeshCluster(c).EastWestGateway == "" {
				continue
			}
			recorded++
			if st.GatewayCannotRun(c) {
				cannot = append(cannot, c)
			} else {
				running++
			}
		}
		if recorded > 0 && running == 0 {
			why := fmt.Sprintf("it is on %s, whose east-west gateways (%s) cannot run here (no Envoy)", n, strings.Join(cannot, ", "))
			for _, c := range members {
				r.Unreachable[c] = why
			}
			continue
		}
		gateways := max(running, 1)
		if conns == ConnectionsPerCall {
			for _, c := range members {
				r.Groups = append(r.Groups, Group{Name: c, Kind: GroupRemoteCluster, Network: n, Members: []string{c}, Gateways: gateways})
			}
			continue
		}
		r.Groups = append(r.Groups, Group{Name: n, Kind: GroupNetwork, Network: n, Members: slices.Clone(members), Gateways: gateways})
	}
	return r
}
