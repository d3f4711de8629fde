package topology

import "fmt"

// Default fills every empty field that has a default (see the package
// documentation) and leaves set fields alone. It is deterministic, idempotent
// and safe on invalid topologies: what it cannot default (a remote's primary
// when there is no primary, subnets past MaxDerivedClusters) stays empty for
// Validate to report.
func (t *Topology) Default() {
	if t.Spec.Mesh.ID == "" {
		t.Spec.Mesh.ID = DefaultMeshID
	}
	if t.Spec.Mesh.TrustDomain == "" {
		t.Spec.Mesh.TrustDomain = DefaultTrustDomain
	}
	for i := range t.Spec.Clusters {
		if t.Spec.Clusters[i].Network == "" {
			t.Spec.Clusters[i].Network = DefaultNetwork
		}
	}
	if t.Spec.Networking == "" {
		if len(t.Networks()) > 1 {
			t.Spec.Networking = NetworkingIsolated
		} else {
			t.Spec.Networking = NetworkingBridged
		}
	}
	for i := range t.Spec.Clusters {
		c := &t.Spec.Clusters[i]
		if c.wantsBringYourOwn() {
			continue // an existing cluster has the subnets it has
		}
		if c.PodSubnet == "" {
			if s, err := DefaultPodSubnet(i); err == nil {
				c.PodSubnet = s
			}
		}
		if c.ServiceSubnet == "" {
			if s, err := DefaultServiceSubnet(i); err == nil {
				c.ServiceSubnet = s
			}
		}
	}
	// A remote's default primary: the first primary on its network, else the first primary in the file (one pass
	// to find them, so defaulting stays linear in the number of clusters).
	first, onNetwork := "", map[string]string{}
	for _, c := range t.Spec.Clusters {
		if !c.IsPrimary() {
			continue
		}
		if first == "" {
			first = c.Name
		}
		if _, ok := onNetwork[c.Network]; !ok {
			onNetwork[c.Network] = c.Name
		}
	}
	for i := range t.Spec.Clusters {
		c := &t.Spec.Clusters[i]
		if c.IsRemote() && c.Primary == "" {
			if p, ok := onNetwork[c.Network]; ok {
				c.Primary = p
			} else {
				c.Primary = first
			}
		}
	}
}

// DefaultPodSubnet is the pod CIDR derived for the cluster at 0-based index i:
// 10.(10*(i+1)).0.0/16. It fails for i outside [0, MaxDerivedClusters).
func DefaultPodSubnet(i int) (string, error) {
	if i < 0 || i >= MaxDerivedClusters {
		return "", fmt.Errorf("no pod subnet can be derived for cluster index %d (only for the first %d clusters)", i, MaxDerivedClusters)
	}
	return fmt.Sprintf("10.%d.0.0/16", 10*(i+1)), nil
}

// DefaultServiceSubnet is the service CIDR derived for the cluster at 0-based
// index i: 10.255.(10*(i+1)).0/24. It fails for i outside [0, MaxDerivedClusters).
func DefaultServiceSubnet(i int) (string, error) {
	if i < 0 || i >= MaxDerivedClusters {
		return "", fmt.Errorf("no service subnet can be derived for cluster index %d (only for the first %d clusters)", i, MaxDerivedClusters)
	}
	return fmt.Sprintf("10.255.%d.0/24", 10*(i+1)), nil
}
