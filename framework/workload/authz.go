package workload

import (
	"context"
	"fmt"
	"strings"

	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/kube"
)

// AuthzPolicyName is the AuthorizationPolicy the authorization specs apply to the echo servers.
const AuthzPolicyName = "meshconform-authz"

// AuthzKind is what an AuthorizationPolicy of the authorization specs says.
type AuthzKind string

const (
	// AllowPrincipals allows only calls from the given principals (ALLOW with one rule of source principals).
	AllowPrincipals AuthzKind = "allow-principals"
	// DenyPrincipals denies calls from the given principals (DENY with one rule of source principals).
	DenyPrincipals AuthzKind = "deny-principals"
	// AllowNothing is Istio's "allow-nothing" policy: ALLOW without rules, which matches no request and so denies
	// every one (https://istio.io/latest/docs/reference/config/security/authorization-policy/).
	AllowNothing AuthzKind = "allow-nothing"
)

// Principal is an AuthorizationPolicy principal for a SPIFFE ID: the ID without "spiffe://".
func Principal(spiffeID string) string { return strings.TrimPrefix(spiffeID, "spiffe://") }

// AuthzPolicy is the policy of kind for the echo servers (pods labelled app=service) of namespace ns, labelled as
// environment envName's.
func AuthzPolicy(envName, ns, service string, kind AuthzKind, principals ...string) (*securityv1.AuthorizationPolicy, error) {
	p := &securityv1.AuthorizationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: AuthzPolicyName, Namespace: ns, Labels: managed(envName)},
		Spec: securityapi.AuthorizationPolicy{
			Selector: &typeapi.WorkloadSelector{MatchLabels: map[string]string{AppLabel: service}},
		},
	}
	rule := &securityapi.Rule{From: []*securityapi.Rule_From{{Source: &securityapi.Source{Principals: principals}}}}
	switch kind {
	case AllowPrincipals:
		p.Spec.Action = securityapi.AuthorizationPolicy_ALLOW
		p.Spec.Rules = []*securityapi.Rule{rule}
	case DenyPrincipals:
		p.Spec.Action = securityapi.AuthorizationPolicy_DENY
		p.Spec.Rules = []*securityapi.Rule{rule}
	case AllowNothing:
		if len(principals) > 0 {
			return nil, fmt.Errorf("an allow-nothing policy names no principals (got %v)", principals)
		}
		p.Spec.Action = securityapi.AuthorizationPolicy_ALLOW
	default:
		return nil, fmt.Errorf("unknown authorization policy kind %q", kind)
	}
	if kind != AllowNothing && len(principals) == 0 {
		return nil, fmt.Errorf("a %s policy needs at least one principal", kind)
	}
	return p, nil
}

// ApplyAuthz creates or replaces the policy (AuthzPolicy) in cluster c.
func ApplyAuthz(ctx context.Context, c *kube.Client, want *securityv1.AuthorizationPolicy) error {
	ic, err := istioClient(c)
	if err != nil {
		return err
	}
	aps := ic.SecurityV1().AuthorizationPolicies(want.Namespace)
	have, err := aps.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = aps.Create(ctx, want, metav1.CreateOptions{})
		return wrap(c, "create AuthorizationPolicy "+want.Namespace+"/"+want.Name, err)
	}
	if err != nil {
		return wrap(c, "get AuthorizationPolicy "+want.Namespace+"/"+want.Name, err)
	}
	have = have.DeepCopy()
	have.Labels = mergeLabels(have.Labels, want.Labels)
	have.Spec = *want.Spec.DeepCopy()
	_, err = aps.Update(ctx, have, metav1.UpdateOptions{})
	return wrap(c, "update AuthorizationPolicy "+want.Namespace+"/"+want.Name, err)
}

// RemoveAuthz deletes the authorization specs' policy from namespace ns; a missing one is not an error.
func RemoveAuthz(ctx context.Context, c *kube.Client, ns string) error {
	ic, err := istioClient(c)
	if err != nil {
		return err
	}
	err = ic.SecurityV1().AuthorizationPolicies(ns).Delete(ctx, AuthzPolicyName, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return wrap(c, "delete AuthorizationPolicy "+ns+"/"+AuthzPolicyName, err)
}

// AuthzPolicySummary is one AuthorizationPolicy in a namespace, as a diagnosis names it.
type AuthzPolicySummary struct {
	Name     string
	Action   string
	Rules    int
	Selector map[string]string
}

func (s AuthzPolicySummary) String() string {
	sel := "every workload"
	if len(s.Selector) > 0 {
		sel = fmt.Sprint(s.Selector)
	}
	return fmt.Sprintf("%s (%s, %d rules, selects %s)", s.Name, s.Action, s.Rules, sel)
}

// Selects says whether the policy applies to a pod with the given labels.
func (s AuthzPolicySummary) Selects(labels map[string]string) bool {
	return labelsContain(labels, s.Selector)
}

// AuthzPolicies lists the AuthorizationPolicies of namespace ns (and of the mesh root namespace istio-system, which
// apply to every namespace) in cluster c.
func AuthzPolicies(ctx context.Context, c *kube.Client, ns string) ([]AuthzPolicySummary, error) {
	ic, err := istioClient(c)
	if err != nil {
		return nil, err
	}
	var out []AuthzPolicySummary
	for _, n := range []string{ns, "istio-system"} {
		list, err := ic.SecurityV1().AuthorizationPolicies(n).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, wrap(c, "list AuthorizationPolicies in "+n, err)
		}
		for _, p := range list.Items {
			s := AuthzPolicySummary{Name: n + "/" + p.Name, Action: p.Spec.Action.String(), Rules: len(p.Spec.Rules)}
			if p.Spec.Selector != nil {
				s.Selector = p.Spec.Selector.MatchLabels
			}
			out = append(out, s)
		}
	}
	return out, nil
}
