// Package network creates the docker networks a topology runs on and the reachability between them.
//
// Address plan of every network meshconform creates: a /24; docker assigns containers from the low /25 only
// (--ip-range), and MetalLB pools are carved from the high /25, so a pool can never hold a node or the gateway.
package network

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/meshconform/meshconform/framework/env"
)

// Labels on every docker network meshconform creates: managed, the environment that owns it, and its topology.
const (
	ManagedLabel  = env.ManagedLabel
	EnvLabel      = env.EnvLabel
	TopologyLabel = "meshconform.io/topology"
	// PoolSize is the number of LoadBalancer addresses each cluster gets.
	PoolSize = 16
	// MaxClustersPerNetwork follows from PoolSize and the high /25 (.128-.254).
	MaxClustersPerNetwork = 7
)

// Network is a docker network meshconform created or will create.
type Network struct {
	Name   string       `json:"name"`
	Bridge string       `json:"bridge"` // host interface name, needed for forwarding rules
	Subnet netip.Prefix `json:"subnet"`
}

// Gateway is the host's address on the network.
func (n Network) Gateway() netip.Addr { return n.Subnet.Addr().Next() }

// NodeRange is where docker assigns container addresses.
func (n Network) NodeRange() netip.Prefix { return netip.PrefixFrom(n.Subnet.Addr(), 25) }

// LBRange is the half of the subnet that holds every cluster's MetalLB pool.
func (n Network) LBRange() netip.Prefix { return netip.PrefixFrom(addrAt(n.Subnet.Addr(), 128), 25) }

// Pool returns the MetalLB address range of the i-th cluster (0-based) on this network.
func (n Network) Pool(i int) (first, last netip.Addr, err error) {
	if i < 0 || i >= MaxClustersPerNetwork {
		return first, last, fmt.Errorf("network %s: cluster index %d out of range: at most %d clusters per network",
			n.Name, i, MaxClustersPerNetwork)
	}
	first = addrAt(n.Subnet.Addr(), 128+PoolSize*i)
	end := 128 + PoolSize*i + PoolSize - 1
	if end > 254 {
		end = 254 // never the broadcast address
	}
	return first, addrAt(n.Subnet.Addr(), end), nil
}

func addrAt(base netip.Addr, off int) netip.Addr {
	b := base.As4()
	b[3] += byte(off)
	return netip.AddrFrom4(b)
}

// BridgeName derives a stable host interface name (at most 15 bytes) from the network name.
func BridgeName(network string) string {
	sum := sha256.Sum256([]byte(network))
	return "mc-" + hex.EncodeToString(sum[:])[:12]
}

// Candidates are the /24s meshconform chooses from, in order: far from docker's defaults (172.17-172.28).
func candidates() []netip.Prefix {
	var c []netip.Prefix
	for second := 30; second <= 31; second++ {
		for third := 1; third < 255; third++ {
			c = append(c, netip.MustParsePrefix(fmt.Sprintf("172.%d.%d.0/24", second, third)))
		}
	}
	return c
}

// PickSubnets returns n candidate /24s overlapping none of the used prefixes.
func PickSubnets(n int, used []netip.Prefix) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range candidates() {
		if len(out) == n {
			break
		}
		free := true
		for _, u := range used {
			if u.Overlaps(c) {
				free = false
				break
			}
		}
		if free {
			out = append(out, c)
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("no free /24 left in 172.30.0.0/15 for %d networks: remove unused docker networks", n)
	}
	return out, nil
}

