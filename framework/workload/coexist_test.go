package workload

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
)

func userDR(name, ns, host string, sel map[string]string, tp *networkingapi.TrafficPolicy) *networkingv1.DestinationRule {
	dr := &networkingv1.DestinationRule{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"team": "a"}}}
	dr.Spec.Host = host
	if sel != nil {
		dr.Spec.WorkloadSelector = &typeapi.WorkloadSelector{MatchLabels: sel}
	}
	dr.Spec.TrafficPolicy = tp
	return dr
}

func locality() *networkingapi.TrafficPolicy {
	return &networkingapi.TrafficPolicy{
		LoadBalancer:     &networkingapi.LoadBalancerSettings{LocalityLbSetting: &networkingapi.LocalityLoadBalancerSetting{}},
		OutlierDetection: &networkingapi.OutlierDetection{},
	}
}

func mutual() *networkingapi.TrafficPolicy {
	return &networkingapi.TrafficPolicy{Tls: &networkingapi.ClientTLSSettings{Mode: networkingapi.ClientTLSSettings_ISTIO_MUTUAL}}
}

func names(rs []Rule) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Namespace+"/"+r.Name)
	}
	return out
}

func TestDestinationRuleConflicts(t *testing.T) {
	host := Host("echo", "echo")
	client := map[string]string{"app": "client", "pod-template-hash": "x"}
	mine := mutualDestinationRule("dev", "echo", host)
	other := mutualDestinationRule("other", "echo", host)
	other.Name = "other-env"
	exportedElsewhere := userDR("exported-elsewhere", "echo", "echo", nil, locality())
	exportedElsewhere.Spec.ExportTo = []string{"other-ns"}
	rules := []*networkingv1.DestinationRule{
		mine,
		userDR("locality", "echo", "echo", nil, locality()),                                // catch-all, short host: coexists
		userDR("fqdn", "echo", host, nil, locality()),                                      // catch-all, FQDN: coexists
		userDR("wildcard", "echo", "*.echo.svc.cluster.local", map[string]string{}, nil),   // wildcard: an exact host wins
		userDR("other-host", "echo", "other", map[string]string{"app": "client"}, nil),     // another host
		userDR("elsewhere", "istio-system", host, map[string]string{"app": "client"}, nil), // another namespace
		exportedElsewhere, // not in its own namespace's index
		userDR("for-others", "echo", host, map[string]string{"app": "other"}, locality()),       // selects other pods
		userDR("client-mtls", "echo", host, map[string]string{"app": "client"}, mutual()),       // selects ours, already mTLS
		userDR("client-subsets", "echo", host, map[string]string{"app": "client"}, nil),         // equal selector, no policy: merged
		userDR("client-locality", "echo", host, map[string]string{"app": "client"}, locality()), // conflict
		userDR("every-pod", "echo", host, map[string]string{}, &networkingapi.TrafficPolicy{
			Tls: &networkingapi.ClientTLSSettings{Mode: networkingapi.ClientTLSSettings_DISABLE}}), // conflict: selects every pod
		other, // another environment's ISTIO_MUTUAL rule for the client pods: harmless
	}
	conflicts, coexisting := DestinationRuleConflicts(rules, "dev", "echo", host, client, DefaultPort, networkingapi.ClientTLSSettings_ISTIO_MUTUAL)
	if got, want := strings.Join(names(conflicts), " "), "echo/client-locality echo/every-pod"; got != want {
		t.Errorf("conflicts %q, want %q", got, want)
	}
	if got, want := strings.Join(names(coexisting), " "), "echo/client-mtls echo/client-subsets echo/fqdn echo/locality echo/other-env"; got != want {
		t.Errorf("coexisting %q, want %q", got, want)
	}
	for _, r := range conflicts {
		if r.Name == "client-locality" {
			for _, w := range []string{"DestinationRule echo/client-locality", "host " + host, "workloadSelector app=client",
				"loadBalancer.localityLbSetting", "outlierDetection", "no tls", "would be ignored"} {
				if !strings.Contains(r.String(), w) {
					t.Errorf("%q lacks %q", r, w)
				}
			}
		}
	}

	// A port-level setting for the port replaces the top level's TLS.
	portLevel := userDR("port-level", "echo", host, map[string]string{"app": "client"}, mutual())
	portLevel.Spec.TrafficPolicy.PortLevelSettings = []*networkingapi.TrafficPolicy_PortTrafficPolicy{
		{Port: &networkingapi.PortSelector{Number: uint32(DefaultPort)}, LoadBalancer: &networkingapi.LoadBalancerSettings{}}}
	conflicts, _ = DestinationRuleConflicts([]*networkingv1.DestinationRule{portLevel}, "dev", "echo", host, client, DefaultPort, networkingapi.ClientTLSSettings_ISTIO_MUTUAL)
	if len(conflicts) != 1 {
		t.Errorf("a port-level setting without tls for %d: conflicts %v", DefaultPort, conflicts)
	}

	// Subsets (wantTLS DISABLE): any rule selecting the client pods decides instead.
	conflicts, _ = DestinationRuleConflicts(rules, "dev", "echo", host, client, DefaultPort, networkingapi.ClientTLSSettings_DISABLE)
	if got, want := strings.Join(names(conflicts), " "), "echo/client-locality echo/client-mtls echo/client-subsets echo/every-pod echo/other-env"; got != want {
		t.Errorf("subset conflicts %q, want %q", got, want)
	}
}

