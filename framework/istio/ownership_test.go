package istio

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/topology"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPlannedWritesNameEveryObjectInstallWrites(t *testing.T) {
	top, err := topology.Builtin("primary-remote-multi-network")
	if err != nil {
		t.Fatal(err)
	}
	ref := func(cluster, kind, name string) objectRef {
		return objectRef{Cluster: cluster, Kind: kind, Namespace: render.Namespace, Name: name}
	}
	for _, c := range []struct {
		expose env.IstiodExposure
		want   []objectRef
	}{
		{env.ExposeLoadBalancer, []objectRef{
			ref("cluster1", kindSecret, "cacerts"),
			ref("cluster1", kindGateway, render.CrossNetworkGatewayName),
			ref("cluster1", kindService, render.IstiodLBServiceName),
			ref("cluster1", kindSecret, "istio-remote-secret-cluster2"),
			ref("cluster2", kindSecret, ReaderTokenSecret),
			ref("cluster2", kindGateway, render.CrossNetworkGatewayName),
		}},
		{env.ExposeGateway, []objectRef{
			ref("cluster1", kindSecret, "cacerts"),
			ref("cluster1", kindGateway, render.CrossNetworkGatewayName),
			ref("cluster1", kindGateway, render.IstiodGatewayName),
			ref("cluster1", kindVirtualService, render.IstiodVirtualServiceName),
			ref("cluster1", kindSecret, "istio-remote-secret-cluster2"),
			ref("cluster2", kindSecret, ReaderTokenSecret),
			ref("cluster2", kindGateway, render.CrossNetworkGatewayName),
		}},
	} {
		got := plannedWrites(top, render.Plan(top, render.PlanOptions{ExposeIstiod: c.expose}), c.expose)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got %v\nwant %v", c.expose, got, c.want)
		}
	}
	// A preinstalled mesh is verified, not written.
	pre := render.Plan(top, render.PlanOptions{ExposeIstiod: env.ExposeLoadBalancer, Preinstalled: true})
	if got := plannedWrites(top, pre, env.ExposeLoadBalancer); len(got) != 0 {
		t.Errorf("preinstalled: %v, want nothing", got)
	}
}

func secret(name string, labels map[string]string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: render.Namespace, Labels: labels},
		Data: map[string][]byte{"x": []byte("y")}}
}

// The check before anything is written names every object it refuses, in every cluster, and the flag.
func TestCheckOwnershipRefusesEveryForeignObjectBeforeWriting(t *testing.T) {
	ctx := context.Background()
	r := &run{claim: testClaim, clients: map[string]*kube.Client{
		"cluster1": fakeCluster("cluster1", secret("cacerts", nil), secret("istio-remote-secret-cluster2", env.ObjectLabels("test"))),
		"cluster2": fakeCluster("cluster2", secret(ReaderTokenSecret, env.ObjectLabels("ci"))),
	}}
	refs := []objectRef{
		{Cluster: "cluster1", Kind: kindSecret, Namespace: render.Namespace, Name: "cacerts"},
		{Cluster: "cluster1", Kind: kindSecret, Namespace: render.Namespace, Name: "istio-remote-secret-cluster2"},
		{Cluster: "cluster1", Kind: kindService, Namespace: render.Namespace, Name: render.IstiodLBServiceName},
		{Cluster: "cluster2", Kind: kindSecret, Namespace: render.Namespace, Name: ReaderTokenSecret},
		{Cluster: "cluster2", Kind: kindGateway, Namespace: render.Namespace, Name: render.CrossNetworkGatewayName},
	}
	err := r.checkOwnership(ctx, refs)
	if err == nil {
		t.Fatal("no refusal")
	}
	msg := err.Error()
	for _, want := range []string{"cluster1: refusing to overwrite Secret istio-system/cacerts: it is not meshconform's",
		`cluster2: refusing to overwrite Secret istio-system/` + ReaderTokenSecret + `: it is meshconform environment "ci"'s`,
		env.AdoptFlag} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "istio-remote-secret-cluster2") {
		t.Errorf("refused the environment's own remote secret: %s", msg)
	}
	r.claim.Adopt = true
	if err := r.checkOwnership(ctx, refs); err != nil {
		t.Errorf("with adopt: %v", err)
	}
}

