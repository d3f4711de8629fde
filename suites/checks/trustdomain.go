package checks

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/meshconform/meshconform/framework/istio/istiod"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/workload"
)

// Trust domains across clusters: one root, but a primary issuing identities under another trust domain
// (meshConfig.trustDomain). A caller's istiod expects the echo servers of every cluster to present
// spiffe://<its own trust domain>/ns/<ns>/sa/<sa>, plus the same under each of its trustDomainAliases (the SAN
// matcher it sends proxyless clients in CDS, and sidecars' inbound validation), so a server of a foreign trust domain
// is rejected under mTLS unless an alias names it (Istio's trust_domain_validation_test).

const (
	causeTrustDomainMismatch = "the clusters issue identities under different trust domains (%s): a client " +
		"accepts a server's certificate only if its trust domain is its own istiod's meshConfig.trustDomain or one " +
		"of its trustDomainAliases, and %s; give every primary the same trustDomain, or add the other trust " +
		"domains to each primary's trustDomainAliases (workloads keep the identity they started with until they " +
		"restart)"
	causeForeignAccepted = "the caller accepted a server whose identity is of another trust domain that its mesh " +
		"config does not alias: the client does not check the server's SAN (proxyless gRPC checks it only against the " +
		"SAN matchers istiod puts into the cluster's CDS and accepts any certificate of the root when there are none, " +
		"as measured here; a client without ISTIO_MUTUAL or xDS credentials; with a sidecar, a DestinationRule with " +
		"its own subjectAltNames)"
	causeOwnDomainFails = "calls fail although servers of the caller's own trust domain could answer them: the " +
		"mTLS setup (STRICT, ISTIO_MUTUAL) or the endpoints of its own trust domain, not the foreign trust domain"
	causeAliasIgnored = "calls from a trust domain that trustDomainAliases name are still rejected: the aliases did " +
		"not reach the caller's istiod (its mesh config), or the servers' identities are of yet another trust domain"
)

// TrustDomainOf is the trust domain of a SPIFFE ID ("" if it is not one).
func TrustDomainOf(spiffeID string) string {
	u, err := url.Parse(spiffeID)
	if err != nil || u.Scheme != "spiffe" {
		return ""
	}
	return u.Host
}

// WorkloadTrustDomains reads, per cluster, the trust domain of the identity the client workload's certificate holds.
func WorkloadTrustDomains(ctx context.Context, m *Mesh) (map[string]string, error) {
	chains, err := Roots(ctx, m)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for name, ch := range chains {
		for _, id := range ch.SPIFFEIDs {
			if td := TrustDomainOf(id); td != "" {
				out[name] = td
				break
			}
		}
	}
	return out, nil
}

// MeshTrustDomains reads each primary's mesh config: the trust domain it issues under and its aliases.
func MeshTrustDomains(ctx context.Context, m *Mesh) (map[string]istiod.TrustDomains, error) {
	out := map[string]istiod.TrustDomains{}
	for _, p := range m.Primaries() {
		t, err := istiod.TrustDomainsOf(ctx, m.Clients[p], m.Revision(p))
		if err != nil {
			return nil, err
		}
		out[p] = t
	}
	return out, nil
}

// TrustDomainMismatch describes, from the workloads' identities (per cluster) and the mesh config of the istiod
// serving each cluster (istiodOf), which callers would reject which servers; "" when every client accepts every
// cluster's trust domain.
func TrustDomainMismatch(workloads map[string]string, meshes map[string]istiod.TrustDomains, istiodOf func(string) string) string {
	var rejects []string
	names := slices.Sorted(maps.Keys(workloads))
	for _, src := range names {
		t, ok := meshes[istiodOf(src)]
		if !ok {
			continue
		}
		for _, dst := range names {
			if dst != src && !t.Accepts(workloads[dst]) {
				rejects = append(rejects, fmt.Sprintf("%s (accepting %s) rejects %s's servers (%s)", src,
					strings.Join(append([]string{t.TrustDomain}, t.Aliases...), ", "), dst, workloads[dst]))
			}
		}
	}
	if len(rejects) == 0 {
		return ""
	}
	var tds []string
	for _, n := range names {
		tds = append(tds, n+": "+workloads[n])
	}
	return fmt.Sprintf(causeTrustDomainMismatch, strings.Join(tds, ", "), strings.Join(rejects, "; "))
}

// trustDomainNote is TrustDomainMismatch on the live mesh ("" when the trust domains agree or cannot be read).
func (m *Mesh) trustDomainNote(ctx context.Context) string {
	w, err := WorkloadTrustDomains(ctx, m)
	if err != nil {
		return ""
	}
	meshes, err := MeshTrustDomains(ctx, m)
	if err != nil {
		return ""
	}
	return TrustDomainMismatch(w, meshes, m.Istiod)
}

// TrustDomainGroup is a primary and the remotes it serves: the clusters whose workloads get identities of its trust
// domain.
func (m *Mesh) TrustDomainGroup(primary string) []string {
	var out []string
	for _, n := range m.Names() {
		if m.Istiod(n) == primary {
			out = append(out, n)
		}
	}
	return out
}