// UsedPrefixes lists the subnets of every docker network and every IPv4 route of the host.
func UsedPrefixes(ctx context.Context) ([]netip.Prefix, error) {
	var used []netip.Prefix
	ids, err := exec.CommandContext(ctx, "docker", "network", "ls", "-q").Output()
	if err != nil {
		return nil, fmt.Errorf("list docker networks: %w", err)
	}
	if ids := strings.Fields(string(ids)); len(ids) > 0 {
		out, err := exec.CommandContext(ctx, "docker", append([]string{"network", "inspect"}, ids...)...).Output()
		if err != nil {
			return nil, fmt.Errorf("inspect docker networks: %w", err)
		}
		var nets []struct {
			IPAM struct{ Config []struct{ Subnet string } }
		}
		if err := json.Unmarshal(out, &nets); err != nil {
			return nil, fmt.Errorf("parse docker network inspect: %w", err)
		}
		for _, n := range nets {
			for _, c := range n.IPAM.Config {
				if p, err := netip.ParsePrefix(c.Subnet); err == nil && p.Addr().Is4() {
					used = append(used, p)
				}
			}
		}
	}
	// Host routes: a subnet the host already reaches elsewhere would shadow or be shadowed by ours.
	if out, err := exec.CommandContext(ctx, "ip", "-4", "route", "show").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || f[0] == "default" {
				continue
			}
			if p, err := netip.ParsePrefix(f[0]); err == nil {
				used = append(used, p)
			} else if a, err := netip.ParseAddr(f[0]); err == nil {
				used = append(used, netip.PrefixFrom(a, 32))
			}
		}
	}
	return used, nil
}

// Inspect returns the network if it exists.
func Inspect(ctx context.Context, name string) (Network, bool, error) {
	out, err := exec.CommandContext(ctx, "docker", "network", "inspect", name).Output()
	if err != nil {
		return Network{}, false, nil
	}
	var nets []struct {
		Name    string
		Options map[string]string
		IPAM    struct{ Config []struct{ Subnet string } }
	}
	if err := json.Unmarshal(out, &nets); err != nil || len(nets) != 1 {
		return Network{}, false, fmt.Errorf("parse docker network inspect %s: %v", name, err)
	}
	n := Network{Name: nets[0].Name, Bridge: nets[0].Options["com.docker.network.bridge.name"]}
	for _, c := range nets[0].IPAM.Config {
		if p, err := netip.ParsePrefix(c.Subnet); err == nil && p.Addr().Is4() {
			n.Subnet = p
		}
	}
	return n, true, nil
}

// GatewayModeOption is the bridge driver's per-network IPv4 gateway mode (Docker >= 28).
const GatewayModeOption = "com.docker.network.bridge.gateway_mode_ipv4"

// DirectAccessDrops lists the engine's raw-table rules that drop traffic to one of addrs arriving from another
// interface (Docker >= 28's direct access filtering): what would silently block isolated networking's allows.
func DirectAccessDrops(ctx context.Context, addrs []netip.Addr) ([]string, error) {
	out, err := exec.CommandContext(ctx, "iptables", "-w", "5", "-t", "raw", "-S", "PREROUTING").Output()
	if err != nil {
		return nil, nil // no raw table or no iptables: nothing of the kind
	}
	return directAccessDrops(string(out), addrs), nil
}

func directAccessDrops(listing string, addrs []netip.Addr) []string {
	var found []string
	for _, line := range strings.Split(listing, "\n") {
		r, ok := ParseRule(line)
		if !ok || r.Chain != "PREROUTING" {
			continue
		}
		var dest string
		negIn, drop := false, false
		for i := 0; i < len(r.Spec); i++ {
			switch {
			case r.Spec[i] == "-d" && i+1 < len(r.Spec):
				dest = r.Spec[i+1]
			case r.Spec[i] == "!" && i+1 < len(r.Spec) && r.Spec[i+1] == "-i":
				negIn = true
			case r.Spec[i] == "-j" && i+1 < len(r.Spec) && r.Spec[i+1] == "DROP":
				drop = true
			}
		}
		if !negIn || !drop || dest == "" {
			continue
		}
		p, err := netip.ParsePrefix(dest)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if p.Contains(a) {
				found = append(found, strings.TrimSpace(line))
				break
			}
		}
	}
	return found
}

// Owner is the environment a network is created for.
type Owner struct {
	Env      string
	Topology string
}

