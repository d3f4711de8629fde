package suites

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/meshconform/meshconform/framework/report"
)

// Area is a conformance area: every spec carries exactly one, as the label "area:<name>", and the report gives a
// result per area.
type Area string

const (
	AreaTrust         Area = "trust"
	AreaDiscovery     Area = "discovery"
	AreaGateway       Area = "gateway"
	AreaLoadBalancing Area = "loadbalancing"
	AreaIsolation     Area = "isolation"
	AreaDocFidelity   Area = "doc-fidelity"
)

// Areas in report order.
var Areas = []Area{AreaTrust, AreaDiscovery, AreaGateway, AreaLoadBalancing, AreaIsolation, AreaDocFidelity}

// Label is the Ginkgo label of the area.
func (a Area) Label() Labels { return Label("area:" + string(a)) }

// Feature is a topology feature a spec exercises, as the label "feature:<name>".
type Feature string

const (
	FeatureMultiNetwork       Feature = "multi-network"
	FeaturePrimaryRemote      Feature = "primary-remote"
	FeatureIsolatedNetworking Feature = "isolated-networking"
)

// Label is the Ginkgo label of the feature.
func (f Feature) Label() Labels { return Label("feature:" + string(f)) }

// Labels of the data plane a spec needs and of specs that need Envoy (an east-west gateway or sidecars).
var (
	DataPlaneSidecar = Label("dataplane:sidecar")
	NeedsEnvoy       = Label("needs:envoy")
)

// Skip reasons start with one of these, so the report can tell "does not apply to this topology" from "could not
// run here".
const (
	NotApplicable = report.NotApplicablePrefix
	CannotRunHere = report.CannotRunHerePrefix
)
