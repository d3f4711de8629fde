package suites

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/suites/checks"
)

// Isolation: across mesh networks, pods are not reachable directly, so the multi-network specs cannot pass by
// bypassing a gateway.
var _ = Describe("Network isolation", AreaIsolation.Label(), FeatureMultiNetwork.Label(), func() {
	It("keeps each network's pods unreachable from the other networks", func(ctx SpecContext) {
		if !mesh.MultiNetwork() {
			Skip(NotApplicable + "the mesh has one network")
		}
		for _, src := range mesh.Names() {
			for _, dst := range mesh.Others(src) {
				if mesh.SameNetwork(src, dst) {
					continue
				}
				By(src + " must not reach " + dst + "'s pods")
				Expect(checks.Isolated(ctx, mesh, src, dst, cfg.Timeouts.Probe)).To(Succeed())
			}
		}
	}, SpecTimeout(5*time.Minute))
})
