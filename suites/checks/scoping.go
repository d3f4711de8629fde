package checks

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/meshconform/meshconform/framework/istio/istiod"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/topology"
	"github.com/meshconform/meshconform/framework/workload"
)

// ScopingSources are the clusters whose calls cross clusters when nothing scopes them, and that run the service
// themselves, so that "stays in its own cluster" can hold.
func ScopingSources(m *Mesh) []string {
	var out []string
	for _, s := range m.Names() {
		if r := m.Reachable(s); len(r) > 1 && slices.Contains(r, s) {
			out = append(out, s)
		}
	}
	return out
}

// Primaries are the clusters running istiod, whose mesh config governs the clusters they serve.
func (m *Mesh) Primaries() []string {
	var out []string
	for _, c := range m.State.Clusters {
		if c.Role == topology.RolePrimary {
			out = append(out, c.Name)
		}
	}
	return out
}

// MakeClusterLocal adds a serviceSettings entry making the echo host cluster-local to the mesh config of each of
// primaries; restore puts every mesh config back as it was (also after a partial failure).
func MakeClusterLocal(ctx context.Context, m *Mesh, primaries []string) (restore func(context.Context) error, err error) {
	var restores []func(context.Context) error
	restore = func(ctx context.Context) error {
		var errs []error
		for _, r := range restores {
			errs = append(errs, r(ctx))
		}
		return errors.Join(errs...)
	}
	for _, p := range primaries {
		r, err := istiod.EditMeshConfig(ctx, m.Clients[p], m.Revision(p), istiod.SetClusterLocal(m.Host()))
		if err != nil {
			return restore, err
		}
		restores = append(restores, r)
	}
	return restore, nil
}

// scopingJudged is how many calls are judged once a probe batch stayed local. If calls still crossed to one of k ≥ 2
// equally weighted clusters, all of them staying local by chance has probability at most 2^-30 ≈ 1e-9.
const scopingJudged = 30