// ForeignTrustDomainPlan is which primary issues under a foreign trust domain and who calls its clusters.
type ForeignTrustDomainPlan struct {
	// Primary's mesh config gets the foreign trust domain; Foreign are the clusters it serves.
	Primary string
	Foreign []string
	// Sources are the callers outside Foreign that reach a cluster of Foreign and one of their own trust domain.
	Sources []string
}

// PlanForeignTrustDomain picks the last primary some caller of another primary's trust domain reaches next to a
// cluster of its own.
func PlanForeignTrustDomain(m *Mesh) (ForeignTrustDomainPlan, bool) {
	var best ForeignTrustDomainPlan
	for _, p := range m.Primaries() {
		plan := ForeignTrustDomainPlan{Primary: p, Foreign: m.TrustDomainGroup(p)}
		for _, s := range m.Names() {
			if slices.Contains(plan.Foreign, s) {
				continue
			}
			r := m.Reachable(s)
			own := slices.ContainsFunc(r, func(c string) bool { return !slices.Contains(plan.Foreign, c) })
			if own && slices.ContainsFunc(r, func(c string) bool { return slices.Contains(plan.Foreign, c) }) {
				plan.Sources = append(plan.Sources, s)
			}
		}
		if len(plan.Sources) > 0 {
			best = plan
		}
	}
	return best, len(best.Sources) > 0
}

// restartTestWorkloads restarts the echo and client Deployments of clusters (workloads keep the identity they were
// issued until they restart) and waits until they are ready.
func restartTestWorkloads(ctx context.Context, m *Mesh, clusters []string, timeout time.Duration) error {
	for _, c := range clusters {
		name, _, err := echoDeployment(ctx, m, c)
		if err != nil {
			return err
		}
		for _, d := range []string{name, workload.ClientName} {
			if err := m.Clients[c].RolloutRestart(ctx, m.Namespace, d, timeout); err != nil {
				return err
			}
		}
		if err := workload.WaitReady(ctx, m.Clients[c], m.Namespace, timeout); err != nil {
			return err
		}
	}
	return nil
}

// IssueForeignTrustDomain makes plan.Primary issue identities under td and restarts the test workloads of the
// clusters it serves until they hold identities of td. restore puts the mesh config back and restarts them until
// they hold identities of the mesh's trust domain again.
func IssueForeignTrustDomain(ctx context.Context, m *Mesh, plan ForeignTrustDomainPlan, td string, timeout time.Duration) (restore func(context.Context) error, err error) {
	undo, err := istiod.EditMeshConfig(ctx, m.Clients[plan.Primary], m.Revision(plan.Primary), istiod.SetTrustDomain(td))
	if err != nil {
		return func(context.Context) error { return nil }, err
	}
	restore = func(ctx context.Context) error {
		if err := undo(ctx); err != nil {
			return err
		}
		return m.restartUntilTrustDomain(ctx, plan.Foreign, m.TrustDomain, timeout)
	}
	return restore, m.restartUntilTrustDomain(ctx, plan.Foreign, td, timeout)
}

