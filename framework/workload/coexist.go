package workload

// Coexisting with the mesh configuration a user already has. meshconform's specs add DestinationRules and
// PeerAuthentications for the echo host; a user's own rules for that host may be there first. What Istio does with
// two of them (istio.io/istio pilot/pkg/model push_context.go setDestinationRules, destination_rule.go
// mergeDestinationRule, sidecar.go SidecarScope.DestinationRule; pilot/pkg/security/authn ComposePeerAuthentication):
//
//   - DestinationRules for one host in one namespace are merged: subsets are concatenated, but only the first
//     rule's top-level trafficPolicy survives, rules ordered by creation time. A rule the spec adds after a
//     user's locality rule therefore loses its tls ISTIO_MUTUAL entirely (measured: every proxyless call failed
//     with "error reading server preface: EOF"). Rules with a workloadSelector are sorted first and, for outbound
//     traffic of a workload in the rule's namespace whose labels they select, win over the catch-all rules; of
//     several selecting the same workload the first (oldest, or merged when their selectors are equal) wins. A
//     rule in the client's namespace is used before any in the service's or the root namespace, and an exact host
//     before a wildcard.
//   - PeerAuthentications: a workload-level policy (a non-empty selector, outside the root namespace) wins over a
//     namespace-level one, which wins over the mesh-level one (root namespace); among several of a level the oldest
//     wins; UNSET inherits from the level above, port-level modes override the workload's.
//
// So meshconform's rules select its own workloads: the client's DestinationRules carry a workloadSelector for the
// client pods, the STRICT PeerAuthentication one for the echo servers. A user's catch-all or namespace-wide rules
// then coexist (untouched, still in force for everything else); a user's rule that selects the same pods first is
// a conflict, reported by name before anything is applied.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
)

// RootNamespace is Istio's default config root namespace (meshConfig.rootNamespace): its namespace-level
// PeerAuthentication is the mesh-wide one.
const RootNamespace = "istio-system"

// ClientSelector selects meshconform's client pods: the workloadSelector of the DestinationRules it applies for them.
func ClientSelector() map[string]string { return map[string]string{AppLabel: ClientName} }

// ServerSelector selects the echo servers of service: the selector of the STRICT PeerAuthentication.
func ServerSelector(service string) map[string]string { return map[string]string{AppLabel: service} }

// Rule is a mesh configuration object that is not meshconform's, as a diagnosis names it.
type Rule struct {
	Kind, Namespace, Name string
	// Sets says what it configures, e.g. "host echo, trafficPolicy {loadBalancer.localityLbSetting}".
	Sets string
	// Why says what it does to meshconform's rule (for a conflict) or why it does not matter (coexisting).
	Why string
}

func (r Rule) String() string {
	s := fmt.Sprintf("%s %s/%s (%s)", r.Kind, r.Namespace, r.Name, r.Sets)
	if r.Why != "" {
		s += ": " + r.Why
	}
	return s
}

// ConflictError says meshconform did not apply its rule because other objects would decide instead of it.
type ConflictError struct {
	Cluster string
	// Ours is the object meshconform would have applied and what it needs, e.g.
	// "DestinationRule echo/mtls-echo-echo-svc-cluster-local (tls ISTIO_MUTUAL for the client pods)".
	Ours      string
	Conflicts []Rule
}

func (e *ConflictError) Error() string {
	var parts []string
	for _, r := range e.Conflicts {
		parts = append(parts, r.String())
	}
	return fmt.Sprintf("%s: not applying %s: %s", e.Cluster, e.Ours, strings.Join(parts, "; "))
}

// ResolveHost is the FQDN Istio makes of a rule's host in namespace ns (a name without dots is a Service of that
// namespace), with domain the cluster's DNS suffix (e.g. "cluster.local").
func ResolveHost(h, ns, domain string) string {
	if h == "" || h == "*" || strings.Contains(h, ".") {
		return h
	}
	return h + "." + ns + ".svc." + domain
}

// domainOf is the DNS suffix of a Service FQDN (name.ns.svc.<domain>).
func domainOf(fqdn string) string {
	if _, d, ok := strings.Cut(fqdn, ".svc."); ok {
		return d
	}
	return "cluster.local"
}

