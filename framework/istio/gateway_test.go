package istio

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meshconform/meshconform/framework/istio/render"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestApplyGatewayIsIdempotent(t *testing.T) {
	ctx := context.Background()
	ic := istiofake.NewSimpleClientset()
	for i := 0; i < 2; i++ {
		if err := applyGateway(ctx, ic, testClaim, "cluster1", render.CrossNetworkGateway("test")); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	changed := render.CrossNetworkGateway("test")
	changed.Spec.Servers[0].Hosts = []string{"*.example"}
	if err := applyGateway(ctx, ic, testClaim, "cluster1", changed); err != nil {
		t.Fatal(err)
	}
	got, err := ic.NetworkingV1().Gateways(render.Namespace).Get(ctx, render.CrossNetworkGatewayName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Servers[0].Hosts[0] != "*.example" {
		t.Errorf("update not applied: %v", got.Spec.Servers[0].Hosts)
	}
	for i := 0; i < 2; i++ {
		if err := applyVirtualService(ctx, ic, testClaim, "cluster1", render.IstiodVirtualService("test", "")); err != nil {
			t.Fatalf("apply vs %d: %v", i, err)
		}
	}
}

func TestLoadBalancerIP(t *testing.T) {
	svc := func(ingress ...corev1.LoadBalancerIngress) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: render.Namespace}}
		s.Status.LoadBalancer.Ingress = ingress
		return s
	}
	if ip, ok, err := LoadBalancerIP(svc()); ok || err != nil || ip != "" {
		t.Errorf("pending: %q %v %v", ip, ok, err)
	}
	if ip, ok, err := LoadBalancerIP(svc(corev1.LoadBalancerIngress{IP: "172.18.255.200"})); !ok || err != nil || ip != "172.18.255.200" {
		t.Errorf("ip: %q %v %v", ip, ok, err)
	}
	_, ok, err := LoadBalancerIP(svc(corev1.LoadBalancerIngress{Hostname: "abc.elb.amazonaws.com"}))
	if ok || err == nil || !strings.Contains(err.Error(), "abc.elb.amazonaws.com") || !strings.Contains(err.Error(), "IP") {
		t.Errorf("hostname: ok=%v err=%v", ok, err)
	}
	if _, _, err := LoadBalancerIP(svc(corev1.LoadBalancerIngress{IP: "not-an-ip"})); err == nil {
		t.Error("a malformed IP was accepted")
	}
}

func gatewayPod(name string, ready bool, statuses ...corev1.ContainerStatus) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: render.Namespace, Labels: map[string]string{"app": render.EastWestGatewayName}}}
	p.Status.Phase = corev1.PodRunning
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: cond}}
	p.Status.ContainerStatuses = statuses
	return p
}

func waiting(reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: "istio-proxy", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func TestJudgeGatewayPods(t *testing.T) {
	crashed := corev1.ContainerStatus{Name: "istio-proxy", RestartCount: 2,
		State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 255, Reason: "Error"}}}
	cases := []struct {
		name          string
		pods          []corev1.Pod
		ready, cannot bool
	}{
		{"no pods", nil, false, false},
		{"creating", []corev1.Pod{gatewayPod("a", false, waiting("ContainerCreating"))}, false, false},
		{"crash loop", []corev1.Pod{gatewayPod("a", false, waiting("CrashLoopBackOff"))}, false, true},
		{"restarted after an error", []corev1.Pod{gatewayPod("a", false, crashed)}, false, true},
		{"start error", []corev1.Pod{gatewayPod("a", false, waiting("RunContainerError"))}, false, true},
		{"ready", []corev1.Pod{gatewayPod("a", true)}, true, false},
		{"one ready of two", []corev1.Pod{gatewayPod("a", true), gatewayPod("b", false, waiting("CrashLoopBackOff"))}, true, false},
	}
	for _, c := range cases {
		v := judgeGatewayPods(c.pods)
		if v.Ready != c.ready || v.CannotRun != c.cannot {
			t.Errorf("%s: %+v", c.name, v)
		}
		if v.State == "" {
			t.Errorf("%s: no state", c.name)
		}
	}
}

func TestWatchGatewayPodsReturnsEarlyWhenPodsCannotRun(t *testing.T) {
	p := gatewayPod("istio-eastwestgateway-1", false, waiting("CrashLoopBackOff"))
	c := fakeCluster("cluster1", &p)
	began := time.Now()
	v, err := watchGatewayPods(context.Background(), c, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !v.CannotRun || time.Since(began) > 10*time.Second {
		t.Errorf("verdict %+v after %s", v, time.Since(began))
	}
}
