package v1alpha1

// Area is a conformance area: every spec belongs to exactly one, carries it as the label "area:<name>", and the
// report gives a result per area.
type Area string

const (
	AreaTrust         Area = "trust"
	AreaDiscovery     Area = "discovery"
	AreaGateway       Area = "gateway"
	AreaLoadBalancing Area = "loadbalancing"
	AreaIsolation     Area = "isolation"
	AreaDocFidelity   Area = "doc-fidelity"
	// AreaConfig: the clusters agree on who they are (mesh ID, trust domain, root, cluster IDs, versions).
	AreaConfig Area = "config"

	// The disruptive areas: their specs change the mesh on purpose and restore it, and run after every other area.

	// AreaLifecycle: remote secrets rotated, broken and removed while traffic flows.
	AreaLifecycle Area = "lifecycle"
	// AreaFailover: a cluster's endpoints drained (and localities preferred and failed over), then restored.
	AreaFailover Area = "failover"
	// AreaScoping: services kept to their own cluster (clusterLocal) or routed to a named one (subsets).
	AreaScoping Area = "scoping"
	// AreaAuthz: AuthorizationPolicies and trust domains across clusters (policies applied, foreign trust domains
	// rejected and accepted through aliases), then removed.
	AreaAuthz Area = "authz"
)

// Areas are the conformance areas, in report and run order: the disruptive ones last.
// (An area is listed once it has specs.)
var Areas = []Area{AreaTrust, AreaDiscovery, AreaGateway, AreaLoadBalancing, AreaIsolation, AreaDocFidelity, AreaConfig,
	AreaFailover, AreaScoping, AreaLifecycle, AreaAuthz}

// DisruptiveAreas hold only disruptive specs.
var DisruptiveAreas = []Area{AreaLifecycle, AreaFailover, AreaScoping, AreaAuthz}

// UnlabelledArea collects specs that carry no area label, so their failures are not lost.
const UnlabelledArea Area = "unlabelled"

// Known says whether a is one of Areas.
func (a Area) Known() bool {
	for _, k := range Areas {
		if a == k {
			return true
		}
	}
	return false
}

// Feature is a topology feature a spec exercises, as the label "feature:<name>"; an area lists the features of the
// specs that ran.
type Feature string

const (
	FeatureMultiNetwork       Feature = "multi-network"
	FeaturePrimaryRemote      Feature = "primary-remote"
	FeatureIsolatedNetworking Feature = "isolated-networking"
)

// Features are the known topology features.
var Features = []Feature{FeatureMultiNetwork, FeaturePrimaryRemote, FeatureIsolatedNetworking}

// Need is something of the machine a spec needs beyond the topology, as the label "needs:<name>".
type Need string

// NeedEnvoy: the spec needs Envoy (an east-west gateway or sidecars), which the offline images lack.
const NeedEnvoy Need = "envoy"

// Needs are the known needs.
var Needs = []Need{NeedEnvoy}

// Label prefixes: how a spec's declarations appear as Ginkgo labels (select with --label-filter, e.g.
// 'area:trust && !needs:envoy' or 'spec:lb-spread'). The report reads the area and feature labels.
const (
	AreaLabelPrefix      = "area:"
	FeatureLabelPrefix   = "feature:"
	DataPlaneLabelPrefix = "dataplane:"
	NeedsLabelPrefix     = "needs:"
	// SpecLabelPrefix carries a spec's stable short name. It is left out of JUnit test names, which predate it.
	SpecLabelPrefix = "spec:"
	// DisruptiveLabel marks specs that break the mesh on purpose (they also run serially).
	DisruptiveLabel = "disruptive"
)

// Label is the Ginkgo label of the area.
func (a Area) Label() string { return AreaLabelPrefix + string(a) }

// Label is the Ginkgo label of the feature.
func (f Feature) Label() string { return FeatureLabelPrefix + string(f) }

// Label is the Ginkgo label of the need.
func (n Need) Label() string { return NeedsLabelPrefix + string(n) }

// DataPlaneLabel is the label of a spec that needs the given data plane (e.g. sidecar).
func DataPlaneLabel(dataPlane string) string { return DataPlaneLabelPrefix + dataPlane }

// SpecLabel is the label carrying a spec's short name.
func SpecLabel(shortName string) string { return SpecLabelPrefix + shortName }

// A skipped spec's message starts with one of these, so the report can tell "does not apply to this topology"
// (listed under notApplicableSpecs, never counted against an area) from "applies but could not run on this machine"
// (listed under skippedSpecs, without the prefix).
const (
	NotApplicablePrefix = "not applicable: "
	CannotRunHerePrefix = "cannot run here: "
)

// LBVerdictEntry is the name of the Ginkgo report entry carrying a load-balancing verdict (an lb.Verdict).
const LBVerdictEntry = "lb-verdict"

// Profile is a conformance profile: a named set of specs every mesh of one topology shape is judged by, in two support
// levels (core: what every conforming mesh of that shape must pass; extended: what it may support). Which profiles a
// run reports follows from the tested topology's shape; their specs are declared in package suites (profiles.go).
type Profile string

const (
	// ProfileMultiPrimary: two or more primary clusters, each running istiod.
	ProfileMultiPrimary Profile = "MultiPrimary"
	// ProfilePrimaryRemote: remote clusters configured by a primary's istiod.
	ProfilePrimaryRemote Profile = "PrimaryRemote"
	// ProfileMultiNetwork: two or more mesh networks joined by east-west gateways.
	ProfileMultiNetwork Profile = "MultiNetwork"
	// ProfileLifecycle is reserved for the disruptive specs (the mesh broken on purpose and restored).
	ProfileLifecycle Profile = "Lifecycle"
	// ProfilePolicy is reserved for the policy specs (authorization, traffic policy across clusters).
	ProfilePolicy Profile = "Policy"
)

// Profiles are the known profiles, in report order.
var Profiles = []Profile{ProfileMultiPrimary, ProfilePrimaryRemote, ProfileMultiNetwork, ProfileLifecycle, ProfilePolicy}

// Known says whether p is one of Profiles.
func (p Profile) Known() bool {
	for _, k := range Profiles {
		if p == k {
			return true
		}
	}
	return false
}

// ProfileFeature is a capability a profile covers at one support level (e.g. SharedRootOfTrust), tested by one or
// more specs. Names are CamelCase, like the profiles'; they are declared with the profiles, in package suites.
type ProfileFeature string

// SkipCause is why a spec that counts in a profile did not pass or fail.
type SkipCause string

const (
	// SkipNotApplicable: the topology does not have what the spec checks (a skip message starting with
	// NotApplicablePrefix). The spec's feature is then unsupported by the tested mesh, unless another of its specs
	// applies.
	SkipNotApplicable SkipCause = "notApplicable"
	// SkipCannotRunHere: the spec applies, but this machine cannot run it (a skip message starting with
	// CannotRunHerePrefix, e.g. no Envoy image). Nothing is known about the mesh's support.
	SkipCannotRunHere SkipCause = "cannotRunHere"
	// SkipNotRun: the spec did not run for another reason: left out by --label-filter or --focus, pending, the suite
	// stopped before it, a skip without a classified reason, or the spec is not in the run at all.
	SkipNotRun SkipCause = "notRun"
)
