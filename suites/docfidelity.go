package suites

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/suites/checks"
)

// Doc-fidelity: the install guide's own verification, done as the guide says: helloworld v1 in cluster1, v2 in
// cluster2, sleep in both, and curl from each sleep pod until both versions have answered.
var _ = Describe("Install guide verification", AreaDocFidelity.Label(), DataPlaneSidecar, NeedsEnvoy, Serial, func() {
	It("toggles helloworld between v1 and v2 from every cluster's sleep pod", func(ctx SpecContext) {
		if mesh.DataPlane != env.DataPlaneSidecar {
			Skip(CannotRunHere + "the guide's procedure needs the sidecar data plane (Envoy); this run uses " + string(mesh.DataPlane))
		}
		if mesh.State.Images.Source == "offline" {
			Skip(CannotRunHere + "the guide's images (" + checks.HelloImages["v1"] + ", " + checks.HelloImages["sleep"] +
				") cannot be pulled: no registry is reachable")
		}
		if len(mesh.Names()) < 2 {
			Skip(NotApplicable + "the guide's procedure needs two clusters")
		}
		By("deploying helloworld v1, v2 and sleep in namespace " + checks.HelloNamespace)
		DeferCleanup(checks.RemoveHelloWorld, mesh)
		Expect(checks.DeployHelloWorld(ctx, mesh)).To(Succeed())
		for _, src := range mesh.Names() {
			seen := map[string]int{}
			By("curling helloworld from " + src + "'s sleep pod until v1 and v2 answer")
			retry(ctx, cfg.Timeouts.DocFidelity, func() error {
				return checks.HelloToggles(ctx, mesh, src, []string{"v1", "v2"}, seen)
			})
		}
	}, specTimeout())
})
