package workload

import (
	"context"
	"testing"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
)

func TestPolicyObjects(t *testing.T) {
	pa := strictPeerAuthentication("dev", "echo", "echo")
	if pa.Name != "meshconform-strict" || pa.Namespace != "echo" || pa.Spec.Selector == nil || pa.Spec.Selector.MatchLabels["app"] != "echo" {
		t.Errorf("PeerAuthentication %s/%s selector %v: want echo/meshconform-strict selecting app=echo", pa.Namespace, pa.Name, pa.Spec.Selector)
	}
	if !env.OwnerOf(pa.Labels).Mine("dev") {
		t.Errorf("PeerAuthentication labels %v: not environment dev's", pa.Labels)
	}
	if pa.Spec.Mtls == nil || pa.Spec.Mtls.Mode != securityapi.PeerAuthentication_MutualTLS_STRICT {
		t.Errorf("mtls %v, want STRICT", pa.Spec.Mtls)
	}

	host := Host("echo", "echo")
	dr := mutualDestinationRule("dev", "echo", host)
	if dr.Namespace != "echo" || dr.Name != "mtls-echo-echo-svc-cluster-local" {
		t.Errorf("DestinationRule %s/%s", dr.Namespace, dr.Name)
	}
	if !env.OwnerOf(dr.Labels).Mine("dev") {
		t.Errorf("DestinationRule labels %v: not environment dev's", dr.Labels)
	}
	if dr.Spec.Host != "echo.echo.svc.cluster.local" {
		t.Errorf("host %q", dr.Spec.Host)
	}
	tp := dr.Spec.TrafficPolicy
	if tp == nil || tp.Tls == nil || tp.Tls.Mode != networkingapi.ClientTLSSettings_ISTIO_MUTUAL {
		t.Errorf("traffic policy %v, want tls ISTIO_MUTUAL", tp)
	}
	if sel := dr.Spec.WorkloadSelector; sel == nil || len(sel.MatchLabels) != 1 || sel.MatchLabels["app"] != "client" {
		t.Errorf("workloadSelector %v, want app=client", sel)
	}
	if len(dr.Spec.Subsets) != 0 || len(dr.Spec.ExportTo) != 0 {
		t.Errorf("unexpected subsets/exportTo in %v", &dr.Spec)
	}
	long := DestinationRuleName("a-very-long-service-name-that-goes-on.some-namespace-that-is-long.svc.cluster.local")
	if len(long) > 63 || long[len(long)-1] == '-' {
		t.Errorf("name %q is not a DNS label", long)
	}
}

func TestApplyAndRemovePolicies(t *testing.T) {
	ic := istiofake.NewSimpleClientset()
	old := istioClientFor
	istioClientFor = func(*kube.Client) (istioclient.Interface, error) { return ic, nil }
	defer func() { istioClientFor = old }()

	ctx := context.Background()
	c := &kube.Client{Name: "cluster1"}
	host := Host("echo", "echo")

	// A PERMISSIVE policy an earlier run of this environment left is turned STRICT, and the namespace-wide one older
	// versions applied is removed.
	legacy := strictPeerAuthentication("dev", "echo", "echo")
	legacy.Name, legacy.Spec.Selector = "default", nil
	if _, err := ic.SecurityV1().PeerAuthentications("echo").Create(ctx, legacy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	permissive := strictPeerAuthentication("dev", "echo", "echo")
	permissive.Spec.Mtls.Mode = securityapi.PeerAuthentication_MutualTLS_PERMISSIVE
	if _, err := ic.SecurityV1().PeerAuthentications("echo").Create(ctx, permissive, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := RequireMTLS(ctx, c, "dev", "echo"); err != nil {
			t.Fatal(err)
		}
		if err := ClientMTLS(ctx, c, "dev", "echo", host); err != nil {
			t.Fatal(err)
		}
	}
	pas, _ := ic.SecurityV1().PeerAuthentications("echo").List(ctx, metav1.ListOptions{})
	if len(pas.Items) != 1 || pas.Items[0].Spec.Mtls.Mode != securityapi.PeerAuthentication_MutualTLS_STRICT {
		t.Errorf("PeerAuthentications %d, mode %v", len(pas.Items), pas.Items[0].Spec.Mtls)
	}
	drs, _ := ic.NetworkingV1().DestinationRules("echo").List(ctx, metav1.ListOptions{})
	if len(drs.Items) != 1 || drs.Items[0].Spec.TrafficPolicy.Tls.Mode != networkingapi.ClientTLSSettings_ISTIO_MUTUAL {
		t.Errorf("DestinationRules %d", len(drs.Items))
	}

	for range 2 { // removing twice is fine
		if err := RemoveRequireMTLS(ctx, c, "echo"); err != nil {
			t.Fatal(err)
		}
		if err := RemoveClientMTLS(ctx, c, "echo", host); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ic.SecurityV1().PeerAuthentications("echo").Get(ctx, PeerAuthenticationName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("PeerAuthentication still there: %v", err)
	}
	if _, err := ic.NetworkingV1().DestinationRules("echo").Get(ctx, DestinationRuleName(host), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("DestinationRule still there: %v", err)
	}
}
