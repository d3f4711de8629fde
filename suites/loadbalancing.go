package suites

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/framework/lb"
	"github.com/meshconform/meshconform/framework/report"
	"github.com/meshconform/meshconform/suites/checks"
)

// Load balancing: from every cluster, calls reach every cluster that runs the service (package lb states the test
// and its false-alarm rate). Each source is judged once: retrying a statistical verdict until it passes would void
// its false-alarm rate.
var _ = Describe("Load balancing", AreaLoadBalancing.Label(), func() {
	It("spreads calls from every cluster across every cluster that runs the service", func(ctx SpecContext) {
		var failures, sources []string
		for _, src := range mesh.Names() {
			if len(mesh.Reachable(src)) >= 2 {
				sources = append(sources, src)
			}
		}
		// The spec's false-alarm rate is the sum over its sources: split the budget.
		alpha := cfg.FalseAlarm / float64(max(len(sources), 1))
		for _, src := range sources {
			dsts := mesh.Reachable(src)
			By("judging calls from " + src + " across " + strings.Join(dsts, ", "))
			var v lb.Verdict
			var verdictErr error
			// Retry only what produced no verdict (exec failures, a client pod restarting): retrying a verdict would
			// void its false-alarm rate.
			Eventually(ctx, func() error {
				var err error
				v, err = checks.Balanced(ctx, mesh, src, dsts, alpha, cfg.Timeouts.WarmUp)
				if v.Source != "" {
					verdictErr = err
					return nil
				}
				return err
			}).WithTimeout(cfg.Timeouts.Discovery).WithPolling(2 * time.Second).Should(Succeed())
			AddReportEntry(report.LBVerdictEntry, v)
			GinkgoWriter.Printf("%s: %s\n", src, v.Reason)
			if verdictErr != nil {
				failures = append(failures, verdictErr.Error())
			}
		}
		if len(sources) == 0 {
			if mesh.MultiNetwork() {
				Skip(CannotRunHere + "every other cluster is on another network, reachable only through east-west gateways, whose pods cannot run (no Envoy)")
			}
			Skip(NotApplicable + "the service runs in one cluster")
		}
		Expect(failures).To(BeEmpty(), strings.Join(failures, "\n"))
	}, specTimeout())
})
