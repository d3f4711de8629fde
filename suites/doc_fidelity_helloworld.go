package suites

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites/checks"
)

// doc-fidelity-helloworld: the install guide's own verification, done as the guide says: helloworld v1 in
// cluster1, v2 in cluster2, sleep in both, and curl from each sleep pod until both versions have answered.
var docFidelityHelloworld = Spec{
	ShortName:   "doc-fidelity-helloworld",
	Area:        v1alpha1.AreaDocFidelity,
	Description: "toggles helloworld between v1 and v2 from every cluster's sleep pod",
	DataPlane:   env.DataPlaneSidecar,
	Needs:       []v1alpha1.Need{v1alpha1.NeedEnvoy},
	// It deploys and removes the guide's sample (sidecars, its own namespace) while it runs.
	Serial: true,
	Applies: func(m *checks.Mesh) Applicability {
		switch {
		case m.DataPlane != env.DataPlaneSidecar:
			return noSidecars(m, "the guide's procedure")
		case m.State.Images.Source == env.SourceOffline:
			return CannotRunHere("the guide's images (" + checks.HelloImages["v1"] + ", " + checks.HelloImages["sleep"] +
				") cannot be pulled: no registry answered here (" + m.State.Images.Reason + "); run it where one does")
		case len(m.Names()) < 2:
			return NotApplicable("the guide's procedure needs two clusters")
		}
		return Applicable()
	},
	Run: func(ctx SpecContext, m *checks.Mesh) {
		By("deploying helloworld v1, v2 and sleep in namespace " + checks.HelloNamespace)
		DeferCleanup(checks.RemoveHelloWorld, m)
		Expect(checks.DeployHelloWorld(ctx, m)).To(Succeed())
		for _, src := range m.Names() {
			seen := map[string]int{}
			By("curling helloworld from " + src + "'s sleep pod until v1 and v2 answer")
			retry(ctx, cfg.Timeouts.DocFidelity, func() error {
				return checks.HelloToggles(ctx, m, src, []string{"v1", "v2"}, seen)
			})
		}
	},
}
