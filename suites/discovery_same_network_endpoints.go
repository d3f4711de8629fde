package suites

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites/checks"
)

// discovery-same-network-endpoints: a client learns the pod IPs of the service in the other clusters of its network.
var discoverySameNetworkEndpoints = Spec{
	ShortName:   "discovery-same-network-endpoints",
	Area:        v1alpha1.AreaDiscovery,
	Description: "gives a client the remote pod IPs of clusters on its own network",
	Applies: func(m *checks.Mesh) Applicability {
		for _, src := range m.Names() {
			if len(sameNetworkPeers(m, src)) > 0 {
				return Applicable()
			}
		}
		return NotApplicable("no two clusters share a network")
	},
	Run: func(ctx SpecContext, m *checks.Mesh) {
		for _, src := range m.Names() {
			dsts := sameNetworkPeers(m, src)
			if len(dsts) == 0 {
				continue
			}
			By("reading the endpoints " + src + "'s client got for " + strings.Join(dsts, ", "))
			endpointsSeen(ctx, m, src, dsts)
		}
	},
}

// sameNetworkPeers are the other clusters on src's network.
func sameNetworkPeers(m *checks.Mesh, src string) []string {
	var out []string
	for _, d := range m.Others(src) {
		if m.SameNetwork(src, d) {
			out = append(out, d)
		}
	}
	return out
}

// endpointsSeen waits until src's client has, from its istiod, the endpoints of dsts, with a client calling
// meanwhile (a proxyless client holds its xDS stream only while it runs).
func endpointsSeen(ctx SpecContext, m *checks.Mesh, src string, dsts []string) {
	GinkgoHelper()
	stop := checks.KeepCalling(ctx, m, src)
	defer stop()
	retry(ctx, cfg.Timeouts.Discovery, func() error { return checks.Endpoints(ctx, m, src, dsts) })
}
