package suites

import (
	"context"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites/checks"
)

// lifecycle-secret-rotation: every primary's remote secret for one cluster is replaced with a kubeconfig carrying a
// freshly minted reader token while a client calls across continuously; once istiod has taken it up the old token
// is revoked. No call may fail, every primary must report every cluster synced and the client must keep an
// endpoint for every echo pod of the rotated cluster (clusterz alone said "synced" while endpoints were gone,
// istio#61043). The restore is the same rotation back to the environment's own token secret, checked the same way.
// (Istio's TestRemoteSecretRotationKeepsCrossClusterTraffic.)
var lifecycleSecretRotation = Spec{
	ShortName:   "lifecycle-secret-rotation",
	Area:        v1alpha1.AreaLifecycle,
	Description: "keeps cross-cluster calls and endpoints while a remote secret's token is rotated and the old one revoked",
	Disruptive:  true,
	Applies: func(m *checks.Mesh) Applicability {
		if _, ok := checks.PlanRotation(m); ok {
			return Applicable()
		}
		switch {
		case m.State.Mesh != nil && m.State.Mesh.Installer == env.InstallerPreinstalled:
			return NotApplicable("the remote secrets of a preinstalled mesh are its owner's: meshconform rotates only its own")
		case m.MultiNetwork():
			return CannotRunHere("no primary's client reaches another cluster: the other networks are reachable only through east-west gateways, whose pods cannot run (no Envoy)")
		}
		return NotApplicable("no primary reads another cluster through a remote secret")
	},
	Run: func(ctx SpecContext, m *checks.Mesh) {
		plan, _ := checks.PlanRotation(m)
		By("rotating the remote secrets for " + plan.Remote + " in " + strings.Join(plan.Primaries, ", ") + " while " +
			plan.Source + " calls across")
		rotated := false
		restore := func(ctx context.Context) error {
			_, err := checks.RotateRemoteSecrets(ctx, m, plan, istio.RotatedTokenSecret, istio.ReaderTokenSecret, cfg.Timeouts.Sync)
			return err
		}
		DeferCleanup(func(ctx context.Context) {
			if !rotated {
				Expect(restore(ctx)).To(Succeed(), "rotate back to the environment's reader token")
			}
		}, NodeTimeout(2*cfg.Timeouts.Sync+time.Minute))
		took, err := checks.RotateRemoteSecrets(ctx, m, plan, istio.ReaderTokenSecret, istio.RotatedTokenSecret, cfg.Timeouts.Sync)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("rotated in %s, no call failed\n", took.Round(time.Second))
		By("rotating back to the environment's reader token (the restore, checked the same way)")
		took, err = checks.RotateRemoteSecrets(ctx, m, plan, istio.RotatedTokenSecret, istio.ReaderTokenSecret, cfg.Timeouts.Sync)
		rotated = true
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("restored in %s, no call failed\n", took.Round(time.Second))
	},
}
