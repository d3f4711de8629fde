package render

import (
	"fmt"

	"github.com/meshconform/meshconform/framework/topology"
	"sigs.k8s.io/yaml"
)

// IstioOperator is the subset of Istio's install.istio.io/v1alpha1 IstioOperator that meshconform writes: our own
// types carrying only the fields the install guide uses, rendered to YAML for istioctl.
type IstioOperator struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Metadata   OperatorMeta `json:"metadata"`
	Spec       OperatorSpec `json:"spec"`
}

// OperatorMeta names the IstioOperator. istioctl labels what it installs with this name
// (install.operator.istio.io/owning-resource) and prunes only its own objects on the next install, so the control
// plane and the east-west gateway must carry different names or re-installing one deletes the other.
type OperatorMeta struct {
	Name string `json:"name"`
}

// OperatorSpec is IstioOperator.spec.
type OperatorSpec struct {
	// Profile: minimal (primary: istiod, no ingress gateway, which would need Envoy), remote, or empty (gateways only).
	Profile string `json:"profile"`
	// Revision installs a revisioned control plane (istiod-<revision>, istio-sidecar-injector-<revision>, pods and
	// webhooks labelled istio.io/rev=<revision>); on a gateway, the revision that injects it. Empty: the default one.
	Revision   string          `json:"revision,omitempty"`
	Hub        string          `json:"hub,omitempty"`
	Tag        string          `json:"tag,omitempty"`
	MeshConfig *MeshConfig     `json:"meshConfig,omitempty"`
	Components *Components     `json:"components,omitempty"`
	Values     *OperatorValues `json:"values,omitempty"`
}

// MeshConfig is spec.meshConfig.
type MeshConfig struct {
	TrustDomain string `json:"trustDomain,omitempty"`
}

// Components is spec.components.
type Components struct {
	IngressGateways []GatewayComponent `json:"ingressGateways,omitempty"`
}

// GatewayComponent is one entry of spec.components.ingressGateways.
type GatewayComponent struct {
	Name    string            `json:"name"`
	Enabled bool              `json:"enabled"`
	Label   map[string]string `json:"label,omitempty"`
	K8s     *GatewayK8s       `json:"k8s,omitempty"`
}

// GatewayK8s is a gateway component's k8s settings.
type GatewayK8s struct {
	Env     []EnvVar        `json:"env,omitempty"`
	Service *GatewayService `json:"service,omitempty"`
}

// EnvVar is a container environment variable.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// GatewayService is the gateway Service's spec overlay.
type GatewayService struct {
	Ports []ServicePort `json:"ports"`
}

// ServicePort is one port of a gateway Service.
type ServicePort struct {
	Name       string `json:"name"`
	Port       int32  `json:"port"`
	TargetPort int32  `json:"targetPort"`
}

// OperatorValues is spec.values (the Helm values of Istio's charts).
type OperatorValues struct {
	Global       *GlobalValues       `json:"global,omitempty"`
	Pilot        *PilotValues        `json:"pilot,omitempty"`
	IstiodRemote *IstiodRemoteValues `json:"istiodRemote,omitempty"`
	Gateways     *GatewaysValues     `json:"gateways,omitempty"`
}

const pullIfNotPresent = "IfNotPresent"

// GlobalValues is spec.values.global.
type GlobalValues struct {
	// ImagePullPolicy is what injection templates put on injected proxies. Istio's templates default to Always, which
	// makes kubelet ask a registry even for an image loaded into the node (offline: ImagePullBackOff). Images are
	// addressed by hub and tag, so IfNotPresent is what a CI testing its own build wants too.
	ImagePullPolicy string             `json:"imagePullPolicy,omitempty"`
	MeshID          string             `json:"meshID,omitempty"`
	MultiCluster    *MultiClusterValue `json:"multiCluster,omitempty"`
	Network         string             `json:"network,omitempty"`
	// RemotePilotAddress is, on a remote, the primary's exposed istiod address. An IP makes the remote chart create a
	// selectorless Service istiod plus an EndpointSlice holding the IP (ports 15012, 15017), so remote proxies and the
	// remote API server's injection webhook still dial istiod.istio-system.svc, a name istiod's serving certificate
	// always carries; a host name makes it an ExternalName Service instead.
	RemotePilotAddress string `json:"remotePilotAddress,omitempty"`
	// ExternalIstiod, on a primary serving remotes, lets its istiod act as the remote clusters' control plane: for each
	// remote whose istio-system carries topology.istio.io/controlPlaneClusters naming this primary, istiod writes
	// istio-ca-root-cert into the remote's namespaces and patches the caBundle of the remote's injection webhook.
	// Without it remote pods find no root certificate and the webhook has no caBundle (istio#42327).
	ExternalIstiod bool `json:"externalIstiod,omitempty"`
}

