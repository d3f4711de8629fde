package network

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
)

// Route sends a CIDR via a gateway address, installed on a node container.
type Route struct {
	Node string
	Dest netip.Prefix
	Via  netip.Addr
}

// AddRoutes installs routes on node containers (`ip route replace`, so re-running is harmless). In bridged mode this
// is how clusters on the same mesh network reach each other's pod and service CIDRs, on every node.
func AddRoutes(ctx context.Context, routes []Route) error {
	for _, r := range routes {
		out, err := exec.CommandContext(ctx, "docker", "exec", r.Node, "ip", "route", "replace", r.Dest.String(),
			"via", r.Via.String()).CombinedOutput()
		if err != nil {
			return fmt.Errorf("route %s via %s on %s: %w: %s", r.Dest, r.Via, r.Node, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// PeerRoutes returns, for every node of every cluster, a route to each peer cluster's CIDRs via that peer's
// control-plane address (its CNI forwards to the right node).
func PeerRoutes(nodes map[string][]string, cidrs map[string][]netip.Prefix, via map[string]netip.Addr) []Route {
	var out []Route
	for cluster, ns := range nodes {
		for peer, pc := range cidrs {
			if peer == cluster {
				continue
			}
			for _, n := range ns {
				for _, c := range pc {
					out = append(out, Route{Node: n, Dest: c, Via: via[peer]})
				}
			}
		}
	}
	return out
}
