package suites

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/topology"
	"github.com/meshconform/meshconform/framework/workload"
	"github.com/meshconform/meshconform/suites/checks"
)

// Trust: one root across the mesh, as the workloads actually hold it, and cross-cluster calls that carry the
// caller's identity.
var _ = Describe("Trust", AreaTrust.Label(), func() {
	It("gives workloads in every cluster the same root, and certificates that chain to it", func(ctx SpecContext) {
		retry(ctx, cfg.Timeouts.Certs, func() error { return checks.SharedRoot(ctx, mesh) })
	}, specTimeout())

	// Serial: STRICT mTLS in the namespace would fail the plaintext calls of specs running beside it.
	It("authenticates cross-cluster calls mutually, with the caller's SPIFFE identity", Serial, func(ctx SpecContext) {
		var pairs [][2]string
		for _, src := range mesh.Names() {
			if len(mesh.Reachable(src)) > 1 {
				pairs = append(pairs, [2]string{src, ""})
			}
		}
		if len(pairs) == 0 {
			Skip(CannotRunHere + "no cluster can call another: calls across networks need east-west gateways, whose pods cannot run here (no Envoy)")
		}
		By("requiring mTLS (STRICT) for the echo servers in every cluster")
		// Cleanups run last-in first-out: this one, registered first, runs after the policies are gone and waits
		// until plaintext calls work again, so the specs that follow do not see the policies' tail.
		DeferCleanup(func(ctx SpecContext) {
			for _, p := range pairs {
				Eventually(ctx, func() error {
					t, err := workload.Call(ctx, mesh.Clients[p[0]], mesh.Namespace, mesh.Target(), 3, true)
					if err == nil && t.Failed() > 0 {
						err = fmt.Errorf("%d of %d calls from %s still fail after STRICT was lifted: %s", t.Failed(), t.Sent, p[0], t.FirstError)
					}
					return err
				}).WithTimeout(cfg.Timeouts.Discovery).WithPolling(2 * time.Second).Should(Succeed())
			}
		}, NodeTimeout(cfg.Timeouts.Discovery+time.Minute))
		for _, name := range mesh.Names() {
			Expect(workload.RequireMTLS(ctx, mesh.Clients[name], mesh.Namespace)).To(Succeed())
			DeferCleanup(workload.RemoveRequireMTLS, mesh.Clients[name], mesh.Namespace)
		}
		if mesh.DataPlane == env.DataPlaneProxyless {
			// gRPC uses mTLS only when a DestinationRule says ISTIO_MUTUAL (no auto-mTLS without Envoy).
			for _, c := range mesh.State.Clusters {
				if c.Role != topology.RolePrimary {
					continue
				}
				Expect(workload.ClientMTLS(ctx, mesh.Clients[c.Name], mesh.Namespace, mesh.Host())).To(Succeed())
				if !defaultClientMTLS() {
					DeferCleanup(workload.RemoveClientMTLS, mesh.Clients[c.Name], mesh.Namespace, mesh.Host())
				}
			}
		}
		for _, p := range pairs {
			src, dsts := p[0], mesh.Reachable(p[0])
			By("calling from " + src + " until " + strings.Join(dsts, ", ") + " have answered")
			retry(ctx, cfg.Timeouts.Discovery, func() error {
				_, err := checks.MutualTLS(ctx, mesh, src, dsts, cfg.Timeouts.WarmUp)
				return err
			})
		}
	}, specTimeout())
})

// defaultClientMTLS says whether proxyless clients use Istio mTLS outside the trust spec: across networks, where
// `up` creates an ISTIO_MUTUAL DestinationRule in every primary (servers there are labelled to accept it). On one
// network, proxyless servers without STRICT serve plaintext only.
func defaultClientMTLS() bool {
	return mesh.DataPlane == env.DataPlaneProxyless && mesh.MultiNetwork()
}

// ensureClientMTLS restores that default (brought meshes or older environments may lack it; interrupted runs may
// have left the trust spec's rule on one network).
func ensureClientMTLS(ctx context.Context) {
	GinkgoHelper()
	if mesh.DataPlane != env.DataPlaneProxyless {
		return
	}
	if !defaultClientMTLS() {
		for _, c := range mesh.State.Clusters {
			if c.Role == topology.RolePrimary {
				Expect(workload.RemoveClientMTLS(ctx, mesh.Clients[c.Name], mesh.Namespace, mesh.Host())).To(Succeed())
			}
		}
		return
	}
	for _, c := range mesh.State.Clusters {
		if c.Role == topology.RolePrimary {
			Expect(workload.ClientMTLS(ctx, mesh.Clients[c.Name], mesh.Namespace, mesh.Host())).To(Succeed())
		}
	}
}
