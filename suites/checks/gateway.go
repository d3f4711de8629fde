package checks

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/workload"
)

// GatewayAddress fails unless a cluster's east-west gateway Service has a LoadBalancer IP (not a host name), equal
// to the one the environment recorded and, for clusters meshconform provisioned, inside the cluster's MetalLB pool.
func GatewayAddress(ctx context.Context, m *Mesh, name string) error {
	c := m.Clients[name]
	svc, err := c.Clientset.CoreV1().Services(render.Namespace).Get(ctx, render.EastWestGatewayName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("%s: east-west gateway Service %s/%s: %w", name, render.Namespace, render.EastWestGatewayName, err)
	}
	inspect := []string{fmt.Sprintf("kubectl --context %s -n istio-system describe svc %s", name, render.EastWestGatewayName),
		fmt.Sprintf("kubectl --context %s -n metallb-system get ipaddresspools,l2advertisements,pods", name)}
	ip, ok, err := istio.LoadBalancerIP(svc)
	if err != nil {
		return fail(v1alpha1.AreaGateway, causeGatewayHostname, inspect, "%s: %v", name, err)
	}
	if !ok {
		return fail(v1alpha1.AreaGateway, causeGatewayPending, inspect, "%s: the east-west gateway has no LoadBalancer address", name)
	}
	if want := m.State.Mesh.Clusters[name].EastWestGateway; want != "" && want != ip {
		return fail(v1alpha1.AreaGateway, "the gateway Service was recreated after `up` and got another address; re-run `meshconform up`",
			inspect, "%s: the gateway's address is %s, the environment recorded %s", name, ip, want)
	}
	if cl := m.State.Cluster(name); cl != nil && cl.PoolFirst.IsValid() {
		addr, _ := netip.ParseAddr(ip)
		if addr.Less(cl.PoolFirst) || cl.PoolLast.Less(addr) {
			return fail(v1alpha1.AreaGateway, causeGatewayPending, inspect, "%s: gateway address %s is outside the cluster's pool %s-%s",
				name, ip, cl.PoolFirst, cl.PoolLast)
		}
	}
	return nil
}

// GatewayPorts are the east-west gateway ports other networks need on a cluster: 15443 for services, and 15012
// (xDS) and 15017 (webhooks) when it is a primary whose remotes reach istiod through the gateway.
func GatewayPorts(m *Mesh, name string) []int {
	ports := []int{render.PortTLS}
	if m.ExposeIstiod() == env.ExposeGateway && len(m.State.RemotesOf(name)) > 0 {
		ports = append(ports, render.PortIstiodXDS, render.PortIstiodHook)
	}
	return ports
}

// GatewayAnswers fails unless every port of dst's east-west gateway accepts a TCP connection from src's client pod.
func GatewayAnswers(ctx context.Context, m *Mesh, src, dst string, timeout time.Duration) error {
	for _, port := range GatewayPorts(m, dst) {
		addr := m.GatewayAddress(dst, port)
		if err := answers(ctx, m, v1alpha1.AreaGateway, src, dst, addr, timeout, false); err != nil {
			return err
		}
	}
	return nil
}

// IstiodAnswers fails unless a remote's client pod can open 15012 and 15017 on the istiod address it was given
// (its primary's gateway or istiod's own LoadBalancer Service).
func IstiodAnswers(ctx context.Context, m *Mesh, remote string, timeout time.Duration) error {
	addr := m.State.Mesh.Clusters[remote].IstiodAddress
	if addr == "" {
		return fmt.Errorf("%s: the environment records no istiod address for this remote", remote)
	}
	primary := m.Istiod(remote)
	viaLB := m.ExposeIstiod() == env.ExposeLoadBalancer
	for _, port := range []int{render.PortIstiodXDS, render.PortIstiodHook} {
		if err := answers(ctx, m, v1alpha1.AreaGateway, remote, primary, net.JoinHostPort(addr, strconv.Itoa(port)), timeout, viaLB); err != nil {
			return err
		}
	}
	return nil
}

func answers(ctx context.Context, m *Mesh, area v1alpha1.Area, src, dst, addr string, timeout time.Duration, istiod bool) error {
	r, err := workload.Probe(ctx, m.Clients[src], m.Namespace, addr, timeout)
	if err != nil {
		return err
	}
	if r.Reachable {
		return nil
	}
	inspect := []string{fmt.Sprintf("kubectl --context %s -n istio-system get pods,svc -l istio=eastwestgateway -o wide", dst),
		fmt.Sprintf("kubectl --context %s -n istio-system get gateway,virtualservice", dst)}
	cause := causeGatewayClosed
	if istiod {
		inspect = []string{fmt.Sprintf("kubectl --context %s -n istio-system get svc %s -o wide", dst, render.IstiodLBServiceName),
			fmt.Sprintf("kubectl --context %s -n istio-system get pods -l app=istiod", dst)}
		cause = causeIstiodClosed
	}
	switch {
	case strings.Contains(r.Error, "timeout"):
		cause = causeGatewayTimeout
		inspect = append(inspect, "iptables -S DOCKER-USER (on the docker host)")
	case strings.Contains(r.Error, "no route to host") || strings.Contains(r.Error, "network is unreachable"):
		cause = causeNoRoute
		inspect = append(inspect, fmt.Sprintf("kubectl --context %s -n metallb-system get ipaddresspools,l2advertisements,pods", dst))
	case istiod:
	default:
		if pods, err := m.Clients[dst].Clientset.CoreV1().Pods(render.Namespace).List(ctx,
			metav1.ListOptions{LabelSelector: "istio=eastwestgateway"}); err == nil {
			if down := podsDown(pods.Items); down != "" {
				cause += " (not Ready: " + down + ")"
			}
		}
	}
	return fail(area, cause, inspect, "%s cannot connect to %s in %s: %s", src, addr, dst, r.Error)
}
