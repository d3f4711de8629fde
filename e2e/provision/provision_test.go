//go:build e2e

// Provisioning on real kind clusters: two environments side by side (both networking modes), MetalLB pools,
// cross-cluster reachability that must hold and isolation that must hold, a `down` of one that leaves the other
// whole, a SIGTERM during `up`, and a `down` that leaves nothing of its environment behind.
package provision_test

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
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
	"github.com/meshconform/meshconform/framework/inventory"
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

// box is one environment of the side-by-side run, with what its specs learn.
type box struct {
	name, topology string
	isolated       bool
	stateDir       string
	st             *env.State
	kcs            map[string]*kube.Client
	lbIP           map[string]netip.Addr
	pods           map[string]*corev1.Pod
}

// Two environments (multi-primary bridged as "e2ea", multi-primary-multi-network isolated as "e2eb") come up at the
// same time on one machine, from two state directories: their subnets are chosen under the host lock, each carries
// its own name, and the `down` of one leaves the other whole and working.
var _ = Describe("two environments side by side", Ordered, Label("e2e", "provision", "multi-primary", "multi-primary-multi-network"), func() {
	var (
		kit      *images.Kit
		workload string
		a        = &box{name: "e2ea", topology: "multi-primary"}
		b        = &box{name: "e2eb", topology: "multi-primary-multi-network", isolated: true}
		boxes    = []*box{a, b}
	)

	BeforeAll(func(ctx SpecContext) {
		e2eutil.RequireDocker()
		e2eutil.RequireRoot("offline images (debootstrap) and isolated networking (iptables)")
		kit = e2eutil.Kit(ctx, "workload")
		workload = kit.WorkloadImage()
		began := time.Now()
		errs := make([]error, len(boxes))
		var wg sync.WaitGroup
		for i, x := range boxes {
			x.stateDir = GinkgoT().TempDir()
			DeferCleanup(func(ctx SpecContext) {
				Expect(provision.Down(ctx, provision.DownOptions{StateDir: x.stateDir, Env: x.name, Out: GinkgoWriter})).To(Succeed())
				assertEnvGone(ctx, x.name)
			}, NodeTimeout(3*time.Minute))
			t, err := topology.Builtin(x.topology)
			Expect(err).NotTo(HaveOccurred())
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				x.st, errs[i] = provision.Up(ctx, t, provision.Options{StateDir: x.stateDir, Env: x.name, Offline: true, Kit: kit,
					Out: prefixed(x.name)})
			}()
		}
		wg.Wait()
		for i, x := range boxes {
			Expect(errs[i]).NotTo(HaveOccurred(), "up of %s (%s)", x.name, x.topology)
		}
		GinkgoWriter.Printf("%s and %s up together in %s\n", a.name, b.name, time.Since(began).Round(time.Second))
		for _, x := range boxes {
			x.kcs, x.lbIP, x.pods = map[string]*kube.Client{}, map[string]netip.Addr{}, map[string]*corev1.Pod{}
			for _, c := range x.st.Clusters {
				Expect(c.KindName).To(Equal(env.KindClusterName(x.name, c.Name)), "kind cluster name carries the environment")
				Expect(clusters.LoadImages(ctx, c.KindName, workload)).To(Succeed())
				kc, err := kube.New(c.Name, c.Access.Kubeconfig, "")
				Expect(err).NotTo(HaveOccurred())
				x.kcs[c.Name] = kc
			}
		}
	}, NodeTimeout(45*time.Minute))

	It("gives the two environments networks that do not overlap, each labelled with its name", func(ctx SpecContext) {
		var subnets []netip.Prefix
		for _, x := range boxes {
			for _, n := range x.st.Networks {
				Expect(n.Name).To(HavePrefix(env.NamePrefix + x.name + "-"))
				for _, o := range subnets {
					Expect(o.Overlaps(n.Subnet)).To(BeFalse(), "%s's %s overlaps %s", x.name, n.Subnet, o)
				}
				subnets = append(subnets, n.Subnet)
			}
			inv, err := inventory.Take(ctx)
			Expect(err).NotTo(HaveOccurred())
			mine := inv.Env(x.name)
			Expect(mine.Networks).To(HaveLen(len(x.st.Networks)), "%s's networks by label: %v", x.name, mine)
			Expect(mine.Clusters).To(HaveLen(len(x.st.Clusters)), "%s's clusters by name and network: %v", x.name, mine)
		}
	})

	It("is left alone by a `down` that has no environment file and no --env", func(ctx SpecContext) {
		before := snapshot(ctx)
		var out strings.Builder
		Expect(provision.Down(ctx, provision.DownOptions{StateDir: GinkgoT().TempDir(), Out: &out})).To(Succeed())
		Expect(out.String()).To(ContainSubstring("nothing removed"), "down must say it removed nothing")
		for _, x := range boxes {
			Expect(out.String()).To(ContainSubstring(x.name+": clusters"), "down lists the environments that exist")
		}
		Expect(snapshot(ctx)).To(Equal(before), "a down without an environment file changed the machine")
	}, NodeTimeout(2*time.Minute))

	It("has every node Ready", func(ctx SpecContext) {
		for _, x := range boxes {
			for _, c := range x.st.Clusters {
				Expect(x.kcs[c.Name].WaitNodesReady(ctx, len(c.Nodes), 2*time.Minute)).To(Succeed())
			}
		}
	}, NodeTimeout(5*time.Minute))

	It("gives each cluster's LoadBalancer Service an address from its own pool", func(ctx SpecContext) {
		for _, x := range boxes {
			for _, c := range x.st.Clusters {
				kc := x.kcs[c.Name]
				Expect(kc.EnsureNamespace(ctx, ns, nil)).To(Succeed())
				_, err := kc.Clientset.CoreV1().Pods(ns).Create(ctx, e2eutil.EchoServer(ns, "echo", workload, c.Name, c.Nodes[0]), metav1.CreateOptions{})
				Expect(err).NotTo(HaveOccurred())
				_, err = kc.Clientset.CoreV1().Services(ns).Create(ctx, e2eutil.EchoService(ns, corev1.ServiceTypeLoadBalancer), metav1.CreateOptions{})
				Expect(err).NotTo(HaveOccurred())
			}
		}
		for _, x := range boxes {
			for _, c := range x.st.Clusters {
				kc := x.kcs[c.Name]
				Eventually(func(g Gomega) {
					svc, err := kc.Clientset.CoreV1().Services(ns).Get(ctx, "echo", metav1.GetOptions{})
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(svc.Status.LoadBalancer.Ingress).NotTo(BeEmpty(), "%s/%s: LoadBalancer address pending: is MetalLB's speaker ready and the pool announced?", x.name, c.Name)
					ip := netip.MustParseAddr(svc.Status.LoadBalancer.Ingress[0].IP)
					g.Expect(inRange(ip, c.PoolFirst, c.PoolLast)).To(BeTrue(), "%s/%s got %s, outside its pool %s-%s", x.name, c.Name, ip, c.PoolFirst, c.PoolLast)
					x.lbIP[c.Name] = ip
				}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Succeed())
				Eventually(func(g Gomega) {
					p, err := kc.Clientset.CoreV1().Pods(ns).Get(ctx, "echo", metav1.GetOptions{})
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(p.Status.PodIP).NotTo(BeEmpty(), "%s/%s: echo pod %s", x.name, c.Name, kube.PodState(p))
					g.Expect(p.Status.ContainerStatuses).NotTo(BeEmpty())
					g.Expect(p.Status.ContainerStatuses[0].Ready).To(BeTrue(), "%s/%s: echo pod %s", x.name, c.Name, kube.PodState(p))
					x.pods[c.Name] = p
				}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Succeed())
			}
		}
	}, NodeTimeout(8*time.Minute))

	It("lets a pod in cluster1 reach cluster2's LoadBalancer address, in each environment", func(ctx SpecContext) {
		for _, x := range boxes {
			reachLB(ctx, x, workload, "")
		}
	}, NodeTimeout(6*time.Minute))

	It("keeps the networks apart as each environment's mode says", func(ctx SpecContext) {
		for _, x := range boxes {
			checkIsolation(ctx, x, workload, "")
		}
	}, NodeTimeout(6*time.Minute))

	It("removes one environment and leaves the other's clusters, networks and rules, which still work", func(ctx SpecContext) {
		otherBefore := envSnapshot(ctx, b.name)
		GinkgoWriter.Printf("%s before %s's down:\n%s\n", b.name, a.name, otherBefore)
		Expect(otherBefore).To(ContainSubstring("rule"), "%s (isolated) has tagged rules to compare", b.name)
		Expect(provision.Down(ctx, provision.DownOptions{StateDir: a.stateDir, Out: GinkgoWriter})).To(Succeed())
		assertEnvGone(ctx, a.name)
		otherAfter := envSnapshot(ctx, b.name)
		GinkgoWriter.Printf("%s after %s's down:\n%s\n", b.name, a.name, otherAfter)
		Expect(otherAfter).To(Equal(otherBefore), "%s's down changed %s", a.name, b.name)
		reachLB(ctx, b, workload, "after")
		checkIsolation(ctx, b, workload, "after")
	}, NodeTimeout(10*time.Minute))

	It("leaves nothing of an environment whose `up` got SIGTERM while creating clusters, and nothing of another's is touched", func(ctx SpecContext) {
		interrupt(ctx, "e2esig", syscall.SIGTERM, "Writing configuration", b)
	}, NodeTimeout(12*time.Minute))

	It("leaves nothing of an environment whose `up` got Ctrl-C (SIGINT) while installing Istio", func(ctx SpecContext) {
		interrupt(ctx, "e2eint", syscall.SIGINT, "cacerts written", b)
	}, NodeTimeout(15*time.Minute))
})

