package env

// The vocabulary of the environment: every phase writes and reads these typed values, and each is defined here
// once. The topology, installer, data-plane and image packages use them; none defines its own.

// Role is a cluster's role in the mesh.
type Role string

const (
	// RolePrimary clusters run istiod.
	RolePrimary Role = "primary"
	// RoleRemote clusters run no istiod; their workloads are configured by the istiod of their primary.
	RoleRemote Role = "remote"
)

// Networking is how docker carries the topology's mesh networks.
type Networking string

const (
	// NetworkingBridged puts every cluster on one docker network; clusters in the same mesh network get routes to
	// each other's pod and service subnets, clusters in different mesh networks get none.
	NetworkingBridged Networking = "bridged"
	// NetworkingIsolated gives every mesh network its own docker network; across networks only east-west gateways
	// and API servers are reachable.
	NetworkingIsolated Networking = "isolated"
)

// Installer is how Istio got into the clusters.
type Installer string

const (
	InstallerIstioctl     Installer = "istioctl"
	InstallerHelm         Installer = "helm"
	InstallerPreinstalled Installer = "preinstalled"
)

// Installers are the valid installers, for flag help and validation.
var Installers = []Installer{InstallerIstioctl, InstallerHelm, InstallerPreinstalled}

// DataPlane is how the test workloads join the mesh.
type DataPlane string

const (
	// DataPlaneProxyless: gRPC xDS workloads with pilot-agent and no Envoy.
	DataPlaneProxyless DataPlane = "proxyless"
	// DataPlaneSidecar: Envoy sidecars (the install guide's mode).
	DataPlaneSidecar DataPlane = "sidecar"
)

// DataPlanes are the valid data planes.
var DataPlanes = []DataPlane{DataPlaneProxyless, DataPlaneSidecar}

// IstiodExposure is how remotes reach their primary's istiod.
type IstiodExposure string

const (
	// ExposeGateway: through the east-west gateway (the install guide's way; needs Envoy).
	ExposeGateway IstiodExposure = "gateway"
	// ExposeLoadBalancer: istiod's own LoadBalancer Service (for where the gateway data plane cannot run).
	ExposeLoadBalancer IstiodExposure = "loadbalancer"
)

// IstiodExposures are the valid exposures.
var IstiodExposures = []IstiodExposure{ExposeLoadBalancer, ExposeGateway}

// ImageSource is where the environment's images come from.
type ImageSource string

const (
	// SourceOffline: built here by the image kit and loaded into the nodes.
	SourceOffline ImageSource = "offline"
	// SourceUpstream: pulled from registries.
	SourceUpstream ImageSource = "upstream"
	// SourceNone: nothing provisioned (bring-your-own clusters).
	SourceNone ImageSource = "none"
)

// ImageSources are the valid image sources.
var ImageSources = []ImageSource{SourceOffline, SourceUpstream, SourceNone}

// Injection labels (Istio's; the env package is a leaf, so they are spelled here as well as in istio/render).
const (
	// InjectionLabel=InjectionEnabled selects the default revision or the default tag.
	InjectionLabel   = "istio-injection"
	InjectionEnabled = "enabled"
	// RevisionLabel=<revision or tag> selects a revision.
	RevisionLabel   = "istio.io/rev"
	DefaultRevision = "default"
)

func validIn[T comparable](v T, valid []T) bool {
	for _, x := range valid {
		if x == v {
			return true
		}
	}
	return false
}
