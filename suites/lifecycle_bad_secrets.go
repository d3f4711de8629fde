package suites

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites/checks"
)

// lifecycle-bad-secrets: next to the good remote secrets, a primary gets three that cannot work (an unreachable API
// server, a token without RBAC, an exec-auth kubeconfig); its istiod, restarted, must still become Ready within the
// sync timeout, keep every good cluster synced with complete endpoints, and report none of the bad ones synced;
// they are named in the report with what istiod says of them. Removing them restores the mesh. (Istio's
// TestBadRemoteSecret.)
var lifecycleBadSecrets = Spec{
	ShortName:   "lifecycle-bad-secrets",
	Area:        v1alpha1.AreaLifecycle,
	Description: "becomes Ready and keeps the good clusters synced when a restarted istiod also holds remote secrets that cannot work",
	Disruptive:  true,
	Applies:     lifecycleSecretRotation.Applies,
	Run: func(ctx SpecContext, m *checks.Mesh) {
		plan, _ := checks.PlanRotation(m)
		primary := plan.Source
		By("adding bad remote secrets to " + primary + " next to the good ones, then restarting its istiod")
		restore, bad, err := checks.AddBadSecrets(ctx, m, primary, plan.Remote, cfg.Timeouts.Sync)
		restored := false
		DeferCleanup(func(ctx context.Context) {
			if !restored {
				Expect(restore(ctx)).To(Succeed(), "remove the bad remote secrets")
			}
		}, NodeTimeout(time.Minute))
		Expect(err).NotTo(HaveOccurred())
		err = checks.ReadyDespiteBadSecrets(ctx, m, plan, primary, bad, cfg.Timeouts.Sync)
		AddReportEntry("bad-remote-secrets", bad)
		for _, b := range bad {
			GinkgoWriter.Printf("%s: %s: istiod reports %q\n", b.ID, b.What, b.Status)
		}
		Expect(err).NotTo(HaveOccurred())
		By("removing the bad remote secrets")
		Expect(restore(ctx)).To(Succeed())
		restored = true
		caller := checks.CallContinuously(ctx, m, plan.Source)
		defer caller.Stop()
		Expect(checks.RemoteSyncedWithEndpoints(ctx, m, plan, cfg.Timeouts.Sync)).To(Succeed())
	},
}
