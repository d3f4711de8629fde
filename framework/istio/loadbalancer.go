package istio

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

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

// loadBalancers waits until the cluster serves LoadBalancer Services (Options.LoadBalancers: provisioning may still
// be starting MetalLB), saying so when it has to wait, so the address timeout counts from a load balancer that runs.
func (r *run) loadBalancers(ctx context.Context, name string) error {
	if r.opts.LoadBalancers == nil {
		return nil
	}
	began := time.Now()
	if err := r.opts.LoadBalancers(ctx, name); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if d := time.Since(began); d >= time.Second {
		r.logf(name, began, "waited for MetalLB")
	}
	return nil
}

// waitLoadBalancerIP waits for a Service's LoadBalancer IP; the timeout names what MetalLB said about it.
func waitLoadBalancerIP(ctx context.Context, c *kube.Client, name string, timeout time.Duration) (string, error) {
	var ip string
	err := kube.Poll(ctx, c.Name+": LoadBalancer IP of Service "+render.Namespace+"/"+name, time.Second, timeout,
		func(ctx context.Context) (bool, string, error) {
			svc, err := c.Clientset.CoreV1().Services(render.Namespace).Get(ctx, name, metav1.GetOptions{})
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
