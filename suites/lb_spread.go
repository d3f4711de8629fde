package suites

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/framework/lb"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites/checks"
)

// lb-spread: from every cluster, calls reach every cluster that runs the service, as far as the mesh promises it:
// every cluster of the caller's network, and every other network through one of its clusters (an east-west gateway
// balances per connection, and the client keeps its connection: package lb models the reach groups and states the
// test and its false-alarm rate). Answers from a cluster outside every group fail it. Each source is judged once:
// retrying a statistical verdict until it passes would void its false-alarm rate. The description (the report's and
// JUnit's spec name) is unchanged from before the groups.
var lbSpread = Spec{
	ShortName:   "lb-spread",
	Area:        v1alpha1.AreaLoadBalancing,
	Description: "spreads calls from every cluster across every cluster that runs the service",
	Applies: func(m *checks.Mesh) Applicability {
		switch {
		case len(lbSources(m)) > 0:
			return Applicable()
		case m.MultiNetwork():
			return needsGateways(m, "every other cluster is on another network, reachable only through east-west gateways, whose pods cannot run")
		}
		return NotApplicable("the service runs in one cluster")
	},
	Run: func(ctx SpecContext, m *checks.Mesh) {
		var failures []string
		sources := lbSources(m)
		// The spec's false-alarm rate is the sum over its sources: split the budget.
		alpha := cfg.FalseAlarm / float64(max(len(sources), 1))
		for _, src := range sources {
			reach := m.ReachGroups(src)
			By("judging calls from " + src + " across " + checks.DescribeReach(reach))
			var v lb.Verdict
			var verdictErr error
			// Retry only what produced no verdict (exec failures, a client pod restarting): retrying a verdict would
			// void its false-alarm rate.
			Eventually(ctx, func() error {
				var err error
				v, err = checks.Balanced(ctx, m, src, reach, alpha, cfg.Timeouts.WarmUp)
				if v.Source != "" {
					verdictErr = err
					return nil
				}
				return err
			}).WithTimeout(cfg.Timeouts.Discovery).WithPolling(2 * time.Second).Should(Succeed())
			AddReportEntry(v1alpha1.LBVerdictEntry, v)
			GinkgoWriter.Printf("%s: %s\n", src, v.Reason)
			if verdictErr != nil {
				failures = append(failures, verdictErr.Error())
			}
		}
		Expect(failures).To(BeEmpty(), strings.Join(failures, "\n"))
	},
}

// lbSources are the clusters whose calls must reach at least two groups (clusters of their network, other networks).
func lbSources(m *checks.Mesh) []string {
	var out []string
	for _, src := range m.Names() {
		if len(m.ReachGroups(src).Groups) >= 2 {
			out = append(out, src)
		}
	}
	return out
}
