//go:build e2e

package mesh_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/workload"
	"github.com/meshconform/meshconform/suites/checks"
)

// The authorization and trust-domain specs (area authz) on multi-primary, each passing on the healthy mesh and
// failing, with its diagnosis, against the broken states users hit: a policy refusing the calls (diagnosed as RBAC,
// not as traffic staying local), a policy in only one primary, a policy the data plane does not enforce, and a
// cluster of a foreign trust domain without aliases. Run them alone with -ginkgo.label-filter=authz.

// mutualTLS sets up what the authz specs run under: STRICT servers and ISTIO_MUTUAL clients in every cluster, removed
// by cleanups.
func mutualTLS(ctx context.Context, f *fixture) {
	GinkgoHelper()
	for _, name := range f.m.Names() {
		Expect(workload.RequireMTLS(ctx, f.e.Clients[name], f.e.State.Name, f.m.Namespace)).To(Succeed())
		DeferCleanup(workload.RemoveRequireMTLS, f.e.Clients[name], f.m.Namespace)
		Expect(workload.ClientMTLS(ctx, f.e.Clients[name], f.e.State.Name, f.m.Namespace, f.m.Host())).To(Succeed())
		DeferCleanup(workload.RemoveClientMTLS, f.e.Clients[name], f.m.Namespace, f.m.Host())
	}
}

// crosses waits until calls from every cluster reach every cluster with mTLS and the client's identity.
func crosses(ctx context.Context, f *fixture) {
	GinkgoHelper()
	for _, src := range f.m.Names() {
		Eventually(ctx, func() error {
			_, err := checks.MutualTLS(ctx, f.m, src, f.m.ReachGroups(src), 30*time.Second)
			return err
		}).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
	}
}

