package network

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
)

// Docker isolates its bridge networks from each other (DOCKER-ISOLATION chains). In isolated mode meshconform opens
// exactly what a multi-network mesh needs, in DOCKER-USER (which docker evaluates first and never rewrites): from each
// network to every other network's LoadBalancer range (east-west gateways, exposed istiod) and API servers (remote
// secrets). Every rule carries a comment naming the topology, so `down` finds them even after an interrupted `up`.

// Allow is one permitted flow from one bridge to another.
type Allow struct {
	FromBridge string
	ToBridge   string
	Dest       netip.Prefix
	// Port, when non-zero, restricts the flow to TCP on this port.
	Port int
}

func ruleComment(topology string) string { return "meshconform:" + topology }

func (a Allow) args(topology string) []string {
	args := []string{"-i", a.FromBridge, "-o", a.ToBridge, "-d", a.Dest.String()}
	if a.Port != 0 {
		args = append(args, "-p", "tcp", "--dport", fmt.Sprint(a.Port))
	}
	return append(args, "-m", "comment", "--comment", ruleComment(topology), "-j", "ACCEPT")
}

// returnRule lets replies of allowed flows back (docker's isolation would drop them otherwise).
func returnRule(topology string) []string {
	return []string{"-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-i", "mc-+", "-o", "mc-+",
		"-m", "comment", "--comment", ruleComment(topology), "-j", "ACCEPT"}
}

// IsolationAllows returns the flows isolated networking permits between the given networks: to each other network's
// LB range (any port) and to its API servers on 6443.
func IsolationAllows(nets []Network, apiServers map[string][]netip.Addr) []Allow {
	var out []Allow
	for _, from := range nets {
		for _, to := range nets {
			if from.Name == to.Name {
				continue
			}
			out = append(out, Allow{FromBridge: from.Bridge, ToBridge: to.Bridge, Dest: to.LBRange()})
			for _, ip := range apiServers[to.Name] {
				out = append(out, Allow{FromBridge: from.Bridge, ToBridge: to.Bridge, Dest: netip.PrefixFrom(ip, 32), Port: 6443})
			}
		}
	}
	return out
}

func iptables(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "iptables", append([]string{"-w", "5"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Drop blocks traffic from a node address to a CIDR of a cluster on another mesh network. Those CIDRs are not routed
// anywhere, so on most machines the packets die upstream; but some networks (this project's CI VMs among them) accept
// TCP connections to any address, which would make another network's pods look reachable. Dropping explicitly makes
// the isolation a property of meshconform, not of whatever lies beyond the host's default route.
type Drop struct {
	Source netip.Addr
	Dest   netip.Prefix
}

func (d Drop) args(topology string) []string {
	return []string{"-s", netip.PrefixFrom(d.Source, 32).String(), "-d", d.Dest.String(),
		"-m", "comment", "--comment", ruleComment(topology), "-j", "DROP"}
}

// ClusterAddrs is what IsolationDrops needs to know of a cluster.
type ClusterAddrs struct {
	MeshNetwork string
	NodeIPs     []netip.Addr
	CIDRs       []netip.Prefix // pod and service subnets
}

// IsolationDrops returns, for every cluster, drops from its nodes to the CIDRs of every cluster on another mesh network.
// Pod egress leaves a node masqueraded to the node's address (our CNI), so node addresses identify the source cluster
// even when clusters share one docker network (bridged mode), where same-network peers must stay reachable.
func IsolationDrops(clusters []ClusterAddrs) []Drop {
	var out []Drop
	for _, from := range clusters {
		for _, to := range clusters {
			if from.MeshNetwork == to.MeshNetwork {
				continue
			}
			for _, ip := range from.NodeIPs {
				for _, c := range to.CIDRs {
					out = append(out, Drop{Source: ip, Dest: c})
				}
			}
		}
	}
	return out
}

// Apply inserts the rules (idempotently) at the top of DOCKER-USER.
func Apply(ctx context.Context, topology string, allows []Allow, drops []Drop) error {
	if err := iptables(ctx, "-L", "DOCKER-USER", "-n"); err != nil {
		return fmt.Errorf("docker's DOCKER-USER chain is missing (is dockerd running with iptables enabled?): %w", err)
	}
	var rules [][]string
	if len(allows) > 0 {
		rules = append(rules, returnRule(topology))
	}
	for _, a := range allows {
		rules = append(rules, a.args(topology))
	}
	for _, d := range drops {
		rules = append(rules, d.args(topology))
	}
	for _, r := range rules {
		if iptables(ctx, append([]string{"-C", "DOCKER-USER"}, r...)...) == nil {
			continue
		}
		if err := iptables(ctx, append([]string{"-I", "DOCKER-USER", "1"}, r...)...); err != nil {
			return err
		}
	}
	return nil
}

// RemoveRules deletes every DOCKER-USER rule tagged for the topology ("" = every meshconform rule).
func RemoveRules(ctx context.Context, topology string) (int, error) {
	out, err := exec.CommandContext(ctx, "iptables", "-w", "5", "-S", "DOCKER-USER").Output()
	if err != nil {
		return 0, nil // no docker chain, no rules of ours
	}
	removed := 0
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "-A DOCKER-USER ") || !strings.Contains(line, "meshconform:"+topology) {
			continue
		}
		spec := strings.Fields(strings.TrimPrefix(line, "-A DOCKER-USER "))
		for i := range spec {
			spec[i] = strings.Trim(spec[i], `"`)
		}
		if err := iptables(ctx, append([]string{"-D", "DOCKER-USER"}, spec...)...); err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

// ListRules returns the DOCKER-USER rules of meshconform, for `status` and leftover checks.
func ListRules(ctx context.Context) []string {
	out, err := exec.CommandContext(ctx, "iptables", "-w", "5", "-S", "DOCKER-USER").Output()
	if err != nil {
		return nil
	}
	var rules []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "meshconform:") {
			rules = append(rules, line)
		}
	}
	return rules
}