// restartUntilTrustDomain restarts the test workloads of clusters until their identities are of td, for at most
// timeout: istiod reads its mesh config from the ConfigMap mounted as a file, which the kubelet refreshes up to a
// minute or so after a change, and until then its injector and CA still use the old trust domain.
func (m *Mesh) restartUntilTrustDomain(ctx context.Context, clusters []string, td string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := restartTestWorkloads(ctx, m, clusters, timeout)
		if err == nil {
			if err = m.expectTrustDomain(ctx, clusters, td); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
}

// expectTrustDomain fails unless the client workloads of clusters hold identities of td.
func (m *Mesh) expectTrustDomain(ctx context.Context, clusters []string, td string) error {
	w, err := WorkloadTrustDomains(ctx, m)
	if err != nil {
		return err
	}
	var wrong []string
	for _, c := range clusters {
		if w[c] != td {
			wrong = append(wrong, fmt.Sprintf("%s holds %q", c, w[c]))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("after the restart the workloads should hold identities of trust domain %s: %s", td,
			strings.Join(wrong, ", "))
	}
	return nil
}

// AliasTrustDomains adds, in the mesh config of each of primaries, the trust domains the other primaries issue under
// (domains: primary → trust domain) to its trustDomainAliases. restore writes those mesh configs back.
func AliasTrustDomains(ctx context.Context, m *Mesh, primaries []string, domains map[string]string) (restore func(context.Context) error, err error) {
	var restores []func(context.Context) error
	restore = func(ctx context.Context) error {
		var errs []error
		for _, r := range restores {
			errs = append(errs, r(ctx))
		}
		return errors.Join(errs...)
	}
	for _, p := range primaries {
		var others []string
		for q, td := range domains {
			if q != p && td != domains[p] && !slices.Contains(others, td) {
				others = append(others, td)
			}
		}
		slices.Sort(others)
		if len(others) == 0 {
			continue
		}
		r, err := istiod.EditMeshConfig(ctx, m.Clients[p], m.Revision(p), istiod.AddTrustDomainAliases(others...))
		if err != nil {
			return restore, err
		}
		restores = append(restores, r)
	}
	return restore, nil
}

// ForeignRejected calls the echo service from src (whose trust domain is not that of the foreign clusters) with
// mTLS: it probes until a batch succeeds with no answer from a foreign cluster (for at most bound), then judges
// scopingJudged calls: none may be answered by a foreign cluster, and the calls must succeed through src's own trust
// domain (the client rejects the foreign servers, not every server).
func ForeignRejected(ctx context.Context, m *Mesh, src string, foreign []string, bound time.Duration) (workload.Tally, error) {
	noForeign := func(t workload.Tally) bool {
		return t.OK > 0 && !slices.ContainsFunc(foreign, func(c string) bool { return t.ByCluster[c] > 0 })
	}
	start := time.Now()
	var last workload.Tally
	var lastErr error
	for {
		last, lastErr = workload.Call(ctx, m.Clients[src], m.Namespace, m.Target(), failoverBatch, true)
		if (lastErr == nil && noForeign(last) && last.Failed() == 0) || time.Since(start) > bound {
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
	if noForeign(last) {
		t, err := workload.Call(ctx, m.Clients[src], m.Namespace, m.Target(), scopingJudged, true)
		if err != nil && t.Sent == 0 {
			return t, fmt.Errorf("calls from %s: %w", src, err)
		}
		judged = t
	}
	if noForeign(judged) && judged.Failed() == 0 {
		return judged, nil
	}
	observed := fmt.Sprintf("%.0fs after %s got a foreign trust domain, %d calls from %s were answered by %s "+
		"(server identities %v)", time.Since(start).Seconds(), strings.Join(foreign, ", "), judged.Sent, src,
		byCluster(judged), judged.ServerPeers)
	if judged.Failed() > 0 {
		observed += fmt.Sprintf(", %d failed (first error: %s)", judged.Failed(), judged.FirstError)
	}
	inspect := append(inspectMeshConfig(m.Istiod(src)),
		fmt.Sprintf("kubectl --context %s -n %s get destinationrule -o yaml", m.Istiod(src), m.Namespace))
	cause, final := causeForeignAccepted, true
	if noForeign(judged) || judged.OK == 0 {
		// No foreign answer, but calls inside the caller's own trust domain failed.
		cause, final = causeOwnDomainFails, false
	}
	f := fail(v1alpha1.AreaAuthz, cause, inspect, "%s", observed)
	f.Final = final
	return judged, f
}

// AliasAccepted calls from src until a foreign cluster answers (once trustDomainAliases name its trust domain), for
// at most bound, and checks that the foreign server saw src's identity and src saw a foreign one.
func AliasAccepted(ctx context.Context, m *Mesh, src string, foreign []string, foreignTD string, bound time.Duration) (time.Duration, error) {
	start := time.Now()
	t, err := workload.CallWith(ctx, m.Clients[src], m.Namespace, workload.CallSpec{Target: m.Target(), Count: 1,
		XDS: true, WarmUpUntil: []string{workload.AnyOf(foreign...)}, WarmUpTimeout: bound})
	took := time.Since(start)
	if err != nil && t.Sent == 0 {
		return took, fmt.Errorf("calls from %s: %w", src, err)
	}
	inspect := append(inspectMeshConfig(m.Istiod(src)), inspectMeshConfig(m.Istiod(foreign[0]))...)
	if w := t.Warmup; w == nil || !w.Complete {
		reached := map[string]int{}
		if w != nil {
			reached = w.Reached
		}
		return took, fail(v1alpha1.AreaAuthz, causeAliasIgnored, inspect,
			"%.0fs after the trust domains were aliased, calls from %s reached only %v, none of %v (last error: %s)",
			took.Seconds(), src, reached, foreign, t.FirstError)
	}
	// The warm-up proved a foreign server answered; one more run shows the identities both ways.
	t, err = workload.CallWith(ctx, m.Clients[src], m.Namespace, workload.CallSpec{Target: m.Target(), Count: 10,
		XDS: true, WarmUpUntil: []string{workload.AnyOf(foreign...)}, WarmUpTimeout: bound})
	if err != nil && t.Sent == 0 {
		return took, fmt.Errorf("calls from %s: %w", src, err)
	}
	foreignSeen := false
	for id := range t.ServerPeers {
		foreignSeen = foreignSeen || TrustDomainOf(id) == foreignTD
	}
	if t.Failed() > 0 || !foreignSeen {
		return took, fail(v1alpha1.AreaAuthz, causeAliasIgnored, inspect,
			"with aliases, %d of %d calls from %s failed (first error: %s); server identities seen %v, none of trust domain %s",
			t.Failed(), t.Sent, src, t.FirstError, t.ServerPeers, foreignTD)
	}
	return took, nil
}
