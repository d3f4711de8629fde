package istio

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	apinetworking "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshconform/meshconform/framework/kube"
)

const (
	managedByLabel = "app.kubernetes.io/managed-by"
	managedByValue = "meshconform"
	istiodHost     = "istiod.istio-system.svc.cluster.local"
)

func managedLabels() map[string]string { return map[string]string{managedByLabel: managedByValue} }

// CrossNetworkGateway is the Gateway of the install guide's expose-services: every *.local service reachable through
// the east-west gateway on 15443 with mTLS passed through (AUTO_PASSTHROUGH routes on the SNI istiod sets).
func CrossNetworkGateway() *networkingv1.Gateway {
	return &networkingv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "Gateway"},
		ObjectMeta: metav1.ObjectMeta{Name: CrossNetworkGatewayName, Namespace: Namespace, Labels: managedLabels()},
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
func IstiodGateway() *networkingv1.Gateway {
	server := func(port uint32, name string) *apinetworking.Server {
		return &apinetworking.Server{
			Port:  &apinetworking.Port{Number: port, Name: name, Protocol: "TLS"},
			Tls:   &apinetworking.ServerTLSSettings{Mode: apinetworking.ServerTLSSettings_PASSTHROUGH},
			Hosts: []string{"*"},
		}
	}
	return &networkingv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "Gateway"},
		ObjectMeta: metav1.ObjectMeta{Name: IstiodGatewayName, Namespace: Namespace, Labels: managedLabels()},
		Spec: apinetworking.Gateway{
			Selector: map[string]string{"istio": "eastwestgateway"},
			Servers:  []*apinetworking.Server{server(PortIstiodXDS, "tls-istiod"), server(PortIstiodHook, "tls-istiodwebhook")},
		},
	}
}

// IstiodVirtualService routes the istiod Gateway's ports to istiod (15017 to the Service's webhook port 443).
func IstiodVirtualService() *networkingv1.VirtualService {
	route := func(port, dest uint32) *apinetworking.TLSRoute {
		return &apinetworking.TLSRoute{
			Match: []*apinetworking.TLSMatchAttributes{{Port: port, SniHosts: []string{"*"}}},
			Route: []*apinetworking.RouteDestination{{Destination: &apinetworking.Destination{
				Host: istiodHost, Port: &apinetworking.PortSelector{Number: dest}}}},
		}
	}
	return &networkingv1.VirtualService{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "VirtualService"},
		ObjectMeta: metav1.ObjectMeta{Name: IstiodVirtualServiceName, Namespace: Namespace, Labels: managedLabels()},
		Spec: apinetworking.VirtualService{
			Hosts:    []string{"*"},
			Gateways: []string{IstiodGatewayName},
			Tls:      []*apinetworking.TLSRoute{route(PortIstiodXDS, PortIstiodXDS), route(PortIstiodHook, PortWebhookHTTP)},
		},
	}
}

// IstiodLoadBalancer is istiod's own LoadBalancer Service for remotes where the east-west gateway cannot run: xDS and
// CA on 15012, the injection webhook on 15017 (what a remote's EndpointSlice for remotePilotAddress targets) and 443.
func IstiodLoadBalancer() *corev1.Service {
	port := func(name string, port, target int32) corev1.ServicePort {
		return corev1.ServicePort{Name: name, Port: port, TargetPort: intstr.FromInt32(target), Protocol: corev1.ProtocolTCP}
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: IstiodLBServiceName, Namespace: Namespace, Labels: managedLabels()},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": "istiod"},
			Ports: []corev1.ServicePort{
				port("tls-istiod", PortIstiodXDS, PortIstiodXDS),
				port("tls-webhook", PortIstiodHook, PortIstiodHook),
				port("https-webhook", PortWebhookHTTP, PortIstiodHook),
			},
		},
	}
}

// typedClient is what client-go's typed clients (Istio's included) offer for one resource kind.
type typedClient[T any] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

// istioObject is an Istio config object: Kubernetes metadata around a protobuf spec.
type istioObject interface {
	metav1.Object
	comparable
}

// createOrUpdate creates want, or updates the existing object when its spec (compared by specOf) differs.
func createOrUpdate[T istioObject](ctx context.Context, c typedClient[T], want T, specOf func(T) proto.Message) error {
	have, err := c.Get(ctx, want.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = c.Create(ctx, want, metav1.CreateOptions{FieldManager: fieldManager})
		return err
	}
	if err != nil {
		return err
	}
	if proto.Equal(specOf(have), specOf(want)) {
		return nil
	}
	want.SetResourceVersion(have.GetResourceVersion())
	_, err = c.Update(ctx, want, metav1.UpdateOptions{FieldManager: fieldManager})
	return err
}

// applyGateway creates or updates an Istio Gateway.
func applyGateway(ctx context.Context, ic istioclient.Interface, want *networkingv1.Gateway) error {
	return createOrUpdate(ctx, ic.NetworkingV1().Gateways(want.Namespace), want,
		func(g *networkingv1.Gateway) proto.Message { return &g.Spec })
}

// applyVirtualService creates or updates an Istio VirtualService.
func applyVirtualService(ctx context.Context, ic istioclient.Interface, want *networkingv1.VirtualService) error {
	return createOrUpdate(ctx, ic.NetworkingV1().VirtualServices(want.Namespace), want,
		func(v *networkingv1.VirtualService) proto.Message { return &v.Spec })
}

