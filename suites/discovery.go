package suites

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/meshconform/meshconform/suites/checks"
)

// Discovery: every primary watches every cluster, and a client in each cluster learns the service's endpoints in
// every other cluster: pod IPs on its own network, the remote east-west gateway across networks.
var _ = Describe("Discovery", AreaDiscovery.Label(), func() {
	It("has every primary's istiod report every cluster synced", func(ctx SpecContext) {
		retry(ctx, cfg.Timeouts.Sync, func() error { return checks.Synced(ctx, mesh) })
	}, specTimeout())

	It("gives a client the remote pod IPs of clusters on its own network", func(ctx SpecContext) {
		ran := false
		for _, src := range mesh.Names() {
			var dsts []string
			for _, d := range mesh.Others(src) {
				if mesh.SameNetwork(src, d) {
					dsts = append(dsts, d)
				}
			}
			if len(dsts) == 0 {
				continue
			}
			ran = true
			By("reading the endpoints " + src + "'s client got for " + strings.Join(dsts, ", "))
			endpointsSeen(ctx, src, dsts)
		}
		if !ran {
			Skip(NotApplicable + "no two clusters share a network")
		}
	}, specTimeout())

	It("gives a client the remote east-west gateway, not pod IPs, for clusters on other networks",
		FeatureMultiNetwork.Label(), func(ctx SpecContext) {
			if !mesh.MultiNetwork() {
				Skip(NotApplicable + "the mesh has one network")
			}
			for _, src := range mesh.Names() {
				var dsts []string
				for _, d := range mesh.Others(src) {
					if !mesh.SameNetwork(src, d) {
						dsts = append(dsts, d)
					}
				}
				By("reading the endpoints " + src + "'s client got for " + strings.Join(dsts, ", "))
				endpointsSeen(ctx, src, dsts)
			}
		}, specTimeout())
})

// endpointsSeen waits until src's client has, from its istiod, the endpoints of dsts, with a client calling
// meanwhile (a proxyless client holds its xDS stream only while it runs).
func endpointsSeen(ctx SpecContext, src string, dsts []string) {
	GinkgoHelper()
	stop := checks.KeepCalling(ctx, mesh, src)
	defer stop()
	retry(ctx, cfg.Timeouts.Discovery, func() error { return checks.Endpoints(ctx, mesh, src, dsts) })
}
