package suites

import (
	"context"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites/checks"
)

// failover-drained-cluster: the echo service of one cluster is scaled to zero (Istio's ambient failover test does
// the same); every caller that reached it keeps succeeding through the others within the failover bound, with no
// call answered by the drained cluster after it, and after the restore the cluster answers again. The first cluster
// that is drained with another left to answer is chosen, so its own client must fail over to remote clusters.
var failoverDrainedCluster = Spec{
	ShortName:   "failover-drained-cluster",
	Area:        v1alpha1.AreaFailover,
	Description: "keeps calls succeeding through the other clusters when one cluster's service has no endpoints",
	Disruptive:  true,
	Applies: func(m *checks.Mesh) Applicability {
		if _, ok := checks.PlanFailover(m); ok {
			return Applicable()
		}
		if m.MultiNetwork() {
			return CannotRunHere("no caller reaches two clusters: the other networks are reachable only through east-west gateways, whose pods cannot run (no Envoy)")
		}
		return NotApplicable("the service runs in one cluster")
	},
	Run: func(ctx SpecContext, m *checks.Mesh) {
		plan, _ := checks.PlanFailover(m)
		By("draining the echo service in " + plan.Drained + "; callers: " + strings.Join(plan.Sources, ", "))
		restore, err := checks.Drain(ctx, m, plan.Drained, cfg.Timeouts.Failover)
		restored := false
		DeferCleanup(func(ctx context.Context) {
			if !restored {
				Expect(restore(ctx)).To(Succeed(), "restore the echo service in "+plan.Drained)
			}
		}, NodeTimeout(cfg.Timeouts.Failover+time.Minute))
		Expect(err).NotTo(HaveOccurred())

		var failures []string
		for _, src := range plan.Sources {
			res, err := checks.FailedOver(ctx, m, src, plan.Drained, cfg.Timeouts.Failover)
			AddReportEntry("failover", res)
			GinkgoWriter.Printf("%s: converged in %.0fs, judged calls %v, failed %d\n", src, res.Converged, res.Judged, res.Failed)
			if err != nil {
				failures = append(failures, err.Error())
			}
		}
		Expect(failures).To(BeEmpty(), strings.Join(failures, "\n"))

		By("restoring the echo service in " + plan.Drained)
		Expect(restore(ctx)).To(Succeed())
		restored = true
		for _, src := range plan.Sources {
			took, err := checks.Recovered(ctx, m, src, plan.Drained, cfg.Timeouts.Failover)
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Printf("%s: %s answers again after %s\n", src, plan.Drained, took.Round(time.Second))
		}
	},
}
