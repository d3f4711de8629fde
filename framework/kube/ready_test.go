package kube

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodReady(t *testing.T) {
	pod := func(conds ...corev1.PodCondition) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: conds}}
	}
	for name, tc := range map[string]struct {
		p    *corev1.Pod
		want bool
	}{
		"ready":                 {pod(corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}), true},
		"not ready":             {pod(corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse}), false},
		"unknown":               {pod(corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionUnknown}), false},
		"no conditions":         {pod(), false},
		"containers ready only": {pod(corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}), false},
		"ready among others": {pod(corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
			corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}), true},
	} {
		if got := PodReady(tc.p); got != tc.want {
			t.Errorf("%s: PodReady = %v, want %v", name, got, tc.want)
		}
	}
}

func TestDeploymentAvailable(t *testing.T) {
	// done is a Deployment of 2 replicas whose rollout is complete; each case breaks one thing.
	done := func() *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "istiod", Generation: 3},
			Spec:       appsv1.DeploymentSpec{Replicas: new(int32(2))},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2,
				ReadyReplicas: 2, AvailableReplicas: 2},
		}
	}
	for name, tc := range map[string]struct {
		mutate func(d *appsv1.Deployment)
		want   bool
	}{
		"complete":                  {func(*appsv1.Deployment) {}, true},
		"status of an older spec":   {func(d *appsv1.Deployment) { d.Status.ObservedGeneration = 2 }, false},
		"one replica not available": {func(d *appsv1.Deployment) { d.Status.AvailableReplicas = 1 }, false},
		"one replica not updated":   {func(d *appsv1.Deployment) { d.Status.UpdatedReplicas = 1 }, false},
		"old replica still running": {func(d *appsv1.Deployment) { d.Status.Replicas = 3 }, false},
		"being deleted":             {func(d *appsv1.Deployment) { d.DeletionTimestamp = &metav1.Time{} }, false},
		"scaled to zero": {func(d *appsv1.Deployment) {
			d.Spec.Replicas = new(int32(0))
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: 3}
		}, true},
		"replicas unset means one":   {func(d *appsv1.Deployment) { d.Spec.Replicas = nil }, false},
		"controller ahead of us":     {func(d *appsv1.Deployment) { d.Status.ObservedGeneration = 4 }, true},
		"surplus available replicas": {func(d *appsv1.Deployment) { d.Status.AvailableReplicas = 3 }, false},
	} {
		d := done()
		tc.mutate(d)
		if got := DeploymentAvailable(d); got != tc.want {
			t.Errorf("%s: DeploymentAvailable = %v, want %v (status %+v)", name, got, tc.want, d.Status)
		}
	}
}

func TestDaemonSetReady(t *testing.T) {
	ds := func(desired, ready, updated int32, observed int64) *appsv1.DaemonSet {
		return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Status: appsv1.DaemonSetStatus{
			ObservedGeneration: observed, DesiredNumberScheduled: desired, NumberReady: ready, UpdatedNumberScheduled: updated}}
	}
	for name, tc := range map[string]struct {
		d    *appsv1.DaemonSet
		want bool
	}{
		"every node":      {ds(3, 3, 3, 2), true},
		"one node short":  {ds(3, 2, 3, 2), false},
		"one old pod":     {ds(3, 3, 2, 2), false},
		"older status":    {ds(3, 3, 3, 1), false},
		"targets no node": {ds(0, 0, 0, 2), false},
	} {
		if got := DaemonSetReady(tc.d); got != tc.want {
			t.Errorf("%s: DaemonSetReady = %v, want %v", name, got, tc.want)
		}
	}
}

func TestPodState(t *testing.T) {
	p := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending,
		InitContainerStatuses: make([]corev1.ContainerStatus, 1, 4), // spare capacity: PodState must not write into it
		ContainerStatuses: []corev1.ContainerStatus{{Name: "istio-proxy",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}}}}
	p.Status.InitContainerStatuses[0] = corev1.ContainerStatus{Name: "init", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}}
	if got, want := PodState(p), "Pending (istio-proxy: ImagePullBackOff)"; got != want {
		t.Errorf("PodState = %q, want %q", got, want)
	}
	if spare := p.Status.InitContainerStatuses[:2][1]; spare.Name != "" {
		t.Errorf("PodState wrote %q into the pod's InitContainerStatuses backing array", spare.Name)
	}
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}
	if got, want := PodState(p), "Pending (istio-proxy: Error)"; got != want {
		t.Errorf("PodState = %q, want %q", got, want)
	}
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	if got, want := PodState(p), "Pending"; got != want {
		t.Errorf("PodState = %q, want %q", got, want)
	}
}

func TestHasContainer(t *testing.T) {
	p := &corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "istio-proxy"}},
		Containers: []corev1.Container{{Name: "echo"}}}}
	for name, want := range map[string]bool{"istio-proxy": true, "echo": true, "sleep": false, "": false} {
		if got := HasContainer(p, name); got != want {
			t.Errorf("HasContainer(%q) = %v, want %v", name, got, want)
		}
	}
}
