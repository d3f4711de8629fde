package suites

import (
	"github.com/meshconform/meshconform/framework/report"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
)

// Profiles are the conformance profiles, in v1alpha1.Profiles order. Each names the topology shape it applies to
// and, per support level, its features with the catalogued specs that test each:
//
//   - core: what every conforming mesh of the shape must pass. A core spec must apply to every topology of the
//     shape (TestProfileCoreSpecsApply checks it on every built-in topology); it may still be unable to run on a
//     machine (no Envoy), which keeps the profile from claiming success.
//   - extended: features a mesh of the shape may exercise; those the tested topology does not (every spec not
//     applicable) are listed as unsupported and do not count against the profile.
//
// The report (report.Build) gives a result for every profile whose shape the tested topology has, so a topology can
// have several (multi-primary-multi-network: MultiPrimary and MultiNetwork; mix-3-cluster: all three). A spec may
// count in several profiles, at most once in each. The semantics of the results are on v1alpha1.ProfileReport and
// v1alpha1.ProfileLevel. Adding a spec to a profile changes what its result means: say so in the change.
var Profiles = []report.ProfileDefinition{
	{
		Name:  v1alpha1.ProfileMultiPrimary,
		Shape: report.Shape{Primaries: 2},
		Core: []report.FeatureDefinition{
			{Name: "ConsistentMeshIdentity", Specs: specs(configMeshConsistent)},
			// The other specs test the control plane the report names only if it injected the workloads.
			{Name: "InjectionByTestedRevision", Specs: specs(configInjectionRevision)},
			{Name: "SharedRootOfTrust", Specs: specs(trustSharedRoot)},
			{Name: "CrossClusterMutualTLS", Specs: specs(trustMutualTLS)},
			{Name: "ClusterDiscovery", Specs: specs(discoverySynced)},
			{Name: "CrossClusterLoadBalancing", Specs: specs(lbSpread)},
		},
		Extended: []report.FeatureDefinition{
			// Not exercised when no two clusters share a network (every cross-cluster call goes through gateways).
			{Name: "SameNetworkEndpoints", Specs: specs(discoverySameNetworkEndpoints)},
			{Name: "InstallGuideVerification", Specs: specs(docFidelityHelloworld)},
		},
	},
	{
		Name:  v1alpha1.ProfilePrimaryRemote,
		Shape: report.Shape{Remotes: 1},
		Core: []report.FeatureDefinition{
			{Name: "ConsistentMeshIdentity", Specs: specs(configMeshConsistent)},
			{Name: "InjectionByTestedRevision", Specs: specs(configInjectionRevision)},
			{Name: "SharedRootOfTrust", Specs: specs(trustSharedRoot)},
			{Name: "CrossClusterMutualTLS", Specs: specs(trustMutualTLS)},
			{Name: "ClusterDiscovery", Specs: specs(discoverySynced)},
			{Name: "RemoteIstiodReachable", Specs: specs(gatewayIstiodReachable)},
			{Name: "CrossClusterLoadBalancing", Specs: specs(lbSpread)},
		},
		Extended: []report.FeatureDefinition{
			{Name: "SameNetworkEndpoints", Specs: specs(discoverySameNetworkEndpoints)},
			{Name: "InstallGuideVerification", Specs: specs(docFidelityHelloworld)},
		},
	},
	{
		Name:  v1alpha1.ProfileMultiNetwork,
		Shape: report.Shape{Networks: 2},
		Core: []report.FeatureDefinition{
			{Name: "CrossNetworkGatewayEndpoints", Specs: specs(discoveryCrossNetworkGateway)},
			{Name: "EastWestGateway", Specs: specs(gatewayAddress, gatewayPorts)},
			// Without it the cross-network specs could pass by bypassing the gateways.
			{Name: "PodIsolation", Specs: specs(isolationPods)},
		},
		Extended: []report.FeatureDefinition{
			// Only with isolated networking (one docker network per mesh network); bridged nodes reach each other.
			{Name: "NodeIsolation", Specs: specs(isolationNodes)},
		},
	},
	// Reserved: the disruptive specs (the mesh broken on purpose and restored: istiod restarts, rotated remote
	// secrets, ...) and the policy specs (authorization and traffic policy across clusters) that later issues add.
	// A profile with no specs is not reported.
	{
		// The mesh under change: a spec here breaks something on purpose (disruptive), watches the mesh cope and
		// restores it. Any mesh qualifies; a spec whose change the topology cannot show is not applicable.
		Name:  v1alpha1.ProfileLifecycle,
		Shape: report.Shape{Primaries: 1},
		Core: []report.FeatureDefinition{
			{Name: "FailoverOnDrainedCluster", Specs: specs(failoverDrainedCluster)},
			{Name: "RemoteSecretRotation", Specs: specs(lifecycleSecretRotation)},
			{Name: "BadRemoteSecrets", Specs: specs(lifecycleBadSecrets)},
			{Name: "RemoteSecretRemoval", Specs: specs(lifecycleSecretRemoval)},
		},
		Extended: []report.FeatureDefinition{
			{Name: "ClusterLocalServices", Specs: specs(scopingClusterLocal)},
			{Name: "SubsetRoutingByCluster", Specs: specs(scopingSubsetCluster)},
		},
	},
	{
		// Policy across clusters: an AuthorizationPolicy is enforced by every cluster's servers, whichever primary's
		// istiod configures them, and identities of another trust domain are rejected unless aliased.
		Name:  v1alpha1.ProfilePolicy,
		Shape: report.Shape{Primaries: 1},
		Core: []report.FeatureDefinition{
			{Name: "CrossClusterAuthorizationAllow", Specs: specs(authzAllowPrincipal)},
			{Name: "CrossClusterAuthorizationDeny", Specs: specs(authzDenyPrincipal)},
		},
		Extended: []report.FeatureDefinition{
			// Needs two primaries: one trust domain per istiod.
			{Name: "TrustDomainValidation", Specs: specs(authzForeignTrustDomain)},
		},
	},
}

// specs are the short names of the given specs.
func specs(ss ...Spec) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ShortName
	}
	return out
}

// FullName is the spec's name in the reports and JUnit: its area's title and its description.
func (s Spec) FullName() string { return AreaTitles[s.Area] + " " + s.Description }

// Definitions are the catalogue's specs and the profiles, what `meshconform report validate` checks a report against.
func Definitions() report.Definitions {
	d := report.Definitions{Profiles: Profiles}
	for _, s := range Catalogue {
		d.Specs = append(d.Specs, report.SpecDefinition{ShortName: s.ShortName, Name: s.FullName(), Area: s.Area})
	}
	return d
}
