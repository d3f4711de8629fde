package checks

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/lb"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/trust"
	"github.com/meshconform/meshconform/framework/workload"
)

// Roots reads the root certificate each cluster's client workload actually holds (not the configured one: proxies
// can hold another) and verifies the workload's own certificate against it. It returns the root fingerprint per
// cluster; the error names a cluster whose chain does not verify.
func Roots(ctx context.Context, m *Mesh) (map[string]trust.Chain, error) {
	out := map[string]trust.Chain{}
	for _, name := range m.Names() {
		c := m.Clients[name]
		pod, err := workload.ClientPod(ctx, c, m.Namespace)
		if err != nil {
			return nil, err
		}
		chainPEM, rootPEM, err := workload.ReadCerts(ctx, c, m.Namespace, pod)
		if err != nil {
			return nil, fmt.Errorf("%s: read certificates of %s/%s: %w", name, m.Namespace, pod, err)
		}
		chain, err := trust.VerifyChain(chainPEM, rootPEM)
		if err != nil {
			return nil, fail(v1alpha1.AreaTrust, causeChainBroken, []string{
				fmt.Sprintf("kubectl --context %s -n istio-system get secret cacerts", name)},
				"%s: the client's certificate does not verify against the root it holds: %v", name, err)
		}
		out[name] = *chain
	}
	return out, nil
}

// SharedRoot fails unless every cluster's workload holds the same root, and (when meshconform created the root)
// that root is the one in the environment file.
func SharedRoot(ctx context.Context, m *Mesh) error {
	chains, err := Roots(ctx, m)
	if err != nil {
		return err
	}
	byRoot := map[string][]string{}
	for name, ch := range chains {
		byRoot[ch.RootFingerprint] = append(byRoot[ch.RootFingerprint], name)
	}
	inspect := []string{"kubectl -n istio-system get secret cacerts istio-ca-secret (in every cluster)",
		"istioctl proxy-config secret <pod> (sidecar) or the root in " + workload.CertDir + " (proxyless)"}
	if len(byRoot) > 1 {
		var parts []string
		for fp, names := range byRoot {
			sort.Strings(names)
			parts = append(parts, fmt.Sprintf("%s in %s", short(fp), strings.Join(names, ", ")))
		}
		sort.Strings(parts)
		return fail(v1alpha1.AreaTrust, causeRootsDiffer, inspect, "workloads hold %d different roots: %s", len(byRoot),
			strings.Join(parts, "; "))
	}
	if want := m.State.Mesh.RootFingerprint; want != "" {
		for fp, names := range byRoot {
			if fp != want {
				sort.Strings(names)
				return fail(v1alpha1.AreaTrust, causeRootsDiffer, inspect, "workloads in %s hold root %s, not the mesh's root %s",
					strings.Join(names, ","), short(fp), short(want))
			}
		}
	}
	return nil
}

