package checks

import (
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/istiod"
	"github.com/meshconform/meshconform/framework/workload"
)

func TestJudgeDenied(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    workload.Tally
		want string // "" or a substring of the problem
	}{
		{"every call refused", workload.Tally{Sent: 10, Errors: map[string]int{"PermissionDenied: unauthorized RPC rejected": 10}}, ""},
		{"answered", workload.Tally{Sent: 10, OK: 4, ByCluster: map[string]int{"cluster2": 4},
			Errors: map[string]int{"PermissionDenied: RBAC: access denied": 6}}, "4 of 10 were answered (cluster2 4)"},
		{"failed for another reason", workload.Tally{Sent: 10, FirstError: "Unavailable: connection refused",
			Errors: map[string]int{"Unavailable: connection refused": 3, "PermissionDenied: x": 7}}, "3 failed without PermissionDenied"},
		{"no call", workload.Tally{}, "no call was made"},
	} {
		got := JudgeDenied(tc.t)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestTrustDomainOf(t *testing.T) {
	for id, want := range map[string]string{
		"spiffe://cluster.local/ns/echo/sa/client":             "cluster.local",
		"spiffe://meshconform-foreign.local/ns/echo/sa/client": "meshconform-foreign.local",
		"https://cluster.local/ns/echo":                        "",
		"":                                                     "",
	} {
		if got := TrustDomainOf(id); got != want {
			t.Errorf("%q: %q, want %q", id, got, want)
		}
	}
}

func TestTrustDomainMismatch(t *testing.T) {
	self := func(c string) string { return c }
	local := istiod.TrustDomains{TrustDomain: "cluster.local"}
	foreign := istiod.TrustDomains{TrustDomain: "foreign.local"}
	agree := map[string]string{"cluster1": "cluster.local", "cluster2": "cluster.local"}
	if got := TrustDomainMismatch(agree, map[string]istiod.TrustDomains{"cluster1": local, "cluster2": local}, self); got != "" {
		t.Errorf("one trust domain: %q", got)
	}
	split := map[string]string{"cluster1": "cluster.local", "cluster2": "foreign.local"}
	got := TrustDomainMismatch(split, map[string]istiod.TrustDomains{"cluster1": local, "cluster2": foreign}, self)
	for _, want := range []string{"cluster1: cluster.local, cluster2: foreign.local",
		"cluster1 (accepting cluster.local) rejects cluster2's servers (foreign.local)",
		"cluster2 (accepting foreign.local) rejects cluster1's servers (cluster.local)", "trustDomainAliases"} {
		if !strings.Contains(got, want) {
			t.Errorf("mismatch: %q lacks %q", got, want)
		}
	}
	aliased := map[string]istiod.TrustDomains{
		"cluster1": {TrustDomain: "cluster.local", Aliases: []string{"foreign.local"}},
		"cluster2": {TrustDomain: "foreign.local", Aliases: []string{"cluster.local"}}}
	if got := TrustDomainMismatch(split, aliased, self); got != "" {
		t.Errorf("aliased both ways: %q", got)
	}
	// Only one side aliased: the other still rejects.
	aliased["cluster2"] = foreign
	if got := TrustDomainMismatch(split, aliased, self); !strings.Contains(got, "cluster2 (accepting foreign.local) rejects cluster1's") ||
		strings.Contains(got, "cluster1 (accepting") {
		t.Errorf("aliased one way: %q", got)
	}
	// A remote is judged by its primary's mesh config.
	remote := map[string]string{"cluster1": "cluster.local", "cluster2": "cluster.local", "cluster3": "foreign.local"}
	got = TrustDomainMismatch(remote, map[string]istiod.TrustDomains{"cluster1": local, "cluster3": foreign},
		func(c string) string {
			if c == "cluster2" {
				return "cluster1"
			}
			return c
		})
	if !strings.Contains(got, "cluster2 (accepting cluster.local) rejects cluster3's servers") {
		t.Errorf("remote: %q", got)
	}
}

func TestPlanForeignTrustDomain(t *testing.T) {
	m := mix3(t, env.DataPlaneProxyless)
	p, ok := PlanForeignTrustDomain(m)
	// cluster3 is the last primary; cluster1 and its remote cluster2 call it through its gateway.
	if !ok || p.Primary != "cluster3" || strings.Join(p.Foreign, ",") != "cluster3" || strings.Join(p.Sources, ",") != "cluster1,cluster2" {
		t.Errorf("gateways running: %+v %v", p, ok)
	}
	if got := strings.Join(m.TrustDomainGroup("cluster1"), ","); got != "cluster1,cluster2" {
		t.Errorf("cluster1's trust domain group %s, want it and its remote", got)
	}
	for _, c := range []string{"cluster1", "cluster2", "cluster3"} {
		mc := m.State.Mesh.Clusters[c]
		mc.GatewayReady, mc.GatewayCannotRun = false, true
		m.State.Mesh.Clusters[c] = mc
	}
	// Without gateways no caller of one primary reaches the other's clusters.
	if p, ok := PlanForeignTrustDomain(m); ok {
		t.Errorf("no gateways: %+v, want no plan", p)
	}
}
