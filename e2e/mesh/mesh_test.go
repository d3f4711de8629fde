//go:build e2e

// Istio on real kind clusters with the offline images and the proxyless gRPC data plane: one root of trust, every
// cluster synced in every primary, cross-cluster endpoints, and mutual TLS that carries the caller's identity and
// fails when the client is not told to use it.
package mesh_test

import (
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/framework/clusters"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/istiod"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/topology"
	"github.com/meshconform/meshconform/framework/trust"
	"github.com/meshconform/meshconform/framework/workload"
)

func TestMain(m *testing.M) {
	clusters.RunChildIfRequested()
	os.Exit(m.Run())
}

func TestMesh(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "mesh installation (proxyless)")
}

const ns = workload.DefaultNamespace

// meshCase registers the installation specs of a built-in topology, then more specs sharing its environment (the
// conformance checks and the broken states they must catch).
func meshCase(name string, more ...func(f *fixture)) {
	Describe(name, Ordered, Label("e2e", "mesh", "proxyless", name), func() {
		var (
			f   fixture
			st  *env.State
			kcs map[string]*kube.Client
		)
		target := workload.Target(env.DataPlaneProxyless, ns, workload.DefaultService, workload.DefaultPort)

		BeforeAll(func(ctx SpecContext) {
			f.up(ctx, name)
			st, kcs = f.e.State, f.e.Clients
		}, NodeTimeout(45*time.Minute))

		It("runs istiod in every primary, and every primary reports every cluster synced", func(ctx SpecContext) {
			var all []string
			for _, c := range st.Clusters {
				all = append(all, c.Name)
			}
			for _, c := range st.Clusters {
				// meshconform installs with the topology's names as Istio's cluster IDs; read back where Istio keeps them.
				id, err := istiod.ClusterID(ctx, kcs[c.Name], c.Role == topology.RolePrimary, st.Mesh.IstiodRevision(c.Name))
				Expect(err).NotTo(HaveOccurred())
				Expect(id).To(Equal(c.Name), "%s: Istio's cluster ID", c.Name)
				if c.Role != topology.RolePrimary {
					continue
				}
				Expect(kcs[c.Name].WaitDeploymentAvailable(ctx, "istio-system", "istiod", time.Minute)).To(Succeed())
				Eventually(func(g Gomega) {
					statuses, err := istiod.ClusterStatuses(ctx, kcs[c.Name], st.Mesh.IstiodRevision(c.Name))
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(istiod.SyncProblems(statuses, all)).To(BeEmpty(), "%s's istiod", c.Name)
				}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(2 * time.Second).Should(Succeed())
			}
		}, NodeTimeout(3*time.Minute))

		It("issues workload certificates that chain to one root through each primary's own intermediate", func(ctx SpecContext) {
			seen := map[string]string{}
			for _, c := range st.Clusters {
				pod, err := workload.ClientPod(ctx, kcs[c.Name], ns)
				Expect(err).NotTo(HaveOccurred())
				chainPEM, rootPEM, err := workload.ReadCerts(ctx, kcs[c.Name], ns, pod)
				Expect(err).NotTo(HaveOccurred())
				chain, err := trust.VerifyChain(chainPEM, rootPEM)
				Expect(err).NotTo(HaveOccurred(), "%s: workload certificate does not verify against the root it holds", c.Name)
				Expect(chain.RootFingerprint).To(Equal(st.Mesh.RootFingerprint), "%s holds another root", c.Name)
				Expect(chain.IntermediateFingerprint).To(Equal(st.Mesh.Clusters[c.Name].IntermediateFingerprint),
					"%s's workload certificate is not issued by its cluster's intermediate", c.Name)
				Expect(chain.SPIFFEIDs).To(ContainElement(workload.Identity(st.Mesh.TrustDomain, ns, workload.ClientName)))
				// Each primary signs with its own intermediate; a remote's workloads are signed by its primary's istiod.
				if c.Role != topology.RolePrimary {
					continue
				}
				for other, fp := range seen {
					Expect(chain.IntermediateFingerprint).NotTo(Equal(fp), "primaries %s and %s share an intermediate", c.Name, other)
				}
				seen[c.Name] = chain.IntermediateFingerprint
			}
		}, NodeTimeout(2*time.Minute))

		It("gives the client in cluster1 the endpoints of the service in cluster2", func(ctx SpecContext) {
			Eventually(func(g Gomega) {
				tally, err := workload.Call(ctx, kcs["cluster1"], ns, target, 20, true)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(tally.OK).To(Equal(20), "%+v", tally)
				g.Expect(tally.ByCluster).To(HaveKey("cluster2"), "no call from cluster1 reached cluster2: %+v", tally)
			}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(3 * time.Second).Should(Succeed())
		}, NodeTimeout(3*time.Minute))

		It("calls across clusters with mutual TLS carrying the caller's SPIFFE identity", func(ctx SpecContext) {
			for _, c := range st.Clusters {
				Expect(workload.RequireMTLS(ctx, kcs[c.Name], st.Name, ns)).To(Succeed())
			}
			Expect(workload.ClientMTLS(ctx, kcs["cluster1"], st.Name, ns, workload.Host(ns, workload.DefaultService))).To(Succeed())
			want := workload.Identity(st.Mesh.TrustDomain, ns, workload.ClientName)
			Eventually(func(g Gomega) {
				tally, err := workload.Call(ctx, kcs["cluster1"], ns, target, 20, true)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(tally.OK).To(Equal(20), "%+v", tally)
				g.Expect(tally.ByCluster).To(HaveKey("cluster2"), "%+v", tally)
				g.Expect(tally.Peers).To(HaveKeyWithValue(want, 20), "servers did not all see the client's identity: %+v", tally)
			}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(3 * time.Second).Should(Succeed())
		}, NodeTimeout(3*time.Minute))

		It("fails the same call under STRICT mTLS when the client is not told to use ISTIO_MUTUAL", func(ctx SpecContext) {
			Expect(workload.RemoveClientMTLS(ctx, kcs["cluster1"], ns, workload.Host(ns, workload.DefaultService))).To(Succeed())
			Eventually(func(g Gomega) {
				tally, err := workload.Call(ctx, kcs["cluster1"], ns, target, 10, true)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(tally.OK).To(BeZero(), "plaintext calls still succeed against STRICT servers: %+v", tally)
			}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(3 * time.Second).Should(Succeed())
			for _, c := range st.Clusters {
				Expect(workload.RemoveRequireMTLS(ctx, kcs[c.Name], ns)).To(Succeed())
			}
		}, NodeTimeout(3*time.Minute))

		for _, m := range more {
			m(&f)
		}
	})
}

var _ = Describe("mesh", func() {
	meshCase("multi-primary", multiPrimaryChecks, coexistChecks, lifecycleChecks, policyChecks)
	meshCase("primary-remote", primaryRemoteChecks)
})