func policyChecks(f *fixture) {
	client := func() string { return workload.Principal(f.m.ClientIdentity()) }

	It("lets calls through a policy allowing only the client's principal, and diagnoses the refusal under another principal as RBAC", Label("authz"), func(ctx SpecContext) {
		mutualTLS(ctx, f)
		restore, err := checks.ApplyAuthz(ctx, f.m, f.m.Primaries(), workload.AllowPrincipals, client())
		DeferCleanup(func(ctx SpecContext) { Expect(restore(ctx)).To(Succeed()) }, NodeTimeout(time.Minute))
		Expect(err).NotTo(HaveOccurred())
		start := time.Now()
		crosses(ctx, f)
		GinkgoWriter.Printf("allow-principal (healthy): every cluster reaches every cluster after %s\n", time.Since(start).Round(time.Second))

		By("allowing only another principal: every call is refused, and the trust check names RBAC")
		_, err = checks.ApplyAuthz(ctx, f.m, f.m.Primaries(), workload.AllowPrincipals,
			workload.Principal(workload.Identity(f.m.TrustDomain, f.m.Namespace, "meshconform-nobody")))
		Expect(err).NotTo(HaveOccurred())
		for _, src := range f.m.Names() {
			t, err := checks.Denied(ctx, f.m, src, 2*time.Minute)
			Expect(err).NotTo(HaveOccurred())
			Expect(checks.Refused(t)).To(Equal(t.Sent))
		}
		start = time.Now()
		_, err = checks.MutualTLS(ctx, f.m, "cluster1", f.m.ReachGroups("cluster1"), 10*time.Second)
		failsWith(Default, err, "trust", "calls from cluster1 failed under STRICT mTLS")
		Expect(err.Error()).To(ContainSubstring("refused with PermissionDenied: an AuthorizationPolicy denies the call (RBAC)"))
		Expect(err.Error()).To(ContainSubstring("echo/" + workload.AuthzPolicyName + " (ALLOW, 1 rules"))
		Expect(err.Error()).NotTo(ContainSubstring("traffic stays in the client's cluster"))
		GinkgoWriter.Printf("allow-principal (broken: another principal allowed): diagnosed in %s\n", time.Since(start).Round(time.Second))

		Expect(restore(ctx)).To(Succeed())
		crosses(ctx, f)
	}, NodeTimeout(10*time.Minute))

	It("refuses every call under a policy denying the client's principal, and crosses again once it is removed", Label("authz"), func(ctx SpecContext) {
		mutualTLS(ctx, f)
		restore, err := checks.ApplyAuthz(ctx, f.m, f.m.Primaries(), workload.DenyPrincipals, client())
		DeferCleanup(func(ctx SpecContext) { Expect(restore(ctx)).To(Succeed()) }, NodeTimeout(time.Minute))
		Expect(err).NotTo(HaveOccurred())
		start := time.Now()
		for _, src := range f.m.Names() {
			t, err := checks.Denied(ctx, f.m, src, 2*time.Minute)
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Printf("%s: %d of %d refused\n", src, checks.Refused(t), t.Sent)
		}
		GinkgoWriter.Printf("deny-principal (healthy): every call refused after %s\n", time.Since(start).Round(time.Second))
		Expect(restore(ctx)).To(Succeed())
		crosses(ctx, f)
	}, NodeTimeout(10*time.Minute))

	It("fails authz-deny-principal as asymmetric when only cluster1 holds the policy", Label("authz"), func(ctx SpecContext) {
		mutualTLS(ctx, f)
		crosses(ctx, f)
		restore, err := checks.ApplyAuthz(ctx, f.m, []string{"cluster1"}, workload.DenyPrincipals, client())
		DeferCleanup(func(ctx SpecContext) { Expect(restore(ctx)).To(Succeed()) }, NodeTimeout(time.Minute))
		Expect(err).NotTo(HaveOccurred())
		start := time.Now()
		_, err = checks.Denied(ctx, f.m, "cluster1", 20*time.Second)
		failsWith(Default, err, "authz", "answered (cluster2")
		Expect(err.Error()).To(ContainSubstring("the AuthorizationPolicy is not in every primary: cluster1 has it, but the echo server that answered is configured by cluster2's istiod"))
		GinkgoWriter.Printf("deny-principal (broken: only in cluster1): diagnosed in %s\n", time.Since(start).Round(time.Second))
		Expect(restore(ctx)).To(Succeed())
		crosses(ctx, f)
	}, NodeTimeout(10*time.Minute))

	It("accepts a cluster of a foreign trust domain on proxyless gRPC (measured), and the trust check names the trust-domain mismatch", Label("authz", "trust-domain"), func(ctx SpecContext) {
		mutualTLS(ctx, f)
		crosses(ctx, f)
		plan, ok := checks.PlanForeignTrustDomain(f.m)
		Expect(ok).To(BeTrue())
		Expect(plan.Primary).To(Equal("cluster2"))
		Expect(plan.Sources).To(Equal([]string{"cluster1"}))
		const foreign = "meshconform-foreign.local"
		start := time.Now()
		restore, err := checks.IssueForeignTrustDomain(ctx, f.m, plan, foreign, 3*time.Minute)
		restored := false
		DeferCleanup(func(ctx SpecContext) {
			if !restored {
				Expect(restore(ctx)).To(Succeed())
			}
		}, NodeTimeout(8*time.Minute))
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("cluster2 issues under %s after %s\n", foreign, time.Since(start).Round(time.Second))

		// Measured on this build (2026-12-02): the proxyless client accepts the foreign server without an alias, so
		// the rejection check (authz-foreign-trust-domain, sidecar-only for that reason) fails with its diagnosis.
		start = time.Now()
		_, err = checks.ForeignRejected(ctx, f.m, "cluster1", []string{"cluster2"}, 20*time.Second)
		failsWith(Default, err, "authz", "calls from cluster1 were answered by cluster1")
		Expect(err.Error()).To(ContainSubstring("spiffe://" + foreign + "/ns/echo/sa/echo"))
		Expect(err.Error()).To(ContainSubstring("the caller accepted a server whose identity is of another trust domain"))
		GinkgoWriter.Printf("foreign-trust-domain on proxyless: accepted without alias, diagnosed in %s\n", time.Since(start).Round(time.Second))

		By("the trust check names the trust-domain mismatch, not a client without mTLS")
		start = time.Now()
		for _, src := range f.m.Names() {
			_, err = checks.MutualTLS(ctx, f.m, src, f.m.ReachGroups(src), 30*time.Second)
			failsWith(Default, err, "trust", "identity")
			Expect(err.Error()).To(ContainSubstring("the clusters issue identities under different trust domains (cluster1: cluster.local, cluster2: " + foreign + ")"))
			Expect(err.Error()).NotTo(ContainSubstring("the client is not using Istio mTLS"))
		}
		GinkgoWriter.Printf("trust-mutual-tls (broken: foreign trust domain, no alias): diagnosed in %s\n", time.Since(start).Round(time.Second))

		By("aliasing the other trust domain in both primaries: the mismatch is no longer reported")
		domains := map[string]string{"cluster1": "cluster.local", "cluster2": foreign}
		undo, err := checks.AliasTrustDomains(ctx, f.m, f.m.Primaries(), domains)
		unalias := once(undo)
		DeferCleanup(func(ctx SpecContext) { Expect(unalias(ctx)).To(Succeed()) }, NodeTimeout(time.Minute))
		Expect(err).NotTo(HaveOccurred())
		w, err := checks.WorkloadTrustDomains(ctx, f.m)
		Expect(err).NotTo(HaveOccurred())
		meshes, err := checks.MeshTrustDomains(ctx, f.m)
		Expect(err).NotTo(HaveOccurred())
		Expect(checks.TrustDomainMismatch(w, meshes, f.m.Istiod)).To(BeEmpty())
		for src, other := range map[string][]string{"cluster1": {"cluster2"}, "cluster2": {"cluster1"}} {
			td := map[string]string{"cluster1": foreign, "cluster2": "cluster.local"}[src]
			_, err := checks.AliasAccepted(ctx, f.m, src, other, td, 2*time.Minute)
			Expect(err).NotTo(HaveOccurred())
		}

		By("restoring the trust domain and aliases")
		Expect(unalias(ctx)).To(Succeed())
		Expect(restore(ctx)).To(Succeed())
		restored = true
		crosses(ctx, f)
		td, err := checks.WorkloadTrustDomains(ctx, f.m)
		Expect(err).NotTo(HaveOccurred())
		Expect(td).To(Equal(map[string]string{"cluster1": "cluster.local", "cluster2": "cluster.local"}))
	}, NodeTimeout(20*time.Minute))

	It("passes the authz specs on the healthy mesh through `meshconform test`", Label("authz"), func(ctx SpecContext) {
		bin := buildBinary(ctx)
		reportDir := filepath.Join(GinkgoT().TempDir(), "report")
		start := time.Now()
		cmd := exec.CommandContext(ctx, bin, "test", "--state-dir", f.e.StateDir, "--label-filter", "area:authz",
			"--report-dir", reportDir)
		cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
		Expect(cmd.Run()).To(Succeed(), "meshconform test --label-filter area:authz failed: see the output above")
		b, err := os.ReadFile(filepath.Join(reportDir, "conformance-report.yaml"))
		Expect(err).NotTo(HaveOccurred())
		var cr v1alpha1.ConformanceReport
		Expect(yaml.Unmarshal(b, &cr)).To(Succeed())
		var authz *v1alpha1.AreaResult
		for i := range cr.Areas {
			if cr.Areas[i].Name == v1alpha1.AreaAuthz {
				authz = &cr.Areas[i]
			}
		}
		Expect(authz).NotTo(BeNil())
		// authz-foreign-trust-domain needs sidecars (see above): cannot run here.
		Expect(authz.Result).To(Equal(v1alpha1.ResultPartial), "%+v", authz)
		Expect(authz.Statistics.Passed).To(Equal(2), "%+v", authz)
		Expect(authz.Statistics.Skipped).To(Equal(1), "%+v", authz)
		GinkgoWriter.Printf("area authz (healthy, allow and deny specs): %s in %s\n", authz.Summary, time.Since(start).Round(time.Second))
		// What the specs changed is restored: the next specs start from plaintext calls that cross.
		td, err := checks.WorkloadTrustDomains(ctx, f.m)
		Expect(err).NotTo(HaveOccurred())
		Expect(td).To(Equal(map[string]string{"cluster1": "cluster.local", "cluster2": "cluster.local"}))
		for _, p := range f.m.Primaries() {
			left, err := workload.AuthzPolicies(ctx, f.e.Clients[p], f.m.Namespace)
			Expect(err).NotTo(HaveOccurred())
			Expect(left).To(BeEmpty(), "%s: AuthorizationPolicies left behind", p)
		}
	}, NodeTimeout(20*time.Minute))

	It("fails authz-deny-principal as not enforced when the proxyless servers get Istio's allow-nothing policy", Label("authz"), func(ctx SpecContext) {
		mutualTLS(ctx, f)
		crosses(ctx, f)
		restore, err := checks.ApplyAuthz(ctx, f.m, f.m.Primaries(), workload.AllowNothing)
		DeferCleanup(func(ctx SpecContext) { Expect(restore(ctx)).To(Succeed()) }, NodeTimeout(time.Minute))
		Expect(err).NotTo(HaveOccurred())
		start := time.Now()
		_, err = checks.Denied(ctx, f.m, "cluster1", 30*time.Second)
		failsWith(Default, err, "authz", "were answered")
		Expect(err.Error()).To(ContainSubstring("is in the config of"))
		Expect(err.Error()).To(ContainSubstring("an ALLOW policy without rules (Istio's allow-nothing"))
		GinkgoWriter.Printf("deny (broken: allow-nothing on proxyless): diagnosed in %s\n", time.Since(start).Round(time.Second))
	}, NodeTimeout(10*time.Minute))
}

// once runs a restore at most once: the explicit call in a spec and its DeferCleanup must not both write (a second
// write of an earlier mesh config would undo what came after it).
func once(restore func(context.Context) error) func(context.Context) error {
	done := false
	return func(ctx context.Context) error {
		if done || restore == nil {
			return nil
		}
		done = true
		return restore(ctx)
	}
}
