package workload

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/text"
)

// WaitReady waits until every Deployment in the namespace is kube.DeploymentAvailable. On timeout the
// error names the Deployments still short, why their ReplicaSets could not create pods (an injection webhook that
// did not answer shows up there), and every pod with its state and its istio-proxy container's state, or the fact
// that no istio-proxy was injected.
func WaitReady(ctx context.Context, c *kube.Client, ns string, timeout time.Duration) error {
	var last string
	err := kube.Poll(ctx, c.Name+": workloads in namespace "+ns+" available", time.Second, timeout,
		func(ctx context.Context) (ok bool, state string, err error) {
			defer func() { last = state }()
			deps, err := c.Clientset.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			if len(deps.Items) == 0 {
				return false, "no deployments in " + ns + " (was Deploy run against this cluster?)", nil
			}
			var short []string
			for _, d := range deps.Items {
				if !kube.DeploymentAvailable(&d) {
					short = append(short, deploymentState(&d))
				}
			}
			if len(short) == 0 {
				return true, "", nil
			}
			sort.Strings(short)
			return false, "not available: " + strings.Join(short, "; ") + "; pods: " + describePods(ctx, c, ns, ""), nil
		})
	// kube.Poll returns the bare context error when the caller's context ends first: keep the diagnosis.
	if err != nil && ctx.Err() != nil && last != "" {
		return fmt.Errorf("%s: workloads in namespace %s not available: %w (last seen: %s)", c.Name, ns, err, last)
	}
	return err
}

// deploymentState is "name (available/wanted available[, ReplicaFailure: message])".
func deploymentState(d *appsv1.Deployment) string {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := fmt.Sprintf("%s (%d/%d available, %d updated)", d.Name, d.Status.AvailableReplicas, want, d.Status.UpdatedReplicas)
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
			s += " ReplicaFailure: " + c.Message
		}
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse {
			s += " not progressing: " + c.Message
		}
	}
	return s
}

// describePods summarises the pods matching a selector ("" for all): "name: Running (...) [istio-proxy: ...]".
func describePods(ctx context.Context, c *kube.Client, ns, selector string) string {
	pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return "cannot list pods: " + err.Error()
	}
	if len(pods.Items) == 0 {
		return "no pods"
	}
	out := make([]string, 0, len(pods.Items))
	for _, p := range pods.Items {
		out = append(out, describePod(&p))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// describePod is the pod's kube.PodState, the containers that are not ready, and the istio-proxy container (which
// for the proxyless data plane is pilot-agent: its state says whether the agent got its certificate and bootstrap).
func describePod(p *corev1.Pod) string {
	var b strings.Builder
	b.WriteString(p.Name + ": " + kube.PodState(p))
	if p.DeletionTimestamp != nil {
		b.WriteString(" terminating")
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
			b.WriteString(" unschedulable: " + cond.Message)
		}
	}
	var notReady []string
	proxy := false
	for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...),
		p.Status.ContainerStatuses...) {
		if cs.Name == ProxyContainer {
			proxy = true
			b.WriteString(" [" + ProxyContainer + ": " + containerState(cs) + "]")
			continue
		}
		if !cs.Ready && cs.State.Terminated == nil {
			notReady = append(notReady, cs.Name+": "+containerState(cs))
		}
	}
	if !proxy && !kube.HasContainer(p, ProxyContainer) {
		b.WriteString(" [no " + ProxyContainer + " injected: is istiod's injection webhook up and the namespace labelled " +
			"for its revision (" + InjectionLabel + "=enabled, or " + RevisionLabel + "=<revision>)?]")
	} else if !proxy {
		b.WriteString(" [" + ProxyContainer + ": no status yet]")
	}
	if len(notReady) > 0 {
		b.WriteString(" [" + strings.Join(notReady, "; ") + "]")
	}
	return b.String()
}

// containerState is e.g. "running, not ready, 3 restarts", "waiting: CrashLoopBackOff (back-off 10s ...)",
// "terminated: Error exit 1", with the last termination's reason when it restarted.
func containerState(cs corev1.ContainerStatus) string {
	var s string
	switch st := cs.State; {
	case st.Running != nil:
		s = "running"
		if cs.Ready {
			s += ", ready"
		} else {
			s += ", not ready"
		}
		if cs.Started != nil && !*cs.Started {
			s += ", not started"
		}
	case st.Waiting != nil:
		s = "waiting: " + st.Waiting.Reason
		if st.Waiting.Message != "" {
			s += " (" + text.Tail(st.Waiting.Message, 300) + ")"
		}
	case st.Terminated != nil:
		s = fmt.Sprintf("terminated: %s exit %d", st.Terminated.Reason, st.Terminated.ExitCode)
		if st.Terminated.Message != "" {
			s += " (" + text.Tail(st.Terminated.Message, 300) + ")"
		}
	default:
		s = "unknown state"
	}
	if cs.RestartCount > 0 {
		s += fmt.Sprintf(", %d restarts", cs.RestartCount)
		if t := cs.LastTerminationState.Terminated; t != nil {
			s += fmt.Sprintf(" (last: %s exit %d)", t.Reason, t.ExitCode)
		}
	}
	return s
}
