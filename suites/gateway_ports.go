package suites

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites/checks"
)

// gateway-ports: a gateway's ports answer from every cluster that depends on them.
var gatewayPorts = Spec{
	ShortName:   "gateway-ports",
	Area:        v1alpha1.AreaGateway,
	Description: "answers on 15443, and on 15012/15017 where remotes depend on it, from every other network",
	Features:    []v1alpha1.Feature{v1alpha1.FeatureMultiNetwork},
	Needs:       []v1alpha1.Need{v1alpha1.NeedEnvoy},
	Applies: func(m *checks.Mesh) Applicability {
		pairs, cannot := gatewayClients(m)
		switch {
		case len(pairs) == 0 && len(cannot) > 0:
			return needsGateways(m, "the east-west gateway pods of "+joinNames(cannot)+" cannot run")
		case len(pairs) == 0:
			return NotApplicable("no cluster needs another cluster's east-west gateway")
		}
		return Applicable()
	},
	Run: func(ctx SpecContext, m *checks.Mesh) {
		pairs, cannot := gatewayClients(m)
		for _, p := range pairs {
			src, dst := p[0], p[1]
			By(src + " connects to " + dst + "'s gateway")
			retry(ctx, cfg.Timeouts.Gateway, func() error {
				return checks.GatewayAnswers(ctx, m, src, dst, cfg.Timeouts.Probe)
			})
		}
		if len(cannot) > 0 {
			AddReportEntry("untested gateways", "cannot run (no Envoy): "+strings.Join(cannot, ", "))
		}
	},
}

// gatewayClients are the (source, gateway cluster) pairs to test: every other network's clusters, and a gateway's
// own network where remotes reach istiod through it; cannot are the gateways whose pods cannot run here.
func gatewayClients(m *checks.Mesh) (pairs [][2]string, cannot []string) {
	for _, dst := range withGateway(m) {
		if m.GatewayCannotRun(dst) {
			cannot = append(cannot, dst)
			continue
		}
		for _, src := range m.Others(dst) {
			if m.SameNetwork(src, dst) && len(m.State.RemotesOf(dst)) == 0 {
				continue
			}
			pairs = append(pairs, [2]string{src, dst})
		}
	}
	return pairs, cannot
}
