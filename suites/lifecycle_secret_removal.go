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

// lifecycle-secret-removal: every primary's remote secret for one cluster is deleted while a client calls across:
// istiod must drop the cluster and the client its endpoints; written back, the cluster is synced again and the
// client has an endpoint for every echo pod of it again.
var lifecycleSecretRemoval = Spec{
	ShortName:   "lifecycle-secret-removal",
	Area:        v1alpha1.AreaLifecycle,
	Description: "drops a cluster's endpoints when its remote secrets are removed and has them again once they are restored",
	Disruptive:  true,
	Applies:     lifecycleSecretRotation.Applies,
	Run: func(ctx SpecContext, m *checks.Mesh) {
		plan, _ := checks.PlanRotation(m)
		By("removing the remote secrets for " + plan.Remote + " from " + strings.Join(plan.Primaries, ", ") + " while " +
			plan.Source + " calls across")
		caller := checks.CallContinuously(ctx, m, plan.Source)
		defer caller.Stop()
		restore, err := checks.RemoveRemoteSecrets(ctx, m, plan)
		restored := false
		DeferCleanup(func(ctx context.Context) {
			if !restored {
				Expect(restore(ctx)).To(Succeed(), "write the remote secrets back")
			}
		}, NodeTimeout(time.Minute))
		Expect(err).NotTo(HaveOccurred())
		start := time.Now()
		Expect(checks.RemoteGone(ctx, m, plan, cfg.Timeouts.Sync)).To(Succeed())
		GinkgoWriter.Printf("%s's endpoints gone after %s\n", plan.Remote, time.Since(start).Round(time.Second))
		By("writing the remote secrets back")
		Expect(restore(ctx)).To(Succeed())
		restored = true
		start = time.Now()
		Expect(checks.RemoteSyncedWithEndpoints(ctx, m, plan, cfg.Timeouts.Sync)).To(Succeed())
		GinkgoWriter.Printf("%s synced with its endpoints again after %s\n", plan.Remote, time.Since(start).Round(time.Second))
	},
}
