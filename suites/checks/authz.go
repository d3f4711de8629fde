package checks

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/workload"
)

// Authorization across clusters: an AuthorizationPolicy on the echo servers is written into the config of the
// primaries whose istiod configures them (a primary's istiod reads policies from its own cluster only, for itself
// and its remotes), and the calls of every caller show whether it is enforced.

// deniedCode is the gRPC status of a call an RBAC filter rejected (gRPC's xDS RBAC: "unauthorized RPC rejected";
// Envoy's: HTTP 403 "RBAC: access denied", which gRPC maps to the same code).
const deniedCode = "PermissionDenied"

const (
	causeRBACDenied = "an AuthorizationPolicy denies the call (RBAC): a DENY policy matching the caller, or an ALLOW " +
		"policy on the server that does not match it (its principal is spiffe://<trust domain>/ns/<ns>/sa/<sa>, " +
		"without mTLS there is none); calls are not staying local, they are refused"
	causeAuthzAsymmetric = "the AuthorizationPolicy is not in every primary: %s has it, but the echo server that " +
		"answered is configured by %s's istiod, which reads policies from its own cluster only; a policy must be " +
		"applied in every primary (each serves its own cluster and its remotes), or servers enforce it in some " +
		"clusters and not in others"
	causeAuthzNotEnforced = "the AuthorizationPolicy is in the config of %s's istiod and selects the echo server " +
		"that answered, but the server did not enforce it: %s"
	notEnforcedProxyless = "a proxyless gRPC server enforces only the RBAC filters of the inbound listener istiod " +
		"sends it (it must be an xDS server, xds.NewGRPCServer with xDS credentials, and its port a port of one of " +
		"its Services), and Istio's proxyless generator (grpcgen) builds those filters only from a policy's rules"
	notEnforcedAllowNothing = "%s is an ALLOW policy without rules (Istio's allow-nothing, meaning deny every " +
		"request), and Istio's proxyless generator (pilot/pkg/networking/grpcgen, buildRBAC) turns a policy into " +
		"RBAC filters rule by rule, so a policy without rules yields no filter at all and the gRPC server allows " +
		"everything; with proxyless gRPC, deny explicitly (action DENY with a rule)"
	notEnforcedSidecar = "the server's sidecar did not get or apply the RBAC filter (the pod is not injected, or " +
		"its proxy is not synced with istiod)"
	causeNotDeniedOther = "the calls failed, but not by RBAC (no PermissionDenied): they failed before reaching a " +
		"server that could refuse them (mTLS, endpoints), so whether the policy is enforced is unknown"
	causeAuthzSelectsNothing = "the AuthorizationPolicy %s does not select the echo pods of %s (its selector %v, the " +
		"pods' labels %v): it applies to no server there"
)

// ApplyAuthz writes the policy of kind for the echo servers, naming principals, into the given primaries. restore
// deletes it from every primary (also after a partial failure; it is safe to call twice).
func ApplyAuthz(ctx context.Context, m *Mesh, primaries []string, kind workload.AuthzKind, principals ...string) (restore func(context.Context) error, err error) {
	restore = func(ctx context.Context) error {
		var errs []error
		for _, p := range m.Primaries() {
			errs = append(errs, workload.RemoveAuthz(ctx, m.Clients[p], m.Namespace))
		}
		return errors.Join(errs...)
	}
	p, err := workload.AuthzPolicy(m.State.Name, m.Namespace, m.Service, kind, principals...)
	if err != nil {
		return restore, err
	}
	for _, c := range primaries {
		if err := workload.ApplyAuthz(ctx, m.Clients[c], p.DeepCopy()); err != nil {
			return restore, err
		}
	}
	return restore, nil
}

// authzJudged is how many calls are judged once a probe batch was all denied. A server that does not enforce the
// policy, one of k ≥ 2 equally weighted clusters, escapes all of them with probability at most 2^-30.
const authzJudged = 30

