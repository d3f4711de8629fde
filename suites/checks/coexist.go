package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/topology"
	"github.com/meshconform/meshconform/framework/workload"
)

// causePolicyConflict is the cause of a *workload.ConflictError: the spec applied nothing.
const causePolicyConflict = "mesh configuration that is not meshconform's selects the same pods for the echo host and is " +
	"older, so it decides instead of the spec's own rule: Istio uses the oldest DestinationRule whose workloadSelector " +
	"selects a client (and keeps only the oldest top-level trafficPolicy of rules it merges), and the oldest " +
	"workload-level PeerAuthentication of a server; the spec applied nothing and changed none of it (remove or narrow " +
	"that object's selector, or run in a mesh without it)"

// PolicyConflict turns a *workload.ConflictError (a spec's rule not applied because a user's object would decide
// instead) into a diagnosis of area naming those objects, final (waiting does not change it); other errors are
// returned as they are.
func PolicyConflict(area v1alpha1.Area, err error) error {
	var ce *workload.ConflictError
	if !errors.As(err, &ce) {
		return err
	}
	var inspect []string
	for _, r := range ce.Conflicts {
		inspect = append(inspect, fmt.Sprintf("kubectl --context %s -n %s get %s %s -o yaml", ce.Cluster, r.Namespace,
			strings.ToLower(r.Kind), r.Name))
	}
	f := fail(area, causePolicyConflict, inspect, "%v", ce)
	f.Final = true
	return f
}

// RequireMutualTLS applies what trust-mutual-tls tests under: STRICT for the echo servers in every cluster
// (workload.RequireMTLS) and, for proxyless clients, ISTIO_MUTUAL in every primary (workload.ClientMTLS). It first
// looks at every primary's DestinationRules and PeerAuthentications (where istiod reads its configuration): when an
// object that is not the environment's would decide instead, it applies nothing and fails naming it
// (PolicyConflict). coexisting lists the user's rules for the host that stay in force beside the spec's. restore
// removes what it applied; the ClientMTLS rules stay when keepClient says they are the environment's default.
func RequireMutualTLS(ctx context.Context, m *Mesh, keepClient bool) (restore func(context.Context) error, coexisting []string, err error) {
	var applied []func(context.Context) error
	restore = func(ctx context.Context) error {
		var errs []error
		for i := len(applied) - 1; i >= 0; i-- {
			errs = append(errs, applied[i](ctx))
		}
		return errors.Join(errs...)
	}
	proxyless := m.DataPlane == env.DataPlaneProxyless
	var conflicts []*workload.ConflictError
	for _, c := range m.State.Clusters {
		if c.Role != topology.RolePrimary {
			continue
		}
		bad, ok, err := workload.ForeignRules(ctx, m.Clients[c.Name], m.State.Name, m.Namespace, m.Service, uint32(m.Port))
		if err != nil {
			return restore, nil, err
		}
		var mine []workload.Rule
		for _, r := range bad {
			if proxyless || r.Kind != "DestinationRule" {
				mine = append(mine, r)
			}
		}
		if len(mine) > 0 {
			conflicts = append(conflicts, &workload.ConflictError{Cluster: c.Name,
				Ours: "the trust spec's STRICT PeerAuthentication and ISTIO_MUTUAL DestinationRule", Conflicts: mine})
		}
		for _, r := range ok {
			if proxyless || r.Kind != "DestinationRule" {
				coexisting = append(coexisting, c.Name+": "+r.String())
			}
		}
	}
	if len(conflicts) > 0 {
		var errs []error
		for _, ce := range conflicts {
			errs = append(errs, PolicyConflict(v1alpha1.AreaTrust, ce))
		}
		if len(errs) == 1 {
			return restore, coexisting, errs[0]
		}
		return restore, coexisting, errors.Join(errs...)
	}
	for _, name := range m.Names() {
		c := m.Clients[name]
		applied = append(applied, func(ctx context.Context) error { return workload.RemoveRequireMTLS(ctx, c, m.Namespace) })
		if err := workload.RequireMTLSFor(ctx, c, m.State.Name, m.Namespace, m.Service, m.Port); err != nil {
			return restore, coexisting, PolicyConflict(v1alpha1.AreaTrust, err)
		}
	}
	if !proxyless {
		return restore, coexisting, nil
	}
	// gRPC uses mTLS only when a DestinationRule says ISTIO_MUTUAL (no auto-mTLS without Envoy).
	for _, c := range m.State.Clusters {
		if c.Role != topology.RolePrimary {
			continue
		}
		kc := m.Clients[c.Name]
		if !keepClient {
			applied = append(applied, func(ctx context.Context) error { return workload.RemoveClientMTLS(ctx, kc, m.Namespace, m.Host()) })
		}
		if err := workload.ClientMTLS(ctx, kc, m.State.Name, m.Namespace, m.Host()); err != nil {
			return restore, coexisting, PolicyConflict(v1alpha1.AreaTrust, err)
		}
	}
	return restore, coexisting, nil
}

// foreignRulesNote names, for a diagnosis of failed calls from src, the mesh configuration for the echo host that is
// not the environment's in the primary whose istiod serves src: conflicts first. Empty when there is none (or it
// cannot be read).
func foreignRulesNote(ctx context.Context, m *Mesh, src string) string {
	p := m.Istiod(src)
	c, ok := m.Clients[p]
	if !ok {
		return ""
	}
	bad, other, err := workload.ForeignRules(ctx, c, m.State.Name, m.Namespace, m.Service, uint32(m.Port))
	if err != nil || len(bad)+len(other) == 0 {
		return ""
	}
	var parts []string
	for _, r := range bad {
		parts = append(parts, r.String())
	}
	for _, r := range other {
		parts = append(parts, fmt.Sprintf("%s %s/%s (%s)", r.Kind, r.Namespace, r.Name, r.Sets))
	}
	return fmt.Sprintf("in %s, configuration that is not meshconform's: %s", p, strings.Join(parts, "; "))
}
