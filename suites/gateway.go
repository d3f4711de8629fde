package suites

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/suites/checks"
)

// Gateway: east-west gateways have IPs, and their ports answer from every other network; remotes reach istiod.
var _ = Describe("East-west gateway", AreaGateway.Label(), func() {
	withGateway := func() []string {
		var out []string
		for _, n := range mesh.Names() {
			if mesh.State.Mesh.Clusters[n].EastWestGateway != "" {
				out = append(out, n)
			}
		}
		return out
	}

	It("has an IP address, not a host name, from the cluster's pool", func(ctx SpecContext) {
		gws := withGateway()
		if len(gws) == 0 {
			Skip(NotApplicable + "the topology needs no east-west gateway (one network, istiod not exposed through one)")
		}
		for _, n := range gws {
			retry(ctx, cfg.Timeouts.Gateway, func() error { return checks.GatewayAddress(ctx, mesh, n) })
		}
	}, specTimeout())

	It("answers on 15443, and on 15012/15017 where remotes depend on it, from every other network",
		FeatureMultiNetwork.Label(), NeedsEnvoy, func(ctx SpecContext) {
			ran := false
			var cannot []string
			for _, dst := range withGateway() {
				if mesh.GatewayCannotRun(dst) {
					cannot = append(cannot, dst)
					continue
				}
				for _, src := range mesh.Others(dst) {
					if mesh.SameNetwork(src, dst) && len(mesh.State.RemotesOf(dst)) == 0 {
						continue
					}
					ran = true
					By(src + " connects to " + dst + "'s gateway")
					retry(ctx, cfg.Timeouts.Gateway, func() error {
						return checks.GatewayAnswers(ctx, mesh, src, dst, cfg.Timeouts.Probe)
					})
				}
			}
			switch {
			case !ran && len(cannot) > 0:
				Skip(CannotRunHere + "the east-west gateway pods of " + strings.Join(cannot, ", ") +
					" cannot run: the proxyv2 image has no Envoy")
			case !ran:
				Skip(NotApplicable + "no cluster needs another cluster's east-west gateway")
			case len(cannot) > 0:
				AddReportEntry("untested gateways", "cannot run (no Envoy): "+strings.Join(cannot, ", "))
			}
		}, specTimeout())

	It("lets every remote reach its primary's istiod on 15012 and 15017", FeaturePrimaryRemote.Label(), func(ctx SpecContext) {
		remotes := mesh.State.Remotes()
		if len(remotes) == 0 {
			Skip(NotApplicable + "the topology has no remote clusters")
		}
		for _, r := range remotes {
			if mesh.ExposeIstiod() == env.ExposeGateway && mesh.GatewayCannotRun(mesh.Istiod(r.Name)) {
				Skip(CannotRunHere + "istiod is exposed through the east-west gateway, whose pods cannot run (no Envoy)")
			}
		}
		for _, r := range remotes {
			By(r.Name + " connects to " + mesh.State.Mesh.Clusters[r.Name].IstiodAddress)
			retry(ctx, cfg.Timeouts.Gateway, func() error {
				return checks.IstiodAnswers(ctx, mesh, r.Name, cfg.Timeouts.Probe)
			})
		}
	}, specTimeout())
})