// Denied calls the echo service from src after a policy denying its calls was applied: it probes until a batch of
// calls is all refused with PermissionDenied (for at most bound), then judges authzJudged calls, every one of which
// must be refused. A call some cluster answered is diagnosed: the policy is missing from the primary configuring
// that cluster (asymmetric), does not select its echo pods, or is there and not enforced.
func Denied(ctx context.Context, m *Mesh, src string, bound time.Duration) (workload.Tally, error) {
	start := time.Now()
	var last workload.Tally
	var lastErr error
	for {
		last, lastErr = workload.Call(ctx, m.Clients[src], m.Namespace, m.Target(), failoverBatch, true)
		if (lastErr == nil && JudgeDenied(last) == "") || time.Since(start) > bound {
			break
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	if lastErr != nil && last.Sent == 0 {
		return last, fmt.Errorf("calls from %s: %w", src, lastErr)
	}
	judged := last
	if JudgeDenied(last) == "" {
		t, err := workload.Call(ctx, m.Clients[src], m.Namespace, m.Target(), authzJudged, true)
		if err != nil && t.Sent == 0 {
			return t, fmt.Errorf("calls from %s: %w", src, err)
		}
		judged = t
	}
	problem := JudgeDenied(judged)
	if problem == "" {
		return judged, nil
	}
	observed := fmt.Sprintf("%.0fs after a policy refusing %s was applied, %d calls from %s: %s",
		time.Since(start).Seconds(), m.ClientIdentity(), judged.Sent, src, problem)
	inspect := []string{}
	for _, p := range m.Primaries() {
		inspect = append(inspect, fmt.Sprintf("kubectl --context %s -n %s get authorizationpolicy -o yaml", p, m.Namespace))
	}
	if judged.OK == 0 {
		return judged, fail(v1alpha1.AreaAuthz, causeNotDeniedOther, inspect, "%s", observed)
	}
	var causes []string
	for _, c := range slices.Sorted(maps.Keys(judged.ByCluster)) {
		if judged.ByCluster[c] > 0 {
			causes = append(causes, m.whyNotDenied(ctx, c))
		}
	}
	inspect = append(inspect, fmt.Sprintf("istioctl --context %s x describe pod <echo pod> / the server's inbound "+
		"listener: kubectl --context %s -n istio-system exec deploy/istiod -- curl -s localhost:15014/debug/config_dump?proxyID=<echo pod>.%s",
		m.Istiod(src), m.Istiod(src), m.Namespace))
	f := fail(v1alpha1.AreaAuthz, strings.Join(slices.Compact(causes), "; "), inspect, "%s", observed)
	f.Final = true // judged: a server answered what it must refuse
	return judged, f
}

// JudgeDenied says what is wrong with calls that a policy must all refuse ("" when nothing): calls answered, or
// failed for another reason than RBAC.
func JudgeDenied(t workload.Tally) string {
	var problems []string
	if t.OK > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d were answered (%s) though the policy denies them", t.OK, t.Sent, byCluster(t)))
	}
	if other := t.Failed() - Refused(t); other > 0 {
		problems = append(problems, fmt.Sprintf("%d failed without PermissionDenied (first error: %s)", other, t.FirstError))
	}
	if len(problems) == 0 && t.Sent == 0 {
		problems = append(problems, "no call was made")
	}
	return strings.Join(problems, "; ")
}

// Refused is the number of calls an RBAC filter rejected (status PermissionDenied).
func Refused(t workload.Tally) int {
	n := 0
	for msg, c := range t.Errors {
		if strings.HasPrefix(msg, deniedCode+":") {
			n += c
		}
	}
	return n
}

// whyNotDenied is the likely cause of cluster's echo server answering a call the policy denies.
func (m *Mesh) whyNotDenied(ctx context.Context, cluster string) string {
	server := m.Istiod(cluster)
	var have []string
	for _, p := range m.Primaries() {
		ps, err := workload.AuthzPolicies(ctx, m.Clients[p], m.Namespace)
		if err == nil && slices.ContainsFunc(ps, func(s workload.AuthzPolicySummary) bool {
			return s.Name == m.Namespace+"/"+workload.AuthzPolicyName
		}) {
			have = append(have, p)
		}
	}
	if !slices.Contains(have, server) {
		if len(have) == 0 {
			return fmt.Sprintf("no primary has the AuthorizationPolicy %s/%s any more", m.Namespace, workload.AuthzPolicyName)
		}
		return fmt.Sprintf(causeAuthzAsymmetric, strings.Join(have, ", "), server)
	}
	ps, _ := workload.AuthzPolicies(ctx, m.Clients[server], m.Namespace)
	podLabels := m.echoPodLabels(ctx, cluster)
	var selecting []workload.AuthzPolicySummary
	for _, p := range ps {
		if p.Selects(podLabels) {
			selecting = append(selecting, p)
		} else if p.Name == m.Namespace+"/"+workload.AuthzPolicyName {
			return fmt.Sprintf(causeAuthzSelectsNothing, p.Name, cluster, p.Selector, podLabels)
		}
	}
	why := notEnforcedSidecar
	if m.DataPlane == env.DataPlaneProxyless {
		why = notEnforcedProxyless
		for _, p := range selecting {
			if p.Action == "ALLOW" && p.Rules == 0 {
				why = fmt.Sprintf(notEnforcedAllowNothing, p.Name)
				break
			}
		}
	}
	return fmt.Sprintf(causeAuthzNotEnforced, server, why)
}

// echoPodLabels are the labels of one of cluster's echo pods (nil if none can be read).
func (m *Mesh) echoPodLabels(ctx context.Context, cluster string) map[string]string {
	list, err := m.Clients[cluster].Clientset.CoreV1().Pods(m.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.Set{workload.AppLabel: m.Service}.String()})
	if err != nil || len(list.Items) == 0 {
		return nil
	}
	return list.Items[0].Labels
}

// rbacNote is a diagnosis' cause when calls were refused by RBAC ("" when none was): the policies the servers'
// primaries hold.
func (m *Mesh) rbacNote(ctx context.Context, t workload.Tally) string {
	if Refused(t) == 0 {
		return ""
	}
	var held []string
	for _, p := range m.Primaries() {
		ps, err := workload.AuthzPolicies(ctx, m.Clients[p], m.Namespace)
		if err != nil {
			continue
		}
		for _, s := range ps {
			held = append(held, p+": "+s.String())
		}
	}
	note := fmt.Sprintf("%d of %d calls were refused with PermissionDenied: %s", Refused(t), t.Sent, causeRBACDenied)
	if len(held) > 0 {
		note += " (policies: " + strings.Join(held, "; ") + ")"
	}
	return note
}