// interrupt runs `meshconform up` of multi-primary as environment name, sends sig once its output shows marker, and
// checks: exit code 130, a `down` from its state directory leaves nothing of it, and other's things are unchanged.
func interrupt(ctx SpecContext, name string, sig os.Signal, marker string, other *box) {
	bin := buildMeshconform(ctx)
	stateDir := GinkgoT().TempDir()
	otherBefore := envSnapshot(ctx, other.name)
	var out syncBuffer
	cmd := exec.Command(bin, "up", "--topology", "multi-primary", "--offline", "--skip-preflight",
		"--state-dir", stateDir, "--env", name)
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, GinkgoWriter), io.MultiWriter(&out, GinkgoWriter)
	Expect(cmd.Start()).To(Succeed())
	Eventually(out.String).WithContext(ctx).WithTimeout(10*time.Minute).WithPolling(200*time.Millisecond).
		Should(ContainSubstring(marker), "up never got to %q", marker)
	began := time.Now()
	Expect(cmd.Process.Signal(sig)).To(Succeed())
	err := cmd.Wait()
	var exit *exec.ExitError
	Expect(errors.As(err, &exit)).To(BeTrue(), "up exited %v after %s, want exit code 130", err, sig)
	Expect(exit.ExitCode()).To(Equal(130), "exit code after %s", sig)
	Expect(out.String()).To(ContainSubstring("interrupted"))
	GinkgoWriter.Printf("up exited 130 %s after %s; before down: %s\n", time.Since(began).Round(100*time.Millisecond), sig, inventoryOf(ctx, name))
	down := exec.CommandContext(ctx, bin, "down", "--state-dir", stateDir)
	down.Stdout, down.Stderr = GinkgoWriter, GinkgoWriter
	Expect(down.Run()).To(Succeed())
	assertEnvGone(ctx, name)
	Expect(envSnapshot(ctx, other.name)).To(Equal(otherBefore), "the interrupted environment's down changed %s", other.name)
}