// visibleInOwnNamespace says whether Istio puts the rule in its namespace's own index (what proxies of that
// namespace look up first): rules with a selector always, others when exportTo is empty, ".", "*" or the namespace.
func visibleInOwnNamespace(dr *networkingv1.DestinationRule) bool {
	if dr.Spec.WorkloadSelector != nil || len(dr.Spec.ExportTo) == 0 {
		return true
	}
	return slices.ContainsFunc(dr.Spec.ExportTo, func(e string) bool { return e == "." || e == "*" || e == dr.Namespace })
}

// selects says whether a selector's labels are all in have (an empty one selects everything).
func selects(sel, have map[string]string) bool {
	for k, v := range sel {
		if have[k] != v {
			return false
		}
	}
	return true
}

// DestinationRuleConflicts sorts the DestinationRules of the clients' namespace ns (as listed there) that are not
// environment envName's and configure host for the clients' pods (labels client): conflicts select the client pods
// too and would decide instead of a rule of envName's with the same selector (wantTLS: what that rule must
// achieve; a conflicting rule achieving it anyway is harmless); coexisting rules are catch-all rules for host,
// which a selector rule overrides for the client pods only. Rules for other hosts, wildcard hosts (an exact host
// wins), other namespaces, or not selecting the client pods are neither.
func DestinationRuleConflicts(rules []*networkingv1.DestinationRule, envName, ns, host string, client map[string]string,
	port uint32, wantTLS networkingapi.ClientTLSSettings_TLSmode) (conflicts, coexisting []Rule) {
	domain := domainOf(host)
	sorted := slices.Clone(rules)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, dr := range sorted {
		if dr.Namespace != ns || env.OwnerOf(dr.Labels).Mine(envName) || !visibleInOwnNamespace(dr) {
			continue
		}
		if ResolveHost(dr.Spec.Host, dr.Namespace, domain) != host {
			continue
		}
		r := Rule{Kind: "DestinationRule", Namespace: dr.Namespace, Name: dr.Name, Sets: describeDestinationRule(dr)}
		sel := dr.Spec.WorkloadSelector
		switch {
		case sel == nil:
			r.Why = "a catch-all rule: meshconform's rule selects the client pods and wins for them only, this one stays in force for the rest"
			coexisting = append(coexisting, r)
		case !selects(sel.MatchLabels, client):
			continue
		case wantTLS != networkingapi.ClientTLSSettings_DISABLE && effectiveTLS(dr.Spec.TrafficPolicy, port) == wantTLS:
			r.Why = "selects the client pods and already sets tls " + wantTLS.String()
			coexisting = append(coexisting, r)
		case maps.Equal(sel.MatchLabels, ClientSelector()) && dr.Spec.TrafficPolicy == nil && wantTLS != networkingapi.ClientTLSSettings_DISABLE:
			r.Why = "selects the client pods with the same selector and no trafficPolicy: Istio merges it with meshconform's, whose policy applies"
			coexisting = append(coexisting, r)
		default:
			r.Why = "selects the client pods (workloadSelector " + labelString(sel.MatchLabels) + ") and is older: Istio uses " +
				"the oldest rule selecting a workload (and of rules with equal selectors keeps the oldest trafficPolicy), so " +
				"meshconform's rule would be ignored for them"
			conflicts = append(conflicts, r)
		}
	}
	return conflicts, coexisting
}

// effectiveTLS is the TLS mode a traffic policy gives port (port-level settings replace the top level's).
func effectiveTLS(tp *networkingapi.TrafficPolicy, port uint32) networkingapi.ClientTLSSettings_TLSmode {
	if tp == nil {
		return networkingapi.ClientTLSSettings_DISABLE
	}
	for _, p := range tp.PortLevelSettings {
		if p.GetPort().GetNumber() == port {
			return p.GetTls().GetMode()
		}
	}
	return tp.GetTls().GetMode()
}

