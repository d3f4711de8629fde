package checks

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/istiod"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/workload"
)

// Failover plan: which cluster to drain and who must fail over.
type FailoverPlan struct {
	// Drained is the cluster whose echo pods are scaled to zero.
	Drained string
	// Sources reach Drained when it is healthy and at least one other cluster running the service.
	Sources []string
}

// PlanFailover picks the first cluster (topology order) that some caller reaches next to another cluster, and those
// callers; ok is false when no cluster can be drained with another left to answer.
func PlanFailover(m *Mesh) (FailoverPlan, bool) {
	for _, d := range m.Names() {
		p := FailoverPlan{Drained: d}
		for _, s := range m.Names() {
			r := m.Reachable(s)
			if slices.Contains(r, d) && len(r) > 1 {
				p.Sources = append(p.Sources, s)
			}
		}
		if len(p.Sources) > 0 {
			return p, true
		}
	}
	return FailoverPlan{}, false
}

// echoDeployment is the name of a cluster's echo Deployment, checked to be this environment's.
func echoDeployment(ctx context.Context, m *Mesh, cluster string) (name string, replicas int32, err error) {
	w := m.State.Mesh.Workloads
	if w == nil || w.Versions[cluster] == "" {
		return "", 0, fmt.Errorf("the environment records no echo workload in %s", cluster)
	}
	name = workload.Spec{Service: m.Service, Version: w.Versions[cluster]}.ServerName()
	d, err := m.Clients[cluster].Clientset.AppsV1().Deployments(m.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", 0, fmt.Errorf("%s: echo deployment %s/%s: %w", cluster, m.Namespace, name, err)
	}
	if owner := env.OwnerOf(d.Labels); owner.Env != m.State.Name {
		return "", 0, fmt.Errorf("%s: deployment %s/%s is not environment %s's (labels %v): not scaled", cluster,
			m.Namespace, name, m.State.Name, d.Labels)
	}
	replicas = 1
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	return name, replicas, nil
}

