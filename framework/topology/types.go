// Package topology is meshconform's model of a mesh topology: which clusters
// exist, which role each plays in the Istio mesh, which mesh network each sits
// on, and how docker carries those networks.
//
// A topology is a YAML file:
//
//	apiVersion: meshconform.io/v1alpha1
//	kind: Topology
//	metadata:
//	  name: multi-primary-multi-network
//	  annotations:
//	    meshconform.io/description: Two primaries on two networks
//	spec:
//	  mesh: {id: mesh1, trustDomain: cluster.local}
//	  networking: isolated
//	  clusters:
//	  - {name: cluster1, role: primary, network: network1}
//	  - {name: cluster2, role: primary, network: network2}
//
// [Load] and [Parse] decode strictly (an unknown or misspelled field is an
// error naming its path), fill defaults ([Topology.Default]) and validate
// ([Topology.Validate]), reporting every problem at once with the field path and
// the fix.
//
// Defaults, applied only where a field is empty:
//   - spec.mesh.id: mesh1; spec.mesh.trustDomain: cluster.local
//   - spec.clusters[i].network: network1
//   - spec.networking: isolated when the clusters sit on more than one mesh
//     network, bridged otherwise (with one mesh network the two modes build the
//     same thing: one docker network)
//   - spec.clusters[i].primary (remotes only): the first primary on the
//     remote's own mesh network, or, when its network has none, the first
//     primary in the file
//   - spec.clusters[i].workers: 0 (a single control-plane node)
//   - spec.clusters[i].podSubnet: 10.(10*(i+1)).0.0/16 and
//     spec.clusters[i].serviceSubnet: 10.255.(10*(i+1)).0/24, i being the
//     cluster's 0-based index in the file (as Istio's own CI does), so no two
//     clusters overlap. Not derived for bring-your-own clusters.
//
// A cluster with both kubeconfig and context is brought by the user and is not
// provisioned; a topology is either entirely bring-your-own or entirely kind.
//
// Built-in topologies live in the envs package (github.com/meshconform/meshconform/envs)
// and are reached through [Builtin], [Builtins] and [Resolve].
package topology

import "github.com/meshconform/meshconform/framework/env"

// APIVersion and Kind identify a topology file.
const (
	APIVersion = "meshconform.io/v1alpha1"
	Kind       = "Topology"
)

// DescriptionAnnotation is the metadata annotation holding a topology's
// one-line description (shown for built-ins).
const DescriptionAnnotation = "meshconform.io/description"

// Defaults filled by [Topology.Default].
const (
	DefaultMeshID      = "mesh1"
	DefaultTrustDomain = "cluster.local"
	DefaultNetwork     = "network1"
)

// Limits enforced by [Topology.Validate].
const (
	// MaxWorkers is the largest number of worker nodes a cluster may ask for.
	MaxWorkers = 5
	// MaxClusterNameLength caps cluster names so that the kind node container's host name
	// ("mc-" + environment name + "-" + name + "-control-plane") stays within 63 characters for any environment name.
	MaxClusterNameLength = env.MaxKindNodeName - len(env.NamePrefix) - env.MaxNameLen - len("-") - len("-control-plane")
	// MaxDerivedClusters is how many clusters can have their subnets derived
	// from their index (10.10.0.0/16 .. 10.250.0.0/16); clusters beyond it
	// must set podSubnet and serviceSubnet.
	MaxDerivedClusters = 25
)

// Role is a cluster's role in the mesh (the environment's vocabulary, defined once in package env).
type Role = env.Role

const (
	RolePrimary = env.RolePrimary
	RoleRemote  = env.RoleRemote
)

// Networking is how docker carries the topology's mesh networks (package env defines the values).
type Networking = env.Networking

const (
	NetworkingBridged  = env.NetworkingBridged
	NetworkingIsolated = env.NetworkingIsolated
)

// Topology is the root of a topology file.
type Topology struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`
}

// Metadata names a topology.
type Metadata struct {
	Name        string            `json:"name"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Spec describes the mesh and its clusters.
type Spec struct {
	Mesh Mesh `json:"mesh"`
	// Networking defaults to isolated when there is more than one mesh
	// network and to bridged otherwise.
	Networking Networking `json:"networking,omitempty"`
	Clusters   []Cluster  `json:"clusters"`
}

// MaxRevision is the longest revision name: Istio's istio-sidecar-injector-<revision> must stay a DNS label.
const MaxRevision = 63 - len("istio-sidecar-injector-")

// Mesh holds the mesh-wide Istio settings.
type Mesh struct {
	// ID is Istio's meshID (default mesh1).
	ID string `json:"id,omitempty"`
	// TrustDomain is the SPIFFE trust domain (default cluster.local).
	TrustDomain string `json:"trustDomain,omitempty"`
	// Revision is the istiod revision (or, preinstalled, the revision tag) to test: meshconform installs istiod with
	// it and labels the test namespaces istio.io/rev=<revision> (--revision overrides it). Empty: the default
	// revision, or, preinstalled, whichever the clusters' own revisions make unambiguous.
	Revision string `json:"revision,omitempty"`
}

// Cluster is one Kubernetes cluster of the mesh.
type Cluster struct {
	// Name is the cluster's name: the kind cluster name and Istio's clusterName.
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Network is the mesh network (Istio's topology.istio.io/network), default network1.
	Network string `json:"network,omitempty"`
	// Primary is, for a remote, the name of the primary whose istiod
	// configures it. Default: the first primary on the remote's network, else
	// the first primary in the file. Must be empty for a primary.
	Primary string `json:"primary,omitempty"`
	// Workers is the number of kind worker nodes besides the control plane (0..5).
	Workers int `json:"workers,omitempty"`
	// PodSubnet and ServiceSubnet are the cluster's pod and service CIDRs,
	// derived from the cluster's index when empty.
	PodSubnet     string `json:"podSubnet,omitempty"`
	ServiceSubnet string `json:"serviceSubnet,omitempty"`
	// Kubeconfig and Context point at an existing cluster (bring-your-own):
	// set both and meshconform does not provision this cluster. A relative
	// kubeconfig path in a file read by Load is relative to that file.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	Context    string `json:"context,omitempty"`
}

// IsPrimary reports whether the cluster runs istiod.
func (c Cluster) IsPrimary() bool { return c.Role == RolePrimary }

// IsRemote reports whether the cluster is a remote.
func (c Cluster) IsRemote() bool { return c.Role == RoleRemote }

// BringYourOwn reports whether the cluster exists already (kubeconfig and
// context both set) and must not be provisioned.
func (c Cluster) BringYourOwn() bool { return c.Kubeconfig != "" && c.Context != "" }

// wantsBringYourOwn reports whether the user tried to point at an existing
// cluster (either field set); half-set clusters are reported by Validate.
func (c Cluster) wantsBringYourOwn() bool { return c.Kubeconfig != "" || c.Context != "" }
