package suites

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites/checks"
)

// gateway-address: each east-west gateway has an IP, not a host name.
var gatewayAddress = Spec{
	ShortName:   "gateway-address",
	Area:        v1alpha1.AreaGateway,
	Description: "has an IP address, not a host name, from the cluster's pool",
	Applies: func(m *checks.Mesh) Applicability {
		if len(withGateway(m)) == 0 {
			return NotApplicable("the topology needs no east-west gateway (one network, istiod not exposed through one)")
		}
		return Applicable()
	},
	Run: func(ctx SpecContext, m *checks.Mesh) {
		for _, n := range withGateway(m) {
			retry(ctx, cfg.Timeouts.Gateway, func() error { return checks.GatewayAddress(ctx, m, n) })
		}
	},
}

// withGateway are the clusters that have an east-west gateway, in topology order.
func withGateway(m *checks.Mesh) []string {
	var out []string
	for _, n := range m.Names() {
		if m.State.Mesh.Clusters[n].EastWestGateway != "" {
			out = append(out, n)
		}
	}
	return out
}