// syncBuffer is a strings.Builder safe for the command's writers and the polling reader.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// prefixed writes an environment's progress to GinkgoWriter with its name in front.
func prefixed(name string) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		for _, l := range strings.SplitAfter(string(p), "\n") {
			if l != "" {
				GinkgoWriter.Print("[" + name + "] " + l)
			}
		}
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func reachLB(ctx SpecContext, x *box, workload, tag string) {
	Expect(x.lbIP).To(HaveKey("cluster2"))
	c1 := x.st.Clusters[0]
	// Retried: MetalLB announces the address and kube-proxy programs it a moment after the Service gets it.
	attempt := 0
	Eventually(func(g Gomega) {
		attempt++
		tally, err := e2eutil.Call(ctx, x.kcs["cluster1"], ns, fmt.Sprintf("to-lb%s-%d", tag, attempt), workload, c1.Nodes[0],
			x.lbIP["cluster2"].String()+":8080", 5)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(tally.OK).To(Equal(5), "%s: cluster1 -> cluster2 LB %s: %+v", x.name, x.lbIP["cluster2"], tally)
		g.Expect(tally.ByCluster).To(HaveKeyWithValue("cluster2", 5))
	}).WithContext(ctx).WithTimeout(90 * time.Second).WithPolling(2 * time.Second).Should(Succeed())
}

