//go:build e2e

package mesh_test

import (
	"net/netip"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/istiod"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/workload"
	"github.com/meshconform/meshconform/suites/checks"
)

// Multi-network with the proxyless plane: the control plane installs, east-west gateways get addresses, and istiod
// hands a client the remote network's gateway (not its pod IPs) as the endpoint of a service there. Traffic through
// the gateway needs Envoy: where its pods cannot run, the traffic spec is skipped with that reason.
var _ = Describe("multi-primary-multi-network", Ordered, Label("e2e", "mesh", "proxyless", "multi-network"), func() {
	var (
		st  *env.State
		kcs map[string]*kube.Client
	)
	var f fixture
	BeforeAll(func(ctx SpecContext) {
		f.up(ctx, "multi-primary-multi-network")
		st, kcs = f.e.State, f.e.Clients
	}, NodeTimeout(45*time.Minute))

	It("gives each east-west gateway an IP from its cluster's pool and records whether its pods run", func(ctx SpecContext) {
		for _, c := range st.Clusters {
			mc := st.Mesh.Clusters[c.Name]
			ip, err := netip.ParseAddr(mc.EastWestGateway)
			Expect(err).NotTo(HaveOccurred(), "%s: east-west gateway address %q is not an IP", c.Name, mc.EastWestGateway)
			Expect(ip.Compare(c.PoolFirst) >= 0 && ip.Compare(c.PoolLast) <= 0).To(BeTrue(),
				"%s: gateway %s outside its pool %s-%s", c.Name, ip, c.PoolFirst, c.PoolLast)
			pods, err := kcs[c.Name].Clientset.CoreV1().Pods("istio-system").List(ctx, metav1.ListOptions{LabelSelector: "istio=eastwestgateway"})
			Expect(err).NotTo(HaveOccurred())
			running := false
			for _, p := range pods.Items {
				for _, cs := range p.Status.ContainerStatuses {
					running = running || cs.Ready
				}
			}
			Expect(mc.GatewayReady).To(Equal(running), "%s: recorded gateway readiness disagrees with its pods", c.Name)
			if !mc.GatewayReady {
				Expect(mc.GatewayCannotRun).To(BeTrue(), "%s: a gateway whose pods cannot run must be recorded as such", c.Name)
				Expect(strings.Join(st.Mesh.Notes, "\n")).To(ContainSubstring("east-west gateway"),
					"a gateway that cannot run must be reported in the environment's notes")
			}
		}
	}, NodeTimeout(time.Minute))

	It("hands the client in cluster1 cluster2's gateway address, not its pod IPs", func(ctx SpecContext) {
		pod, err := workload.ClientPod(ctx, kcs["cluster1"], ns)
		Expect(err).NotTo(HaveOccurred())
		gw := netip.AddrPortFrom(netip.MustParseAddr(st.Mesh.Clusters["cluster2"].EastWestGateway), 15443).String()
		// A proxyless client holds an xDS stream (and istiod its endpoints) only while it makes calls: keep one calling.
		DeferCleanup(checks.KeepCalling(ctx, f.m, "cluster1"))
		Eventually(func(g Gomega) {
			eds, err := istiod.ProxyEndpoints(ctx, kcs["cluster1"], st.Mesh.IstiodRevision("cluster1"), pod+"."+ns)
			g.Expect(err).NotTo(HaveOccurred())
			var echo []string
			for name, eps := range eds {
				if strings.Contains(name, workload.Host(ns, workload.DefaultService)) {
					echo = append(echo, eps...)
				}
			}
			g.Expect(echo).To(ContainElement(gw), "endpoints of echo seen by cluster1's client: %v", echo)
			g.Expect(echo).To(ContainElement(HavePrefix("10.10.")), "cluster1's own echo pod missing: %v", echo)
			g.Expect(echo).NotTo(ContainElement(HavePrefix("10.20.")), "cluster2's pod IPs leaked across networks: %v", echo)
		}).WithContext(ctx).WithTimeout(90 * time.Second).WithPolling(3 * time.Second).Should(Succeed())
	}, NodeTimeout(2*time.Minute))

	It("calls across networks through the east-west gateway", func(ctx SpecContext) {
		if !st.Mesh.Clusters["cluster2"].GatewayReady {
			Skip("cluster2's east-west gateway pods cannot run (no Envoy in the proxyv2 image): cross-network traffic is not testable here")
		}
		target := workload.Target(env.DataPlaneProxyless, ns, workload.DefaultService, workload.DefaultPort)
		Eventually(func(g Gomega) {
			tally, err := workload.Call(ctx, kcs["cluster1"], ns, target, 20, true)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(tally.ByCluster).To(HaveKey("cluster2"), "%+v", tally)
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(3 * time.Second).Should(Succeed())
	}, NodeTimeout(3*time.Minute))

	multiNetworkChecks(&f)
})
