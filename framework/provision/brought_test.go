package provision

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio"
	"github.com/meshconform/meshconform/framework/istio/render"
)

var (
	ours     = env.ObjectLabels("dev")
	theirs   = env.ObjectLabels("ci")
	unnamed  = map[string]string{env.ManagedByLabel: env.ManagedByValue}
	istioctl = &env.Mesh{Installer: env.InstallerIstioctl}
)

func obj(cluster, kind, ns, name string, l map[string]string) broughtObject {
	return broughtObject{Cluster: cluster, Kind: kind, Namespace: ns, Name: name, Labels: l}
}

// The decision: only this environment's objects go, phase by phase across clusters; every other one stays with a
// reason.
func TestPlanBroughtRemovalDeletesOnlyTheEnvironmentsOwn(t *testing.T) {
	sys := render.Namespace
	found := []broughtObject{
		obj("cluster1", kindNamespace, "", "echo", ours),
		obj("cluster1", kindSecret, sys, "cacerts", ours),
		obj("cluster1", kindSecret, sys, istio.ReaderTokenSecret, ours),
		obj("cluster1", kindSecret, sys, istio.RemoteSecretPrefix+"cluster2", ours),
		obj("cluster1", kindService, sys, render.IstiodLBServiceName, ours),
		obj("cluster1", kindNamespace, "", sys, ours),
		obj("cluster2", kindNamespace, "", "echo", nil),
		obj("cluster2", kindSecret, sys, "cacerts", nil),
		obj("cluster2", kindSecret, sys, istio.RemoteSecretPrefix+"cluster1", theirs),
		obj("cluster2", kindGateway, sys, render.CrossNetworkGatewayName, unnamed),
		obj("cluster2", kindGateway, sys, render.IstiodGatewayName, ours),
	}
	steps := planBroughtRemoval("dev", istioctl, found)
	var got []string
	for _, s := range steps {
		got = append(got, s.Line())
	}
	want := []string{
		"cluster1: deleting Namespace echo (a test namespace, with everything in it)",
		"cluster1: leaving Namespace istio-system alone: Istio runs in it: it goes when Istio is uninstalled",
		`cluster2: leaving Namespace echo alone: it is not meshconform's (no app.kubernetes.io/managed-by=meshconform label), not environment "dev"'s`,
		"cluster1: deleting Secret istio-system/istio-remote-secret-cluster2 (remote secret: istiod stops reading cluster2)",
		`cluster2: leaving Secret istio-system/istio-remote-secret-cluster1 alone: it is meshconform environment "ci"'s (meshconform.io/env=ci), not environment "dev"'s`,
		"cluster1: deleting Service istio-system/istiod-remote-lb (istiod's LoadBalancer for remotes)",
		`cluster2: leaving Gateway istio-system/cross-network-gateway alone: it is meshconform's from before environments had names (no meshconform.io/env label), not environment "dev"'s`,
		"cluster2: deleting Gateway istio-system/istiod-gateway (istiod exposed through the east-west gateway)",
		"cluster1: deleting Secret istio-system/" + istio.ReaderTokenSecret + " (the token other clusters' istiods read this cluster with)",
		"cluster1: deleting Secret istio-system/cacerts (intermediate CA; a running istiod keeps it until it restarts)",
		`cluster2: leaving Secret istio-system/cacerts alone: it is not meshconform's (no app.kubernetes.io/managed-by=meshconform label), not environment "dev"'s`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A mesh recorded as preinstalled is the user's: its cacerts and remote secrets stay even when labelled as the
// environment's (an earlier `up` that installed Istio wrote them, and the user's istiod may run on them); only the
// test namespaces go. No mesh at all (--no-mesh) is not preinstalled.
func TestPlanBroughtRemovalOfAPreinstalledMeshDeletesOnlyTestNamespaces(t *testing.T) {
	found := []broughtObject{
		obj("cluster1", kindSecret, render.Namespace, "cacerts", ours),
		obj("cluster1", kindSecret, render.Namespace, istio.RemoteSecretPrefix+"cluster2", ours),
		obj("cluster1", kindNamespace, "", "echo", ours),
	}
	s := planBroughtRemoval("dev", &env.Mesh{Installer: env.InstallerPreinstalled}, found)
	if len(s) != 3 || !s[0].Delete || s[0].Name != "echo" {
		t.Fatalf("preinstalled: %+v, want the namespace deleted first", s)
	}
	for _, k := range s[1:] {
		if k.Delete || !strings.Contains(k.Why, "preinstalled") {
			t.Errorf("preinstalled: %s", k.Line())
		}
	}
	for _, m := range []*env.Mesh{nil, istioctl, {Installer: env.InstallerHelm}} {
		for _, k := range planBroughtRemoval("dev", m, found) {
			if !k.Delete {
				t.Errorf("mesh %+v: %s", m, k.Line())
			}
		}
	}
}

func namespace(name string, l map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
}

func secretObj(name string, l map[string]string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: render.Namespace, Labels: l}}
}

