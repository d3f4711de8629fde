package workload

import (
	"testing"

	securityapi "istio.io/api/security/v1beta1"
)

func TestAuthzPolicy(t *testing.T) {
	p, err := AuthzPolicy("env1", "echo", "echo", AllowPrincipals, Principal("spiffe://cluster.local/ns/echo/sa/client"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != AuthzPolicyName || p.Namespace != "echo" || p.Spec.Action != securityapi.AuthorizationPolicy_ALLOW ||
		p.Spec.Selector.MatchLabels[AppLabel] != "echo" || len(p.Spec.Rules) != 1 ||
		p.Spec.Rules[0].From[0].Source.Principals[0] != "cluster.local/ns/echo/sa/client" {
		t.Errorf("allow: %+v", p)
	}
	if p.Labels[ManagedLabel] != "true" {
		t.Errorf("the policy is not labelled as the environment's: %v", p.Labels)
	}
	p, err = AuthzPolicy("env1", "echo", "echo", DenyPrincipals, "cluster.local/ns/echo/sa/client")
	if err != nil || p.Spec.Action != securityapi.AuthorizationPolicy_DENY || len(p.Spec.Rules) != 1 {
		t.Errorf("deny: %+v %v", p, err)
	}
	// Istio's allow-nothing: ALLOW and no rules.
	p, err = AuthzPolicy("env1", "echo", "echo", AllowNothing)
	if err != nil || p.Spec.Action != securityapi.AuthorizationPolicy_ALLOW || len(p.Spec.Rules) != 0 {
		t.Errorf("allow-nothing: %+v %v", p, err)
	}
	for _, bad := range []struct {
		kind       AuthzKind
		principals []string
	}{{AllowPrincipals, nil}, {DenyPrincipals, nil}, {AllowNothing, []string{"a"}}, {"maybe", []string{"a"}}} {
		if _, err := AuthzPolicy("env1", "echo", "echo", bad.kind, bad.principals...); err == nil {
			t.Errorf("%s %v accepted", bad.kind, bad.principals)
		}
	}
	s := AuthzPolicySummary{Name: "echo/x", Action: "ALLOW", Selector: map[string]string{"app": "echo"}}
	if !s.Selects(map[string]string{"app": "echo", "version": "v1"}) || s.Selects(map[string]string{"app": "client"}) {
		t.Errorf("selects: %+v", s)
	}
}
