// Package inventory finds the meshconform environments on this machine from what they carry: docker networks
// labelled with their environment's name, kind clusters named for that environment and attached to those networks,
// and iptables rules tagged with it. Nothing is ever found by a name prefix alone: a kind cluster called
// mc-<env>-... that is not on one of that environment's networks is someone else's.
package inventory

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"

	"github.com/meshconform/meshconform/framework/clusters"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/network"
)

// Environment is what one environment has on the machine.
type Environment struct {
	// Name is the environment's name; "" stands for resources of versions before environments had names.
	Name     string
	Clusters []string
	Networks []string
	// Rules counts its DOCKER-USER rules.
	Rules int
}

// Empty reports whether the environment has nothing on the machine.
func (e Environment) Empty() bool { return len(e.Clusters)+len(e.Networks)+e.Rules == 0 }

// String lists what it has, for messages.
func (e Environment) String() string {
	name := e.Name
	if name == "" {
		name = "(unnamed: an older meshconform's)"
	}
	var parts []string
	if len(e.Clusters) > 0 {
		parts = append(parts, fmt.Sprintf("clusters %s", strings.Join(e.Clusters, ", ")))
	}
	if len(e.Networks) > 0 {
		parts = append(parts, fmt.Sprintf("networks %s", strings.Join(e.Networks, ", ")))
	}
	if e.Rules > 0 {
		parts = append(parts, fmt.Sprintf("%d iptables rules", e.Rules))
	}
	return name + ": " + strings.Join(parts, "; ")
}

// Inventory is every meshconform environment found on the machine, named ones sorted by name, then the unnamed.
type Inventory []Environment

// Env returns what the named environment has (empty if nothing).
func (inv Inventory) Env(name string) Environment {
	for _, e := range inv {
		if e.Name == name {
			return e
		}
	}
	return Environment{Name: name}
}

// Others returns every environment but the named one.
func (inv Inventory) Others(name string) Inventory {
	var out Inventory
	for _, e := range inv {
		if e.Name != name {
			out = append(out, e)
		}
	}
	return out
}

// Take lists the machine's docker networks, kind clusters and DOCKER-USER rules and sorts them by environment.
func Take(ctx context.Context) (Inventory, error) {
	nets, err := network.ListOwned(ctx)
	if err != nil {
		return nil, err
	}
	att, err := clusters.Attachments(ctx)
	if err != nil {
		return nil, err
	}
	// No DOCKER-USER chain (iptables disabled, not root): no rules of anyone's.
	rules, _ := exec.CommandContext(ctx, "iptables", "-w", "5", "-S", "DOCKER-USER").Output()
	return build(nets, att, string(rules)), nil
}

// legacyClusterPrefix started every kind cluster name before environments had names.
const legacyClusterPrefix = "meshconform-"

// build is Take's decision, from the listings alone.
func build(nets []network.Labelled, attachments map[string][]string, rules string) Inventory {
	byName := map[string]*Environment{}
	get := func(name string) *Environment {
		if byName[name] == nil {
			byName[name] = &Environment{Name: name}
		}
		return byName[name]
	}
	netEnv := map[string]string{}
	for _, n := range nets {
		if n.Env != "" && env.ValidateName(n.Env) != nil {
			continue // a label no meshconform wrote
		}
		netEnv[n.Name] = n.Env
		e := get(n.Env)
		e.Networks = append(e.Networks, n.Name)
	}
	for c, attached := range attachments {
		owner, named := env.EnvOfName(c)
		if !named {
			if !strings.HasPrefix(c, legacyClusterPrefix) {
				continue
			}
			owner = ""
		}
		if slices.ContainsFunc(attached, func(n string) bool { e, ok := netEnv[n]; return ok && e == owner }) {
			e := get(owner)
			e.Clusters = append(e.Clusters, c)
		}
	}
	for _, line := range strings.Split(rules, "\n") {
		r, ok := network.ParseRule(line)
		if !ok || r.Chain != "DOCKER-USER" {
			continue
		}
		for _, c := range r.Comments {
			if name, ok := strings.CutPrefix(c, network.EnvRuleTag("")); ok && env.ValidateName(name) == nil {
				get(name).Rules++
				break
			} else if strings.HasPrefix(c, network.RulePrefix) && !strings.HasPrefix(c, network.EnvRuleTag("")) {
				get("").Rules++
				break
			}
		}
	}
	var inv Inventory
	for _, e := range byName {
		sort.Strings(e.Clusters)
		sort.Strings(e.Networks)
		inv = append(inv, *e)
	}
	sort.Slice(inv, func(i, j int) bool {
		if (inv[i].Name == "") != (inv[j].Name == "") {
			return inv[j].Name == ""
		}
		return inv[i].Name < inv[j].Name
	})
	return inv
}