// Create creates a docker network with the address plan above, labelled for its environment.
func Create(ctx context.Context, n Network, o Owner) error {
	if env.ValidateName(o.Env) != nil {
		return fmt.Errorf("create network %s: owner environment %q is not a valid name", n.Name, o.Env)
	}
	args := []string{"network", "create", "--driver", "bridge",
		"--subnet", n.Subnet.String(), "--ip-range", n.NodeRange().String(), "--gateway", n.Gateway().String(),
		"--opt", "com.docker.network.bridge.name=" + n.Bridge,
		"--opt", "com.docker.network.bridge.enable_ip_masquerade=true",
		// Docker >= 28 drops packets to a container's address arriving from any other interface (raw PREROUTING
		// "-d <container> ! -i <bridge> -j DROP", before DOCKER-USER) unless the network's gateway mode is
		// nat-unprotected or routed: isolated networking's API-server allows would never be seen. Scoped to our own
		// networks; Docker 20.10 stores and ignores the option. DirectAccessDrops checks what the engine did.
		"--opt", GatewayModeOption + "=nat-unprotected",
		"--label", ManagedLabel + "=true", "--label", EnvLabel + "=" + o.Env, "--label", TopologyLabel + "=" + o.Topology, n.Name}
	if out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("create network %s (%s): %w: %s", n.Name, n.Subnet, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Remove deletes a docker network; a missing network is not an error.
func Remove(ctx context.Context, name string) error {
	out, err := exec.CommandContext(ctx, "docker", "network", "rm", name).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "No such network") && !strings.Contains(string(out), "not found") {
		return fmt.Errorf("remove network %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Labelled is a docker network labelled as meshconform's, with the environment its label names ("" for networks
// of versions before environments had names).
type Labelled struct {
	Name string
	Env  string
}

// ListOwned returns the docker networks labelled as meshconform's.
func ListOwned(ctx context.Context) ([]Labelled, error) {
	out, err := exec.CommandContext(ctx, "docker", "network", "ls", "--filter", "label="+ManagedLabel+"=true",
		"--format", fmt.Sprintf("{{.Name}}\t{{.Label %q}}", EnvLabel)).Output()
	if err != nil {
		return nil, fmt.Errorf("list meshconform networks: %w", err)
	}
	var nets []Labelled
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, envName, _ := strings.Cut(line, "\t")
		if name = strings.TrimSpace(name); name != "" {
			nets = append(nets, Labelled{Name: name, Env: strings.TrimSpace(envName)})
		}
	}
	return nets, nil
}

var errNotOwned = errors.New("exists but was not created by meshconform")

// Ensure creates the network, or checks that an existing one with that name is this environment's and returns it as
// it is. A network of another environment, or not meshconform's, is never adopted.
func Ensure(ctx context.Context, name string, o Owner, subnet netip.Prefix) (Network, error) {
	if existing, ok, err := Inspect(ctx, name); err != nil {
		return Network{}, err
	} else if ok {
		out, _ := exec.CommandContext(ctx, "docker", "network", "inspect", "--format",
			fmt.Sprintf("{{ index .Labels %q }}\t{{ index .Labels %q }}", ManagedLabel, EnvLabel), name).Output()
		managed, owner, _ := strings.Cut(strings.TrimSpace(string(out)), "\t")
		switch {
		case managed != "true":
			return Network{}, fmt.Errorf("docker network %s %w: remove or rename it", name, errNotOwned)
		case owner == "":
			return Network{}, fmt.Errorf("docker network %s was made by an older meshconform for no named environment: "+
				"never adopted; `meshconform down --all` lists and removes such leftovers", name)
		case owner != o.Env:
			return Network{}, fmt.Errorf("docker network %s belongs to meshconform environment %q, not %q: never adopted; "+
				"remove it with `meshconform down --env %s` if it is no longer used", name, owner, o.Env, owner)
		}
		return existing, nil
	}
	n := Network{Name: name, Bridge: BridgeName(name), Subnet: subnet}
	return n, Create(ctx, n, o)
}
