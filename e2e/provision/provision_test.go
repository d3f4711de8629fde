//go:build e2e

// Provisioning on real kind clusters: both networking modes, MetalLB pools, cross-cluster reachability that must
// hold and isolation that must hold, and a `down` that leaves nothing behind.
package provision_test

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/e2e/e2eutil"
	"github.com/meshconform/meshconform/framework/clusters"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/network"
	"github.com/meshconform/meshconform/framework/provision"
	"github.com/meshconform/meshconform/framework/topology"
)

func TestMain(m *testing.M) {
	clusters.RunChildIfRequested()
	os.Exit(m.Run())
}

func TestProvision(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "provisioning")
}

const ns = "e2e"

// topologyCase brings one built-in topology up and runs the shared assertions.
func topologyCase(name string, isolated bool) {
	Describe(name, Ordered, Label("e2e", "provision", name), func() {
		var (
			st       *env.State
			kit      *images.Kit
			workload string
			kcs      map[string]*kube.Client
			lbIP     map[string]netip.Addr
			pods     map[string]*corev1.Pod
		)

		BeforeAll(func(ctx SpecContext) {
			e2eutil.RequireDocker()
			e2eutil.RequireRoot("offline images (debootstrap) and isolated networking (iptables)")
			kit = e2eutil.Kit(ctx, "workload")
			workload = kit.WorkloadImage()
			t, err := topology.Builtin(name)
			Expect(err).NotTo(HaveOccurred())
			stateDir := GinkgoT().TempDir()
			DeferCleanup(func(ctx SpecContext) {
				Expect(provision.Down(ctx, stateDir, false, GinkgoWriter)).To(Succeed())
				assertNothingLeft(ctx)
			}, NodeTimeout(3*time.Minute))
			began := time.Now()
			st, err = provision.Up(ctx, t, provision.Options{StateDir: stateDir, Offline: true, Kit: kit, Out: GinkgoWriter})
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Printf("%s up in %s\n", name, time.Since(began).Round(time.Second))
			kcs, lbIP, pods = map[string]*kube.Client{}, map[string]netip.Addr{}, map[string]*corev1.Pod{}
			for _, c := range st.Clusters {
				Expect(clusters.LoadImages(ctx, c.KindName, workload)).To(Succeed())
				kc, err := kube.New(c.Name, c.Access.Kubeconfig, "")
				Expect(err).NotTo(HaveOccurred())
				kcs[c.Name] = kc
			}
		}, NodeTimeout(45*time.Minute))

		It("is left alone by a `down` that has no environment file (another environment's down)", func(ctx SpecContext) {
			before, err := clusters.List()
			Expect(err).NotTo(HaveOccurred())
			var out strings.Builder
			Expect(provision.Down(ctx, GinkgoT().TempDir(), false, &out)).To(Succeed())
			Expect(out.String()).To(ContainSubstring("nothing removed"), "down must say it removed nothing")
			after, err := clusters.List()
			Expect(err).NotTo(HaveOccurred())
			Expect(after).To(Equal(before), "a down without an environment file deleted clusters")
			for _, c := range st.Clusters {
				Expect(after).To(ContainElement(c.KindName))
			}
			for _, n := range st.Networks {
				_, ok, err := network.Inspect(ctx, n.Name)
				Expect(err).NotTo(HaveOccurred())
				Expect(ok).To(BeTrue(), "network %s was removed", n.Name)
			}
		}, NodeTimeout(2*time.Minute))

		It("has every node Ready", func(ctx SpecContext) {
			for _, c := range st.Clusters {
				Expect(kcs[c.Name].WaitNodesReady(ctx, len(c.Nodes), 2*time.Minute)).To(Succeed())
			}
		}, NodeTimeout(5*time.Minute))

		It("gives each cluster's LoadBalancer Service an address from its own pool", func(ctx SpecContext) {
			for _, c := range st.Clusters {
				kc := kcs[c.Name]
				Expect(kc.EnsureNamespace(ctx, ns, nil)).To(Succeed())
				_, err := kc.Clientset.CoreV1().Pods(ns).Create(ctx, e2eutil.EchoServer(ns, "echo", workload, c.Name, c.Nodes[0]), metav1.CreateOptions{})
				Expect(err).NotTo(HaveOccurred())
				_, err = kc.Clientset.CoreV1().Services(ns).Create(ctx, e2eutil.EchoService(ns, corev1.ServiceTypeLoadBalancer), metav1.CreateOptions{})
				Expect(err).NotTo(HaveOccurred())
			}
			for _, c := range st.Clusters {
				kc := kcs[c.Name]
				Eventually(func(g Gomega) {
					svc, err := kc.Clientset.CoreV1().Services(ns).Get(ctx, "echo", metav1.GetOptions{})
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(svc.Status.LoadBalancer.Ingress).NotTo(BeEmpty(), "%s: LoadBalancer address pending: is MetalLB's speaker ready and the pool announced?", c.Name)
					ip := netip.MustParseAddr(svc.Status.LoadBalancer.Ingress[0].IP)
					g.Expect(inRange(ip, c.PoolFirst, c.PoolLast)).To(BeTrue(), "%s got %s, outside its pool %s-%s", c.Name, ip, c.PoolFirst, c.PoolLast)
					lbIP[c.Name] = ip
				}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Succeed())
				Eventually(func(g Gomega) {
					p, err := kc.Clientset.CoreV1().Pods(ns).Get(ctx, "echo", metav1.GetOptions{})
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(p.Status.PodIP).NotTo(BeEmpty(), "%s: echo pod %s", c.Name, kube.PodState(p))
					g.Expect(p.Status.ContainerStatuses).NotTo(BeEmpty())
					g.Expect(p.Status.ContainerStatuses[0].Ready).To(BeTrue(), "%s: echo pod %s", c.Name, kube.PodState(p))
					pods[c.Name] = p
				}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Succeed())
			}
		}, NodeTimeout(6*time.Minute))

		It("lets a pod in cluster1 reach cluster2's LoadBalancer address", func(ctx SpecContext) {
			Expect(lbIP).To(HaveKey("cluster2"))
			c1 := st.Clusters[0]
			// Retried: MetalLB announces the address and kube-proxy programs it a moment after the Service gets it.
			attempt := 0
			Eventually(func(g Gomega) {
				attempt++
				tally, err := e2eutil.Call(ctx, kcs["cluster1"], ns, fmt.Sprintf("to-lb-%d", attempt), workload, c1.Nodes[0],
					lbIP["cluster2"].String()+":8080", 5)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(tally.OK).To(Equal(5), "cluster1 -> cluster2 LB %s: %+v", lbIP["cluster2"], tally)
				g.Expect(tally.ByCluster).To(HaveKeyWithValue("cluster2", 5))
			}).WithContext(ctx).WithTimeout(90 * time.Second).WithPolling(2 * time.Second).Should(Succeed())
		}, NodeTimeout(4*time.Minute))

		if isolated {
			It("does not let a pod in cluster1 reach a pod IP or a node IP of cluster2", func(ctx SpecContext) {
				c1, c2 := st.Clusters[0], st.Clusters[1]
				Expect(c1.DockerNetwork).NotTo(Equal(c2.DockerNetwork))
				for _, addr := range []string{pods["cluster2"].Status.PodIP + ":8080", c2.NodeIPs[0].String() + ":10250"} {
					ok, detail, err := e2eutil.Probe(ctx, kcs["cluster1"], ns, "probe-"+sanitize(addr), workload, c1.Nodes[0], addr)
					Expect(err).NotTo(HaveOccurred())
					Expect(ok).To(BeFalse(), "isolation broken: cluster1 reached %s on network %s", addr, c2.DockerNetwork)
					GinkgoWriter.Printf("%s unreachable from cluster1 as required: %s\n", addr, detail)
				}
			}, NodeTimeout(4*time.Minute))
		} else {
			It("lets a pod in cluster1 reach cluster2's pod IP on the same network", func(ctx SpecContext) {
				c1 := st.Clusters[0]
				tally, err := e2eutil.Call(ctx, kcs["cluster1"], ns, "to-pod", workload, c1.Nodes[0], pods["cluster2"].Status.PodIP+":8080", 5)
				Expect(err).NotTo(HaveOccurred())
				Expect(tally.OK).To(Equal(5), "cluster1 -> cluster2 pod %s: %+v", pods["cluster2"].Status.PodIP, tally)
				Expect(tally.ByCluster).To(HaveKeyWithValue("cluster2", 5))
			}, NodeTimeout(4*time.Minute))
		}
	})
}

var _ = Describe("provisioning", func() {
	topologyCase("multi-primary", false)
	topologyCase("multi-primary-multi-network", true)
})

func inRange(ip, first, last netip.Addr) bool { return ip.Compare(first) >= 0 && ip.Compare(last) <= 0 }

func sanitize(s string) string {
	return strings.NewReplacer(".", "-", ":", "-").Replace(s)
}

// assertNothingLeft fails when any meshconform container, network or iptables rule survives `down`.
func assertNothingLeft(ctx SpecContext) {
	out, err := exec.Command("docker", "ps", "-a", "--format", "{{.Names}}").Output()
	Expect(err).NotTo(HaveOccurred())
	for _, n := range strings.Fields(string(out)) {
		Expect(n).NotTo(HavePrefix(clusters.NamePrefix), "container left after down")
	}
	nets, err := network.ListOwned(ctx)
	Expect(err).NotTo(HaveOccurred())
	Expect(nets).To(BeEmpty(), "networks left after down")
	Expect(network.ListRules(ctx)).To(BeEmpty(), "iptables rules left after down")
	Expect(fmt.Sprint(network.ListRules(ctx))).NotTo(ContainSubstring("meshconform"))
}
