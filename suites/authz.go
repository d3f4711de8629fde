package suites

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/topology"
	"github.com/meshconform/meshconform/framework/workload"
	"github.com/meshconform/meshconform/suites/checks"
)

// The authorization specs' shared steps.

// authzApplies is the rule of the authorization specs: some cluster's client calls another cluster (principals
// are seen only on mTLS calls, which the specs set up as trust-mutual-tls does).
func authzApplies(m *checks.Mesh) Applicability {
	switch {
	case len(callers(m)) > 0:
		return Applicable()
	case len(m.Names()) < 2:
		return CannotRunHere("no cluster can call another: the mesh has one cluster")
	}
	return needsGateways(m, "no cluster can call another: calls across networks need east-west gateways, whose pods cannot run")
}

// requireMutualTLS makes every echo server require mTLS (STRICT) and, for proxyless, every primary's clients use
// ISTIO_MUTUAL, as trust-mutual-tls does; cleanups remove both and wait until plaintext calls work again. Call it
// first in a spec: its cleanup, registered first, runs last.
func requireMutualTLS(ctx SpecContext, m *checks.Mesh) {
	GinkgoHelper()
	sources := callers(m)
	DeferCleanup(func(ctx SpecContext) {
		for _, src := range sources {
			Eventually(ctx, func() error {
				t, err := workload.Call(ctx, m.Clients[src], m.Namespace, m.Target(), 3, true)
				if err == nil && t.Failed() > 0 {
					err = fmt.Errorf("%d of %d calls from %s still fail after the spec's changes were undone: %s", t.Failed(), t.Sent, src, t.FirstError)
				}
				return err
			}).WithTimeout(cfg.Timeouts.Discovery).WithPolling(2 * time.Second).Should(Succeed())
		}
	}, NodeTimeout(cfg.Timeouts.Discovery+time.Minute))
	for _, name := range m.Names() {
		Expect(workload.RequireMTLS(ctx, m.Clients[name], m.State.Name, m.Namespace)).To(Succeed())
		DeferCleanup(workload.RemoveRequireMTLS, m.Clients[name], m.Namespace)
	}
	if m.DataPlane != env.DataPlaneProxyless {
		return
	}
	for _, c := range m.State.Clusters {
		if c.Role != topology.RolePrimary {
			continue
		}
		Expect(workload.ClientMTLS(ctx, m.Clients[c.Name], m.State.Name, m.Namespace, m.Host())).To(Succeed())
		if !defaultClientMTLS(m) {
			DeferCleanup(workload.RemoveClientMTLS, m.Clients[c.Name], m.Namespace, m.Host())
		}
	}
}

// crossMutually calls from every source until its calls reach every group of its reach with mTLS and the client's
// identity (checks.MutualTLS).
func crossMutually(ctx SpecContext, m *checks.Mesh, sources []string) {
	GinkgoHelper()
	for _, src := range sources {
		reach := m.ReachGroups(src)
		By("calling from " + src + " until " + checks.DescribeReach(reach) + " have answered, with mTLS")
		retry(ctx, cfg.Timeouts.Discovery, func() error {
			_, err := checks.MutualTLS(ctx, m, src, reach, cfg.Timeouts.WarmUp)
			return err
		})
	}
}

// applyAuthz writes a policy into every primary and registers its removal.
func applyAuthz(ctx SpecContext, m *checks.Mesh, kind workload.AuthzKind, principals ...string) (restore func(SpecContext)) {
	GinkgoHelper()
	undo, err := checks.ApplyAuthz(ctx, m, m.Primaries(), kind, principals...)
	done := false
	restore = func(ctx SpecContext) {
		if !done {
			Expect(undo(ctx)).To(Succeed(), "remove the AuthorizationPolicy")
			done = true
		}
	}
	DeferCleanup(restore, NodeTimeout(time.Minute))
	Expect(err).NotTo(HaveOccurred())
	return restore
}

// denied checks that every call from every source is refused.
func denied(ctx SpecContext, m *checks.Mesh, sources []string) {
	GinkgoHelper()
	for _, src := range sources {
		t, err := checks.Denied(ctx, m, src, cfg.Timeouts.Discovery)
		GinkgoWriter.Printf("%s: %d calls, %d refused with PermissionDenied, answered by %v\n", src, t.Sent, checks.Refused(t), t.ByCluster)
		Expect(err).NotTo(HaveOccurred())
	}
}
