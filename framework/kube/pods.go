package kube

import (
	"context"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RunPod creates a pod (restartPolicy Never), waits until it terminates and returns its first container's logs. The
// pod is deleted afterwards. A pod that fails still returns its logs alongside the error.
func (c *Client) RunPod(ctx context.Context, pod *corev1.Pod, timeout time.Duration) (string, error) {
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pods := c.Clientset.CoreV1().Pods(pod.Namespace)
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("%s: create pod %s/%s: %w", c.Name, pod.Namespace, pod.Name, err)
	}
	defer func() {
		zero := int64(0)
		_ = pods.Delete(context.WithoutCancel(ctx), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	}()
	var phase corev1.PodPhase
	err := Poll(ctx, c.Name+": pod "+pod.Name+" to finish", time.Second, timeout, func(ctx context.Context) (bool, string, error) {
		p, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		phase = p.Status.Phase
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed, PodState(p), nil
	})
	logs, lerr := c.Logs(ctx, pod.Namespace, pod.Name, pod.Spec.Containers[0].Name)
	if err != nil {
		return logs, err
	}
	if lerr != nil {
		return "", lerr
	}
	if phase == corev1.PodFailed {
		return logs, fmt.Errorf("%s: pod %s failed: %s", c.Name, pod.Name, logs)
	}
	return logs, nil
}

// Logs returns a container's logs.
func (c *Client) Logs(ctx context.Context, ns, pod, container string) (string, error) {
	rc, err := c.Clientset.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).Stream(ctx)
	if err != nil {
		return "", fmt.Errorf("%s: logs of %s/%s: %w", c.Name, ns, pod, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}
