package render

import (
	"github.com/meshconform/meshconform/framework/env"
	apinetworking "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	// ManagedByLabel=ManagedByValue marks the objects meshconform renders.
	ManagedByLabel = env.ManagedByLabel
	ManagedByValue = env.ManagedByValue
)

// ManagedLabels are the labels of the objects environment envName renders: managed-by=meshconform and
// meshconform.io/env=envName (env.ObjectLabels).
func ManagedLabels(envName string) map[string]string { return env.ObjectLabels(envName) }

// CrossNetworkGateway is the Gateway of the install guide's expose-services: every *.local service reachable through
// the east-west gateway on 15443 with mTLS passed through (AUTO_PASSTHROUGH routes on the SNI istiod sets).
func CrossNetworkGateway(envName string) *networkingv1.Gateway {
	return &networkingv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "Gateway"},
		ObjectMeta: metav1.ObjectMeta{Name: CrossNetworkGatewayName, Namespace: Namespace, Labels: ManagedLabels(envName)},
		Spec: apinetworking.Gateway{
			Selector: map[string]string{"istio": "eastwestgateway"},
			Servers: []*apinetworking.Server{{
				Port:  &apinetworking.Port{Number: PortTLS, Name: "tls", Protocol: "TLS"},
				Tls:   &apinetworking.ServerTLSSettings{Mode: apinetworking.ServerTLSSettings_AUTO_PASSTHROUGH},
				Hosts: []string{"*.local"},
			}},
		},
	}
}

// IstiodGateway and IstiodVirtualService are the install guide's expose-istiod: istiod's xDS (15012) and webhook
// (15017) ports passed through the east-west gateway to istiod, TLS untouched (remotes verify istiod's certificate
// for istiod.istio-system.svc, the SNI they send).
func IstiodGateway(envName string) *networkingv1.Gateway {
	server := func(port uint32, name string) *apinetworking.Server {
		return &apinetworking.Server{
			Port:  &apinetworking.Port{Number: port, Name: name, Protocol: "TLS"},
			Tls:   &apinetworking.ServerTLSSettings{Mode: apinetworking.ServerTLSSettings_PASSTHROUGH},
			Hosts: []string{"*"},
		}
	}
	return &networkingv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "Gateway"},
		ObjectMeta: metav1.ObjectMeta{Name: IstiodGatewayName, Namespace: Namespace, Labels: ManagedLabels(envName)},
		Spec: apinetworking.Gateway{
			Selector: map[string]string{"istio": "eastwestgateway"},
			Servers:  []*apinetworking.Server{server(PortIstiodXDS, "tls-istiod"), server(PortIstiodHook, "tls-istiodwebhook")},
		},
	}
}

// IstiodVirtualService routes the istiod Gateway's ports to the istiod of revision rev ("" for the default one;
// 15017 to the Service's webhook port 443).
func IstiodVirtualService(envName, rev string) *networkingv1.VirtualService {
	route := func(port, dest uint32) *apinetworking.TLSRoute {
		return &apinetworking.TLSRoute{
			Match: []*apinetworking.TLSMatchAttributes{{Port: port, SniHosts: []string{"*"}}},
			Route: []*apinetworking.RouteDestination{{Destination: &apinetworking.Destination{
				Host: IstiodHost(rev), Port: &apinetworking.PortSelector{Number: dest}}}},
		}
	}
	return &networkingv1.VirtualService{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "VirtualService"},
		ObjectMeta: metav1.ObjectMeta{Name: IstiodVirtualServiceName, Namespace: Namespace, Labels: ManagedLabels(envName)},
		Spec: apinetworking.VirtualService{
			Hosts:    []string{"*"},
			Gateways: []string{IstiodGatewayName},
			Tls:      []*apinetworking.TLSRoute{route(PortIstiodXDS, PortIstiodXDS), route(PortIstiodHook, PortWebhookHTTP)},
		},
	}
}

// IstiodLoadBalancer is istiod's own LoadBalancer Service for remotes where the east-west gateway cannot run: xDS and
// CA on 15012, the injection webhook on 15017 (what a remote's EndpointSlice for remotePilotAddress targets) and 443.
// It selects the istiod of revision rev (any istiod for the default revision, as before revisions).
func IstiodLoadBalancer(envName, rev string) *corev1.Service {
	selector := map[string]string{"app": IstiodApp}
	if !IsDefaultRevision(rev) {
		selector[RevisionLabel] = rev
	}
	port := func(name string, port, target int32) corev1.ServicePort {
		return corev1.ServicePort{Name: name, Port: port, TargetPort: intstr.FromInt32(target), Protocol: corev1.ProtocolTCP}
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: IstiodLBServiceName, Namespace: Namespace, Labels: ManagedLabels(envName)},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: selector,
			Ports: []corev1.ServicePort{
				port("tls-istiod", PortIstiodXDS, PortIstiodXDS),
				port("tls-webhook", PortIstiodHook, PortIstiodHook),
				port("https-webhook", PortWebhookHTTP, PortIstiodHook),
			},
		},
	}
}
