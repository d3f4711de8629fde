package suites

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites/checks"
)

// discovery-cross-network-gateway: for clusters on other networks, a client learns the remote east-west gateway.
var discoveryCrossNetworkGateway = Spec{
	ShortName:   "discovery-cross-network-gateway",
	Area:        v1alpha1.AreaDiscovery,
	Description: "gives a client the remote east-west gateway, not pod IPs, for clusters on other networks",
	Features:    []v1alpha1.Feature{v1alpha1.FeatureMultiNetwork},
	Applies:     multiNetwork,
	Run: func(ctx SpecContext, m *checks.Mesh) {
		for _, src := range m.Names() {
			var dsts []string
			for _, d := range m.Others(src) {
				if !m.SameNetwork(src, d) {
					dsts = append(dsts, d)
				}
			}
			By("reading the endpoints " + src + "'s client got for " + strings.Join(dsts, ", "))
			endpointsSeen(ctx, m, src, dsts)
		}
	},
}

// multiNetwork is the rule of specs that check what only a mesh over several networks has.
func multiNetwork(m *checks.Mesh) Applicability {
	if !m.MultiNetwork() {
		return NotApplicable("the mesh has one network")
	}
	return Applicable()
}
