package suites

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites/checks"
)

// isolation-pods: across mesh networks, pods are not reachable directly, so the multi-network specs cannot pass by
// bypassing a gateway.
var isolationPods = Spec{
	ShortName:   "isolation-pods",
	Area:        v1alpha1.AreaIsolation,
	Description: "keeps each network's pods unreachable from the other networks",
	Features:    []v1alpha1.Feature{v1alpha1.FeatureMultiNetwork},
	Applies:     multiNetwork,
	Run: func(ctx SpecContext, m *checks.Mesh) {
		for _, src := range m.Names() {
			for _, dst := range m.Others(src) {
				if m.SameNetwork(src, dst) {
					continue
				}
				By(src + " must not reach " + dst + "'s pods")
				Expect(checks.Isolated(ctx, m, src, dst, cfg.Timeouts.Probe)).To(Succeed())
			}
		}
	},
}
