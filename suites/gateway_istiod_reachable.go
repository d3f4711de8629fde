package suites

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites/checks"
)

// gateway-istiod-reachable: remotes reach their primary's istiod, however it is exposed.
var gatewayIstiodReachable = Spec{
	ShortName:   "gateway-istiod-reachable",
	Area:        v1alpha1.AreaGateway,
	Description: "lets every remote reach its primary's istiod on 15012 and 15017",
	Features:    []v1alpha1.Feature{v1alpha1.FeaturePrimaryRemote},
	Applies: func(m *checks.Mesh) Applicability {
		remotes := m.State.Remotes()
		if len(remotes) == 0 {
			return NotApplicable("the topology has no remote clusters")
		}
		for _, r := range remotes {
			if m.ExposeIstiod() == env.ExposeGateway && m.GatewayCannotRun(m.Istiod(r.Name)) {
				a := needsGateways(m, "istiod is exposed through the east-west gateway, whose pods cannot run")
				a.Reason += "; or expose istiod through its own load balancer: --expose-istiod loadbalancer"
				return a
			}
		}
		return Applicable()
	},
	Run: func(ctx SpecContext, m *checks.Mesh) {
		for _, r := range m.State.Remotes() {
			By(r.Name + " connects to " + m.State.Mesh.Clusters[r.Name].IstiodAddress)
			retry(ctx, cfg.Timeouts.Gateway, func() error {
				return checks.IstiodAnswers(ctx, m, r.Name, cfg.Timeouts.Probe)
			})
		}
	},
}
