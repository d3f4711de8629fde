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
// secrets). Every rule carries its environment's tag as its comment
// (EnvRuleTag), so `down` finds exactly its own rules even after an interrupted `up`.

// Allow is one permitted flow from one bridge to another.
type Allow struct {
	FromBridge string
	ToBridge   string
	Dest       netip.Prefix
	// Port, when non-zero, restricts the flow to TCP on this port.
	Port int
}

// RulePrefix starts the comment of every rule meshconform creates.
const RulePrefix = "meshconform:"

// EnvRuleTag is the comment of every rule an environment creates: "meshconform:env:<name>", one space-free token
// matched exactly (OwnsRule), so an environment whose name is a prefix of another's owns none of the other's rules.
// Environment names are letters and digits only (env.ValidateName); tags of older versions
// ("meshconform:<topology>") never hold a second ':', so they can never be taken for an environment's.
func EnvRuleTag(envName string) string { return RulePrefix + "env:" + envName }

// Rule is one rule of an `iptables -S` / `iptables-save` listing.
type Rule struct {
	// Chain is the chain an -A line appends to.
	Chain string
	// Spec is the rule after "-A <chain>", one argument per element, unquoted: what -D takes to delete it.
	Spec []string
	// Comments are the values of its comment matches.
	Comments []string
}

// ParseRule parses one line of `iptables -S` or `iptables-save` output. Only rule lines ("-A <chain> ...") parse;
// ok is false for anything else (policies, chain declarations, comments, a line with an unterminated quote).
// iptables quotes a value holding anything but [A-Za-z0-9_-] in double quotes, escaping double quote, backslash and single quote with a
// backslash (libxtables' xtables_save_string); such a value is one argument, whatever spaces it holds.
func ParseRule(line string) (r Rule, ok bool) {
	args, ok := splitArgs(line)
	if !ok || len(args) < 2 || args[0] != "-A" {
		return Rule{}, false
	}
	r = Rule{Chain: args[1], Spec: args[2:]}
	for i := 0; i+1 < len(r.Spec); i++ {
		if r.Spec[i] == "--comment" {
			r.Comments = append(r.Comments, r.Spec[i+1])
		}
	}
	return r, true
}