// MultiClusterValue is spec.values.global.multiCluster.
type MultiClusterValue struct {
	ClusterName string `json:"clusterName"`
}

// PilotValues is spec.values.pilot (istiod).
type PilotValues struct {
	Resources *Resources `json:"resources,omitempty"`
}

// Resources is a container's resource requests.
type Resources struct {
	Requests map[string]string `json:"requests,omitempty"`
}

// istiodCPURequest replaces the chart's 500m. A kind node reports the host's cores (2 on a small CI runner) and the
// control plane already requests ~1.1 of them, so a rolling restart (100% surge) of a 500m istiod cannot schedule
// its new pod and stays Pending: measured when cacerts change under a running istiod. Memory keeps the default.
const istiodCPURequest = "100m"

// IstiodRemoteValues is spec.values.istiodRemote.
type IstiodRemoteValues struct {
	// InjectionPath is the path the remote's injection webhook calls on the primary's istiod; it carries the remote's
	// cluster and network so injected proxies are labelled with them.
	InjectionPath string `json:"injectionPath,omitempty"`
}

// GatewaysValues is spec.values.gateways.
type GatewaysValues struct {
	IstioIngressgateway *IngressGatewayValues `json:"istio-ingressgateway,omitempty"`
}

// IngressGatewayValues is spec.values.gateways.istio-ingressgateway.
type IngressGatewayValues struct {
	InjectionTemplate string `json:"injectionTemplate,omitempty"`
}

// Names and labels of what meshconform installs.
const (
	Namespace = "istio-system"
	// ControlPlaneOperatorName names the IstioOperator of istiod (primary) or of the remote profile.
	ControlPlaneOperatorName = "meshconform"
	// EastWestOperatorName names the IstioOperator of the east-west gateway.
	EastWestOperatorName = "meshconform-eastwest"
	// EastWestGatewayName is the east-west gateway's Deployment and Service.
	EastWestGatewayName = "istio-eastwestgateway"
	// CrossNetworkGatewayName is the Gateway exposing *.local on 15443 AUTO_PASSTHROUGH.
	CrossNetworkGatewayName = "cross-network-gateway"
	// IstiodGatewayName and IstiodVirtualServiceName expose istiod on the east-west gateway (ExposeIstiod=gateway).
	IstiodGatewayName        = "istiod-gateway"
	IstiodVirtualServiceName = "istiod-vs"
	// IstiodLBServiceName exposes istiod through its own LoadBalancer Service (ExposeIstiod=loadbalancer).
	IstiodLBServiceName = "istiod-remote-lb"

	NetworkLabel                 = "topology.istio.io/network"
	ControlPlaneClustersAnnot    = "topology.istio.io/controlPlaneClusters"
	RequestedNetworkViewEnv      = "ISTIO_META_REQUESTED_NETWORK_VIEW"
	operatorAPIVersion           = "install.istio.io/v1alpha1"
	operatorKind                 = "IstioOperator"
	eastWestInjectionTemplate    = "gateway"
	profileMinimal, profileEmpty = "minimal", "empty"
	// ProfileRemote is the profile of a remote's IstioOperator.
	ProfileRemote = "remote"
	// InjectorWebhook is the MutatingWebhookConfiguration of the sidecar injector (the remote profile installs it).
	InjectorWebhook = "istio-sidecar-injector"
)

// Ports of the east-west gateway (the install guide's gen-eastwest-gateway) and of istiod.
const (
	PortStatus      = 15021
	PortTLS         = 15443
	PortIstiodXDS   = 15012
	PortIstiodHook  = 15017
	PortWebhookHTTP = 443
	PortMonitoring  = 15014
)

// EastWestGatewayLabels are the gateway pods' labels; the cross-network Gateway selects istio=eastwestgateway.
func EastWestGatewayLabels(network string) map[string]string {
	return map[string]string{"istio": "eastwestgateway", "app": EastWestGatewayName, NetworkLabel: network}
}

// RenderInput is what the IstioOperators of one cluster are rendered from.
type RenderInput struct {
	Topology *topology.Topology
	Cluster  string
	Hub, Tag string
	// RemotePilotAddress is the primary's exposed istiod address (remotes only; required for them).
	RemotePilotAddress string
	// Revision installs the control plane (or the remote profile's injector) as that revision; "" or "default": the
	// default one.
	Revision string
}

