package checks

import (
	"context"
	"fmt"
	"time"

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
	control, err := workload.Probe(ctx, m.Clients[dst], m.Namespace, addr, timeout)
	if err != nil {
		return err
	}
	if !control.Reachable {
		return fmt.Errorf("control probe: %s's own client cannot reach its echo pod %s (%s); isolation cannot be judged",
			dst, addr, control.Error)
	}
	r, err := workload.Probe(ctx, m.Clients[src], m.Namespace, addr, timeout)
	if err != nil {
		return err
	}
	if r.Reachable {
		return fail("isolation", causeNotIsolated, []string{
			"iptables -S DOCKER-USER; iptables -t nat -S (on the docker host)",
			fmt.Sprintf("docker exec %s-control-plane ip route", kindName(m, src))},
			"%s (network %s) reached %s's pod %s (network %s) directly in %dms", src, m.Network(src), dst, addr,
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