func userPA(name, ns string, created time.Time, sel map[string]string, mode securityapi.PeerAuthentication_MutualTLS_Mode, ports map[uint32]securityapi.PeerAuthentication_MutualTLS_Mode) *securityv1.PeerAuthentication {
	pa := &securityv1.PeerAuthentication{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, CreationTimestamp: metav1.NewTime(created)}}
	if sel != nil {
		pa.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: sel}
	}
	pa.Spec.Mtls = &securityapi.PeerAuthentication_MutualTLS{Mode: mode}
	for p, m := range ports {
		if pa.Spec.PortLevelMtls == nil {
			pa.Spec.PortLevelMtls = map[uint32]*securityapi.PeerAuthentication_MutualTLS{}
		}
		pa.Spec.PortLevelMtls[p] = &securityapi.PeerAuthentication_MutualTLS{Mode: m}
	}
	return pa
}

func TestPeerAuthenticationConflicts(t *testing.T) {
	const (
		strict     = securityapi.PeerAuthentication_MutualTLS_STRICT
		permissive = securityapi.PeerAuthentication_MutualTLS_PERMISSIVE
		disable    = securityapi.PeerAuthentication_MutualTLS_DISABLE
		unset      = securityapi.PeerAuthentication_MutualTLS_UNSET
	)
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	servers := []map[string]string{{"app": "echo"}, {"app": "echo", "version": "v1"}}
	port := uint32(DefaultPort)
	mine := strictPeerAuthentication("dev", "echo", "echo")
	pas := []*securityv1.PeerAuthentication{
		mine,
		userPA("ns-permissive", "echo", t0, nil, permissive, nil),                                                                                                                   // namespace-level: coexists
		userPA("mesh", "istio-system", t0, nil, permissive, nil),                                                                                                                    // mesh-level: coexists
		userPA("root-workload", "istio-system", t0, map[string]string{"app": "echo"}, disable, nil),                                                                                 // ignored by Istio
		userPA("other-app", "echo", t0, map[string]string{"app": "other"}, disable, nil),                                                                                            // another workload
		userPA("v1-strict", "echo", t0, map[string]string{"version": "v1"}, strict, nil),                                                                                            // keeps STRICT
		userPA("v1-port-disable", "echo", t0.Add(time.Second), map[string]string{"version": "v1"}, strict, map[uint32]securityapi.PeerAuthentication_MutualTLS_Mode{port: disable}), // conflict
		userPA("echo-unset", "echo", t0.Add(2*time.Second), map[string]string{"app": "echo"}, unset, nil),                                                                           // inherits PERMISSIVE: conflict
		userPA("other-port", "echo", t0.Add(3*time.Second), map[string]string{"app": "echo"}, strict, map[uint32]securityapi.PeerAuthentication_MutualTLS_Mode{9999: disable}),      // keeps 8080 STRICT
	}
	conflicts, coexisting := PeerAuthenticationConflicts(pas, "dev", "echo", "istio-system", servers, port)
	if got, want := strings.Join(names(conflicts), " "), "echo/v1-port-disable echo/echo-unset"; got != want {
		t.Errorf("conflicts %q, want %q", got, want)
	}
	if got, want := strings.Join(names(coexisting), " "), "istio-system/mesh echo/ns-permissive echo/v1-strict echo/other-port"; got != want {
		t.Errorf("coexisting %q, want %q", got, want)
	}
	if s := conflicts[1].String(); !strings.Contains(s, "selector app=echo") || !strings.Contains(s, "stay PERMISSIVE instead of STRICT") {
		t.Errorf("diagnosis %q", s)
	}

	// A STRICT namespace policy is inherited by a workload-level UNSET.
	pas = []*securityv1.PeerAuthentication{userPA("ns-strict", "echo", t0, nil, strict, nil),
		userPA("echo-unset", "echo", t0.Add(time.Second), map[string]string{"app": "echo"}, unset, nil)}
	if conflicts, _ := PeerAuthenticationConflicts(pas, "dev", "echo", "istio-system", servers, port); len(conflicts) != 0 {
		t.Errorf("UNSET under a STRICT namespace: conflicts %v", conflicts)
	}
}

