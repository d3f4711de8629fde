package checks

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/workload"
)

// Isolated fails unless dst's echo pods, reachable from dst's own client (the control: without it "unreachable"
// proves nothing), cannot be reached directly from src's client on another network. Isolation is what makes the
// multi-network specs mean something: if pod IPs route across, traffic could bypass a broken gateway.
func Isolated(ctx context.Context, m *Mesh, src, dst string, timeout time.Duration) error {
	if m.SameNetwork(src, dst) {
		return fmt.Errorf("%s and %s share network %s: isolation does not apply", src, dst, m.Network(src))
	}
	pods, err := m.EchoPods(ctx, dst)
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		return fmt.Errorf("%s runs no Ready echo pod to probe", dst)
	}
	addr := pods[0]
	if ownSubnet(m, src, addr) {
		return fmt.Errorf("%s's pod %s lies in %s's own pod subnet (the clusters' pod CIDRs overlap): isolation "+
			"cannot be judged from there", dst, addr, src)
	}
	return unreachable(ctx, m, src, dst, addr, "pod", timeout)
}

// IsolatedNodes is Isolated for dst's nodes (kubelet, 10250): with isolated networking only gateways and API
// servers of another network may be reachable.
func IsolatedNodes(ctx context.Context, m *Mesh, src, dst string, timeout time.Duration) error {
	c := m.State.Cluster(dst)
	if c == nil || len(c.NodeIPs) == 0 {
		return fmt.Errorf("%s: the environment records no node addresses", dst)
	}
	return unreachable(ctx, m, src, dst, net.JoinHostPort(c.NodeIPs[0].String(), "10250"), "node", timeout)
}

// unreachable probes addr from dst's own client (the control) and from src's (which must fail).
func unreachable(ctx context.Context, m *Mesh, src, dst, addr, what string, timeout time.Duration) error {
	control, err := workload.Probe(ctx, m.Clients[dst], m.Namespace, addr, timeout)
	if err != nil {
		return err
	}
	if !control.Reachable {
		return fmt.Errorf("control probe: %s's own client cannot reach its %s %s (%s); isolation cannot be judged",
			dst, what, addr, control.Error)
	}
	r, err := workload.Probe(ctx, m.Clients[src], m.Namespace, addr, timeout)
	if err != nil {
		return err
	}
	if r.Reachable {
		return fail(v1alpha1.AreaIsolation, causeNotIsolated, []string{
			"iptables -S DOCKER-USER; iptables -t nat -S (on the docker host)",
			fmt.Sprintf("docker exec %s-control-plane ip route", kindName(m, src))},
			"%s (network %s) reached %s's %s %s (network %s) directly in %dms", src, m.Network(src), dst, what, addr,
			m.Network(dst), r.Millis)
	}
	return nil
}

func kindName(m *Mesh, name string) string {
	if c := m.State.Cluster(name); c != nil && c.KindName != "" {
		return c.KindName
	}
	return name
}

// ownSubnet says whether addr ("ip:port") lies in src's pod subnet, where a probe would reach src's own pods.
func ownSubnet(m *Mesh, src, addr string) bool {
	c := m.State.Cluster(src)
	if c == nil || c.PodSubnet == "" {
		return false
	}
	p, err := netip.ParsePrefix(c.PodSubnet)
	ap, err2 := netip.ParseAddrPort(addr)
	return err == nil && err2 == nil && p.Contains(ap.Addr())
}
