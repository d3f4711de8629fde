//go:build e2e

// The conformance checks against real meshes: each passes on a healthy mesh and fails, with the diagnosis it
// promises, against the broken state it guards: a lost remote secret, traffic pinned to the local cluster, plaintext
// under STRICT mTLS, a second root, a gateway without an address or without pods, and networks that leak pod traffic.
package mesh_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	apinetworking "istio.io/api/networking/v1"
	apitype "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/meshconform/meshconform/e2e/e2eutil"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/lb"
	"github.com/meshconform/meshconform/framework/trust"
	"github.com/meshconform/meshconform/framework/workload"
	"github.com/meshconform/meshconform/suites/checks"
)

// failsWith asserts a check's error is a diagnosis of the given check naming want in what it observed.
// g is the Gomega of the enclosing Eventually (so a check that still passes is retried), or Default.
func failsWith(g Gomega, err error, check, want string) {
	GinkgoHelper()
	var f *checks.Failure
	g.Expect(errors.As(err, &f)).To(BeTrue(), "want a diagnosis, got %v", err)
	g.Expect(f.Check).To(Equal(check))
	g.Expect(f.Observed).To(ContainSubstring(want))
	g.Expect(f.Cause).NotTo(BeEmpty())
	g.Expect(f.Inspect).NotTo(BeEmpty())
	GinkgoWriter.Printf("diagnosis as a user sees it:\n%v\n", err)
}

// fixture is one topology's environment, brought up by its container's BeforeAll and shared by its specs.
type fixture struct {
	e *e2eutil.Mesh
	m *checks.Mesh
}

// up brings the topology up (see e2eutil.MeshUp) and connects the checks to it.
func (f *fixture) up(ctx context.Context, name string) {
	GinkgoHelper()
	f.e = e2eutil.MeshUp(ctx, name, istio.Options{})
	m, err := checks.Connect(f.e.State)
	Expect(err).NotTo(HaveOccurred())
	f.m = m
}

// buildBinary builds meshconform from this checkout.
func buildBinary(ctx context.Context) string {
	GinkgoHelper()
	bin := filepath.Join(GinkgoT().TempDir(), "meshconform")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/meshconform/meshconform/cmd/meshconform").CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "go build: %s", out)
	return bin
}

// fingerprintIstio summarises what a run must not change in the clusters it was given: every object's resource
// version in istio-system and kube-system (secrets, deployments, services, config maps), and the namespaces that exist
// other than the test workloads'.
func fingerprintIstio(ctx context.Context, e *e2eutil.Mesh) map[string]string {
	GinkgoHelper()
	out := map[string]string{}
	for name, c := range e.Clients {
		cs := c.Clientset
		for _, ns := range []string{render.Namespace, "kube-system"} {
			secrets, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
			Expect(err).NotTo(HaveOccurred())
			for _, o := range secrets.Items {
				out[name+"/"+ns+"/secret/"+o.Name] = o.ResourceVersion
			}
			deps, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
			Expect(err).NotTo(HaveOccurred())
			for _, o := range deps.Items {
				out[name+"/"+ns+"/deployment/"+o.Name] = fmt.Sprint(o.Generation)
			}
			svcs, err := cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
			Expect(err).NotTo(HaveOccurred())
			for _, o := range svcs.Items {
				out[name+"/"+ns+"/service/"+o.Name] = o.ResourceVersion
			}
			cms, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
			Expect(err).NotTo(HaveOccurred())
			for _, o := range cms.Items {
				if o.Name == "kube-root-ca.crt" || strings.Contains(o.Name, "leader") || strings.Contains(o.Name, "election") ||
					strings.Contains(o.Name, "lock") || o.Name == "istio-ip-autoallocate" {
					continue // leases and allocations istiod's controllers rewrite on their own
				}
				out[name+"/"+ns+"/configmap/"+o.Name] = o.ResourceVersion
			}
		}
		nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		for _, o := range nss.Items {
			if o.Name != workload.DefaultNamespace {
				out[name+"/namespace/"+o.Name] = "exists"
			}
		}
	}
	return out
}

func restartIstiod(ctx context.Context, c *e2eutil.Mesh, cluster string) {
	GinkgoHelper()
	Expect(c.Clients[cluster].RolloutRestart(ctx, render.Namespace, "istiod", 3*time.Minute)).To(Succeed())
}