// removeBrought against fake API servers: it finds by name and by label, deletes what is the environment's, and
// leaves everything else in place.
func TestRemoveBroughtDeletesThroughTheAPI(t *testing.T) {
	ctx := context.Background()
	kube1 := fake.NewClientset([]runtime.Object{
		namespace("echo", ours), namespace("sample", ours), namespace("team", nil), namespace(render.Namespace, ours),
		secretObj("cacerts", ours), secretObj(istio.ReaderTokenSecret, ours),
		secretObj(istio.RemoteSecretPrefix+"cluster2", ours), secretObj("user-secret", nil),
		secretObj(istio.RemoteSecretPrefix+"old", ours), // a peer no longer in the environment: found by its label
	}...)
	kube2 := fake.NewClientset([]runtime.Object{
		namespace("echo", theirs), secretObj("cacerts", nil), secretObj(istio.RemoteSecretPrefix+"cluster1", theirs),
	}...)
	ic1 := istiofake.NewSimpleClientset()
	gw := &networkingv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: render.CrossNetworkGatewayName, Namespace: render.Namespace, Labels: ours}}
	if _, err := ic1.NetworkingV1().Gateways(render.Namespace).Create(ctx, gw, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cs := []broughtCluster{
		{Name: "cluster1", Kube: kube1, Istio: ic1, Peers: []string{"cluster2"}},
		{Name: "cluster2", Kube: kube2, Istio: istiofake.NewSimpleClientset(), Peers: []string{"cluster1"}},
	}
	var out bytes.Buffer
	n, errs := removeBrought(ctx, "dev", istioctl, cs, &out, 5*time.Second)
	if len(errs) != 0 {
		t.Fatalf("errors: %v\n%s", errs, out.String())
	}
	if n != 7 {
		t.Errorf("deleted %d objects, want 7:\n%s", n, out.String())
	}
	names := func(c *fake.Clientset) (nss, secrets []string) {
		l, _ := c.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		for _, o := range l.Items {
			nss = append(nss, o.Name)
		}
		s, _ := c.CoreV1().Secrets(render.Namespace).List(ctx, metav1.ListOptions{})
		for _, o := range s.Items {
			secrets = append(secrets, o.Name)
		}
		slices.Sort(nss)
		slices.Sort(secrets)
		return nss, secrets
	}
	if nss, secrets := names(kube1); !slices.Equal(nss, []string{render.Namespace, "team"}) || !slices.Equal(secrets, []string{"user-secret"}) {
		t.Errorf("cluster1 keeps namespaces %v, secrets %v; want istio-system and team, user-secret", nss, secrets)
	}
	if nss, secrets := names(kube2); !slices.Equal(nss, []string{"echo"}) || len(secrets) != 2 {
		t.Errorf("cluster2 keeps namespaces %v, secrets %v; want everything (nothing there is dev's)", nss, secrets)
	}
	if l, _ := ic1.NetworkingV1().Gateways(render.Namespace).List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
		t.Errorf("cluster1's Gateway was kept")
	}
	text := out.String()
	for _, want := range []string{"cluster1: deleting Namespace sample", "cluster1: deleting Secret istio-system/istio-remote-secret-old",
		`cluster2: leaving Namespace echo alone: it is meshconform environment "ci"'s`,
		"cluster1: Istio, which meshconform installed with istioctl, stays"} {
		if !strings.Contains(text, want) {
			t.Errorf("output does not say %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "user-secret") || strings.Contains(text, "team") {
		t.Errorf("output mentions objects meshconform never names:\n%s", text)
	}
	if i, j := strings.Index(text, "deleting Namespace echo"), strings.Index(text, "deleting Secret istio-system/cacerts"); i < 0 || j < i {
		t.Errorf("cacerts is not deleted last:\n%s", text)
	}
}
