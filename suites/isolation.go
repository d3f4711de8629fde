package suites

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/framework/env"
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
	}, specTimeout())

	It("keeps each network's nodes unreachable from the other networks", FeatureIsolatedNetworking.Label(), func(ctx SpecContext) {
		if !mesh.MultiNetwork() || mesh.State.Topology.Networking != env.NetworkingIsolated {
			Skip(NotApplicable + "nodes of other mesh networks are reachable by design unless networking is isolated")
		}
		for _, src := range mesh.Names() {
			for _, dst := range mesh.Others(src) {
				if mesh.SameNetwork(src, dst) {
					continue
				}
				if c := mesh.State.Cluster(dst); c == nil || len(c.NodeIPs) == 0 {
					Skip(NotApplicable + "no node addresses recorded for " + dst + " (brought clusters)")
				}
				By(src + " must not reach " + dst + "'s nodes")
				Expect(checks.IsolatedNodes(ctx, mesh, src, dst, cfg.Timeouts.Probe)).To(Succeed())
			}
		}
	}, specTimeout())
})