// StaysLocal calls the echo service from src after its host was made cluster-local: it probes until a batch is
// answered by src alone (for at most bound), then judges scopingJudged calls, which must all succeed in src.
func StaysLocal(ctx context.Context, m *Mesh, src string, bound time.Duration) (workload.Tally, error) {
	start := time.Now()
	var last workload.Tally
	var lastErr error
	local := func(t workload.Tally) bool { return t.Failed() == 0 && t.OK > 0 && t.ByCluster[src] == t.OK }
	for {
		last, lastErr = workload.Call(ctx, m.Clients[src], m.Namespace, m.Target(), failoverBatch, true)
		if lastErr == nil && local(last) {
			break
		}
		if time.Since(start) > bound {
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
	if local(last) {
		t, err := workload.Call(ctx, m.Clients[src], m.Namespace, m.Target(), scopingJudged, true)
		if err != nil && t.Sent == 0 {
			return t, fmt.Errorf("calls from %s: %w", src, err)
		}
		judged = t
	}
	if local(judged) {
		return judged, nil
	}
	server := m.Istiod(src)
	observed := fmt.Sprintf("%.0fs after %s was made cluster-local, %d calls from %s were answered by %v",
		time.Since(start).Seconds(), m.Host(), judged.Sent, src, byCluster(judged))
	if judged.Failed() > 0 {
		observed += fmt.Sprintf(", %d failed (first error: %s)", judged.Failed(), judged.FirstError)
	}
	inspect := append(inspectIstiod(server),
		fmt.Sprintf("kubectl --context %s -n istio-system get configmap istio -o jsonpath='{.data.mesh}' (serviceSettings)", server))
	cause := causeClusterLocalIgnored
	if patterns, err := istiod.ClusterLocalFor(ctx, m.Clients[server], m.Revision(server), m.Host()); err == nil && len(patterns) == 0 {
		cause = fmt.Sprintf(causeClusterLocalMissing, server, src)
	}
	return judged, fail(v1alpha1.AreaScoping, cause, inspect, "%s", observed)
}

// CrossesAgain calls from src until a cluster other than src answers (after the cluster-local setting was
// removed), for at most bound.
func CrossesAgain(ctx context.Context, m *Mesh, src string, bound time.Duration) (time.Duration, error) {
	return reachAny(ctx, m, src, slices.DeleteFunc(m.Reachable(src), func(c string) bool { return c == src }), bound,
		causeClusterLocalStuck, "its cluster-local setting was removed")
}

// SpreadsAgain calls from src until a cluster other than target answers (after the subset route to target was
// removed), for at most bound.
func SpreadsAgain(ctx context.Context, m *Mesh, src, target string, bound time.Duration) (time.Duration, error) {
	return reachAny(ctx, m, src, slices.DeleteFunc(m.Reachable(src), func(c string) bool { return c == target }), bound,
		causeSubsetStuck, "the subset route was removed")
}

// reachAny calls from src until one of want answers, for at most bound.
func reachAny(ctx context.Context, m *Mesh, src string, want []string, bound time.Duration, cause, after string) (time.Duration, error) {
	start := time.Now()
	t, err := workload.CallWith(ctx, m.Clients[src], m.Namespace, workload.CallSpec{Target: m.Target(), Count: 1,
		XDS: true, WarmUpUntil: []string{workload.AnyOf(want...)}, WarmUpTimeout: bound})
	took := time.Since(start)
	if err != nil && t.Sent == 0 {
		return took, fmt.Errorf("calls from %s: %w", src, err)
	}
	if w := t.Warmup; w == nil || !w.Complete {
		reached := map[string]int{}
		if w != nil {
			reached = w.Reached
		}
		return took, fail(v1alpha1.AreaScoping, cause, inspectIstiod(m.Istiod(src)),
			"%.0fs after %s for %s, calls from %s reached only %v, none of %v", took.Seconds(), after, m.Host(), src,
			reached, want)
	}
	return took, nil
}

// ClusterLocalNote is a diagnosis' addition when calls from src stay local: the mesh config of its istiod makes the
// echo host cluster-local ("" when it does not or cannot be read).
func (m *Mesh) ClusterLocalNote(ctx context.Context, src string) string {
	server := m.Istiod(src)
	patterns, err := istiod.ClusterLocalFor(ctx, m.Clients[server], m.Revision(server), m.Host())
	if err != nil || len(patterns) == 0 {
		return ""
	}
	return fmt.Sprintf("the mesh config of %s's istiod makes %s cluster-local (serviceSettings hosts %v): calls from %s "+
		"never leave it", server, m.Host(), patterns, src)
}

func byCluster(t workload.Tally) string {
	s := ""
	for _, c := range slices.Sorted(maps.Keys(t.ByCluster)) {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s %d", c, t.ByCluster[c])
	}
	if s == "" {
		return "no cluster"
	}
	return s
}

// SubsetPlan is where RouteToCluster sends every caller: Target, reached by every one of Sources next to another
// cluster, so that "only Target answers" says something.
type SubsetPlan struct {
	Target  string
	Sources []string
}

// PlanSubset picks the last cluster (topology order) that the most callers reach next to another cluster.
func PlanSubset(m *Mesh) (SubsetPlan, bool) {
	var best SubsetPlan
	for _, t := range m.Names() {
		p := SubsetPlan{Target: t}
		for _, s := range m.Names() {
			if r := m.Reachable(s); len(r) > 1 && slices.Contains(r, t) {
				p.Sources = append(p.Sources, s)
			}
		}
		if len(p.Sources) >= len(best.Sources) && len(p.Sources) > 0 {
			best = p
		}
	}
	return best, len(best.Sources) > 0
}

// RouteToCluster applies, in every primary, subsets of the echo host by cluster (subset name = cluster name,
// selecting on the Istio cluster ID ids gives, default m.IstioID) and a route of every call to target's subset.
// restore removes them.
func RouteToCluster(ctx context.Context, m *Mesh, target string, ids map[string]string) (restore func(context.Context) error, err error) {
	subsets := map[string]string{}
	for _, n := range m.Names() {
		subsets[n] = m.IstioID(n)
		if id, ok := ids[n]; ok {
			subsets[n] = id
		}
	}
	restore = func(ctx context.Context) error {
		var errs []error
		for _, p := range m.Primaries() {
			errs = append(errs, workload.RemoveRouteToCluster(ctx, m.Clients[p], m.State.Name, m.Namespace, m.Host()))
		}
		return errors.Join(errs...)
	}
	for _, p := range m.Primaries() {
		if err := workload.RouteToCluster(ctx, m.Clients[p], m.State.Name, m.Namespace, m.Host(), subsets, target); err != nil {
			return restore, PolicyConflict(v1alpha1.AreaScoping, err)
		}
	}
	return restore, nil
}

// RoutedTo calls from src until a batch is answered by target alone (for at most bound), then judges scopingJudged
// calls, which must all succeed in target.
func RoutedTo(ctx context.Context, m *Mesh, src, target string, bound time.Duration) (workload.Tally, error) {
	start := time.Now()
	only := func(t workload.Tally) bool { return t.Failed() == 0 && t.OK > 0 && t.ByCluster[target] == t.OK }
	var last workload.Tally
	var lastErr error
	for {
		last, lastErr = workload.Call(ctx, m.Clients[src], m.Namespace, m.Target(), failoverBatch, true)
		if (lastErr == nil && only(last)) || time.Since(start) > bound {
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
	if only(last) {
		t, err := workload.Call(ctx, m.Clients[src], m.Namespace, m.Target(), scopingJudged, true)
		if err != nil && t.Sent == 0 {
			return t, fmt.Errorf("calls from %s: %w", src, err)
		}
		judged = t
	}
	if only(judged) {
		return judged, nil
	}
	observed := fmt.Sprintf("%.0fs after routing %s to subset %s, %d calls from %s were answered by %s",
		time.Since(start).Seconds(), m.Host(), target, judged.Sent, src, byCluster(judged))
	cause := causeSubsetIgnored
	if judged.Failed() > 0 {
		observed += fmt.Sprintf(", %d failed (first error: %s)", judged.Failed(), judged.FirstError)
		cause = fmt.Sprintf(causeSubsetEmpty, target, workload.ClusterLabel, target, m.IstioID(target))
	}
	inspect := append(inspectIstiod(m.Istiod(src)),
		fmt.Sprintf("kubectl --context %s -n %s get destinationrule,virtualservice -o yaml", m.Istiod(src), m.Namespace))
	return judged, fail(v1alpha1.AreaScoping, cause, inspect, "%s", observed)
}
