package suites

import (
	"context"
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/topology"
	"github.com/meshconform/meshconform/framework/workload"
	"github.com/meshconform/meshconform/suites/checks"
)

// trust-mutual-tls: cross-cluster calls carry the caller's identity and are mutually authenticated.
var trustMutualTLS = Spec{
	ShortName:   "trust-mutual-tls",
	Area:        v1alpha1.AreaTrust,
	Description: "authenticates cross-cluster calls mutually, with the caller's SPIFFE identity",
	// STRICT mTLS in the namespace would fail the plaintext calls of specs running beside it.
	Serial: true,
	Applies: func(m *checks.Mesh) Applicability {
		switch {
		case len(callers(m)) > 0:
		case len(m.Names()) < 2:
			return CannotRunHere("no cluster can call another: the mesh has one cluster")
		default:
			return needsGateways(m, "no cluster can call another: calls across networks need east-west gateways, whose pods cannot run")
		}
		return Applicable()
	},
	Run: func(ctx SpecContext, m *checks.Mesh) {
		sources := callers(m)
		By("requiring mTLS (STRICT) for the echo servers in every cluster")
		// Cleanups run last-in first-out: this one, registered first, runs after the policies are gone and waits
		// until plaintext calls work again, so the specs that follow do not see the policies' tail.
		DeferCleanup(func(ctx SpecContext) {
			for _, src := range sources {
				Eventually(ctx, func() error {
					t, err := workload.Call(ctx, m.Clients[src], m.Namespace, m.Target(), 3, true)
					if err == nil && t.Failed() > 0 {
						err = fmt.Errorf("%d of %d calls from %s still fail after STRICT was lifted: %s", t.Failed(), t.Sent, src, t.FirstError)
					}
					return err
				}).WithTimeout(cfg.Timeouts.Discovery).WithPolling(2 * time.Second).Should(Succeed())
			}
		}, NodeTimeout(cfg.Timeouts.Discovery+time.Minute))
		// The spec's rules select its own pods, so a user's catch-all DestinationRule or namespace-wide
		// PeerAuthentication for the host stays in force beside them; one that would decide instead is named, and
		// nothing is applied.
		restore, coexisting, err := checks.RequireMutualTLS(ctx, m, defaultClientMTLS(m))
		DeferCleanup(func(ctx context.Context) { Expect(restore(ctx)).To(Succeed()) }, NodeTimeout(time.Minute))
		for _, r := range coexisting {
			GinkgoWriter.Printf("coexists with %s\n", r)
		}
		Expect(err).NotTo(HaveOccurred())
		for _, src := range sources {
			reach := m.ReachGroups(src)
			By("calling from " + src + " until " + checks.DescribeReach(reach) + " have answered")
			retry(ctx, cfg.Timeouts.Discovery, func() error {
				_, err := checks.MutualTLS(ctx, m, src, reach, cfg.Timeouts.WarmUp)
				return err
			})
		}
	},
}

// callers are the clusters whose client can call another cluster.
func callers(m *checks.Mesh) []string {
	var out []string
	for _, src := range m.Names() {
		if len(m.Reachable(src)) > 1 {
			out = append(out, src)
		}
	}
	return out
}

// defaultClientMTLS says whether proxyless clients use Istio mTLS outside the trust spec: across networks, where
// `up` creates an ISTIO_MUTUAL DestinationRule in every primary (servers there are labelled to accept it). On one
// network, proxyless servers without STRICT serve plaintext only.
func defaultClientMTLS(m *checks.Mesh) bool {
	return m.DataPlane == env.DataPlaneProxyless && m.MultiNetwork()
}

// ensureClientMTLS restores that default (brought meshes or older environments may lack it; interrupted runs may
// have left the trust spec's rule on one network).
func ensureClientMTLS(ctx context.Context, m *checks.Mesh) {
	GinkgoHelper()
	if m.DataPlane != env.DataPlaneProxyless {
		return
	}
	if !defaultClientMTLS(m) {
		for _, c := range m.State.Clusters {
			if c.Role == topology.RolePrimary {
				Expect(workload.RemoveClientMTLS(ctx, m.Clients[c.Name], m.Namespace, m.Host())).To(Succeed())
			}
		}
		return
	}
	for _, c := range m.State.Clusters {
		if c.Role != topology.RolePrimary {
			continue
		}
		// A user's rule that would decide instead is not a reason to stop every spec: the ones that call across
		// fail naming it.
		err := workload.ClientMTLS(ctx, m.Clients[c.Name], m.State.Name, m.Namespace, m.Host())
		var ce *workload.ConflictError
		if errors.As(err, &ce) {
			GinkgoWriter.Printf("warning: %v\n", err)
			continue
		}
		Expect(err).To(Succeed())
	}
}