// PeerAuthenticationConflicts sorts the PeerAuthentications of namespace ns and of the root namespace that are not
// environment envName's, for servers with these pod labels (one set per pod) on port: conflicts are
// workload-level policies selecting a server that leave the port's effective mode other than STRICT (they are
// older than a policy envName would add, so they win); coexisting are namespace- and mesh-level policies (a
// workload-level policy overrides them) and workload-level ones that keep the port STRICT.
func PeerAuthenticationConflicts(pas []*securityv1.PeerAuthentication, envName, ns, rootNS string, servers []map[string]string,
	port uint32) (conflicts, coexisting []Rule) {
	sorted := slices.Clone(pas)
	sort.SliceStable(sorted, func(i, j int) bool {
		ti, tj := sorted[i].CreationTimestamp, sorted[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return sorted[i].Name < sorted[j].Name
	})
	// The inherited mode under a workload-level UNSET: the oldest namespace-level policy of ns, else the root's.
	parent := securityapi.PeerAuthentication_MutualTLS_PERMISSIVE
	var meshMode, nsMode *securityapi.PeerAuthentication_MutualTLS_Mode
	for _, pa := range sorted {
		if !namespaceLevel(pa) || pa.Spec.Mtls.GetMode() == securityapi.PeerAuthentication_MutualTLS_UNSET {
			continue
		}
		mode := pa.Spec.Mtls.GetMode()
		switch {
		case pa.Namespace == rootNS && meshMode == nil:
			meshMode = &mode
		case pa.Namespace == ns && nsMode == nil:
			nsMode = &mode
		}
	}
	if meshMode != nil {
		parent = *meshMode
	}
	if nsMode != nil {
		parent = *nsMode
	}
	for _, pa := range sorted {
		if env.OwnerOf(pa.Labels).Mine(envName) || (pa.Namespace != ns && pa.Namespace != rootNS) {
			continue
		}
		r := Rule{Kind: "PeerAuthentication", Namespace: pa.Namespace, Name: pa.Name, Sets: describePeerAuthentication(pa)}
		if namespaceLevel(pa) {
			level := "namespace-level"
			if pa.Namespace == rootNS {
				level = "mesh-level"
			}
			r.Why = "a " + level + " policy: meshconform's workload-level STRICT policy overrides it for the echo servers only"
			coexisting = append(coexisting, r)
			continue
		}
		if pa.Namespace == rootNS || !slices.ContainsFunc(servers, func(l map[string]string) bool { return selects(pa.Spec.Selector.MatchLabels, l) }) {
			continue // workload-level policies in the root namespace are ignored by Istio
		}
		mode := pa.Spec.Mtls.GetMode()
		if mode == securityapi.PeerAuthentication_MutualTLS_UNSET {
			mode = parent
		}
		if pm, ok := pa.Spec.PortLevelMtls[port]; ok && pm.GetMode() != securityapi.PeerAuthentication_MutualTLS_UNSET {
			mode = pm.GetMode()
		}
		if mode == securityapi.PeerAuthentication_MutualTLS_STRICT {
			r.Why = "selects the echo servers and keeps port " + fmt.Sprint(port) + " STRICT"
			coexisting = append(coexisting, r)
			continue
		}
		r.Why = fmt.Sprintf("selects the echo servers (selector %s) and is older: Istio uses the oldest workload-level policy, "+
			"so port %d would stay %s instead of STRICT", labelString(pa.Spec.Selector.MatchLabels), port, mode)
		conflicts = append(conflicts, r)
	}
	return conflicts, coexisting
}

// namespaceLevel: no selector or an empty one (Istio treats both as namespace- or mesh-wide).
func namespaceLevel(pa *securityv1.PeerAuthentication) bool {
	return pa.Spec.Selector == nil || len(pa.Spec.Selector.MatchLabels) == 0
}

func describeDestinationRule(dr *networkingv1.DestinationRule) string {
	parts := []string{"host " + dr.Spec.Host}
	if s := dr.Spec.WorkloadSelector; s != nil {
		parts = append(parts, "workloadSelector "+labelString(s.MatchLabels))
	}
	if len(dr.Spec.ExportTo) > 0 {
		parts = append(parts, "exportTo "+strings.Join(dr.Spec.ExportTo, ","))
	}
	if tp := dr.Spec.TrafficPolicy; tp != nil {
		var f []string
		if lb := tp.LoadBalancer; lb != nil {
			switch {
			case lb.LocalityLbSetting != nil:
				f = append(f, "loadBalancer.localityLbSetting")
			default:
				f = append(f, "loadBalancer")
			}
		}
		if tp.OutlierDetection != nil {
			f = append(f, "outlierDetection")
		}
		if tp.ConnectionPool != nil {
			f = append(f, "connectionPool")
		}
		if tp.Tls != nil {
			f = append(f, "tls "+tp.Tls.Mode.String())
		} else {
			f = append(f, "no tls")
		}
		if len(tp.PortLevelSettings) > 0 {
			f = append(f, fmt.Sprintf("%d portLevelSettings", len(tp.PortLevelSettings)))
		}
		parts = append(parts, "trafficPolicy {"+strings.Join(f, ", ")+"}")
	}
	if n := len(dr.Spec.Subsets); n > 0 {
		parts = append(parts, fmt.Sprintf("%d subsets", n))
	}
	parts = append(parts, "created "+dr.CreationTimestamp.UTC().Format("2006-01-02T15:04:05Z"))
	return strings.Join(parts, ", ")
}

func describePeerAuthentication(pa *securityv1.PeerAuthentication) string {
	var parts []string
	if !namespaceLevel(pa) {
		parts = append(parts, "selector "+labelString(pa.Spec.Selector.MatchLabels))
	}
	parts = append(parts, "mtls "+pa.Spec.Mtls.GetMode().String())
	ports := slices.Sorted(maps.Keys(pa.Spec.PortLevelMtls))
	for _, p := range ports {
		parts = append(parts, fmt.Sprintf("port %d %s", p, pa.Spec.PortLevelMtls[p].GetMode()))
	}
	parts = append(parts, "created "+pa.CreationTimestamp.UTC().Format("2006-01-02T15:04:05Z"))
	return strings.Join(parts, ", ")
}

func labelString(l map[string]string) string {
	if len(l) == 0 {
		return "{} (every pod)"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}

// destinationRuleConflicts lists ns's DestinationRules and sorts them (DestinationRuleConflicts).
func destinationRuleConflicts(ctx context.Context, c *kube.Client, envName, ns, host string, port uint32,
	wantTLS networkingapi.ClientTLSSettings_TLSmode) (conflicts, coexisting []Rule, err error) {
	ic, err := istioClient(c)
	if err != nil {
		return nil, nil, err
	}
	list, err := ic.NetworkingV1().DestinationRules(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, wrap(c, "list DestinationRules in "+ns, err)
	}
	conflicts, coexisting = DestinationRuleConflicts(list.Items, envName, ns, host, ClientSelector(), port, wantTLS)
	return conflicts, coexisting, nil
}

// ForeignRules lists what is not environment envName's and configures the echo host for the client pods or the
// echo servers of service in namespace ns (and the root namespace's PeerAuthentications): conflicts first, then
// coexisting rules. Diagnoses name them when calls fail.
func ForeignRules(ctx context.Context, c *kube.Client, envName, ns, service string, port uint32) (conflicts, coexisting []Rule, err error) {
	host := Host(ns, service)
	dc, dco, err := destinationRuleConflicts(ctx, c, envName, ns, host, port, networkingapi.ClientTLSSettings_ISTIO_MUTUAL)
	if err != nil {
		return nil, nil, err
	}
	pc, pco, err := peerAuthenticationConflicts(ctx, c, envName, ns, service, port)
	if err != nil {
		return nil, nil, err
	}
	return append(dc, pc...), append(dco, pco...), nil
}

// peerAuthenticationConflicts lists ns's and the root namespace's PeerAuthentications and the echo servers' labels
// and sorts them (PeerAuthenticationConflicts).
func peerAuthenticationConflicts(ctx context.Context, c *kube.Client, envName, ns, service string, port uint32) (conflicts, coexisting []Rule, err error) {
	ic, err := istioClient(c)
	if err != nil {
		return nil, nil, err
	}
	var pas []*securityv1.PeerAuthentication
	for _, n := range []string{ns, RootNamespace} {
		list, err := ic.SecurityV1().PeerAuthentications(n).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, nil, wrap(c, "list PeerAuthentications in "+n, err)
		}
		pas = append(pas, list.Items...)
	}
	servers := []map[string]string{ServerSelector(service)}
	if c.Clientset != nil {
		pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: AppLabel + "=" + service})
		if err != nil {
			return nil, nil, wrap(c, "list the echo pods in "+ns, err)
		}
		for _, p := range pods.Items {
			servers = append(servers, p.Labels)
		}
	}
	conflicts, coexisting = PeerAuthenticationConflicts(pas, envName, ns, RootNamespace, servers, port)
	return conflicts, coexisting, nil
}