// ControlPlaneOperator renders the IstioOperator of a cluster's role: the minimal profile with mesh ID, cluster
// name, network and trust domain for a primary (plus externalIstiod when it has remotes), the remote profile pointing
// at its primary's istiod for a remote.
func ControlPlaneOperator(in RenderInput) (*IstioOperator, error) {
	t := in.Topology
	c, ok := t.Cluster(in.Cluster)
	if !ok {
		return nil, fmt.Errorf("cluster %q is not in topology %s", in.Cluster, t.Metadata.Name)
	}
	op := &IstioOperator{APIVersion: operatorAPIVersion, Kind: operatorKind,
		Metadata: OperatorMeta{Name: ControlPlaneOperatorName},
		Spec:     OperatorSpec{Hub: in.Hub, Tag: in.Tag, Revision: installRevision(in.Revision)}}
	global := &GlobalValues{ImagePullPolicy: pullIfNotPresent, MeshID: t.Spec.Mesh.ID,
		MultiCluster: &MultiClusterValue{ClusterName: c.Name}, Network: c.Network}
	switch c.Role {
	case topology.RolePrimary:
		op.Spec.Profile = profileMinimal
		op.Spec.MeshConfig = &MeshConfig{TrustDomain: t.Spec.Mesh.TrustDomain}
		global.ExternalIstiod = len(t.RemotesOf(c.Name)) > 0
		op.Spec.Values = &OperatorValues{Global: global,
			Pilot: &PilotValues{Resources: &Resources{Requests: map[string]string{"cpu": istiodCPURequest}}}}
	case topology.RoleRemote:
		if in.RemotePilotAddress == "" {
			return nil, fmt.Errorf("remote %s: no address of its primary's istiod to point at", c.Name)
		}
		op.Spec.Profile = ProfileRemote
		global.RemotePilotAddress = in.RemotePilotAddress
		op.Spec.Values = &OperatorValues{Global: global,
			IstiodRemote: &IstiodRemoteValues{InjectionPath: InjectionPath(c.Name, c.Network)}}
	default:
		return nil, fmt.Errorf("cluster %s: unknown role %q", c.Name, c.Role)
	}
	return op, nil
}

// InjectionPath is the remote injection webhook's path on the primary's istiod.
func InjectionPath(cluster, network string) string {
	return "/inject/cluster/" + cluster + "/net/" + network
}

// installRevision is the revision an IstioOperator names: none for the default one (istioctl and the charts name
// the default revision's objects without a suffix only when the revision is empty).
func installRevision(rev string) string {
	if IsDefaultRevision(rev) {
		return ""
	}
	return rev
}

// EastWestOperator renders the east-west gateway's IstioOperator (profile empty: gateways only): labels with the
// network, the requested network view, and a Service with the status, mTLS passthrough, istiod and webhook ports.
// revision is the control plane's revision, whose injector injects the gateway ("" for the default one).
func EastWestOperator(network, hub, tag, revision string) *IstioOperator {
	return &IstioOperator{APIVersion: operatorAPIVersion, Kind: operatorKind,
		Metadata: OperatorMeta{Name: EastWestOperatorName},
		Spec: OperatorSpec{
			Profile: profileEmpty, Hub: hub, Tag: tag, Revision: installRevision(revision),
			Components: &Components{IngressGateways: []GatewayComponent{{
				Name:    EastWestGatewayName,
				Enabled: true,
				Label:   EastWestGatewayLabels(network),
				K8s: &GatewayK8s{
					Env: []EnvVar{{Name: RequestedNetworkViewEnv, Value: network}},
					Service: &GatewayService{Ports: []ServicePort{
						{Name: "status-port", Port: PortStatus, TargetPort: PortStatus},
						{Name: "tls", Port: PortTLS, TargetPort: PortTLS},
						{Name: "tls-istiod", Port: PortIstiodXDS, TargetPort: PortIstiodXDS},
						{Name: "tls-webhook", Port: PortIstiodHook, TargetPort: PortIstiodHook},
					}},
				},
			}}},
			Values: &OperatorValues{
				Gateways: &GatewaysValues{IstioIngressgateway: &IngressGatewayValues{InjectionTemplate: eastWestInjectionTemplate}},
				Global:   &GlobalValues{ImagePullPolicy: pullIfNotPresent, Network: network},
			},
		}}
}

// YAML renders the IstioOperator.
func (op *IstioOperator) YAML() ([]byte, error) {
	b, err := yaml.Marshal(op)
	if err != nil {
		return nil, fmt.Errorf("render IstioOperator %s: %w", op.Metadata.Name, err)
	}
	return append([]byte("# Written by meshconform.\n"), b...), nil
}