// TestApplyRefusesConflicts: nothing is applied when a user's rule would decide instead, the error names it and the
// user's rule is left as it was; a user's catch-all rule does not stop ClientMTLS, and is left alone too.
func TestApplyRefusesConflicts(t *testing.T) {
	ctx := context.Background()
	host := Host("echo", "echo")
	catchAll := userDR("user-locality", "echo", "echo", nil, locality())
	selecting := userDR("user-client", "echo", host, map[string]string{"app": "client"}, locality())
	pa := userPA("user-permissive", "echo", time.Now(), map[string]string{"app": "echo"}, securityapi.PeerAuthentication_MutualTLS_PERMISSIVE, nil)
	ic := istiofake.NewSimpleClientset(catchAll, selecting, pa)
	old := istioClientFor
	istioClientFor = func(*kube.Client) (istioclient.Interface, error) { return ic, nil }
	defer func() { istioClientFor = old }()
	c := &kube.Client{Name: "cluster1"}

	var ce *ConflictError
	err := ClientMTLS(ctx, c, "dev", "echo", host)
	if !errors.As(err, &ce) || len(ce.Conflicts) != 1 || ce.Conflicts[0].Name != "user-client" {
		t.Fatalf("ClientMTLS: %v", err)
	}
	if !strings.Contains(err.Error(), "cluster1: not applying DestinationRule echo/mtls-echo-echo-svc-cluster-local") {
		t.Errorf("error %q", err)
	}
	err = RouteToCluster(ctx, c, "dev", "echo", host, map[string]string{"cluster1": "cluster1"}, "cluster1")
	if !errors.As(err, &ce) || ce.Conflicts[0].Name != "user-client" {
		t.Errorf("RouteToCluster: %v", err)
	}
	err = RequireMTLS(ctx, c, "dev", "echo")
	if !errors.As(err, &ce) || len(ce.Conflicts) != 1 || ce.Conflicts[0].Name != "user-permissive" {
		t.Fatalf("RequireMTLS: %v", err)
	}
	drs, _ := ic.NetworkingV1().DestinationRules("echo").List(ctx, metav1.ListOptions{})
	pas, _ := ic.SecurityV1().PeerAuthentications("echo").List(ctx, metav1.ListOptions{})
	if len(drs.Items) != 2 || len(pas.Items) != 1 {
		t.Errorf("applied despite the conflicts: %d DestinationRules, %d PeerAuthentications", len(drs.Items), len(pas.Items))
	}

	// Without the selecting rules, ours coexist with the catch-all one, which is left alone.
	if err := ic.NetworkingV1().DestinationRules("echo").Delete(ctx, "user-client", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := ic.SecurityV1().PeerAuthentications("echo").Delete(ctx, "user-permissive", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := ClientMTLS(ctx, c, "dev", "echo", host); err != nil {
		t.Fatal(err)
	}
	if err := RequireMTLS(ctx, c, "dev", "echo"); err != nil {
		t.Fatal(err)
	}
	if err := RouteToCluster(ctx, c, "dev", "echo", host, map[string]string{"cluster1": "cluster1"}, "cluster1"); err != nil {
		t.Fatal(err)
	}
	got, err := ic.NetworkingV1().DestinationRules("echo").Get(ctx, "user-locality", metav1.GetOptions{})
	if err != nil || got.Spec.TrafficPolicy.Tls != nil || got.Spec.WorkloadSelector != nil || env.OwnerOf(got.Labels).Meshconform {
		t.Errorf("the user's rule was changed: %v %v", got, err)
	}
	_, coexisting, err := ForeignRules(ctx, c, "dev", "echo", "echo", uint32(DefaultPort))
	if err != nil || len(coexisting) != 1 || coexisting[0].Name != "user-locality" {
		t.Errorf("ForeignRules: %v, %v", coexisting, err)
	}

	// A user's object of our name is refused, not taken over, and not deleted by the removal.
	ic2 := istiofake.NewSimpleClientset(userDR(DestinationRuleName(host), "echo", host, nil, locality()))
	istioClientFor = func(*kube.Client) (istioclient.Interface, error) { return ic2, nil }
	if err := ClientMTLS(ctx, c, "dev", "echo", host); !errors.As(err, &ce) || !strings.Contains(err.Error(), "has the name meshconform's rule uses") {
		t.Errorf("ClientMTLS over a user's rule of its name: %v", err)
	}
	if err := RemoveClientMTLS(ctx, c, "echo", host); err != nil {
		t.Fatal(err)
	}
	if _, err := ic2.NetworkingV1().DestinationRules("echo").Get(ctx, DestinationRuleName(host), metav1.GetOptions{}); err != nil {
		t.Errorf("the user's rule was removed: %v", err)
	}
}
