//go:build e2e

// A revisioned mesh: primary-remote installed with istioctl --revision canary (the kit's istioctl and images,
// proxyless), as a canary upgrade, sail-operator or a revision-only install leaves it. Every check passes on it;
// `meshconform run --installer preinstalled` on the clusters brought as your own discovers istiod-canary (not
// "istiod") and labels its test namespaces istio.io/rev=canary; and a test namespace that loses its revision label
// fails config-injection-revision naming the revision and the label to set.
package mesh_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	gtypes "github.com/onsi/ginkgo/v2/types"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/meshconform/meshconform/e2e/e2eutil"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/lb"
	"github.com/meshconform/meshconform/framework/workload"
	"github.com/meshconform/meshconform/suites/checks"
)

const canaryRevision = "canary"

var _ = Describe("primary-remote as revision canary", Ordered, Label("e2e", "mesh", "proxyless", "revision"), func() {
	var f fixture

	BeforeAll(func(ctx SpecContext) {
		f.e = e2eutil.MeshUp(ctx, "primary-remote", istio.Options{Revision: canaryRevision})
		m, err := checks.Connect(f.e.State)
		Expect(err).NotTo(HaveOccurred())
		f.m = m
	}, NodeTimeout(45*time.Minute))

	It("runs istiod-canary only, injects every test workload by revision canary with its grpc-agent template, and passes every check", func(ctx SpecContext) {
		st := f.e.State
		Expect(st.Mesh.Revision).To(Equal(canaryRevision))
		for _, c := range st.Clusters {
			cs := f.e.Clients[c.Name].Clientset
			in := st.Mesh.InjectionOf(c.Name)
			Expect(in).To(Equal(env.Injection{Label: render.RevisionLabel, Value: canaryRevision, Revision: canaryRevision,
				Webhook: "istio-sidecar-injector-canary"}), "%s's injection", c.Name)
			_, err := cs.AppsV1().Deployments(render.Namespace).Get(ctx, "istiod", metav1.GetOptions{})
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%s: a Deployment istiod beside istiod-canary: %v", c.Name, err)
			if c.Role == env.RolePrimary {
				Expect(st.Mesh.Clusters[c.Name].Istiods).To(HaveLen(1))
				Expect(st.Mesh.Clusters[c.Name].Istiods[0].Deployment).To(Equal("istiod-canary"))
				Expect(st.Mesh.Clusters[c.Name].Istiods[0].Version).NotTo(BeEmpty())
			}
			ns, err := cs.CoreV1().Namespaces().Get(ctx, workload.DefaultNamespace, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(ns.Labels).To(HaveKeyWithValue(render.RevisionLabel, canaryRevision))
			Expect(ns.Labels).NotTo(HaveKey(render.InjectionLabel))
			pods, err := cs.CoreV1().Pods(workload.DefaultNamespace).List(ctx, metav1.ListOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(pods.Items).NotTo(BeEmpty())
			for _, p := range pods.Items {
				Expect(workload.InjectedRevision(&p)).To(Equal(canaryRevision), "%s/%s", c.Name, p.Name)
				Expect(p.Annotations).To(HaveKeyWithValue(workload.TemplatesAnnotation, workload.GRPCAgentTemplate))
				// The revision's injector points the agent at its own istiod.
				var proxyConfig string
				for _, ctr := range p.Spec.Containers {
					for _, e := range ctr.Env {
						if ctr.Name == workload.ProxyContainer && e.Name == "PROXY_CONFIG" {
							proxyConfig = e.Value
						}
					}
				}
				Expect(proxyConfig).To(ContainSubstring("istiod-canary.istio-system.svc:15012"), "%s/%s's agent", c.Name, p.Name)
			}
		}
		Eventually(ctx, func() error { return checks.Synced(ctx, f.m) }).WithTimeout(2 * time.Minute).Should(Succeed())
		Expect(checks.SharedRoot(ctx, f.m)).To(Succeed())
		Expect(checks.InjectionRevision(ctx, f.m)).To(Succeed())
		GinkgoWriter.Printf("injection:\n%s\n", checks.InjectionTable(f.m.State))
		table, err := checks.ConfigConsistent(ctx, f.m)
		Expect(err).NotTo(HaveOccurred(), "config-mesh-consistent on the healthy revisioned mesh:\n%s", table)
		GinkgoWriter.Printf("mesh configuration:\n%s\n", table)
		Expect(table).To(MatchRegexp(`cluster2 .*by cluster1's istiod`), "the remote's injector is its primary's istiod")
		Expect(checks.IstiodAnswers(ctx, f.m, "cluster2", 3*time.Second)).To(Succeed())
		for _, src := range f.m.Names() {
			v, err := checks.Balanced(ctx, f.m, src, f.m.ReachGroups(src), lb.MaxFalseAlarm, time.Minute)
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Printf("%s: %d warm-up calls, then %s\n", src, v.WarmupCalls, v.Reason)
		}
	}, NodeTimeout(10*time.Minute))

	It("dumps the revision's real objects the discovery unit tests read", func(ctx SpecContext) {
		// Not an assertion on the mesh: the Deployments and webhooks as this Istio writes them, for
		// framework/istio/istiod/testdata (MESHCONFORM_DUMP_REVISIONS=dir).
		dir := os.Getenv("MESHCONFORM_DUMP_REVISIONS")
		if dir == "" {
			Skip("set MESHCONFORM_DUMP_REVISIONS=<dir> to write the revision's objects")
		}
		for _, c := range f.e.State.Clusters {
			cs := f.e.Clients[c.Name].Clientset
			var docs []string
			add := func(o any) {
				b, err := yaml.Marshal(o)
				Expect(err).NotTo(HaveOccurred())
				docs = append(docs, string(b))
			}
			deps, err := cs.AppsV1().Deployments(render.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=istiod"})
			Expect(err).NotTo(HaveOccurred())
			for _, d := range deps.Items {
				d.APIVersion, d.Kind, d.ManagedFields, d.Status = "apps/v1", "Deployment", nil, appsv1.DeploymentStatus{}
				add(d)
			}
			whs, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, metav1.ListOptions{LabelSelector: "app=sidecar-injector"})
			Expect(err).NotTo(HaveOccurred())
			for _, w := range whs.Items {
				w.APIVersion, w.Kind, w.ManagedFields = "admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", nil
				for i := range w.Webhooks {
					w.Webhooks[i].ClientConfig.CABundle = nil // the cluster's CA: not needed, and long
				}
				add(w)
			}
			Expect(os.WriteFile(filepath.Join(dir, c.Name+".yaml"), []byte(strings.Join(docs, "---\n")), 0o644)).To(Succeed())
		}
	})

	It("runs `meshconform run --installer preinstalled --revision canary` on these clusters brought as your own, and refuses a revision they do not run", func(ctx SpecContext) {
		bin := buildBinary(ctx)
		dir := GinkgoT().TempDir()
		var b strings.Builder
		b.WriteString("apiVersion: meshconform.io/v1alpha1\nkind: Topology\nmetadata:\n  name: byo-revisioned\nspec:\n  clusters:\n")
		for _, c := range f.e.State.Clusters {
			fmt.Fprintf(&b, "  - name: %s\n    role: %s\n    network: %s\n", c.Name, c.Role, c.Network)
			if c.Primary != "" {
				fmt.Fprintf(&b, "    primary: %s\n", c.Primary)
			}
			fmt.Fprintf(&b, "    kubeconfig: %s\n    context: %s\n", c.Access.Kubeconfig, c.Access.Context)
		}
		topoFile := filepath.Join(dir, "byo.yaml")
		Expect(os.WriteFile(topoFile, []byte(b.String()), 0o600)).To(Succeed())

		// The brought run is another environment: this environment's test workloads go first (a
		// namespace of another environment would be refused before the revision is looked at), and come back at the end.
		for _, c := range f.e.State.Clusters {
			Expect(workload.Remove(ctx, f.e.Clients[c.Name], workload.DefaultNamespace)).To(Succeed())
		}
		Eventually(func(g Gomega) {
			for _, c := range f.e.State.Clusters {
				_, err := f.e.Clients[c.Name].Clientset.CoreV1().Namespaces().Get(ctx, workload.DefaultNamespace, metav1.GetOptions{})
				g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%s: namespace %s: %v (terminating?)", c.Name, workload.DefaultNamespace, err)
			}
		}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			By("restoring the workloads the run's down removed")
			Expect(f.e.Up(ctx)).To(Succeed())
		}, NodeTimeout(10*time.Minute))
		By("naming a revision the clusters do not run: refused before anything is written, naming what runs")
		bad := exec.CommandContext(ctx, bin, "up", "--topology", topoFile, "--installer", "preinstalled", "--revision", "stable",
			"--state-dir", filepath.Join(dir, "bad"), "--skip-preflight")
		var badOut bytes.Buffer
		bad.Stdout, bad.Stderr = io.MultiWriter(GinkgoWriter, &badOut), io.MultiWriter(GinkgoWriter, &badOut)
		Expect(bad.Run()).NotTo(Succeed())
		Expect(badOut.String()).To(ContainSubstring(`--revision stable: cluster1: revision "stable" not found: it runs revision canary (istiod-canary`))
		for _, c := range f.e.State.Clusters {
			_, err := f.e.Clients[c.Name].Clientset.CoreV1().Namespaces().Get(ctx, workload.DefaultNamespace, metav1.GetOptions{})
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%s: the refused run made the test namespace (%v)", c.Name, err)
		}
		down := exec.CommandContext(ctx, bin, "down", "--state-dir", filepath.Join(dir, "bad"))
		down.Stdout, down.Stderr = GinkgoWriter, GinkgoWriter
		Expect(down.Run()).To(Succeed())

		before := fingerprintIstio(ctx, f.e)

		By("naming revision canary: discovered, test namespaces labelled istio.io/rev=canary, every spec that runs here passes")
		reportDir := filepath.Join(dir, "report")
		began := time.Now()
		cmd := exec.CommandContext(ctx, bin, "run", "--topology", topoFile, "--installer", "preinstalled", "--revision", canaryRevision,
			"--state-dir", filepath.Join(dir, "state"), "--report-dir", reportDir, "--skip-preflight")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.MultiWriter(GinkgoWriter, &out), GinkgoWriter
		Expect(cmd.Run()).To(Succeed(), "meshconform run against the brought revisioned clusters failed: see the output above")
		GinkgoWriter.Printf("brought revisioned run: %s\n", time.Since(began).Round(time.Second))
		Expect(fingerprintIstio(ctx, f.e)).To(Equal(before), "the run changed istio-system or kube-system of clusters it was given")
		Expect(out.String()).To(ContainSubstring("cluster1: preinstalled istiod revision canary"))
		Expect(out.String()).To(ContainSubstring("test namespaces labelled istio.io/rev=canary"))
		Expect(out.String()).To(ContainSubstring("injected by revision canary (istio.io/rev=canary)"))
		Expect(specStates(filepath.Join(reportDir, "ginkgo-report.json"))).To(
			HaveKeyWithValue("injects every test workload by the istiod revision under test", "passed"))

		var report struct {
			Implementation struct {
				Revision string `json:"revision"`
			} `json:"implementation"`
			Topology struct {
				Clusters []struct {
					Name      string `json:"name"`
					Injection struct {
						Label, Revision string
					} `json:"injection"`
					Istiods []struct {
						Revision, Deployment, Version string
					} `json:"istiods"`
				} `json:"clusters"`
			} `json:"topology"`
		}
		raw, err := os.ReadFile(filepath.Join(reportDir, "conformance-report.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(yaml.Unmarshal(raw, &report)).To(Succeed())
		Expect(report.Implementation.Revision).To(Equal(canaryRevision))
		for _, c := range report.Topology.Clusters {
			Expect(c.Injection.Label).To(Equal("istio.io/rev=canary"), c.Name)
			Expect(c.Injection.Revision).To(Equal(canaryRevision), c.Name)
			if c.Name == "cluster1" {
				Expect(c.Istiods).To(HaveLen(1))
				Expect(c.Istiods[0].Deployment).To(Equal("istiod-canary"))
				Expect(c.Istiods[0].Version).NotTo(BeEmpty())
			}
		}
	}, NodeTimeout(25*time.Minute))

	It("fails config-injection-revision when cluster2's test namespace loses its revision label, naming the revision and the label", func(ctx SpecContext) {
		cs := f.e.Clients["cluster2"].Clientset
		Expect(checks.InjectionRevision(ctx, f.m)).To(Succeed(), "healthy before the break")
		// ctx is the caller's: the cleanup runs after the spec's own context has ended.
		patch := func(ctx context.Context, value any) {
			b, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{render.RevisionLabel: value}}})
			Expect(err).NotTo(HaveOccurred())
			_, err = cs.CoreV1().Namespaces().Patch(ctx, workload.DefaultNamespace, types.MergePatchType, b, metav1.PatchOptions{})
			Expect(err).NotTo(HaveOccurred())
		}
		DeferCleanup(func(ctx SpecContext) {
			patch(ctx, canaryRevision)
			restartWorkloads(ctx, f.e, "cluster2")
			Expect(checks.InjectionRevision(ctx, f.m)).To(Succeed(), "after the restore")
		}, NodeTimeout(5*time.Minute))

		By("removing istio.io/rev from cluster2's namespace")
		patch(ctx, nil)
		err := checks.InjectionRevision(ctx, f.m)
		failsWith(Default, err, "config", "namespace echo has no istio.io/rev label (wants istio.io/rev=canary): nothing injects it")
		Expect(err.Error()).To(ContainSubstring("cluster2 (revision canary, istio.io/rev=canary)"))
		Expect(err.Error()).To(ContainSubstring("label namespace echo --overwrite istio.io/rev=canary istio-injection-"))

		By("labelling it for a revision that is not there and restarting its pods: they come up uninjected")
		patch(ctx, "stable")
		pods := cs.CoreV1().Pods(workload.DefaultNamespace)
		Expect(pods.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})).To(Succeed())
		Eventually(func(g Gomega) {
			failsWith(g, checks.InjectionRevision(ctx, f.m), "config", "namespace echo carries istio.io/rev=stable, not istio.io/rev=canary")
			failsWith(g, checks.InjectionRevision(ctx, f.m), "config", "was not injected")
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
	}, NodeTimeout(10*time.Minute))
})

// specStates maps each It's text to its state ("passed", "failed", ...) in a Ginkgo JSON report.
func specStates(path string) map[string]string {
	raw, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	var suites []gtypes.Report
	Expect(json.Unmarshal(raw, &suites)).To(Succeed())
	out := map[string]string{}
	for _, r := range suites {
		for _, sr := range r.SpecReports {
			if sr.LeafNodeType == gtypes.NodeTypeIt {
				out[sr.LeafNodeText] = sr.State.String()
			}
		}
	}
	return out
}
