package checks

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
)

// Failure is a check's verdict on a broken mesh: what was seen, the likely cause, and where to look.
type Failure struct {
	// Check names the check by its area (e.g. "discovery").
	Check string
	// Observed is what the check saw, with the numbers.
	Observed string
	// Cause is the likely cause, from the catalogue of what breaks multicluster meshes (research/user-pains.md).
	Cause string
	// Inspect lists commands or places that confirm or refute the cause.
	Inspect []string
	// Final marks a verdict that waiting cannot change (a wrong identity, a judged statistical test): specs stop
	// retrying on it.
	Final bool
}

func (f *Failure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", f.Check, f.Observed)
	if f.Cause != "" {
		fmt.Fprintf(&b, "\n  likely cause: %s", f.Cause)
	}
	for _, i := range f.Inspect {
		fmt.Fprintf(&b, "\n  inspect: %s", i)
	}
	return b.String()
}

func fail(area v1alpha1.Area, cause string, inspect []string, format string, args ...any) *Failure {
	return &Failure{Check: string(area), Observed: fmt.Sprintf(format, args...), Cause: cause, Inspect: inspect}
}

// The catalogue: likely causes, each for a symptom a check can observe.
const (
	causeRemoteSecret = "istiod cannot watch that cluster: its remote secret is missing, points at 127.0.0.1/localhost, " +
		"or the API server is unreachable from istiod's network (istiod keeps an old server until restarted)"
	causeRootsDiffer = "the clusters do not share a root: a cluster's cacerts holds another root, or cacerts is missing " +
		"or was created after istiod started (istiod then self-signs), or a leftover istio-ca-secret; istiod reads a " +
		"new root only when restarted, and workloads keep their certificates until they restart"
	causeChainBroken = "the workload certificate does not chain to the root the workload holds: a cacerts secret whose " +
		"ca-cert, root-cert and cert-chain do not belong together"
	causeMTLS = "the client is not using Istio mTLS: proxyless gRPC needs a DestinationRule with ISTIO_MUTUAL and xDS " +
		"credentials; with a sidecar, auto-mTLS or a DestinationRule disabling TLS"
	causeNoRemoteEndpoints = "istiod serving the client does not know that cluster's endpoints: remote secret, " +
		"or the Service does not exist in the client's cluster (DNS), or the echo pods are not Ready"
	causePodIPsAcrossNetworks = "istiod thinks both clusters are on one network: topology.istio.io/network is missing " +
		"or equal on istio-system of both clusters, or the server pods carry another network's label (the injector " +
		"copies it from their namespace at admission), so remote pod IPs are handed out instead of the gateway"
	causeNoGatewayEndpoint = "istiod hands out no gateway for that network: the east-west gateway Service lacks the " +
		"topology.istio.io/network label or an external IP, or (proxyless) the server pods lack security.istio.io/tlsMode"
	causeGatewayPending = "MetalLB gave the gateway no address: no IPAddressPool/L2Advertisement, a pool overlapping " +
		"node or docker-gateway addresses, or the MetalLB controller/speaker not ready"
	causeGatewayHostname = "the gateway has a host name, not an IP: Istio's network gateways need IPs (cloud load " +
		"balancers publishing host names, e.g. AWS ELB, need an IP-based LB)"
	causeGatewayClosed = "nothing answers on the gateway port: gateway pods not Ready (no Envoy image?), the Service " +
		"lacks the port, or no AUTO_PASSTHROUGH Gateway / istiod VirtualService for it"
	causeGatewayTimeout = "packets to the gateway are dropped between networks: firewall (DOCKER-USER) rules or MetalLB " +
		"L2 announcements not reaching the other network"
	causeNoRoute = "the address is not reachable at all: no route to it, or nobody answers ARP for it (MetalLB's " +
		"speaker not announcing the pool on that network)"
	causeIstiodClosed = "nothing answers on istiod's exposed port: istiod's LoadBalancer Service lacks the port or " +
		"istiod is not Ready"
	causeStaysLocal = "traffic stays in the client's cluster: locality load balancing with outlierDetection (a " +
		"DestinationRule), per-gateway weights, or the client sees only local endpoints (see the discovery specs)"
	causeNetworkNotReached = "calls never go through the other network's east-west gateway: locality load balancing " +
		"with outlierDetection keeps them local, the client has no endpoint for the gateway (see " +
		"discovery-cross-network-gateway), or the gateway forwards nowhere (no AUTO_PASSTHROUGH Gateway on 15443, no " +
		"REQUESTED_NETWORK_VIEW)"
	causeUnexpectedCluster = "calls reach a cluster they must not: a workload outside the mesh answers for the echo " +
		"service (another mesh on the same network, a stale ServiceEntry or WorkloadEntry, an echo pod reporting the " +
		"wrong cluster), or the environment file is wrong about the networks (gateways recorded as unable to run do run)"
	causeNotIsolated = "networks meant to be isolated route pod traffic directly: routes or firewall rules between the " +
		"docker networks let pod IPs through, so the test would not notice a broken gateway path"
	causeFailoverNoOther = "the caller cannot fail over: istiod serving it does not know the other clusters' echo " +
		"endpoints (remote secret, network labels), or they are not reachable from it (east-west gateway, firewall)"
	causeFailoverStale = "istiod keeps sending the drained cluster's endpoints: EDS is not updated when a remote " +
		"cluster's pods go away (a stale remote-secret watch, or the client's xDS stream is stuck)"
	causeClusterLocalMissing = "the mesh config of %s's istiod (which serves %s) does not make the host cluster-local: " +
		"its serviceSettings lack the entry (the edit did not reach that ConfigMap, or another revision's istiod serves it)"
	causeClusterLocalIgnored = "the mesh config makes the host cluster-local but calls still cross clusters: istiod did " +
		"not apply the changed mesh config (it reloads ConfigMap istio on change), or the client's xDS view is stale"
	causeClusterLocalStuck = "calls stay local after the cluster-local setting was removed: istiod did not apply the " +
		"restored mesh config, or the other clusters' endpoints are gone from its view (remote secret)"
	causeSubsetEmpty = "subset %s selects no endpoint the caller can use: istiod labels each endpoint %s=<its " +
		"cluster ID>, and %s's is %s; a subset selecting another value, a cluster ID that differs from the name, or " +
		"that cluster's endpoints missing from the caller's view leave the route without a backend"
	causeSubsetIgnored = "calls ignore the subset route: the VirtualService did not reach the caller's istiod (it " +
		"reads config from its own cluster only), or another VirtualService for the host wins"
	causeSubsetStuck = "calls keep going to one cluster after the subset route was removed: istiod did not remove " +
		"the VirtualService from the caller's view"
	causeFailoverNoReturn = "the restored cluster's endpoints do not come back into the caller's view: istiod no longer " +
		"watches that cluster (remote secret), or the restored pods lack the mesh's labels"
)

// inspectMeshConfig is where a cluster's mesh config (serviceSettings, locality settings) is read.
func inspectMeshConfig(cluster string) []string {
	return []string{fmt.Sprintf("kubectl --context %s -n istio-system get configmap istio -o jsonpath='{.data.mesh}'", cluster)}
}

// inspectIstiod lists what to look at on the istiod of a cluster.
func inspectIstiod(cluster string) []string {
	return []string{
		fmt.Sprintf("istioctl --context %s remote-clusters", cluster),
		fmt.Sprintf("kubectl --context %s -n istio-system get secrets -l istio/multiCluster=true", cluster),
		fmt.Sprintf("kubectl --context %s -n istio-system logs deploy/istiod | grep -i 'cluster\\|error'", cluster),
	}
}

// podsDown names the pods of a list that are not Ready, with their state, for a diagnosis.
func podsDown(pods []corev1.Pod) string {
	var out []string
	for _, p := range pods {
		if !kube.PodReady(&p) {
			out = append(out, p.Name+" "+string(p.Status.Phase))
		}
	}
	return strings.Join(out, ", ")
}
