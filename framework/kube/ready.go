package kube

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// NodeReady reports the node's Ready condition.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PodReady reports the pod's Ready condition (every container ready and its readiness gates passed). It says
// nothing about a pod being deleted: a terminating pod can stay Ready until its containers stop.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// HasContainer reports whether the pod's spec has a container or init container of that name (an injected
// istio-proxy is a native sidecar, i.e. an init container, on recent Istio).
func HasContainer(p *corev1.Pod, name string) bool {
	for _, c := range p.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// DeploymentAvailable reports whether a Deployment's rollout is complete: the controller has seen the current spec,
// every desired replica runs the current template and is available, no old replica is left, and the Deployment is
// not being deleted. It is what `kubectl rollout status` waits for.
//
// Two copies used to disagree: one did not require status.replicas == desired, so it answered "available" in the
// middle of a rolling update, while pods of the old ReplicaSet still served and a test could reach either version.
// The stricter judgement is the correct one for every caller (istiod, MetalLB, the test workloads): they wait so that
// what they start next sees only the current pods. Pods already terminating are not in status.replicas; callers for
// whom those matter (RolloutRestart) look at the pods themselves.
func DeploymentAvailable(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	// A status older than the spec describes the previous template's pods.
	return d.DeletionTimestamp == nil && s.ObservedGeneration >= d.Generation &&
		s.UpdatedReplicas == want && s.AvailableReplicas == want && s.Replicas == want
}

// WaitNodesReady waits until the cluster has want nodes and all are Ready.
func (c *Client) WaitNodesReady(ctx context.Context, want int, timeout time.Duration) error {
	return Poll(ctx, c.Name+": "+fmt.Sprint(want)+" nodes Ready", 2*time.Second, timeout, func(ctx context.Context) (bool, string, error) {
		nodes, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		var notReady []string
		for _, n := range nodes.Items {
			if !NodeReady(&n) {
				notReady = append(notReady, n.Name)
			}
		}
		state := fmt.Sprintf("%d nodes, not ready: %v", len(nodes.Items), notReady)
		return len(nodes.Items) == want && len(notReady) == 0, state, nil
	})
}

// WaitDeploymentAvailable waits until a Deployment is DeploymentAvailable.
func (c *Client) WaitDeploymentAvailable(ctx context.Context, ns, name string, timeout time.Duration) error {
	return Poll(ctx, c.Name+": deployment "+ns+"/"+name+" available", time.Second, timeout, func(ctx context.Context) (bool, string, error) {
		d, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		return DeploymentAvailable(d), c.podStates(ctx, ns, d.Spec.Selector), nil
	})
}

// RolloutRestart restarts a Deployment's pods the way `kubectl rollout restart` does and waits until the new pods
// are available and no old one is left (so nothing started afterwards can still reach an old pod).
func (c *Client) RolloutRestart(ctx context.Context, ns, name string, timeout time.Duration) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`,
		time.Now().UTC().Format(time.RFC3339Nano))
	d, err := c.Clientset.AppsV1().Deployments(ns).Patch(ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("%s: restart deployment %s/%s: %w", c.Name, ns, name, err)
	}
	gen := d.Generation
	return Poll(ctx, c.Name+": deployment "+ns+"/"+name+" restarted", time.Second, timeout, func(ctx context.Context) (bool, string, error) {
		d, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		// The status read right after the patch still describes the old pods: wait for the new generation.
		if d.Status.ObservedGeneration < gen || !DeploymentAvailable(d) {
			return false, c.podStates(ctx, ns, d.Spec.Selector), nil
		}
		// Terminating pods leave status.replicas at once but may still serve.
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil {
			return false, "", fmt.Errorf("%s: deployment %s/%s selector: %w", c.Name, ns, name, err)
		}
		pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return false, err.Error(), nil
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				return false, "old pod " + p.Name + " still terminating", nil
			}
		}
		return true, "", nil
	})
}

// WaitDaemonSetReady waits until the DaemonSet runs a ready, updated pod on every node it targets.
func (c *Client) WaitDaemonSetReady(ctx context.Context, ns, name string, timeout time.Duration) error {
	return Poll(ctx, c.Name+": daemonset "+ns+"/"+name+" ready", time.Second, timeout, func(ctx context.Context) (bool, string, error) {
		d, err := c.Clientset.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		return DaemonSetReady(d), c.podStates(ctx, ns, d.Spec.Selector), nil
	})
}

// DaemonSetReady reports whether the DaemonSet runs a ready pod of its current template on every node it targets.
// A DaemonSet that targets no node is not ready: for MetalLB's speaker that means no node can announce an address.
func DaemonSetReady(d *appsv1.DaemonSet) bool {
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.DesiredNumberScheduled > 0 &&
		s.NumberReady == s.DesiredNumberScheduled && s.UpdatedNumberScheduled == s.DesiredNumberScheduled
}

// podStates summarises the pods behind a selector ("name: Pending (ImagePullBackOff)").
func (c *Client) podStates(ctx context.Context, ns string, sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return ""
	}
	pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: s.String()})
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, p := range pods.Items {
		out = append(out, p.Name+": "+PodState(&p))
	}
	if len(out) == 0 {
		return "no pods"
	}
	return strings.Join(out, ", ")
}

// PodState is the phase plus the first waiting or terminated reason of any container.
func PodState(p *corev1.Pod) string {
	state := string(p.Status.Phase)
	// A fresh slice: appending to the pod's own InitContainerStatuses could write into its backing array.
	for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return state + " (" + cs.Name + ": " + w.Reason + ")"
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return state + " (" + cs.Name + ": " + t.Reason + ")"
		}
	}
	return state
}
