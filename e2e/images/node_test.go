//go:build e2e

// The proof that the offline kind node image works: a 2-node cluster from it, with Ready nodes, CoreDNS, pod-to-pod
// traffic across nodes (our CNI's routes) and a ClusterIP Service reached by its DNS name (kube-proxy + CoreDNS).
package images_test

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
)

func TestMain(m *testing.M) {
	clusters.RunChildIfRequested()
	os.Exit(m.Run())
}

func TestNodeImage(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "offline node image")
}

// The test's cluster and network belong to an environment of their own, "e2enode".
const (
	envName = "e2enode"
	ns      = "e2e"
)

var (
	name    = env.KindClusterName(envName, "node")
	netName = env.DockerNetworkName(envName, "net")
)

var _ = Describe("offline kind node image", Ordered, Label("e2e", "images"), func() {
	var (
		kc       *kube.Client
		workload string
		server   *corev1.Pod
	)

	BeforeAll(func(ctx SpecContext) {
		e2eutil.RequireDocker()
		e2eutil.RequireRoot("debootstrap builds the node image's root filesystem")
		kit := e2eutil.Kit(ctx, "node", "workload")
		workload = kit.WorkloadImage()

		used, err := network.UsedPrefixes(ctx)
		Expect(err).NotTo(HaveOccurred())
		free, err := network.PickSubnets(1, used)
		Expect(err).NotTo(HaveOccurred())
		_, err = network.Ensure(ctx, netName, network.Owner{Env: envName, Topology: "e2e-node"}, free[0])
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			Expect(clusters.Delete(name)).To(Succeed())
			Expect(network.Remove(ctx, netName)).To(Succeed())
			out, err := exec.Command("docker", "ps", "-a", "-q", "--filter", "label=io.x-k8s.kind.cluster="+name).Output()
			Expect(err).NotTo(HaveOccurred())
			Expect(strings.TrimSpace(string(out))).To(BeEmpty(), "node containers left after delete")
		}, NodeTimeout(2*time.Minute))

		began := time.Now()
		Expect(clusters.Create(ctx, []clusters.Spec{{Name: name, NodeImage: images.NodeImage, Workers: 1,
			PodSubnet: "10.240.0.0/16", ServiceSubnet: "10.241.0.0/24", Network: netName}},
			clusters.Options{Out: GinkgoWriter})).To(Succeed())
		GinkgoWriter.Printf("2-node cluster created in %s\n", time.Since(began).Round(time.Second))
		dir := GinkgoT().TempDir()
		acc, err := clusters.WriteKubeconfigs(ctx, name, netName, dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(netip.MustParseAddr(acc.ControlPlaneIP).IsLoopback()).To(BeFalse())
		kc, err = kube.New(name, acc.Kubeconfig, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(clusters.LoadImages(ctx, name, workload)).To(Succeed())
	}, NodeTimeout(40*time.Minute))

	It("has both nodes Ready", func(ctx SpecContext) {
		Expect(kc.WaitNodesReady(ctx, 2, 3*time.Minute)).To(Succeed())
		nodes, err := kc.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		for _, n := range nodes.Items {
			Expect(n.Status.NodeInfo.KubeletVersion).To(Equal(images.KubernetesVersion))
			Expect(n.Spec.PodCIDR).NotTo(BeEmpty(), "node %s has no podCIDR", n.Name)
		}
	}, NodeTimeout(4*time.Minute))

	It("runs CoreDNS", func(ctx SpecContext) {
		Expect(kc.WaitDeploymentAvailable(ctx, "kube-system", "coredns", 3*time.Minute)).To(Succeed())
	}, NodeTimeout(4*time.Minute))

	It("carries pod-to-pod traffic across nodes", func(ctx SpecContext) {
		Expect(kc.EnsureNamespace(ctx, ns, nil)).To(Succeed())
		server = e2eutil.EchoServer(ns, "echo", workload, name, name+"-worker")
		_, err := kc.Clientset.CoreV1().Pods(ns).Create(ctx, server, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			p, err := kc.Clientset.CoreV1().Pods(ns).Get(ctx, "echo", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(p.Status.PodIP).NotTo(BeEmpty())
			g.Expect(isReady(p)).To(BeTrue(), "echo pod: %s", kube.PodState(p))
			server = p
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Succeed())

		tally, err := e2eutil.Call(ctx, kc, ns, "client-pod-ip", workload, name+"-control-plane", server.Status.PodIP+":8080", 5)
		Expect(err).NotTo(HaveOccurred())
		Expect(tally.OK).To(Equal(5), "calls from the control-plane node to the worker's pod: %+v", tally)
		Expect(tally.ByPod).To(HaveKeyWithValue("echo", 5))
	}, NodeTimeout(5*time.Minute))

	It("serves a ClusterIP Service by its DNS name", func(ctx SpecContext) {
		_, err := kc.Clientset.CoreV1().Services(ns).Create(ctx, e2eutil.EchoService(ns, corev1.ServiceTypeClusterIP), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		// kube-proxy rejects connections to a Service until it has programmed the endpoints: retry until it has.
		attempt := 0
		Eventually(func(g Gomega) {
			attempt++
			tally, err := e2eutil.Call(ctx, kc, ns, fmt.Sprintf("client-svc-%d", attempt), workload, name+"-control-plane",
				"echo."+ns+".svc.cluster.local:8080", 5)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(tally.OK).To(Equal(5), "calls through the Service: %+v", tally)
			g.Expect(tally.ByPod).To(HaveKeyWithValue("echo", 5))
		}).WithContext(ctx).WithTimeout(90 * time.Second).WithPolling(2 * time.Second).Should(Succeed())
	}, NodeTimeout(5*time.Minute))
})

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
