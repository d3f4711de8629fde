// Package kube holds the few Kubernetes client helpers every phase shares: a client from a kubeconfig, and waits on
// nodes and workloads that report what they are waiting for.
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
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/klient/conf"
)

// Client bundles the typed clientset and e2e-framework's klient for one cluster.
type Client struct {
	Name      string
	Config    *rest.Config
	Clientset kubernetes.Interface
	Klient    klient.Client
}

// New returns a client for a kubeconfig file and (optional) context.
func New(name, kubeconfig, context string) (*Client, error) {
	var cfg *rest.Config
	var err error
	if context != "" {
		cfg, err = conf.NewWithContextName(kubeconfig, context)
	} else {
		cfg, err = conf.New(kubeconfig)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: load kubeconfig %s: %w", name, kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: clientset: %w", name, err)
	}
	kc, err := klient.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: klient: %w", name, err)
	}
	return &Client{Name: name, Config: cfg, Clientset: cs, Klient: kc}, nil
}

// Poll runs cond every interval until it returns true, an error, or timeout; on timeout the error carries the last
// state cond described, so a hang reads as "waited 2m for X: last seen Y".
func Poll(ctx context.Context, what string, interval, timeout time.Duration, cond func(ctx context.Context) (bool, string, error)) error {
	last := "nothing observed yet"
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(ctx context.Context) (bool, error) {
		ok, state, err := cond(ctx)
		if state != "" {
			last = state
		}
		return ok, err
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("waited %s for %s: %w (last seen: %s)", timeout, what, err, last)
	}
	return nil
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

// NodeReady reports the node's Ready condition.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitDeploymentAvailable waits until every replica of a Deployment is updated and available.
func (c *Client) WaitDeploymentAvailable(ctx context.Context, ns, name string, timeout time.Duration) error {
	return Poll(ctx, c.Name+": deployment "+ns+"/"+name+" available", time.Second, timeout, func(ctx context.Context) (bool, string, error) {
		d, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		return deploymentAvailable(d), c.podStates(ctx, ns, d.Spec.Selector), nil
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
		if d.Status.ObservedGeneration < gen || !deploymentAvailable(d) || d.Status.Replicas != d.Status.UpdatedReplicas {
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

func deploymentAvailable(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
		d.Status.AvailableReplicas == want
}

// WaitDaemonSetReady waits until the DaemonSet runs a ready, updated pod on every node it targets.
func (c *Client) WaitDaemonSetReady(ctx context.Context, ns, name string, timeout time.Duration) error {
	return Poll(ctx, c.Name+": daemonset "+ns+"/"+name+" ready", time.Second, timeout, func(ctx context.Context) (bool, string, error) {
		d, err := c.Clientset.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		s := d.Status
		ok := s.ObservedGeneration >= d.Generation && s.DesiredNumberScheduled > 0 &&
			s.NumberReady == s.DesiredNumberScheduled && s.UpdatedNumberScheduled == s.DesiredNumberScheduled
		return ok, c.podStates(ctx, ns, d.Spec.Selector), nil
	})
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
	for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return state + " (" + cs.Name + ": " + w.Reason + ")"
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return state + " (" + cs.Name + ": " + t.Reason + ")"
		}
	}
	return state
}
