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

// scoping-cluster-local: the echo host made cluster-local (meshConfig.serviceSettings[].settings.clusterLocal, in
// every primary's mesh config) keeps every caller's calls in its own cluster; once the setting is removed, calls
// cross clusters again (Istio's TestClusterLocal). 30 judged calls all local would happen by chance with probability
// at most 2^-30 if calls still crossed.
var scopingClusterLocal = Spec{
	ShortName:   "scoping-cluster-local",
	Area:        v1alpha1.AreaScoping,
	Description: "keeps calls to a cluster-local service in the caller's cluster, and crosses again once it is not",
	Disruptive:  true,
	Applies: func(m *checks.Mesh) Applicability {
		if len(checks.ScopingSources(m)) > 0 {
			return Applicable()
		}
		if m.MultiNetwork() {
			return CannotRunHere("no caller reaches another cluster: the other networks are reachable only through east-west gateways, whose pods cannot run (no Envoy)")
		}
		return NotApplicable("the service runs in one cluster")
	},
	Run: func(ctx SpecContext, m *checks.Mesh) {
		sources := checks.ScopingSources(m)
		By("making " + m.Host() + " cluster-local in the mesh config of " + strings.Join(m.Primaries(), ", "))
		restore, err := checks.MakeClusterLocal(ctx, m, m.Primaries())
		restored := false
		DeferCleanup(func(ctx context.Context) {
			if !restored {
				Expect(restore(ctx)).To(Succeed(), "restore the mesh config")
			}
		}, NodeTimeout(time.Minute))
		Expect(err).NotTo(HaveOccurred())
		var failures []string
		for _, src := range sources {
			t, err := checks.StaysLocal(ctx, m, src, cfg.Timeouts.Discovery)
			GinkgoWriter.Printf("%s: %d calls answered by %v\n", src, t.Sent, t.ByCluster)
			if err != nil {
				failures = append(failures, err.Error())
			}
		}
		Expect(failures).To(BeEmpty(), strings.Join(failures, "\n"))

		By("removing the cluster-local setting")
		Expect(restore(ctx)).To(Succeed())
		restored = true
		for _, src := range sources {
			took, err := checks.CrossesAgain(ctx, m, src, cfg.Timeouts.Discovery)
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Printf("%s: calls cross clusters again after %s\n", src, took.Round(time.Second))
		}
	},
}
