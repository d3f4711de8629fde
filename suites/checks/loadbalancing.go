package checks

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/meshconform/meshconform/framework/lb"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/workload"
)

// Balanced calls the echo service from src and judges whether the calls reach every group of reach (see package lb
// for the groups, the test and its false-alarm rate): every cluster of src's network, and every other network through
// any one of its clusters, since its east-west gateway pins a connection to one cluster (m.ReachGroups). The client
// first calls, uncounted, until every group has answered once (for at most warmUp), so the judged calls run on a
// channel connected to every group. The verdict is returned even when it fails, for the report.
func Balanced(ctx context.Context, m *Mesh, src string, reach lb.Reach, alpha float64, warmUp time.Duration) (lb.Verdict, error) {
	// A cluster-local echo host decides the verdict before any call: waiting out the warm-up would only confirm it.
	if len(reach.Groups) > 1 {
		if note := m.ClusterLocalNote(ctx, src); note != "" {
			v := lb.Verdict{Source: src, Reason: note}
			f := fail(v1alpha1.AreaLoadBalancing, note, inspectMeshConfig(m.Istiod(src)),
				"calls from %s cannot reach %s", src, DescribeReach(reach))
			f.Final = true
			return v, f
		}
	}
	endpoints := map[string]int{}
	for _, d := range reach.Clusters() {
		pods, err := m.EchoPods(ctx, d)
		if err != nil {
			return lb.Verdict{}, err
		}
		endpoints[d] = len(pods)
	}
	plan, err := lb.NewGroupPlan(reach, endpoints, alpha)
	if err != nil {
		return lb.Verdict{}, fmt.Errorf("plan calls from %s: %w", src, err)
	}
	t, err := workload.CallWith(ctx, m.Clients[src], m.Namespace, workload.CallSpec{Target: m.Target(),
		Count: plan.Requests, XDS: true, WarmUpUntil: warmUpGroups(plan), WarmUpTimeout: warmUp})
	if err != nil {
		return lb.Verdict{}, err
	}
	warm := 0
	if t.Warmup != nil {
		warm = t.Warmup.Calls
	}
	v := lb.Judge(plan, src, t.ByCluster, t.Failed(), warm)
	if v.Pass {
		return v, nil
	}
	inspect := append(inspectIstiod(m.Istiod(src)),
		fmt.Sprintf("kubectl --context %s -n %s get destinationrule -o yaml (localityLbSetting, outlierDetection)", src, m.Namespace))
	var causes []string
	switch {
	case t.Failed() > 0:
		causes = append(causes, fmt.Sprintf("calls fail (first error: %s): the echo pods or the path to them are broken", t.FirstError))
	default:
		if missingKind(v, lb.GroupCluster) {
			causes = append(causes, causeStaysLocal)
		}
		if missingKind(v, lb.GroupNetwork) || missingKind(v, lb.GroupRemoteCluster) {
			causes = append(causes, causeNetworkNotReached)
		}
		if len(v.Unexpected) > 0 {
			causes = append(causes, causeUnexpectedCluster)
			inspect = append(inspect, fmt.Sprintf("kubectl --context %s -n %s get serviceentry,workloadentry", src, m.Namespace))
		}
	}
	if len(causes) == 0 {
		causes = append(causes, causeStaysLocal)
	}
	observed := v.Reason
	if w := t.Warmup; w != nil && !w.Complete {
		observed += fmt.Sprintf("; before that, %d warm-up calls over %.0fs reached only %v", w.Calls, w.Seconds, w.Reached)
	}
	return v, fail(v1alpha1.AreaLoadBalancing, strings.Join(causes, "; or "), inspect, "%s", observed)
}

// warmUpGroups are the plan's warm-up groups for the client's --warm-up-until.
func warmUpGroups(p lb.Plan) []string {
	var out []string
	for _, g := range p.WarmUp() {
		out = append(out, workload.AnyOf(g...))
	}
	return out
}

// missingKind says whether a required group of that kind got no call.
func missingKind(v lb.Verdict, k lb.GroupKind) bool {
	for i, g := range v.Plan.Groups {
		if g.Kind == k && g.Required() && v.Groups[i].Calls == 0 {
			return true
		}
	}
	return false
}

// DescribeReach names what calls from a source must reach, for a spec's step: "cluster1, cluster2, network2
// (cluster3, cluster4)".
func DescribeReach(r lb.Reach) string {
	var parts []string
	for _, g := range r.Groups {
		parts = append(parts, g.String())
	}
	return strings.Join(parts, ", ")
}
