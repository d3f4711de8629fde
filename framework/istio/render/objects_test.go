package render

import (
	"testing"

	apinetworking "istio.io/api/networking/v1alpha3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestCrossNetworkGateway(t *testing.T) {
	gw := CrossNetworkGateway("test")
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
	gw, vs := IstiodGateway("test"), IstiodVirtualService("test", "")
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
	svc := IstiodLoadBalancer("test", "")
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
