package suites

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/framework/report"
	"github.com/meshconform/meshconform/suites/checks"
)

// Load balancing: from every cluster, calls reach every cluster that runs the service (package lb states the test
// and its false-alarm rate). Each source is judged once: retrying a statistical verdict until it passes would void
// its false-alarm rate.
var _ = Describe("Load balancing", AreaLoadBalancing.Label(), func() {
	It("spreads calls from every cluster across every cluster that runs the service", func(ctx SpecContext) {
		var failures []string
		judged := 0
		for _, src := range mesh.Names() {
			dsts := mesh.Reachable(src)
			if len(dsts) < 2 {
				continue
			}
			judged++
			By("judging calls from " + src + " across " + strings.Join(dsts, ", "))
			v, err := checks.Balanced(ctx, mesh, src, dsts, cfg.FalseAlarm, cfg.Timeouts.WarmUp)
			if v.Source != "" {
				AddReportEntry(report.LBVerdictEntry, v)
				GinkgoWriter.Printf("%s: %s\n", src, v.Reason)
			}
			if err != nil {
				failures = append(failures, err.Error())
			}
		}
		if judged == 0 {
			if mesh.MultiNetwork() {
				Skip(CannotRunHere + "every other cluster is on another network, reachable only through east-west gateways, whose pods cannot run (no Envoy)")
			}
			Skip(NotApplicable + "the service runs in one cluster")
		}
		Expect(failures).To(BeEmpty(), strings.Join(failures, "\n"))
	}, SpecTimeout(15*time.Minute))
})
