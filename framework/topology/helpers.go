package topology

import "github.com/meshconform/meshconform/framework/env"

// Feature is a property of a topology that specs can be labelled with, so a
// spec that only makes sense for, say, multi-network topologies runs only there.
type Feature string

const (
	// MultiNetwork: the clusters sit on more than one mesh network.
	MultiNetwork Feature = "MultiNetwork"
	// PrimaryRemote: at least one cluster is a remote.
	PrimaryRemote Feature = "PrimaryRemote"
	// MultiPrimary: more than one cluster runs istiod.
	MultiPrimary Feature = "MultiPrimary"
	// IsolatedNetworking: meshconform provisions one docker network per mesh network.
	IsolatedNetworking Feature = "IsolatedNetworking"
	// BridgedNetworking: meshconform provisions one docker network for the topology.
	BridgedNetworking Feature = "BridgedNetworking"
)

// AllFeatures lists every Feature in the order Features reports them.
func AllFeatures() []Feature {
	return []Feature{MultiNetwork, PrimaryRemote, MultiPrimary, IsolatedNetworking, BridgedNetworking}
}

// Features lists the topology's features in AllFeatures order. The networking
// features are reported only for provisioned topologies: meshconform knows
// nothing about how a bring-your-own topology's networks are built.
// Call it on a defaulted topology (Load, Parse and Builtin return one).
func (t *Topology) Features() []Feature {
	var fs []Feature
	if t.MultiNetwork() {
		fs = append(fs, MultiNetwork)
	}
	if t.HasRemotes() {
		fs = append(fs, PrimaryRemote)
	}
	if len(t.Primaries()) > 1 {
		fs = append(fs, MultiPrimary)
	}
	if !t.BringYourOwn() {
		switch t.Spec.Networking {
		case NetworkingIsolated:
			fs = append(fs, IsolatedNetworking)
		case NetworkingBridged:
			fs = append(fs, BridgedNetworking)
		}
	}
	return fs
}

// HasFeature reports whether Features includes f.
func (t *Topology) HasFeature(f Feature) bool {
	for _, g := range t.Features() {
		if g == f {
			return true
		}
	}
	return false
}

// Networks lists the distinct mesh networks in order of first appearance in
// spec.clusters (a cluster without a network counts as DefaultNetwork).
func (t *Topology) Networks() []string {
	var nets []string
	seen := map[string]bool{}
	for _, c := range t.Spec.Clusters {
		n := networkOf(c)
		if !seen[n] {
			seen[n] = true
			nets = append(nets, n)
		}
	}
	return nets
}

// ClustersOn lists the clusters on mesh network, in file order.
func (t *Topology) ClustersOn(network string) []Cluster {
	var cs []Cluster
	for _, c := range t.Spec.Clusters {
		if networkOf(c) == network {
			cs = append(cs, c)
		}
	}
	return cs
}

// Cluster returns the cluster called name.
func (t *Topology) Cluster(name string) (Cluster, bool) {
	for _, c := range t.Spec.Clusters {
		if c.Name == name {
			return c, true
		}
	}
	return Cluster{}, false
}

// Primaries lists the primary clusters, in file order.
func (t *Topology) Primaries() []Cluster {
	var cs []Cluster
	for _, c := range t.Spec.Clusters {
		if c.IsPrimary() {
			cs = append(cs, c)
		}
	}
	return cs
}

// Remotes lists the remote clusters, in file order.
func (t *Topology) Remotes() []Cluster {
	var cs []Cluster
	for _, c := range t.Spec.Clusters {
		if c.IsRemote() {
			cs = append(cs, c)
		}
	}
	return cs
}

// RemotesOf lists the remotes configured by the primary called primary, in file order.
func (t *Topology) RemotesOf(primary string) []Cluster {
	var cs []Cluster
	for _, c := range t.Spec.Clusters {
		if c.IsRemote() && c.Primary == primary {
			cs = append(cs, c)
		}
	}
	return cs
}

// PrimaryOf returns the primary whose istiod configures the cluster called
// name: the cluster itself for a primary, its (defaulted) primary for a
// remote. ok is false when there is no such cluster or its primary does not
// exist (which Validate rejects).
func (t *Topology) PrimaryOf(name string) (primary Cluster, ok bool) {
	c, ok := t.Cluster(name)
	if !ok {
		return Cluster{}, false
	}
	switch c.Role {
	case RolePrimary:
		return c, true
	case RoleRemote:
		p, ok := t.Cluster(c.Primary)
		if !ok || !p.IsPrimary() {
			return Cluster{}, false
		}
		return p, true
	}
	return Cluster{}, false
}

// MultiNetwork reports whether the clusters sit on more than one mesh network.
func (t *Topology) MultiNetwork() bool { return len(t.Networks()) > 1 }

// HasRemotes reports whether any cluster is a remote.
func (t *Topology) HasRemotes() bool { return len(t.Remotes()) > 0 }

// BringYourOwn reports whether the topology's clusters exist already (every
// cluster has kubeconfig and context), so nothing is provisioned.
func (t *Topology) BringYourOwn() bool {
	if len(t.Spec.Clusters) == 0 {
		return false
	}
	for _, c := range t.Spec.Clusters {
		if !c.BringYourOwn() {
			return false
		}
	}
	return true
}

func networkOf(c Cluster) string {
	if c.Network == "" {
		return DefaultNetwork
	}
	return c.Network
}

// Record is what the environment file keeps of the topology (the per-cluster facts go into its cluster records).
func (t *Topology) Record() env.Topology {
	return env.Topology{Name: t.Metadata.Name, Networking: t.Spec.Networking, MeshID: t.Spec.Mesh.ID,
		TrustDomain: t.Spec.Mesh.TrustDomain}
}

// NewState returns a new environment called name for the topology, to be saved in dir, with every cluster recorded
// in topology order with its place in the mesh (role, network, primary), before anything is provisioned.
func (t *Topology) NewState(dir, name string) *env.State {
	st := env.New(dir, name, t.Record())
	t.RecordClusters(st)
	return st
}

// RecordClusters adds (or updates) every cluster's place in the mesh in st.
func (t *Topology) RecordClusters(st *env.State) {
	for _, c := range t.Spec.Clusters {
		rec := st.EnsureCluster(c.Name)
		rec.Role, rec.Network, rec.Primary = c.Role, c.Network, c.Primary
	}
}
