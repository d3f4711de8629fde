//go:build e2e

// The helm installer on real kind clusters with the offline images and the proxyless data plane: Istio's charts
// (those of the istio.io/istio module the kit builds) installed with helm, the same mesh checks as the istioctl
// installer's, and a second install that converges instead of failing.
package helm_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/e2e/e2eutil"
	"github.com/meshconform/meshconform/framework/clusters"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/install"
	"github.com/meshconform/meshconform/framework/istio"
	"github.com/meshconform/meshconform/framework/istio/installer"
	"github.com/meshconform/meshconform/framework/istio/istiod"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/topology"
	"github.com/meshconform/meshconform/framework/workload"
)

func TestMain(m *testing.M) {
	clusters.RunChildIfRequested()
	os.Exit(m.Run())
}

func TestHelm(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "helm installer (proxyless)")
}

const ns = workload.DefaultNamespace

type release struct {
	Name     string `json:"name"`
	Status   string `json:"status"`
	Revision string `json:"revision"`
}

// releases lists the helm releases in istio-system, by name.
func releases(ctx context.Context, helm string, c env.Cluster) map[string]release {
	out, err := exec.CommandContext(ctx, helm, "list", "-n", render.Namespace, "-o", "json", "--kubeconfig", c.Access.Kubeconfig).Output()
	Expect(err).NotTo(HaveOccurred(), "helm list in %s", c.Name)
	var list []release
	Expect(json.Unmarshal(out, &list)).To(Succeed())
	m := map[string]release{}
	for _, r := range list {
		m[r.Name] = r
	}
	return m
}

func helmCase(name string) {
	Describe(name, Ordered, Label("e2e", "helm", "proxyless", name), func() {
		var (
			e    *e2eutil.Mesh
			st   *env.State
			kcs  map[string]*kube.Client
			opts install.Options
		)
		target := workload.Target(env.DataPlaneProxyless, ns, workload.DefaultService, workload.DefaultPort)

		BeforeAll(func(ctx SpecContext) {
			// helm from PATH or the kit's bin-helm; the charts of the kit's Istio.
			e = e2eutil.MeshUp(ctx, name, istio.Options{Options: installer.Options{Installer: env.InstallerHelm}})
			st, kcs, opts = e.State, e.Clients, e.InstallOptions()
		}, NodeTimeout(45*time.Minute))

		It("installs Istio as helm releases: base and istiod everywhere, istiod running only in primaries", func(ctx SpecContext) {
			Expect(st.Mesh.Installer).To(Equal(env.InstallerHelm))
			// The kit's charts say 1.0.0 (development): the version recorded is the running istiod's.
			Expect(st.Mesh.IstioVersion).To(Equal(images.IstioVersion))
			for _, c := range st.Clusters {
				rels := releases(ctx, opts.Istio.Helm, c)
				for _, r := range []string{render.HelmReleaseBase, render.HelmReleaseIstiod} {
					Expect(rels).To(HaveKey(r), "%s: helm releases %v", c.Name, rels)
					Expect(rels[r].Status).To(Equal("deployed"), "%s: release %s", c.Name, r)
				}
				_, err := kcs[c.Name].Clientset.AppsV1().Deployments(render.Namespace).Get(ctx, "istiod", metav1.GetOptions{})
				if c.Role == topology.RolePrimary {
					Expect(err).NotTo(HaveOccurred(), "%s: no istiod", c.Name)
				} else {
					Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%s: the remote profile runs istiod (%v)", c.Name, err)
				}
			}
		}, NodeTimeout(2*time.Minute))

		It("has every primary report every cluster synced", func(ctx SpecContext) {
			var all []string
			for _, c := range st.Clusters {
				all = append(all, c.Name)
			}
			for _, c := range st.Clusters {
				if c.Role != topology.RolePrimary {
					continue
				}
				Eventually(func(g Gomega) {
					statuses, err := istiod.ClusterStatuses(ctx, kcs[c.Name], st.Mesh.IstiodRevision(c.Name))
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(istiod.SyncProblems(statuses, all)).To(BeEmpty(), "%s's istiod", c.Name)
				}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(2 * time.Second).Should(Succeed())
			}
		}, NodeTimeout(3*time.Minute))

		It("calls from every cluster reach the other, with mutual TLS carrying the caller's identity", func(ctx SpecContext) {
			want := workload.Identity(st.Mesh.TrustDomain, ns, workload.ClientName)
			for _, c := range st.Clusters {
				Expect(workload.RequireMTLS(ctx, kcs[c.Name], st.Name, ns)).To(Succeed())
			}
			for _, from := range st.Clusters {
				Expect(workload.ClientMTLS(ctx, kcs[from.Name], st.Name, ns, workload.Host(ns, workload.DefaultService))).To(Succeed())
				Eventually(func(g Gomega) {
					tally, err := workload.Call(ctx, kcs[from.Name], ns, target, 20, true)
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(tally.OK).To(Equal(20), "%+v", tally)
					for _, to := range st.Clusters {
						g.Expect(tally.ByCluster).To(HaveKey(to.Name), "no call from %s reached %s: %+v", from.Name, to.Name, tally)
					}
					g.Expect(tally.Peers).To(HaveKeyWithValue(want, 20), "servers did not all see the client's identity: %+v", tally)
				}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(3 * time.Second).Should(Succeed())
			}
		}, NodeTimeout(5*time.Minute))

		It("converges when installed again: releases upgraded in place, the mesh still serves", func(ctx SpecContext) {
			before := map[string]map[string]release{}
			for _, c := range st.Clusters {
				before[c.Name] = releases(ctx, opts.Istio.Helm, c)
			}
			Expect(install.Install(ctx, e.Topology, st, opts)).To(Succeed())
			for _, c := range st.Clusters {
				after := releases(ctx, opts.Istio.Helm, c)
				for name, r := range before[c.Name] {
					Expect(after[name].Status).To(Equal("deployed"), "%s: release %s after the second install", c.Name, name)
					Expect(after[name].Revision).NotTo(Equal(r.Revision), "%s: release %s was not upgraded", c.Name, name)
				}
			}
			Eventually(func(g Gomega) {
				tally, err := workload.Call(ctx, kcs["cluster1"], ns, target, 20, true)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(tally.OK).To(Equal(20), "%+v", tally)
				g.Expect(tally.ByCluster).To(HaveKey("cluster2"), "%+v", tally)
			}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(3 * time.Second).Should(Succeed())
		}, NodeTimeout(15*time.Minute))
	})
}

var _ = Describe("helm", func() {
	// primary-remote's helm values are covered by the golden files and `helm template` of the real charts; one
	// live topology keeps the CI run within its time budget.
	helmCase("multi-primary")
})
