package istio

import (
	"context"
	"strings"
	"testing"
	"time"

	apinetworking "istio.io/api/networking/v1alpha3"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestCrossNetworkGateway(t *testing.T) {
	gw := CrossNetworkGateway()
	if gw.Name != "cross-network-gateway" || gw.Namespace != "istio-system" {
		t.Errorf("name %s/%s", gw.Namespace, gw.Name)
	}
	if gw.Spec.Selector["istio"] != "eastwestgateway" {
		t.Errorf("selector %v", gw.Spec.Selector)
	}
	if len(gw.Spec.Servers) != 1 {
		t.Fatalf("servers %v", gw.Spec.Servers)
	}
	s := gw.Spec.Servers[0]
	if s.Port.Number != 15443 || s.Port.Protocol != "TLS" || s.Tls.Mode != apinetworking.ServerTLSSettings_AUTO_PASSTHROUGH ||
		len(s.Hosts) != 1 || s.Hosts[0] != "*.local" {
		t.Errorf("server %v", s)
	}
}

func TestIstiodGatewayAndVirtualService(t *testing.T) {
	gw, vs := IstiodGateway(), IstiodVirtualService()
	ports := map[uint32]bool{}
	for _, s := range gw.Spec.Servers {
		ports[s.Port.Number] = true
		if s.Tls.Mode != apinetworking.ServerTLSSettings_PASSTHROUGH {
			t.Errorf("port %d: mode %v, want PASSTHROUGH (istiod terminates its own TLS)", s.Port.Number, s.Tls.Mode)
		}
	}
	if !ports[15012] || !ports[15017] || len(ports) != 2 {
		t.Errorf("istiod gateway ports %v", ports)
	}
	if len(vs.Spec.Gateways) != 1 || vs.Spec.Gateways[0] != gw.Name {
		t.Errorf("VirtualService gateways %v", vs.Spec.Gateways)
	}
	routes := map[uint32]uint32{}
	for _, r := range vs.Spec.Tls {
		if r.Route[0].Destination.Host != "istiod.istio-system.svc.cluster.local" {
			t.Errorf("destination %s", r.Route[0].Destination.Host)
		}
		routes[r.Match[0].Port] = r.Route[0].Destination.Port.Number
	}
	if routes[15012] != 15012 || routes[15017] != 443 {
		t.Errorf("routes %v, want 15012->15012 and 15017->443", routes)
	}
}

func TestIstiodLoadBalancer(t *testing.T) {
	svc := IstiodLoadBalancer()
	if svc.Name != "istiod-remote-lb" || svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.Selector["app"] != "istiod" {
		t.Errorf("service %s type %s selector %v", svc.Name, svc.Spec.Type, svc.Spec.Selector)
	}
	want := map[string][2]int32{"tls-istiod": {15012, 15012}, "tls-webhook": {15017, 15017}, "https-webhook": {443, 15017}}
	if len(svc.Spec.Ports) != len(want) {
		t.Errorf("ports %v", svc.Spec.Ports)
	}
	for _, p := range svc.Spec.Ports {
		w, ok := want[p.Name]
		if !ok || p.Port != w[0] || p.TargetPort != intstr.FromInt32(w[1]) {
			t.Errorf("port %s %d->%s", p.Name, p.Port, p.TargetPort.String())
		}
	}
}

func TestApplyGatewayIsIdempotent(t *testing.T) {
	ctx := context.Background()
	ic := istiofake.NewSimpleClientset()
	for i := 0; i < 2; i++ {
		if err := applyGateway(ctx, ic, CrossNetworkGateway()); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	changed := CrossNetworkGateway()
	changed.Spec.Servers[0].Hosts = []string{"*.example"}
	if err := applyGateway(ctx, ic, changed); err != nil {
		t.Fatal(err)
	}
	got, err := ic.NetworkingV1().Gateways(Namespace).Get(ctx, CrossNetworkGatewayName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Servers[0].Hosts[0] != "*.example" {
		t.Errorf("update not applied: %v", got.Spec.Servers[0].Hosts)
	}
	for i := 0; i < 2; i++ {
		if err := applyVirtualService(ctx, ic, IstiodVirtualService()); err != nil {
			t.Fatalf("apply vs %d: %v", i, err)
		}
	}
}

func TestLoadBalancerIP(t *testing.T) {
	svc := func(ingress ...corev1.LoadBalancerIngress) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: Namespace}}
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
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace, Labels: map[string]string{"app": EastWestGatewayName}}}
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