// LoadBalancerIP returns the Service's LoadBalancer IP. ok is false while none is assigned; an ingress holding only a
// host name is an error, because Istio needs an IP for a network's gateway (istio#36275, #29359).
func LoadBalancerIP(svc *corev1.Service) (ip string, ok bool, err error) {
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			if _, perr := netip.ParseAddr(in.IP); perr != nil {
				return "", false, fmt.Errorf("Service %s/%s: LoadBalancer ingress %q is not an IP", svc.Namespace, svc.Name, in.IP)
			}
			return in.IP, true, nil
		}
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.Hostname != "" {
			return "", false, fmt.Errorf("Service %s/%s got the host name %q, not an IP: Istio needs gateway addresses "+
				"as IPs (istio#36275, #29359); use a load balancer that assigns IPs (e.g. an NLB with static IPs, MetalLB)",
				svc.Namespace, svc.Name, in.Hostname)
		}
	}
	return "", false, nil
}

// waitLoadBalancerIP waits for a Service's LoadBalancer IP; the timeout names what MetalLB said about it.
func waitLoadBalancerIP(ctx context.Context, c *kube.Client, name string, timeout time.Duration) (string, error) {
	var ip string
	err := kube.Poll(ctx, c.Name+": LoadBalancer IP of Service "+Namespace+"/"+name, time.Second, timeout,
		func(ctx context.Context) (bool, string, error) {
			svc, err := c.Clientset.CoreV1().Services(Namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			got, ok, err := LoadBalancerIP(svc)
			if err != nil {
				return false, "", err
			}
			ip = got
			if ok {
				return true, "", nil
			}
			return false, "no ingress IP yet" + serviceEvents(ctx, c, svc), nil
		})
	if err != nil && ctx.Err() == nil && ip == "" {
		return "", fmt.Errorf("%w; check MetalLB in %s: its IPAddressPool and L2Advertisement exist, the speaker runs on "+
			"every node, and the pool is not exhausted", err, c.Name)
	}
	return ip, err
}

// serviceEvents summarises the warning events of a Service (MetalLB reports allocation failures there).
func serviceEvents(ctx context.Context, c *kube.Client, svc *corev1.Service) string {
	evs, err := c.Clientset.CoreV1().Events(svc.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=Service,involvedObject.name=" + svc.Name})
	if err != nil || len(evs.Items) == 0 {
		return ""
	}
	sort.Slice(evs.Items, func(i, j int) bool { return evs.Items[i].LastTimestamp.Before(&evs.Items[j].LastTimestamp) })
	last := evs.Items[len(evs.Items)-1]
	return fmt.Sprintf("; last event %s: %s", last.Reason, last.Message)
}

// GatewayPodsVerdict is what watching a gateway's pods concluded.
type GatewayPodsVerdict struct {
	Ready bool
	// CannotRun: the pods fail in a way that waiting does not fix (crash loop, container start errors).
	CannotRun bool
	// State describes the pods ("istio-eastwestgateway-x: Running (istio-proxy: CrashLoopBackOff)").
	State string
}

// judgeGatewayPods decides from the gateway's pods whether they are ready, cannot run, or may still come up.
func judgeGatewayPods(pods []corev1.Pod) GatewayPodsVerdict {
	if len(pods) == 0 {
		return GatewayPodsVerdict{State: "no pods"}
	}
	var states []string
	v := GatewayPodsVerdict{}
	for i := range pods {
		p := &pods[i]
		states = append(states, p.Name+": "+kube.PodState(p))
		if kube.PodReady(p) {
			v.Ready = true
		}
		if podCannotRun(p) {
			v.CannotRun = true
		}
	}
	v.State = strings.Join(states, ", ")
	if v.Ready {
		v.CannotRun = false
	}
	return v
}

// podCannotRun: a container crash-loops, exited with an error, or cannot be created or started.
func podCannotRun(p *corev1.Pod) bool {
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil {
			switch w.Reason {
			case "CrashLoopBackOff", "RunContainerError", "CreateContainerError", "CreateContainerConfigError",
				"InvalidImageName", "ErrImageNeverPull":
				return true
			}
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return true
		}
		if t := cs.LastTerminationState.Terminated; t != nil && t.ExitCode != 0 && cs.RestartCount > 0 {
			return true
		}
	}
	return false
}

// watchGatewayPods watches the east-west gateway's pods for at most timeout and returns the verdict: ready, cannot
// run (returned as soon as seen), or neither when time ran out.
func watchGatewayPods(ctx context.Context, c *kube.Client, timeout time.Duration) (GatewayPodsVerdict, error) {
	var v GatewayPodsVerdict
	sel := "app=" + EastWestGatewayName
	// A timeout is a verdict (neither ready nor known to be unable), not an error.
	_ = kube.Poll(ctx, c.Name+": east-west gateway pods", 2*time.Second, timeout, func(ctx context.Context) (bool, string, error) {
		pods, err := c.Clientset.CoreV1().Pods(Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return false, err.Error(), nil
		}
		v = judgeGatewayPods(pods.Items)
		if len(pods.Items) == 0 {
			v.State = "no pods" + replicaFailure(ctx, c)
		}
		return v.Ready || v.CannotRun, v.State, nil
	})
	return v, ctx.Err()
}

// replicaFailure is the ReplicaFailure condition of the gateway's ReplicaSets (e.g. the injection webhook refused
// the pod), which explains a Deployment without pods.
func replicaFailure(ctx context.Context, c *kube.Client) string {
	rss, err := c.Clientset.AppsV1().ReplicaSets(Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + EastWestGatewayName})
	if err != nil {
		return ""
	}
	for _, rs := range rss.Items {
		for _, cond := range rs.Status.Conditions {
			if cond.Type == "ReplicaFailure" && cond.Status == corev1.ConditionTrue {
				return " (" + cond.Reason + ": " + cond.Message + ")"
			}
		}
	}
	return ""
}
