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

// scoping-subset-cluster: a DestinationRule with a subset per cluster (selecting istiod's topology.istio.io/cluster
// endpoint label) and a VirtualService routing the echo host to one of them send every caller's calls to exactly
// that cluster; removed, calls spread again. 30 judged calls all in the target would happen by chance with
// probability at most 2^-30 if the route were ignored.
var scopingSubsetCluster = Spec{
	ShortName:   "scoping-subset-cluster",
	Area:        v1alpha1.AreaScoping,
	Description: "routes calls to exactly the cluster a topology.istio.io/cluster subset names, from every caller",
	Disruptive:  true,
	Applies: func(m *checks.Mesh) Applicability {
		if _, ok := checks.PlanSubset(m); ok {
			return Applicable()
		}
		if m.MultiNetwork() {
			return CannotRunHere("no caller reaches another cluster: the other networks are reachable only through east-west gateways, whose pods cannot run (no Envoy)")
		}
		return NotApplicable("the service runs in one cluster")
	},
	Run: func(ctx SpecContext, m *checks.Mesh) {
		plan, _ := checks.PlanSubset(m)
		By("routing " + m.Host() + " to subset " + plan.Target + " in " + strings.Join(m.Primaries(), ", ") +
			"; callers: " + strings.Join(plan.Sources, ", "))
		restore, err := checks.RouteToCluster(ctx, m, plan.Target, nil)
		restored := false
		DeferCleanup(func(ctx context.Context) {
			if !restored {
				Expect(restore(ctx)).To(Succeed(), "remove the subset route")
			}
		}, NodeTimeout(time.Minute))
		Expect(err).NotTo(HaveOccurred())
		var failures []string
		for _, src := range plan.Sources {
			t, err := checks.RoutedTo(ctx, m, src, plan.Target, cfg.Timeouts.Discovery)
			GinkgoWriter.Printf("%s: %d calls answered by %v\n", src, t.Sent, t.ByCluster)
			if err != nil {
				failures = append(failures, err.Error())
			}
		}
		Expect(failures).To(BeEmpty(), strings.Join(failures, "\n"))
		Expect(restore(ctx)).To(Succeed())
		restored = true
		for _, src := range plan.Sources {
			took, err := checks.SpreadsAgain(ctx, m, src, plan.Target, cfg.Timeouts.Discovery)
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Printf("%s: route removed, calls reach another cluster again after %s\n", src, took.Round(time.Second))
		}
	},
}
