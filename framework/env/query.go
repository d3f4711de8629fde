package env

import "slices"

// Cluster returns the named cluster's record, or nil.
func (s *State) Cluster(name string) *Cluster {
	for i := range s.Clusters {
		if s.Clusters[i].Name == name {
			return &s.Clusters[i]
		}
	}
	return nil
}

// EnsureCluster returns the named cluster's record, adding an empty one if missing.
func (s *State) EnsureCluster(name string) *Cluster {
	if c := s.Cluster(name); c != nil {
		return c
	}
	s.Clusters = append(s.Clusters, Cluster{Name: name})
	return &s.Clusters[len(s.Clusters)-1]
}

// Network returns the named docker network's record.
func (s *State) Network(name string) (Network, bool) {
	for _, n := range s.Networks {
		if n.Name == name {
			return n, true
		}
	}
	return Network{}, false
}

// Names are the clusters in topology order.
func (s *State) Names() []string {
	out := make([]string, 0, len(s.Clusters))
	for _, c := range s.Clusters {
		out = append(out, c.Name)
	}
	return out
}

// Primaries are the primary clusters in topology order.
func (s *State) Primaries() []Cluster {
	return slices.DeleteFunc(slices.Clone(s.Clusters), func(c Cluster) bool { return c.Role != RolePrimary })
}

// Remotes are the remote clusters in topology order.
func (s *State) Remotes() []Cluster {
	return slices.DeleteFunc(slices.Clone(s.Clusters), func(c Cluster) bool { return c.Role != RoleRemote })
}

// RemotesOf are the remotes configured by the primary named primary.
func (s *State) RemotesOf(primary string) []Cluster {
	return slices.DeleteFunc(s.Remotes(), func(c Cluster) bool { return c.Primary != primary })
}

// PrimaryOf returns the primary of a remote (false for a primary or an unknown cluster).
func (s *State) PrimaryOf(name string) (Cluster, bool) {
	c := s.Cluster(name)
	if c == nil || c.Role != RoleRemote {
		return Cluster{}, false
	}
	if p := s.Cluster(c.Primary); p != nil {
		return *p, true
	}
	return Cluster{}, false
}

// MeshNetworks are the mesh networks in order of first appearance.
func (s *State) MeshNetworks() []string {
	var out []string
	for _, c := range s.Clusters {
		if !slices.Contains(out, c.Network) {
			out = append(out, c.Network)
		}
	}
	return out
}

// MultiNetwork says whether the mesh spans more than one network.
func (s *State) MultiNetwork() bool { return len(s.MeshNetworks()) > 1 }

// SameNetwork says whether two clusters share a mesh network.
func (s *State) SameNetwork(a, b string) bool {
	ca, cb := s.Cluster(a), s.Cluster(b)
	return ca != nil && cb != nil && ca.Network == cb.Network
}

// MeshCluster is a cluster's mesh record (zero when there is no mesh or no record).
func (s *State) MeshCluster(name string) MeshCluster {
	if s.Mesh == nil {
		return MeshCluster{}
	}
	return s.Mesh.Clusters[name]
}

// GatewayCannotRun says whether `up` found that a cluster's east-west gateway pods cannot run at all.
func (s *State) GatewayCannotRun(name string) bool {
	mc := s.MeshCluster(name)
	return mc.EastWestGateway != "" && !mc.GatewayReady && mc.GatewayCannotRun
}

// InjectionOf is how a cluster's test workloads are injected: its record, else the default (istio-injection=enabled,
// revision default), which is what environments recorded before revisions meant.
func (m *Mesh) InjectionOf(cluster string) Injection {
	if m != nil {
		if in := m.Clusters[cluster].Injection; in != nil {
			return *in
		}
	}
	return Injection{Label: InjectionLabel, Value: InjectionEnabled, Revision: DefaultRevision}
}

// IstiodRevision is the istiod revision that serves a cluster's test workloads ("default" for the default one): on a
// primary its own istiod's, on a remote its primary's istiod's.
func (m *Mesh) IstiodRevision(cluster string) string { return m.InjectionOf(cluster).Revision }
