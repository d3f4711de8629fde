package suites

import (
	"github.com/onsi/ginkgo/v2/types"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
)

// Catalogue is every conformance spec. Within an area, specs run and are reported in this order. Adding a spec is
// one file (its Spec and body) and one line here; README.md, "Adding a check", shows the steps.
var Catalogue = []Spec{
	entry(configMeshConsistent),
	entry(configInjectionRevision),

	entry(trustSharedRoot),
	entry(trustMutualTLS),

	entry(discoverySynced),
	entry(discoverySameNetworkEndpoints),
	entry(discoveryCrossNetworkGateway),

	entry(gatewayAddress),
	entry(gatewayPorts),
	entry(gatewayIstiodReachable),

	entry(lbSpread),

	entry(isolationPods),
	entry(isolationNodes),

	entry(docFidelityHelloworld),

	entry(failoverDrainedCluster),

	entry(scopingClusterLocal),
	entry(scopingSubsetCluster),

	entry(lifecycleSecretRotation),
	entry(lifecycleBadSecrets),
	entry(lifecycleSecretRemoval),
	entry(authzAllowPrincipal),
	entry(authzDenyPrincipal),
	entry(authzForeignTrustDomain),
}

// AreaTitles are the Ginkgo container texts of the areas: the first words of every spec name in the reports and
// JUnit, so they never change.
var AreaTitles = map[v1alpha1.Area]string{
	v1alpha1.AreaConfig:        "Mesh configuration",
	v1alpha1.AreaTrust:         "Trust",
	v1alpha1.AreaDiscovery:     "Discovery",
	v1alpha1.AreaGateway:       "East-west gateway",
	v1alpha1.AreaLoadBalancing: "Load balancing",
	v1alpha1.AreaIsolation:     "Network isolation",
	v1alpha1.AreaDocFidelity:   "Install guide verification",
	v1alpha1.AreaLifecycle:     "Remote secret lifecycle",
	v1alpha1.AreaFailover:      "Failover",
	v1alpha1.AreaScoping:       "Service scoping",
	v1alpha1.AreaAuthz:         "Authorization",
}

// entry records where a spec is listed: the spec's code location for Ginkgo, which orders specs by it.
func entry(s Spec) Spec {
	s.location = types.NewCodeLocation(1)
	return s
}