// splitArgs splits a line into arguments the way iptables-save quotes them; false for an unterminated quote.
func splitArgs(line string) ([]string, bool) {
	var args []string
	var cur strings.Builder
	inArg, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case quoted && c == '"':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '"':
			quoted, inArg = true, true
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if quoted {
		return nil, false
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, true
}

// OwnsRule reports whether one of a rule's comments is exactly tag. The empty tag owns every meshconform rule (a
// comment starting with RulePrefix), for `down --all`.
func OwnsRule(r Rule, tag string) bool {
	for _, c := range r.Comments {
		if c == tag || tag == "" && strings.HasPrefix(c, RulePrefix) {
			return true
		}
	}
	return false
}

// OwnedRules returns the rules of chain in an `iptables -S` listing that carry tag ("" = every meshconform rule).
func OwnedRules(listing, chain, tag string) []Rule {
	var out []Rule
	for _, line := range strings.Split(listing, "\n") {
		r, ok := ParseRule(line)
		if ok && r.Chain == chain && OwnsRule(r, tag) {
			out = append(out, r)
		}
	}
	return out
}

func (a Allow) args(tag string) []string {
	args := []string{"-i", a.FromBridge, "-o", a.ToBridge, "-d", a.Dest.String()}
	if a.Port != 0 {
		args = append(args, "-p", "tcp", "--dport", fmt.Sprint(a.Port))
	}
	return append(args, "-m", "comment", "--comment", tag, "-j", "ACCEPT")
}

// returnRule lets replies of allowed flows back (docker's isolation would drop them otherwise).
func returnRule(tag string) []string {
	return []string{"-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-i", "mc-+", "-o", "mc-+",
		"-m", "comment", "--comment", tag, "-j", "ACCEPT"}
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

func (d Drop) args(tag string) []string {
	return []string{"-s", netip.PrefixFrom(d.Source, 32).String(), "-d", d.Dest.String(),
		"-m", "comment", "--comment", tag, "-j", "DROP"}
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
func Apply(ctx context.Context, tag string, allows []Allow, drops []Drop, bridgeDrops []BridgeDrop) error {
	if !strings.HasPrefix(tag, RulePrefix) || tag == RulePrefix {
		return fmt.Errorf("iptables rules need an owner's tag (EnvRuleTag), not %q: without one they would be everyone's", tag)
	}
	if err := iptables(ctx, "-L", "DOCKER-USER", "-n"); err != nil {
		return fmt.Errorf("docker's DOCKER-USER chain is missing (is dockerd running with iptables enabled?): %w", err)
	}
	rules := ruleOrder(tag, allows, drops, bridgeDrops)
	// Each rule goes to the top, so they are inserted last first: the chain then reads in ruleOrder's order.
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		if iptables(ctx, append([]string{"-C", "DOCKER-USER"}, r...)...) == nil {
			continue
		}
		if err := iptables(ctx, append([]string{"-I", "DOCKER-USER", "1"}, r...)...); err != nil {
			return err
		}
	}
	return nil
}

// ruleOrder is the order the rules must have in DOCKER-USER, first to last: replies of allowed flows, the allows,
// the drops of other networks' CIDRs, and last the catch-all drops between bridges, which only what is above them
// gets through.
func ruleOrder(tag string, allows []Allow, drops []Drop, bridgeDrops []BridgeDrop) [][]string {
	var rules [][]string
	if len(allows) > 0 {
		rules = append(rules, returnRule(tag))
	}
	for _, a := range allows {
		rules = append(rules, a.args(tag))
	}
	for _, d := range drops {
		rules = append(rules, d.args(tag))
	}
	for _, b := range bridgeDrops {
		rules = append(rules, b.args(tag))
	}
	return rules
}

// BridgeDrop blocks everything from one of our bridges to another that no allow above it lets through. Docker 20.10
// isolates bridges by itself (DOCKER-ISOLATION-STAGE-*); a network in nat-unprotected gateway mode on Docker >= 28
// (what lets the allows work at all) is reachable from other bridges, nodes included, without it.
type BridgeDrop struct {
	FromBridge, ToBridge string
}

func (b BridgeDrop) args(tag string) []string {
	return []string{"-i", b.FromBridge, "-o", b.ToBridge, "-m", "comment", "--comment", tag, "-j", "DROP"}
}

// IsolationBridgeDrops returns a drop for every ordered pair of the networks.
func IsolationBridgeDrops(nets []Network) []BridgeDrop {
	var out []BridgeDrop
	for _, from := range nets {
		for _, to := range nets {
			if from.Bridge != to.Bridge {
				out = append(out, BridgeDrop{FromBridge: from.Bridge, ToBridge: to.Bridge})
			}
		}
	}
	return out
}

// RemoveRules deletes every DOCKER-USER rule carrying tag ("" = every meshconform rule).
func RemoveRules(ctx context.Context, tag string) (int, error) {
	out, err := exec.CommandContext(ctx, "iptables", "-w", "5", "-S", "DOCKER-USER").Output()
	if err != nil {
		return 0, nil // no docker chain, no rules of ours
	}
	removed := 0
	for _, r := range OwnedRules(string(out), "DOCKER-USER", tag) {
		if err := iptables(ctx, append([]string{"-D", "DOCKER-USER"}, r.Spec...)...); err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

// ListRules returns the DOCKER-USER rules carrying tag ("" = every meshconform rule), for `status` and `down --all`.
func ListRules(ctx context.Context, tag string) []string {
	out, err := exec.CommandContext(ctx, "iptables", "-w", "5", "-S", "DOCKER-USER").Output()
	if err != nil {
		return nil
	}
	var rules []string
	for _, line := range strings.Split(string(out), "\n") {
		if r, ok := ParseRule(line); ok && r.Chain == "DOCKER-USER" && OwnsRule(r, tag) {
			rules = append(rules, line)
		}
	}
	return rules
}