func TestApplyRemoteSecretRefusesOrAdopts(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		labels map[string]string
		adopt  bool
		refuse string
	}{
		{"unlabelled", map[string]string{MultiClusterLabel: "true"}, false, "not meshconform's"},
		{"another environment's", env.ObjectLabels("ci"), false, `environment "ci"`},
		{"unlabelled, adopted", map[string]string{MultiClusterLabel: "true"}, true, ""},
		{"unnamed meshconform's", map[string]string{render.ManagedByLabel: render.ManagedByValue}, false, ""},
		{"ours", env.ObjectLabels("test"), false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := fakeCluster("cluster1", secret("istio-remote-secret-cluster2", c.labels))
			wrote, err := ApplyRemoteSecret(ctx, p, env.Claimant{Env: "test", Adopt: c.adopt}, RemoteSecret("cluster2", []byte("kc"), "test"))
			got, gerr := p.Clientset.CoreV1().Secrets(render.Namespace).Get(ctx, "istio-remote-secret-cluster2", metav1.GetOptions{})
			if gerr != nil {
				t.Fatal(gerr)
			}
			if c.refuse != "" {
				var refused *env.RefusedError
				if !errors.As(err, &refused) || wrote || !strings.Contains(err.Error(), c.refuse) ||
					!strings.Contains(err.Error(), env.AdoptFlag) || string(got.Data["x"]) != "y" {
					t.Fatalf("wrote=%v err=%v data=%v: want a refusal saying %q and the secret untouched", wrote, err, got.Data, c.refuse)
				}
				return
			}
			if err != nil || !wrote || string(got.Data["cluster2"]) != "kc" || !env.OwnerOf(got.Labels).Mine("test") {
				t.Fatalf("wrote=%v err=%v labels=%v: want it written and labelled as test's", wrote, err, got.Labels)
			}
		})
	}
}

func TestReaderTokenRefusesAForeignTokenSecret(t *testing.T) {
	ctx := context.Background()
	foreign := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: ReaderTokenSecret, Namespace: render.Namespace,
			Annotations: map[string]string{corev1.ServiceAccountNameKey: ReaderServiceAccount}},
		Type: corev1.SecretTypeServiceAccountToken,
		Data: map[string][]byte{corev1.ServiceAccountTokenKey: []byte("theirs")},
	}
	_, err := ReaderToken(ctx, fakeCluster("cluster2", readerSA("1"), foreign), testClaim, 5e9)
	if err == nil || !strings.Contains(err.Error(), ReaderTokenSecret) || !strings.Contains(err.Error(), env.AdoptFlag) {
		t.Fatalf("err = %v, want a refusal naming the secret and the flag", err)
	}
	c := fakeCluster("cluster2", readerSA("1"), foreign.DeepCopy())
	tok, err := ReaderToken(ctx, c, env.Claimant{Env: "test", Adopt: true}, 5e9)
	if err != nil || string(tok) != "theirs" {
		t.Fatalf("adopt: token %q err %v", tok, err)
	}
	s, _ := c.Clientset.CoreV1().Secrets(render.Namespace).Get(ctx, ReaderTokenSecret, metav1.GetOptions{})
	if !env.OwnerOf(s.Labels).Mine("test") {
		t.Errorf("adopted token secret labels %v", s.Labels)
	}
}

// gatewayClientset is a fake holding gw, created through the client (the fake's tracker does not find typed Istio
// objects handed to NewSimpleClientset).
func gatewayClientset(t *testing.T, gw *networkingv1.Gateway) *istiofake.Clientset {
	t.Helper()
	ic := istiofake.NewSimpleClientset()
	if _, err := ic.NetworkingV1().Gateways(gw.Namespace).Create(context.Background(), gw, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ic
}

func TestApplyGatewayRefusesAForeignGatewayAndLabelsAnUnnamedOne(t *testing.T) {
	ctx := context.Background()
	theirs := render.CrossNetworkGateway("test")
	theirs.Labels = map[string]string{"team": "mesh"}
	ic := gatewayClientset(t, theirs)
	err := applyGateway(ctx, ic, testClaim, "cluster1", render.CrossNetworkGateway("test"))
	if err == nil || !strings.Contains(err.Error(), "Gateway istio-system/"+render.CrossNetworkGatewayName) {
		t.Fatalf("err = %v, want a refusal naming the Gateway", err)
	}

	unnamed := render.CrossNetworkGateway("test")
	unnamed.Labels = map[string]string{render.ManagedByLabel: render.ManagedByValue}
	ic = gatewayClientset(t, unnamed)
	if err := applyGateway(ctx, ic, testClaim, "cluster1", render.CrossNetworkGateway("test")); err != nil {
		t.Fatal(err)
	}
	got, err := ic.NetworkingV1().Gateways(render.Namespace).Get(ctx, render.CrossNetworkGatewayName, metav1.GetOptions{})
	if err != nil || !env.OwnerOf(got.Labels).Mine("test") {
		t.Errorf("labels %v err %v: an unnamed Gateway of meshconform's with the same spec gets the environment's labels", got.Labels, err)
	}
}
