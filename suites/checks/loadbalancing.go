package checks

import (
	"context"
	"fmt"
	"time"

	"github.com/meshconform/meshconform/framework/lb"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/workload"
)

// Balanced calls the echo service from src and judges whether the calls reach every cluster in dsts (see package
// lb for the test and its false-alarm rate). The client first calls, uncounted, until every cluster has answered
// once (for at most warmUp), so the judged calls run on a channel that knows every endpoint. The verdict is
// returned even when it fails, for the report.
func Balanced(ctx context.Context, m *Mesh, src string, dsts []string, alpha float64, warmUp time.Duration) (lb.Verdict, error) {
	endpoints := map[string]int{}
	for _, d := range dsts {
		pods, err := m.EchoPods(ctx, d)
		if err != nil {
			return lb.Verdict{}, err
		}
		endpoints[d] = len(pods)
	}
	plan, err := lb.NewPlan(endpoints, alpha)
	if err != nil {
		return lb.Verdict{}, fmt.Errorf("plan calls from %s: %w", src, err)
	}
	t, err := workload.CallWith(ctx, m.Clients[src], m.Namespace, workload.CallSpec{Target: m.Target(),
		Count: plan.Requests, XDS: true, WarmUpUntil: plan.Clusters(), WarmUpTimeout: warmUp})
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
	cause := causeStaysLocal
	if t.Failed() > 0 {
		cause = fmt.Sprintf("calls fail (first error: %s): the echo pods or the path to them are broken", t.FirstError)
	}
	observed := v.Reason
	if w := t.Warmup; w != nil && !w.Complete {
		observed += fmt.Sprintf("; before that, %d warm-up calls over %.0fs reached only %v", w.Calls, w.Seconds, w.Reached)
	}
	return v, fail(v1alpha1.AreaLoadBalancing, cause, inspect, "%s", observed)
}