// MutualTLS calls the echo service from src: first (uncounted) until every group of reach has answered (every
// cluster of src's network, and every other network through one of its clusters: the gateway pins a connection to
// one cluster, see package lb), then as many counted calls as the load-balancing test needs to reach every group
// with a healthy mesh's certainty. Every counted call must be mutually authenticated: each server saw the client's
// SPIFFE identity and, where the client terminates TLS itself (proxyless), the client saw the server's. Failed calls
// (mTLS configuration still arriving) may be retried; a wrong identity, or counted calls that never reached a
// group, are final. The caller sets up STRICT mTLS and, for proxyless, ISTIO_MUTUAL.
func MutualTLS(ctx context.Context, m *Mesh, src string, reach lb.Reach, warmUp time.Duration) (workload.Tally, error) {
	calls := 2
	groups := [][]string{}
	for _, g := range reach.Groups {
		groups = append(groups, g.Members)
	}
	// A cluster-local echo host decides before any call: no identity across clusters can be checked, and waiting
	// out the warm-up (the whole trust budget, since a retry warms up again) would only confirm it.
	if len(reach.Groups) > 1 {
		if note := m.ClusterLocalNote(ctx, src); note != "" {
			f := fail(v1alpha1.AreaTrust, note, inspectMeshConfig(m.Istiod(src)),
				"calls from %s cannot reach %s: their identities could not be checked", src, DescribeReach(reach))
			f.Final = true
			return workload.Tally{}, f
		}
	}
	if len(reach.Groups) > 1 {
		endpoints := map[string]int{}
		for _, d := range reach.Clusters() {
			pods, err := m.EchoPods(ctx, d)
			if err != nil {
				return workload.Tally{}, err
			}
			endpoints[d] = len(pods)
		}
		plan, err := lb.NewGroupPlan(reach, endpoints, lb.MaxFalseAlarm)
		if err != nil {
			return workload.Tally{}, err
		}
		calls, groups = plan.Requests, plan.WarmUp()
	}
	var warm []string
	for _, g := range groups {
		warm = append(warm, workload.AnyOf(g...))
	}
	t, err := workload.CallWith(ctx, m.Clients[src], m.Namespace, workload.CallSpec{Target: m.Target(), Count: calls,
		XDS: true, WarmUpUntil: warm, WarmUpTimeout: warmUp})
	if err != nil {
		return t, err
	}
	inspect := []string{
		fmt.Sprintf("kubectl --context %s -n %s get peerauthentication,destinationrule", src, m.Namespace),
		fmt.Sprintf("kubectl --context %s -n %s logs deploy/%s", src, m.Namespace, workload.ClientName)}
	if t.Failed() > 0 {
		// An RBAC denial or a trust-domain mismatch is named first; then a user's rule for the host (added after the
		// spec applied its own, or one that wins over it) is a more likely cause than a client without mTLS.
		cause := causeMTLS
		if note := foreignRulesNote(ctx, m, src); note != "" {
			cause = "the spec's DestinationRule or PeerAuthentication may not be the one in effect: " + note + "; otherwise " + causeMTLS
		}
		return t, fail(v1alpha1.AreaTrust, m.callCause(ctx, t, cause), inspect, "%d of %d calls from %s failed under STRICT mTLS (first error: %s)",
			t.Failed(), t.Sent, src, t.FirstError)
	}
	if w := t.Warmup; w != nil && !w.Complete {
		return t, fail(v1alpha1.AreaTrust, m.callCause(ctx, t, causeNoRemoteEndpoints), inspectIstiod(m.Istiod(src)),
			"in %d calls over %.0fs, calls from %s reached only %v, not all of %s", w.Calls, w.Seconds, src, w.Reached, DescribeReach(reach))
	}
	var missing []string
	for _, g := range groups {
		if !slices.ContainsFunc(g, func(c string) bool { return t.ByCluster[c] > 0 }) {
			missing = append(missing, strings.Join(g, " or "))
		}
	}
	if len(missing) > 0 {
		f := fail(v1alpha1.AreaTrust, m.callCause(ctx, t, causeStaysLocal), inspect, "none of the %d counted calls from %s reached %s (%v): their "+
			"identities could not be checked", t.OK, src, strings.Join(missing, ", "), t.ByCluster)
		f.Final = true
		return t, f
	}
	want := m.ClientIdentity()
	if t.Peers[want] != t.OK {
		f := fail(v1alpha1.AreaTrust, m.callCause(ctx, t, causeMTLS), inspect, "servers saw the client identity %s on %d of %d calls (peers seen: %v)",
			want, t.Peers[want], t.OK, t.Peers)
		f.Final = true
		return t, f
	}
	if m.DataPlane == env.DataPlaneProxyless && t.ServerPeers[m.ServerIdentity()] != t.OK {
		f := fail(v1alpha1.AreaTrust, m.callCause(ctx, t, causeMTLS), inspect, "the client saw the server identity %s on %d of %d calls (seen: %v)",
			m.ServerIdentity(), t.ServerPeers[m.ServerIdentity()], t.OK, t.ServerPeers)
		f.Final = true
		return t, f
	}
	return t, nil
}

// callCause is the likely cause of calls going wrong: an RBAC denial when calls were refused with PermissionDenied,
// a trust-domain mismatch between the clusters when the workloads' identities say so, else dflt.
func (m *Mesh) callCause(ctx context.Context, t workload.Tally, dflt string) string {
	if note := m.rbacNote(ctx, t); note != "" {
		return note
	}
	if note := m.trustDomainNote(ctx); note != "" {
		return note
	}
	return dflt
}

func short(fp string) string {
	if len(fp) > 16 {
		return fp[:16] + "…"
	}
	return fp
}