// checkIsolation: isolated, cluster2's pod and node addresses are out of cluster1's reach; bridged, its pod answers.
func checkIsolation(ctx SpecContext, x *box, workload, tag string) {
	c1, c2 := x.st.Clusters[0], x.st.Clusters[1]
	if !x.isolated {
		tally, err := e2eutil.Call(ctx, x.kcs["cluster1"], ns, "to-pod"+tag, workload, c1.Nodes[0], x.pods["cluster2"].Status.PodIP+":8080", 5)
		Expect(err).NotTo(HaveOccurred())
		Expect(tally.OK).To(Equal(5), "%s: cluster1 -> cluster2 pod %s: %+v", x.name, x.pods["cluster2"].Status.PodIP, tally)
		Expect(tally.ByCluster).To(HaveKeyWithValue("cluster2", 5))
		return
	}
	Expect(c1.DockerNetwork).NotTo(Equal(c2.DockerNetwork))
	for _, addr := range []string{x.pods["cluster2"].Status.PodIP + ":8080", c2.NodeIPs[0].String() + ":10250"} {
		ok, detail, err := e2eutil.Probe(ctx, x.kcs["cluster1"], ns, "probe"+tag+"-"+sanitize(addr), workload, c1.Nodes[0], addr)
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeFalse(), "%s: isolation broken: cluster1 reached %s on network %s", x.name, addr, c2.DockerNetwork)
		GinkgoWriter.Printf("%s: %s unreachable from cluster1 as required: %s\n", x.name, addr, detail)
	}
}

// buildMeshconform builds the CLI into a temporary directory (seconds when the build cache is warm).
func buildMeshconform(ctx SpecContext) string {
	bin := filepath.Join(GinkgoT().TempDir(), "meshconform")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "../../cmd/meshconform")
	out, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "go build: %s", out)
	return bin
}

// envSnapshot lists an environment's containers (with their state), networks (with subnets) and DOCKER-USER rules,
// sorted, for before/after comparisons.
func envSnapshot(ctx SpecContext, name string) string {
	var lines []string
	out, err := exec.CommandContext(ctx, "docker", "ps", "-a", "--filter", "name=^"+env.NamePrefix+name+"-",
		"--format", "container {{.Names}} {{.State}} {{.Networks}}").Output()
	Expect(err).NotTo(HaveOccurred())
	lines = append(lines, strings.Split(strings.TrimSpace(string(out)), "\n")...)
	out, err = exec.CommandContext(ctx, "docker", "network", "ls", "--filter", "label="+env.EnvLabel+"="+name,
		"--format", "network {{.Name}} {{.ID}}").Output()
	Expect(err).NotTo(HaveOccurred())
	lines = append(lines, strings.Split(strings.TrimSpace(string(out)), "\n")...)
	for _, r := range network.ListRules(ctx, network.EnvRuleTag(name)) {
		lines = append(lines, "rule "+r)
	}
	sort.Strings(lines)
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// snapshot is every container, network and DOCKER-USER rule on the machine.
func snapshot(ctx SpecContext) string {
	var lines []string
	out, err := exec.CommandContext(ctx, "docker", "ps", "-a", "--format", "container {{.Names}} {{.State}}").Output()
	Expect(err).NotTo(HaveOccurred())
	lines = append(lines, strings.Split(strings.TrimSpace(string(out)), "\n")...)
	out, err = exec.CommandContext(ctx, "docker", "network", "ls", "--format", "network {{.Name}} {{.ID}}").Output()
	Expect(err).NotTo(HaveOccurred())
	lines = append(lines, strings.Split(strings.TrimSpace(string(out)), "\n")...)
	if out, err := exec.CommandContext(ctx, "iptables", "-w", "5", "-S").Output(); err == nil {
		lines = append(lines, strings.Split(strings.TrimSpace(string(out)), "\n")...)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func inventoryOf(ctx SpecContext, name string) string {
	inv, err := inventory.Take(ctx)
	Expect(err).NotTo(HaveOccurred())
	return inv.Env(name).String()
}

func inRange(ip, first, last netip.Addr) bool { return ip.Compare(first) >= 0 && ip.Compare(last) <= 0 }

func sanitize(s string) string {
	return strings.NewReplacer(".", "-", ":", "-").Replace(s)
}

// assertEnvGone fails when any container, network or iptables rule of the environment survives its `down`.
func assertEnvGone(ctx SpecContext, name string) {
	out, err := exec.Command("docker", "ps", "-a", "--format", "{{.Names}}").Output()
	Expect(err).NotTo(HaveOccurred())
	for _, n := range strings.Fields(string(out)) {
		Expect(n).NotTo(HavePrefix(env.NamePrefix+name+"-"), "container of %s left after down", name)
	}
	inv, err := inventory.Take(ctx)
	Expect(err).NotTo(HaveOccurred())
	Expect(inv.Env(name).Empty()).To(BeTrue(), "left after down: %s", inv.Env(name))
	Expect(network.ListRules(ctx, network.EnvRuleTag(name))).To(BeEmpty(), "iptables rules of %s left after down", name)
}