// Drain scales the echo Deployment of cluster to zero replicas and waits until none of its echo pods is left. The
// returned restore scales it back to what it had and waits until it is available; it is safe to call after a failed
// drain.
func Drain(ctx context.Context, m *Mesh, cluster string, timeout time.Duration) (restore func(context.Context) error, err error) {
	name, replicas, err := echoDeployment(ctx, m, cluster)
	if err != nil {
		return func(context.Context) error { return nil }, err
	}
	c := m.Clients[cluster]
	scale := func(ctx context.Context, n int32) error {
		patch := []byte(`{"spec":{"replicas":` + strconv.Itoa(int(n)) + `}}`)
		_, err := c.Clientset.AppsV1().Deployments(m.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		if err != nil {
			return fmt.Errorf("%s: scale %s/%s to %d: %w", cluster, m.Namespace, name, n, err)
		}
		return nil
	}
	restore = func(ctx context.Context) error {
		if err := scale(ctx, replicas); err != nil {
			return err
		}
		return c.WaitDeploymentAvailable(ctx, m.Namespace, name, timeout)
	}
	if err := scale(ctx, 0); err != nil {
		return restore, err
	}
	deadline := time.Now().Add(timeout)
	for {
		pods, err := c.Clientset.CoreV1().Pods(m.Namespace).List(ctx, metav1.ListOptions{
			LabelSelector: workload.AppLabel + "=" + m.Service})
		if err == nil && len(pods.Items) == 0 {
			return restore, nil
		}
		if time.Now().After(deadline) {
			return restore, fmt.Errorf("%s: echo pods still present %s after scaling %s to 0", cluster, timeout, name)
		}
		select {
		case <-ctx.Done():
			return restore, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// FailoverResult is how calls from one source went after a cluster was drained.
type FailoverResult struct {
	Source  string `json:"source"`
	Drained string `json:"drained"`
	// Converged is how long after the drain calls from Source stopped failing and stopped reaching Drained.
	Converged float64 `json:"convergedSeconds"`
	// Judged are the calls counted after convergence, by answering cluster.
	Judged map[string]int `json:"judged"`
	Failed int            `json:"failed"`
}

// failoverBatch is the number of calls of one convergence probe; failoverJudged the calls judged after it.
const (
	failoverBatch  = 10
	failoverJudged = 30
)

// FailedOver calls the echo service from src after drained lost its echo pods: it probes until a batch of calls
// all succeed and none is answered by drained (for at most bound), then judges failoverJudged more calls, which
// must all succeed on clusters other than drained.
func FailedOver(ctx context.Context, m *Mesh, src, drained string, bound time.Duration) (FailoverResult, error) {
	res := FailoverResult{Source: src, Drained: drained}
	start := time.Now()
	var last workload.Tally
	var lastErr error
	for {
		t, err := workload.Call(ctx, m.Clients[src], m.Namespace, m.Target(), failoverBatch, true)
		last, lastErr = t, err
		if err == nil && t.Failed() == 0 && t.ByCluster[drained] == 0 {
			break
		}
		if time.Since(start) > bound {
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	res.Converged = time.Since(start).Seconds()
	if lastErr != nil && last.Sent == 0 {
		return res, fmt.Errorf("calls from %s after draining %s: %w", src, drained, lastErr)
	}
	judged := last
	if lastErr == nil && last.Failed() == 0 && last.ByCluster[drained] == 0 {
		t, err := workload.Call(ctx, m.Clients[src], m.Namespace, m.Target(), failoverJudged, true)
		if err != nil && t.Sent == 0 {
			return res, fmt.Errorf("calls from %s after draining %s: %w", src, drained, err)
		}
		judged = t
	}
	res.Judged, res.Failed = judged.ByCluster, judged.Failed()
	problem := JudgeFailover(drained, m.Reachable(src), judged)
	if problem == "" {
		return res, nil
	}
	observed := fmt.Sprintf("%.0fs after %s's echo pods were drained, %d calls from %s: %s", res.Converged, drained,
		judged.Sent, src, problem)
	inspect := append(inspectIstiod(m.Istiod(src)),
		fmt.Sprintf("kubectl --context %s -n %s get pods -l %s=%s -o wide", drained, m.Namespace, workload.AppLabel, m.Service))
	cause := causeFailoverStale
	if judged.Failed() > 0 {
		cause = causeFailoverNoOther
		if seen := m.viewOf(ctx, src); seen != "" {
			observed += "; " + seen
		}
	}
	return res, fail(v1alpha1.AreaFailover, cause, inspect, "%s", observed)
}

// JudgeFailover says what is wrong with calls made after drained lost its echo pods ("" when nothing): a failed
// call, an answer from drained, or one from a cluster src cannot reach.
func JudgeFailover(drained string, reachable []string, t workload.Tally) string {
	var problems []string
	if t.Failed() > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d failed (first error: %s)", t.Failed(), t.Sent, t.FirstError))
	}
	if n := t.ByCluster[drained]; n > 0 {
		problems = append(problems, fmt.Sprintf("%d answered by %s, whose echo pods are gone", n, drained))
	}
	for _, c := range slices.Sorted(maps.Keys(t.ByCluster)) {
		if c != drained && t.ByCluster[c] > 0 && !slices.Contains(reachable, c) {
			problems = append(problems, fmt.Sprintf("%d answered by %s, which it cannot reach", t.ByCluster[c], c))
		}
	}
	if len(problems) == 0 && t.OK == 0 {
		problems = append(problems, "no call was made")
	}
	return strings.Join(problems, "; ")
}

// Recovered calls from src until drained answers again (after restore), for at most bound.
func Recovered(ctx context.Context, m *Mesh, src, drained string, bound time.Duration) (time.Duration, error) {
	start := time.Now()
	t, err := workload.CallWith(ctx, m.Clients[src], m.Namespace, workload.CallSpec{Target: m.Target(), Count: 1,
		XDS: true, WarmUpUntil: []string{drained}, WarmUpTimeout: bound})
	took := time.Since(start)
	if err != nil && t.Sent == 0 {
		return took, fmt.Errorf("calls from %s after restoring %s: %w", src, drained, err)
	}
	if w := t.Warmup; w == nil || !w.Complete {
		reached := map[string]int{}
		if w != nil {
			reached = w.Reached
		}
		return took, fail(v1alpha1.AreaFailover, causeFailoverNoReturn, inspectIstiod(m.Istiod(src)),
			"%s's echo pods are back and Ready, but %.0fs of calls from %s reached only %v", drained, took.Seconds(),
			src, reached)
	}
	return took, nil
}

// viewOf summarises which echo endpoints src's istiod sends it, for a diagnosis ("" when it cannot be read).
func (m *Mesh) viewOf(ctx context.Context, src string) string {
	pod, err := workload.ClientPod(ctx, m.Clients[src], m.Namespace)
	if err != nil {
		return ""
	}
	eds, err := istiod.ProxyEndpoints(ctx, m.Clients[m.Istiod(src)], m.Revision(src), pod+"."+m.Namespace)
	if err != nil {
		return ""
	}
	var seen []string
	for name, eps := range eds {
		if strings.Contains(name, m.Host()) && strings.Contains(name, "|"+strconv.Itoa(int(m.Port))+"|") {
			seen = append(seen, eps...)
		}
	}
	slices.Sort(seen)
	return fmt.Sprintf("istiod in %s sends the client in %s the echo endpoints %v", m.Istiod(src), src, seen)
}