// restartWorkloads replaces every pod in cluster's test namespace (workloads keep the certificates they started
// with) and waits until the new ones are ready.
func restartWorkloads(ctx context.Context, c *e2eutil.Mesh, cluster string) {
	GinkgoHelper()
	pods := c.Clients[cluster].Clientset.CoreV1().Pods(workload.DefaultNamespace)
	old, err := pods.List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	Expect(pods.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})).To(Succeed())
	// Until the old pods are gone, their Deployments still count them available and ClientPod may pick one.
	Eventually(func(g Gomega) {
		now, err := pods.List(ctx, metav1.ListOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		for _, p := range now.Items {
			for _, o := range old.Items {
				g.Expect(p.UID).NotTo(Equal(o.UID), "%s/%s still terminating", cluster, p.Name)
			}
		}
	}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
	Expect(workload.WaitReady(ctx, c.Clients[cluster], workload.DefaultNamespace, 3*time.Minute)).To(Succeed())
}

// multiPrimaryChecks runs inside the multi-primary container, on its environment.
func multiPrimaryChecks(f *fixture) {
	It("passes every check on the healthy mesh", func(ctx SpecContext) {
		Eventually(ctx, func() error { return checks.Synced(ctx, f.m) }).WithTimeout(2 * time.Minute).Should(Succeed())
		Expect(checks.SharedRoot(ctx, f.m)).To(Succeed())
		if table, err := checks.ConfigConsistent(ctx, f.m); err != nil {
			Fail(fmt.Sprintf("config-mesh-consistent on the healthy mesh:\n%v", err))
		} else {
			GinkgoWriter.Printf("mesh configuration:\n%s\n", table)
		}
		stop := checks.KeepCalling(ctx, f.m, "cluster1")
		Eventually(ctx, func() error { return checks.Endpoints(ctx, f.m, "cluster1", []string{"cluster2"}) }).
			WithTimeout(2 * time.Minute).Should(Succeed())
		stop()
		for _, src := range f.m.Names() {
			v, err := checks.Balanced(ctx, f.m, src, f.m.ReachGroups(src), lb.MaxFalseAlarm, time.Minute)
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Printf("%s: %d warm-up calls, then %s\n", src, v.WarmupCalls, v.Reason)
			Expect(v.Plan.Requests).To(Equal(21), "two clusters with one echo pod each need 21 calls")
		}
	}, NodeTimeout(10*time.Minute))

	It("runs `meshconform run` on these clusters brought as your own, passes, reports, and touches nothing", func(ctx SpecContext) {
		bin := buildBinary(ctx)
		dir := GinkgoT().TempDir()
		var b strings.Builder
		b.WriteString("apiVersion: meshconform.io/v1alpha1\nkind: Topology\nmetadata:\n  name: byo-multi-primary\nspec:\n  clusters:\n")
		// Names other than the Istio cluster IDs the mesh was installed with, as a brought mesh may have: the checks
		// must map one to the other (istiod's clusterz lists IDs).
		for _, c := range f.e.State.Clusters {
			fmt.Fprintf(&b, "  - name: byo-%s\n    role: primary\n    kubeconfig: %s\n    context: %s\n", c.Name, c.Access.Kubeconfig, c.Access.Context)
		}
		topoFile := filepath.Join(dir, "byo.yaml")
		Expect(os.WriteFile(topoFile, []byte(b.String()), 0o600)).To(Succeed())
		// The brought run is another environment, and two environments do not share a cluster's test workloads (it
		// would refuse this environment's namespace): this environment's go first, and are restored at the end.
		for _, c := range f.e.State.Clusters {
			Expect(workload.Remove(ctx, f.e.Clients[c.Name], workload.DefaultNamespace)).To(Succeed())
		}
		Eventually(func(g Gomega) {
			for _, c := range f.e.State.Clusters {
				_, err := f.e.Clients[c.Name].Clientset.CoreV1().Namespaces().Get(ctx, workload.DefaultNamespace, metav1.GetOptions{})
				g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%s: namespace %s: %v (terminating?)", c.Name, workload.DefaultNamespace, err)
			}
		}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Succeed())
		before := fingerprintIstio(ctx, f.e)
		reportDir := filepath.Join(dir, "report")
		cmd := exec.CommandContext(ctx, bin, "run", "--topology", topoFile, "--installer", "preinstalled",
			"--state-dir", filepath.Join(dir, "state"), "--report-dir", reportDir, "--skip-preflight")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.MultiWriter(GinkgoWriter, &out), GinkgoWriter
		Expect(cmd.Run()).To(Succeed(), "meshconform run against brought clusters failed: see the output above")
		Expect(fingerprintIstio(ctx, f.e)).To(Equal(before), "the run changed istio-system or kube-system of clusters it was given")
		for _, f := range []string{"junit.xml", "ginkgo-report.json", "conformance-report.yaml", "report.html"} {
			Expect(filepath.Join(reportDir, f)).To(BeAnExistingFile())
		}
		report, err := os.ReadFile(filepath.Join(reportDir, "conformance-report.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(report)).To(ContainSubstring("installer: preinstalled"))
		Expect(string(report)).To(ContainSubstring("byo-multi-primary"))
		for _, c := range f.e.State.Clusters {
			Expect(out.String()).To(ContainSubstring(fmt.Sprintf("Istio knows this cluster as %q", c.Name)))
			// Its down deleted its own test namespace and nothing in istio-system (a preinstalled mesh's).
			Expect(out.String()).To(ContainSubstring(fmt.Sprintf("byo-%s: deleting Namespace %s", c.Name, workload.DefaultNamespace)))
		}
		Expect(out.String()).NotTo(MatchRegexp(`deleting \w+ istio-system/`), "down of a preinstalled mesh deleted from istio-system")
		By("restoring the workloads the run's down removed")
		Expect(f.e.Up(ctx)).To(Succeed())
	}, NodeTimeout(20*time.Minute))

	It("passes config-mesh-consistent, then fails it when cluster2's mesh ID is changed, and restores it", func(ctx SpecContext) {
		table, err := checks.ConfigConsistent(ctx, f.m)
		Expect(err).NotTo(HaveOccurred(), "a healthy mesh:\n%s", table)
		GinkgoWriter.Printf("healthy:\n%s\n", table)
		cms := f.e.Clients["cluster2"].Clientset.CoreV1().ConfigMaps("istio-system")
		cm, err := cms.Get(ctx, "istio", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		orig := cm.Data["mesh"]
		Expect(orig).To(ContainSubstring("meshId: mesh1"), "the mesh config names the mesh ID")
		cm.Data["mesh"] = strings.Replace(orig, "meshId: mesh1", "meshId: mesh2", 1)
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			cm, err := cms.Get(ctx, "istio", metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			cm.Data["mesh"] = orig
			_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
			Expect(err).NotTo(HaveOccurred())
			_, err = checks.ConfigConsistent(ctx, f.m)
			Expect(err).NotTo(HaveOccurred(), "after the restore")
		})
		_, err = checks.ConfigConsistent(ctx, f.m)
		Expect(err).To(HaveOccurred(), "a mesh ID changed in cluster2 passed")
		GinkgoWriter.Printf("broken:\n%v\n", err)
		Expect(err.Error()).To(ContainSubstring("mesh IDs differ: mesh1 (cluster1), mesh2 (cluster2)"))
		Expect(err.Error()).To(ContainSubstring("different meshID"))
	}, NodeTimeout(2*time.Minute))

	It("fails load balancing when cluster1 pins the service to its own version", func(ctx SpecContext) {
		ic, err := istioclient.NewForConfig(f.e.Clients["cluster1"].Config)
		Expect(err).NotTo(HaveOccurred())
		host := f.m.Host()
		dr := &networkingv1.DestinationRule{ObjectMeta: metav1.ObjectMeta{Name: "pin-local", Namespace: f.m.Namespace},
			Spec: apinetworking.DestinationRule{Host: host,
				TrafficPolicy: &apinetworking.TrafficPolicy{Tls: &apinetworking.ClientTLSSettings{Mode: apinetworking.ClientTLSSettings_ISTIO_MUTUAL}},
				Subsets:       []*apinetworking.Subset{{Name: "v1", Labels: map[string]string{workload.VersionLabel: "v1"}}}}}
		vs := &networkingv1.VirtualService{ObjectMeta: metav1.ObjectMeta{Name: "pin-local", Namespace: f.m.Namespace},
			Spec: apinetworking.VirtualService{Hosts: []string{host}, Http: []*apinetworking.HTTPRoute{{
				Route: []*apinetworking.HTTPRouteDestination{{Destination: &apinetworking.Destination{Host: host, Subset: "v1"}}}}}}}
		_, err = ic.NetworkingV1().DestinationRules(f.m.Namespace).Create(ctx, dr, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = ic.NetworkingV1().VirtualServices(f.m.Namespace).Create(ctx, vs, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			Expect(ic.NetworkingV1().VirtualServices(f.m.Namespace).Delete(ctx, "pin-local", metav1.DeleteOptions{})).To(Succeed())
			Expect(ic.NetworkingV1().DestinationRules(f.m.Namespace).Delete(ctx, "pin-local", metav1.DeleteOptions{})).To(Succeed())
		})
		// The route reaches the client within seconds; then the verdict must fail. With proxyless gRPC the subset
		// route makes calls fail rather than stay local (measured), which the verdict reports as such.
		Eventually(func(g Gomega) {
			v, err := checks.Balanced(ctx, f.m, "cluster1", f.m.ReachGroups("cluster1"), lb.MaxFalseAlarm, 10*time.Second)
			g.Expect(err).To(HaveOccurred())
			g.Expect(v.Pass).To(BeFalse())
			g.Expect(v.Tally["cluster2"]).To(BeZero(), "a pinned client still reached cluster2: %+v", v)
			failsWith(g, err, "loadbalancing", "calls")
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Succeed())
	}, NodeTimeout(5*time.Minute))

	It("fails mutual TLS when STRICT servers get plaintext calls", func(ctx SpecContext) {
		for _, name := range f.m.Names() {
			Expect(workload.RequireMTLS(ctx, f.e.Clients[name], f.e.State.Name, f.m.Namespace)).To(Succeed())
			DeferCleanup(workload.RemoveRequireMTLS, f.e.Clients[name], f.m.Namespace)
		}
		// No ISTIO_MUTUAL DestinationRule on this one-network mesh: the proxyless client speaks plaintext.
		Eventually(func(g Gomega) {
			_, err := checks.MutualTLS(ctx, f.m, "cluster1", f.m.ReachGroups("cluster1"), 10*time.Second)
			failsWith(g, err, "trust", "calls from cluster1 failed under STRICT mTLS")
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Succeed())
		By("and passes once the client is told to use ISTIO_MUTUAL")
		Expect(workload.ClientMTLS(ctx, f.e.Clients["cluster1"], f.e.State.Name, f.m.Namespace, f.m.Host())).To(Succeed())
		DeferCleanup(workload.RemoveClientMTLS, f.e.Clients["cluster1"], f.m.Namespace, f.m.Host())
		Eventually(ctx, func() error {
			_, err := checks.MutualTLS(ctx, f.m, "cluster1", f.m.ReachGroups("cluster1"), 30*time.Second)
			return err
		}).WithTimeout(2 * time.Minute).Should(Succeed())
	}, NodeTimeout(6*time.Minute))

	It("fails discovery when cluster1's istiod loses cluster2's remote secret", func(ctx SpecContext) {
		cs := f.e.Clients["cluster1"].Clientset
		Expect(cs.CoreV1().Secrets(render.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{},
			metav1.ListOptions{LabelSelector: "istio/multiCluster=true"})).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(f.e.Up(ctx)).To(Succeed()) }, NodeTimeout(10*time.Minute))
		Eventually(func(g Gomega) {
			failsWith(g, checks.Synced(ctx, f.m), "discovery", "cluster1's istiod: cluster2")
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		stop := checks.KeepCalling(ctx, f.m, "cluster1")
		defer stop()
		Eventually(func(g Gomega) {
			failsWith(g, checks.Endpoints(ctx, f.m, "cluster1", []string{"cluster2"}), "discovery", "lacks cluster2's echo endpoint")
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		stop()

		// The same broken state for failover: cluster1's own echo service drained, its client has nowhere to go.
		restore, err := checks.Drain(ctx, f.m, "cluster1", 2*time.Minute)
		DeferCleanup(func(ctx SpecContext) { Expect(restore(ctx)).To(Succeed()) }, NodeTimeout(3*time.Minute))
		Expect(err).NotTo(HaveOccurred())
		start := time.Now()
		_, err = checks.FailedOver(ctx, f.m, "cluster1", "cluster1", 20*time.Second)
		failsWith(Default, err, "failover", "calls from cluster1: 10 of 10 failed")
		Expect(err.Error()).To(ContainSubstring("does not know the other clusters' echo endpoints"))
		GinkgoWriter.Printf("failover verdict on the broken mesh after %s\n", time.Since(start).Round(time.Second))
	}, NodeTimeout(15*time.Minute))

	It("keeps calls local when the echo host is cluster-local, and crosses again once it is not", func(ctx SpecContext) {
		restore, err := checks.MakeClusterLocal(ctx, f.m, []string{"cluster1", "cluster2"})
		restored := false
		DeferCleanup(func(ctx SpecContext) {
			if !restored {
				Expect(restore(ctx)).To(Succeed())
			}
		}, NodeTimeout(time.Minute))
		Expect(err).NotTo(HaveOccurred())
		for _, src := range []string{"cluster1", "cluster2"} {
			t, err := checks.StaysLocal(ctx, f.m, src, 2*time.Minute)
			Expect(err).NotTo(HaveOccurred())
			Expect(t.ByCluster).To(Equal(map[string]int{src: 30}))
		}
		Expect(restore(ctx)).To(Succeed())
		restored = true
		for _, src := range []string{"cluster1", "cluster2"} {
			took, err := checks.CrossesAgain(ctx, f.m, src, 2*time.Minute)
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Printf("%s crosses again after %s\n", src, took.Round(time.Second))
		}
	}, NodeTimeout(10*time.Minute))

	It("fails cluster scoping when only cluster1's mesh config makes the host cluster-local, and names the cause in load balancing too", func(ctx SpecContext) {
		restore, err := checks.MakeClusterLocal(ctx, f.m, []string{"cluster1"})
		DeferCleanup(func(ctx SpecContext) { Expect(restore(ctx)).To(Succeed()) }, NodeTimeout(time.Minute))
		Expect(err).NotTo(HaveOccurred())
		_, err = checks.StaysLocal(ctx, f.m, "cluster1", 2*time.Minute)
		Expect(err).NotTo(HaveOccurred())
		start := time.Now()
		_, err = checks.StaysLocal(ctx, f.m, "cluster2", 20*time.Second)
		failsWith(Default, err, "scoping", "calls from cluster2 were answered by cluster1")
		Expect(err.Error()).To(ContainSubstring("the mesh config of cluster2's istiod (which serves cluster2) does not make the host cluster-local"))
		GinkgoWriter.Printf("scoping verdict on the broken mesh after %s\n", time.Since(start).Round(time.Second))
		// The load-balancing diagnosis reads the mesh config it can see instead of guessing.
		start = time.Now()
		_, err = checks.Balanced(ctx, f.m, "cluster1", f.m.ReachGroups("cluster1"), lb.MaxFalseAlarm, time.Minute)
		failsWith(Default, err, "loadbalancing", "calls from cluster1 cannot reach cluster1, cluster2")
		Expect(time.Since(start)).To(BeNumerically("<", 10*time.Second), "the mesh config decides the verdict: no warm-up")
		var final *checks.Failure
		Expect(errors.As(err, &final) && final.Final).To(BeTrue(), "a cluster-local host is a final verdict")
		Expect(err.Error()).To(ContainSubstring("the mesh config of cluster1's istiod makes " + f.m.Host() + " cluster-local"))
	}, NodeTimeout(10*time.Minute))

	It("routes every caller to the cluster a subset names, and fails, diagnosed, when the subset selects no endpoint", func(ctx SpecContext) {
		plan, ok := checks.PlanSubset(f.m)
		Expect(ok).To(BeTrue())
		Expect(plan.Target).To(Equal("cluster2"))
		restore, err := checks.RouteToCluster(ctx, f.m, "cluster2", nil)
		DeferCleanup(func(ctx SpecContext) { Expect(restore(ctx)).To(Succeed()) }, NodeTimeout(time.Minute))
		Expect(err).NotTo(HaveOccurred())
		for _, src := range plan.Sources {
			t, err := checks.RoutedTo(ctx, f.m, src, "cluster2", 2*time.Minute)
			Expect(err).NotTo(HaveOccurred())
			Expect(t.ByCluster).To(Equal(map[string]int{"cluster2": 30}))
		}
		Expect(restore(ctx)).To(Succeed())
		took, err := checks.SpreadsAgain(ctx, f.m, "cluster1", "cluster2", 2*time.Minute)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("cluster1: route removed, cluster1 answers again after %s\n", took.Round(time.Second))

		// Broken: the subset selects a cluster ID no endpoint carries.
		restore, err = checks.RouteToCluster(ctx, f.m, "cluster2", map[string]string{"cluster2": "no-such-cluster"})
		DeferCleanup(func(ctx SpecContext) { Expect(restore(ctx)).To(Succeed()) }, NodeTimeout(time.Minute))
		Expect(err).NotTo(HaveOccurred())
		start := time.Now()
		_, err = checks.RoutedTo(ctx, f.m, "cluster1", "cluster2", 20*time.Second)
		failsWith(Default, err, "scoping", "failed")
		Expect(err.Error()).To(ContainSubstring("subset cluster2 selects no endpoint"))
		GinkgoWriter.Printf("subset verdict on the broken mesh after %s\n", time.Since(start).Round(time.Second))
	}, NodeTimeout(10*time.Minute))

	It("fails over when cluster1's echo service is drained, and sees it answer again after the restore", func(ctx SpecContext) {
		plan, ok := checks.PlanFailover(f.m)
		Expect(ok).To(BeTrue())
		Expect(plan.Drained).To(Equal("cluster1"))
		Expect(plan.Sources).To(Equal([]string{"cluster1", "cluster2"}))
		restore, err := checks.Drain(ctx, f.m, "cluster1", 2*time.Minute)
		restored := false
		DeferCleanup(func(ctx SpecContext) {
			if !restored {
				Expect(restore(ctx)).To(Succeed())
			}
		}, NodeTimeout(3*time.Minute))
		Expect(err).NotTo(HaveOccurred())
		for _, src := range plan.Sources {
			res, err := checks.FailedOver(ctx, f.m, src, "cluster1", time.Minute)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Judged).To(Equal(map[string]int{"cluster2": 30}))
			GinkgoWriter.Printf("%s failed over in %.0fs\n", src, res.Converged)
		}
		Expect(restore(ctx)).To(Succeed())
		restored = true
		for _, src := range plan.Sources {
			took, err := checks.Recovered(ctx, f.m, src, "cluster1", time.Minute)
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Printf("%s: cluster1 answers again after %s\n", src, took.Round(time.Second))
		}
	}, NodeTimeout(8*time.Minute))

	It("fails isolation when clusters said to be on two networks route pod traffic to each other", func(ctx SpecContext) {
		// The broken state: cluster2 claims network2, but its pods are routed from cluster1 (one bridged network
		// with routes, as this environment has). The check must notice the leak.
		st := *f.e.State
		st.Clusters = append([]env.Cluster(nil), st.Clusters...)
		st.Cluster("cluster2").Network = "network2"
		leaky, err := checks.Connect(&st)
		Expect(err).NotTo(HaveOccurred())
		failsWith(Default, checks.Isolated(ctx, leaky, "cluster1", "cluster2", 3*time.Second), "isolation", "reached cluster2's pod")
	}, NodeTimeout(3*time.Minute))

	It("fails trust when cluster2's istiod signs with a second root", func(ctx SpecContext) {
		// The broken state users hit: a cluster installed with another cacerts (or istiod's own self-signed CA).
		// A second root is written over cluster2's meshconform-managed cacerts, then istiod and the workloads restart.
		other, err := trust.LoadOrCreate(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		b, err := other.Intermediate("cluster2")
		Expect(err).NotTo(HaveOccurred())
		changed, err := trust.ApplySecret(ctx, f.e.Clients["cluster2"], b, env.Claimant{Env: f.e.State.Name})
		Expect(err).NotTo(HaveOccurred())
		Expect(changed).To(BeTrue(), "cluster2's cacerts already held the second root")
		DeferCleanup(func(ctx SpecContext) {
			By("restoring the mesh's cacerts in cluster2 (up restarts istiod), then its workloads")
			Expect(f.e.Up(ctx)).To(Succeed())
			restartWorkloads(ctx, f.e, "cluster2")
			Eventually(ctx, func() error { return checks.SharedRoot(ctx, f.m) }).
				WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		}, NodeTimeout(10*time.Minute))
		restartIstiod(ctx, f.e, "cluster2")
		restartWorkloads(ctx, f.e, "cluster2")
		Eventually(func(g Gomega) {
			failsWith(g, checks.SharedRoot(ctx, f.m), "trust", "workloads hold 2 different roots")
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		Expect(checks.SharedRoot(ctx, f.m).Error()).To(ContainSubstring(other.RootFingerprint()[:16]),
			"the diagnosis does not name the second root")
	}, NodeTimeout(15*time.Minute))
}

// userLocalityRule is what the issue measured: a user's own DestinationRule for the echo host with locality load
// balancing (not meshconform's: no labels), optionally selecting pods.
func userLocalityRule(name, host string, selector map[string]string) *networkingv1.DestinationRule {
	dr := &networkingv1.DestinationRule{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: workload.DefaultNamespace}}
	dr.Spec.Host = workload.DefaultService
	dr.Spec.TrafficPolicy = &apinetworking.TrafficPolicy{
		LoadBalancer: &apinetworking.LoadBalancerSettings{LocalityLbSetting: &apinetworking.LocalityLoadBalancerSetting{
			Enabled: wrapperspb.Bool(true)}},
		OutlierDetection: &apinetworking.OutlierDetection{Consecutive_5XxErrors: wrapperspb.UInt32(5), Interval: durationpb.New(10 * time.Second)},
	}
	if selector != nil {
		dr.Spec.WorkloadSelector = &apitype.WorkloadSelector{MatchLabels: selector}
	}
	return dr
}

// applyUser creates a user's object in every primary (as a user would: no meshconform labels) and deletes it at
// cleanup.
func applyUserRule(f *fixture, ctx context.Context, dr *networkingv1.DestinationRule) {
	GinkgoHelper()
	for _, name := range f.m.Primaries() {
		ic, err := istioclient.NewForConfig(f.e.Clients[name].Config)
		Expect(err).NotTo(HaveOccurred())
		_, err = ic.NetworkingV1().DestinationRules(dr.Namespace).Create(ctx, dr.DeepCopy(), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			err := ic.NetworkingV1().DestinationRules(dr.Namespace).Delete(ctx, dr.Name, metav1.DeleteOptions{})
			Expect(err == nil || apierrors.IsNotFound(err)).To(BeTrue(), "delete %s/%s: %v", dr.Namespace, dr.Name, err)
		})
	}
}

// coexistChecks: specs that add mesh config coexist with the user's (issue 14 item 6).
func coexistChecks(f *fixture) {
	It("keeps the trust spec's mTLS in force beside a user's locality DestinationRule for the echo host, and names a user's rule that would decide instead", Label("coexist"), func(ctx SpecContext) {
		host := f.m.Host()
		By("a user's locality DestinationRule for the echo host, older than anything the spec applies")
		applyUserRule(f, ctx, userLocalityRule("user-locality", host, nil))

		By("the measured broken state: a catch-all ISTIO_MUTUAL rule added after it (what the spec applied before) does not take effect")
		for _, name := range f.m.Names() {
			Expect(workload.RequireMTLS(ctx, f.e.Clients[name], f.e.State.Name, f.m.Namespace)).To(Succeed())
			DeferCleanup(workload.RemoveRequireMTLS, f.e.Clients[name], f.m.Namespace)
		}
		ic, err := istioclient.NewForConfig(f.e.Clients["cluster1"].Config)
		Expect(err).NotTo(HaveOccurred())
		// Creation timestamps have one-second resolution and ties go by name: "zz-" keeps it the younger rule even
		// when created within the user's second (measured: "catch-all-mtls" created in the same second won).
		catchAll := &networkingv1.DestinationRule{ObjectMeta: metav1.ObjectMeta{Name: "zz-catch-all-mtls", Namespace: f.m.Namespace,
			Labels: env.ObjectLabels(f.e.State.Name)}}
		catchAll.Spec.Host = host
		catchAll.Spec.TrafficPolicy = &apinetworking.TrafficPolicy{Tls: &apinetworking.ClientTLSSettings{Mode: apinetworking.ClientTLSSettings_ISTIO_MUTUAL}}
		_, err = ic.NetworkingV1().DestinationRules(f.m.Namespace).Create(ctx, catchAll, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		start := time.Now()
		Eventually(func(g Gomega) {
			_, err := checks.MutualTLS(ctx, f.m, "cluster1", f.m.ReachGroups("cluster1"), 10*time.Second)
			failsWith(g, err, "trust", "calls from cluster1 failed under STRICT mTLS")
			g.Expect(err.Error()).To(ContainSubstring("DestinationRule echo/user-locality (host echo, trafficPolicy {loadBalancer.localityLbSetting"))
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Succeed())
		GinkgoWriter.Printf("catch-all rule behind the user's: diagnosed after %s\n", time.Since(start).Round(time.Second))
		Expect(ic.NetworkingV1().DestinationRules(f.m.Namespace).Delete(ctx, catchAll.Name, metav1.DeleteOptions{})).To(Succeed())

		By("what the spec applies now: rules selecting its own pods, beside the user's")
		start = time.Now()
		restore, coexisting, err := checks.RequireMutualTLS(ctx, f.m, false)
		DeferCleanup(func(ctx SpecContext) { Expect(restore(ctx)).To(Succeed()) }, NodeTimeout(time.Minute))
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Join(coexisting, "\n")).To(ContainSubstring("cluster1: DestinationRule echo/user-locality"))
		for _, src := range f.m.Names() {
			Eventually(ctx, func() error {
				_, err := checks.MutualTLS(ctx, f.m, src, f.m.ReachGroups(src), 30*time.Second)
				return err
			}).WithTimeout(2 * time.Minute).Should(Succeed())
		}
		GinkgoWriter.Printf("healthy: mTLS from every cluster beside the user's rule after %s\n", time.Since(start).Round(time.Second))
		got, err := ic.NetworkingV1().DestinationRules(f.m.Namespace).Get(ctx, "user-locality", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Labels).To(BeEmpty(), "the user's rule was changed")
		Expect(got.Spec.TrafficPolicy.Tls).To(BeNil(), "the user's rule was changed")
		Expect(restore(ctx)).To(Succeed())

		By("broken: a user's rule selecting the client pods would decide instead: nothing is applied, the diagnosis names it")
		applyUserRule(f, ctx, userLocalityRule("user-client", host, map[string]string{workload.AppLabel: workload.ClientName}))
		_, _, err = checks.RequireMutualTLS(ctx, f.m, false)
		failsWith(Default, err, "trust", "DestinationRule echo/user-client (host echo, workloadSelector app=client")
		Expect(err.Error()).To(ContainSubstring("kubectl --context cluster1 -n echo get destinationrule user-client -o yaml"))
		Expect(err.Error()).NotTo(ContainSubstring("not using Istio mTLS"))
		_, err = ic.NetworkingV1().DestinationRules(f.m.Namespace).Get(ctx, workload.DestinationRuleName(host), metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the spec applied its rule despite the conflict: %v", err)
	}, NodeTimeout(10*time.Minute))
}

// lifecycleChecks: the remote-secret lifecycle specs (issue 14 item 2), healthy and broken.
func lifecycleChecks(f *fixture) {
	It("rotates a remote secret with no failed call and complete endpoints, and fails, diagnosed, when the new secret's token is already revoked", Label("lifecycle"), func(ctx SpecContext) {
		plan, ok := checks.PlanRotation(f.m)
		Expect(ok).To(BeTrue())
		GinkgoWriter.Printf("plan: %+v\n", plan)
		took, err := checks.RotateRemoteSecrets(ctx, f.m, plan, istio.ReaderTokenSecret, istio.RotatedTokenSecret, 2*time.Minute)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("healthy: rotated in %s with no failed call\n", took.Round(time.Second))
		took, err = checks.RotateRemoteSecrets(ctx, f.m, plan, istio.RotatedTokenSecret, istio.ReaderTokenSecret, 2*time.Minute)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("healthy: rotated back in %s with no failed call\n", took.Round(time.Second))

		By("broken: the replacement secret carries a token revoked before istiod used it")
		claim := env.Claimant{Env: f.e.State.Name}
		remote := f.e.Clients[plan.Remote]
		dead, err := istio.MintReaderToken(ctx, remote, claim, "meshconform-istio-reader-token-dead", time.Minute)
		Expect(err).NotTo(HaveOccurred())
		Expect(istio.RevokeReaderToken(ctx, remote, claim, "meshconform-istio-reader-token-dead")).To(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			good, err := istio.MintReaderToken(ctx, remote, claim, istio.ReaderTokenSecret, time.Minute)
			Expect(err).NotTo(HaveOccurred())
			Expect(checks.WriteRemoteSecrets(ctx, f.m, plan, good)).To(Succeed())
			caller := checks.CallContinuously(ctx, f.m, plan.Source)
			defer caller.Stop()
			Expect(checks.RemoteSyncedWithEndpoints(ctx, f.m, plan, 2*time.Minute)).To(Succeed())
		}, NodeTimeout(4*time.Minute))
		caller := checks.CallContinuously(ctx, f.m, plan.Source)
		defer caller.Stop()
		Expect(checks.WriteRemoteSecrets(ctx, f.m, plan, dead)).To(Succeed())
		start := time.Now()
		Eventually(func(g Gomega) {
			failsWith(g, checks.RemoteSyncedWithEndpoints(ctx, f.m, plan, 0), "lifecycle",
				fmt.Sprintf("%s's istiod after the remote secret for %s changed: %s", plan.Source, plan.Remote, plan.Remote))
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		GinkgoWriter.Printf("broken rotation diagnosed after %s\n", time.Since(start).Round(time.Second))
		t, _ := caller.Stop()
		GinkgoWriter.Printf("calls meanwhile: %d sent, %d failed, by cluster %v\n", t.Sent, t.Failed(), t.ByCluster)
	}, NodeTimeout(12*time.Minute))

	It("keeps a restarted istiod Ready and the good clusters synced beside bad remote secrets, and fails, diagnosed, when istiod waits for every cluster", Label("lifecycle"), func(ctx SpecContext) {
		plan, _ := checks.PlanRotation(f.m)
		primary := plan.Source
		restore, bad, err := checks.AddBadSecrets(ctx, f.m, primary, plan.Remote, time.Minute)
		DeferCleanup(func(ctx SpecContext) { Expect(restore(ctx)).To(Succeed()) })
		Expect(err).NotTo(HaveOccurred())
		start := time.Now()
		Expect(checks.ReadyDespiteBadSecrets(ctx, f.m, plan, primary, bad, 3*time.Minute)).To(Succeed())
		GinkgoWriter.Printf("healthy: istiod Ready and synced after %s; bad secrets: %+v\n", time.Since(start).Round(time.Second), bad)
		for _, b := range bad {
			Expect(b.Status).NotTo(Equal("synced"), b.ID)
		}

		By("broken: istiod told to wait for every remote cluster (PILOT_REMOTE_CLUSTER_TIMEOUT=0)")
		c := f.e.Clients[primary]
		d, err := c.Clientset.AppsV1().Deployments(render.Namespace).Get(ctx, "istiod", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		idx := -1
		for i, ct := range d.Spec.Template.Spec.Containers {
			if ct.Name == "discovery" {
				idx = i
			}
		}
		Expect(idx).To(BeNumerically(">=", 0))
		patch := fmt.Sprintf(`[{"op":"add","path":"/spec/template/spec/containers/%d/env/-","value":{"name":"PILOT_REMOTE_CLUSTER_TIMEOUT","value":"0s"}}]`, idx)
		_, err = c.Clientset.AppsV1().Deployments(render.Namespace).Patch(ctx, "istiod", types.JSONPatchType, []byte(patch), metav1.PatchOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			By("restoring istiod's environment in " + primary)
			Expect(restore(ctx)).To(Succeed())
			d, err := c.Clientset.AppsV1().Deployments(render.Namespace).Get(ctx, "istiod", metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			var env []corev1.EnvVar
			for _, e := range d.Spec.Template.Spec.Containers[idx].Env {
				if e.Name != "PILOT_REMOTE_CLUSTER_TIMEOUT" {
					env = append(env, e)
				}
			}
			d.Spec.Template.Spec.Containers[idx].Env = env
			_, err = c.Clientset.AppsV1().Deployments(render.Namespace).Update(ctx, d, metav1.UpdateOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(c.RolloutRestart(ctx, render.Namespace, "istiod", 4*time.Minute)).To(Succeed())
			Eventually(ctx, func() error { return checks.Synced(ctx, f.m) }).WithTimeout(2 * time.Minute).Should(Succeed())
		}, NodeTimeout(8*time.Minute))
		start = time.Now()
		err = checks.ReadyDespiteBadSecrets(ctx, f.m, plan, primary, bad, 90*time.Second)
		failsWith(Default, err, "lifecycle", primary+"'s istiod did not become Ready within 1m30s after a restart with the bad remote secrets mc-bad-unreachable, mc-bad-no-rbac, mc-bad-exec-auth")
		GinkgoWriter.Printf("broken: diagnosed after %s\n", time.Since(start).Round(time.Second))
	}, NodeTimeout(15*time.Minute))
	It("drops a cluster's endpoints when its remote secrets are removed and has them again once restored", Label("lifecycle"), func(ctx SpecContext) {
		plan, _ := checks.PlanRotation(f.m)
		caller := checks.CallContinuously(ctx, f.m, plan.Source)
		defer caller.Stop()
		restore, err := checks.RemoveRemoteSecrets(ctx, f.m, plan)
		DeferCleanup(func(ctx SpecContext) { Expect(restore(ctx)).To(Succeed()) })
		Expect(err).NotTo(HaveOccurred())
		start := time.Now()
		Expect(checks.RemoteGone(ctx, f.m, plan, 2*time.Minute)).To(Succeed())
		GinkgoWriter.Printf("%s gone after %s\n", plan.Remote, time.Since(start).Round(time.Second))
		// Broken (while it is gone): the endpoints check names what is missing.
		failsWith(Default, checks.RemoteSyncedWithEndpoints(ctx, f.m, plan, 0), "lifecycle", plan.Remote+": not listed")
		Expect(restore(ctx)).To(Succeed())
		start = time.Now()
		err = checks.RemoteSyncedWithEndpoints(ctx, f.m, plan, 2*time.Minute)
		if err != nil {
			printIstiodLog(ctx, f, plan.Source, plan.Remote)
		}
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("%s back after %s\n", plan.Remote, time.Since(start).Round(time.Second))
	}, NodeTimeout(8*time.Minute))

}

// printIstiodLog prints the lines of primary's istiod log that mention cluster (what a failed restore needs).
func printIstiodLog(ctx context.Context, f *fixture, primary, cluster string) {
	cs := f.e.Clients[primary].Clientset
	pods, err := cs.CoreV1().Pods(render.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=istiod"})
	if err != nil {
		return
	}
	for _, p := range pods.Items {
		b, err := cs.CoreV1().Pods(render.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, cluster) || strings.Contains(l, "remote-secret") {
				GinkgoWriter.Printf("%s/%s: %s\n", primary, p.Name, l)
			}
		}
	}
}

// multiNetworkChecks runs inside the multi-primary-multi-network container, on its environment.
func multiNetworkChecks(f *fixture) {
	It("passes the checks that need no Envoy", func(ctx SpecContext) {
		Eventually(ctx, func() error { return checks.Synced(ctx, f.m) }).WithTimeout(2 * time.Minute).Should(Succeed())
		Expect(checks.SharedRoot(ctx, f.m)).To(Succeed())
		if table, err := checks.ConfigConsistent(ctx, f.m); err != nil {
			Fail(fmt.Sprintf("config-mesh-consistent on the healthy mesh:\n%v", err))
		} else {
			GinkgoWriter.Printf("mesh configuration:\n%s\n", table)
		}
		for _, c := range f.m.Names() {
			Expect(checks.GatewayAddress(ctx, f.m, c)).To(Succeed())
		}
		Expect(checks.Isolated(ctx, f.m, "cluster1", "cluster2", 3*time.Second)).To(Succeed())
		Expect(checks.Isolated(ctx, f.m, "cluster2", "cluster1", 3*time.Second)).To(Succeed())
		stop := checks.KeepCalling(ctx, f.m, "cluster1")
		defer stop()
		Eventually(ctx, func() error { return checks.Endpoints(ctx, f.m, "cluster1", []string{"cluster2"}) }).
			WithTimeout(2 * time.Minute).Should(Succeed())
	}, NodeTimeout(10*time.Minute))

	It("fails gateway reachability where the gateway pods cannot run", func(ctx SpecContext) {
		if f.m.GatewayReady("cluster2") {
			Skip("cluster2's east-west gateway runs here (Envoy available): this broken state does not exist")
		}
		failsWith(Default, checks.GatewayAnswers(ctx, f.m, "cluster1", "cluster2", 3*time.Second), "gateway", "cannot connect to")
	}, NodeTimeout(3*time.Minute))

	It("fails the gateway address check when the gateway loses its LoadBalancer", func(ctx SpecContext) {
		cs := f.e.Clients["cluster2"].Clientset
		patch := `{"spec":{"type":"ClusterIP"}}`
		_, err := cs.CoreV1().Services(render.Namespace).Patch(ctx, render.EastWestGatewayName, types.MergePatchType,
			[]byte(patch), metav1.PatchOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			_, err := cs.CoreV1().Services(render.Namespace).Patch(ctx, render.EastWestGatewayName, types.MergePatchType,
				[]byte(`{"spec":{"type":"LoadBalancer"}}`), metav1.PatchOptions{})
			Expect(err).NotTo(HaveOccurred())
			Eventually(ctx, func() error { return checks.GatewayAddress(ctx, f.m, "cluster2") }).
				WithTimeout(2 * time.Minute).Should(Succeed())
		})
		Eventually(func(g Gomega) {
			failsWith(g, checks.GatewayAddress(ctx, f.m, "cluster2"), "gateway", "has no LoadBalancer address")
		}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(time.Second).Should(Succeed())
	}, NodeTimeout(5*time.Minute))

	It("fails discovery when cluster2's workloads claim cluster1's network", func(ctx SpecContext) {
		// istiod takes an endpoint's network from its pod's topology.istio.io/network label (the injector copies it
		// from the namespace at admission): the label users get wrong when two places disagree.
		cs := f.e.Clients["cluster2"].Clientset
		pods, err := cs.CoreV1().Pods(f.m.Namespace).List(ctx, metav1.ListOptions{LabelSelector: workload.AppLabel + "=" + f.m.Service})
		Expect(err).NotTo(HaveOccurred())
		Expect(pods.Items).NotTo(BeEmpty())
		patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, render.NetworkLabel, f.m.Network("cluster1"))
		for _, p := range pods.Items {
			_, err := cs.CoreV1().Pods(f.m.Namespace).Patch(ctx, p.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
			Expect(err).NotTo(HaveOccurred())
		}
		DeferCleanup(func(ctx SpecContext) {
			// New pods get the namespace's label again.
			for _, p := range pods.Items {
				Expect(cs.CoreV1().Pods(f.m.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})).To(Succeed())
			}
			Expect(workload.WaitReady(ctx, f.e.Clients["cluster2"], f.m.Namespace, 3*time.Minute)).To(Succeed())
		}, NodeTimeout(5*time.Minute))
		stop := checks.KeepCalling(ctx, f.m, "cluster1")
		defer stop()
		Eventually(func(g Gomega) {
			failsWith(g, checks.Endpoints(ctx, f.m, "cluster1", []string{"cluster2"}), "discovery", "instead of its gateway")
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
	}, NodeTimeout(10*time.Minute))
}

// primaryRemoteChecks runs inside the primary-remote container, on its environment.
func primaryRemoteChecks(f *fixture) {
	It("passes every check on the healthy mesh", func(ctx SpecContext) {
		Eventually(ctx, func() error { return checks.Synced(ctx, f.m) }).WithTimeout(2 * time.Minute).Should(Succeed())
		Expect(checks.SharedRoot(ctx, f.m)).To(Succeed())
		if table, err := checks.ConfigConsistent(ctx, f.m); err != nil {
			Fail(fmt.Sprintf("config-mesh-consistent on the healthy mesh:\n%v", err))
		} else {
			GinkgoWriter.Printf("mesh configuration:\n%s\n", table)
		}
		Expect(checks.IstiodAnswers(ctx, f.m, "cluster2", 3*time.Second)).To(Succeed())
		for _, src := range f.m.Names() {
			v, err := checks.Balanced(ctx, f.m, src, f.m.ReachGroups(src), lb.MaxFalseAlarm, time.Minute)
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Printf("%s: %d warm-up calls, then %s\n", src, v.WarmupCalls, v.Reason)
		}
	}, NodeTimeout(10*time.Minute))

	It("fails the remote's istiod reachability when istiod's LoadBalancer Service is gone", func(ctx SpecContext) {
		if f.m.ExposeIstiod() != env.ExposeLoadBalancer {
			Skip("istiod is exposed through the gateway here; this broken state is for the LoadBalancer exposure")
		}
		cs := f.e.Clients["cluster1"].Clientset
		Expect(cs.CoreV1().Services(render.Namespace).Delete(ctx, render.IstiodLBServiceName, metav1.DeleteOptions{})).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(f.e.Up(ctx)).To(Succeed()) }, NodeTimeout(10*time.Minute))
		Eventually(func(g Gomega) {
			failsWith(g, checks.IstiodAnswers(ctx, f.m, "cluster2", 3*time.Second), "gateway", "cannot connect to")
		}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(2 * time.Second).Should(Succeed())
	}, NodeTimeout(15*time.Minute))
}
