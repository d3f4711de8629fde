package suites

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites/checks"
)

// isolation-nodes: with isolated networking, nodes of other networks are not reachable either.
var isolationNodes = Spec{
	ShortName:   "isolation-nodes",
	Area:        v1alpha1.AreaIsolation,
	Description: "keeps each network's nodes unreachable from the other networks",
	Features:    []v1alpha1.Feature{v1alpha1.FeatureMultiNetwork, v1alpha1.FeatureIsolatedNetworking},
	Applies: func(m *checks.Mesh) Applicability {
		if !m.MultiNetwork() || m.State.Topology.Networking != env.NetworkingIsolated {
			return NotApplicable("nodes of other mesh networks are reachable by design unless networking is isolated")
		}
		return Applicable()
	},
	Run: func(ctx SpecContext, m *checks.Mesh) {
		for _, src := range m.Names() {
			for _, dst := range m.Others(src) {
				if m.SameNetwork(src, dst) {
					continue
				}
				// Found only here, as before: the pairs checked so far keep their verdict.
				if c := m.State.Cluster(dst); c == nil || len(c.NodeIPs) == 0 {
					skip(NotApplicable("no node addresses recorded for " + dst + " (brought clusters)"))
				}
				By(src + " must not reach " + dst + "'s nodes")
				Expect(checks.IsolatedNodes(ctx, m, src, dst, cfg.Timeouts.Probe)).To(Succeed())
			}
		}
	},
}
