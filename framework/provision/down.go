package provision

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/meshconform/meshconform/framework/clusters"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/network"
)

// Down removes what the environment file records and, with all, every meshconform cluster, network and rule on
// this machine (found by name prefix, label and rule comment), including leftovers of interrupted runs.
func Down(ctx context.Context, stateDir string, all bool, out io.Writer) error {
	st, err := env.Load(stateDir)
	if err != nil && !errors.Is(err, env.ErrNoEnvironment) {
		return err
	}
	var kindNames, networks []string
	topo := ""
	if st != nil {
		topo = st.Topology.Metadata.Name
		for _, c := range st.Clusters {
			if c.Provisioned && c.KindName != "" {
				kindNames = append(kindNames, c.KindName)
			}
		}
		for _, n := range st.Networks {
			networks = append(networks, n.Name)
		}
	}
	if all || st == nil {
		found, err := clusters.List()
		if err != nil {
			return err
		}
		kindNames = union(kindNames, found)
		owned, err := network.ListOwned(ctx)
		if err != nil {
			return err
		}
		networks = union(networks, owned)
		topo = "" // every meshconform rule
	}
	var errs []error
	for _, n := range kindNames {
		fmt.Fprintf(out, "deleting cluster %s\n", n)
		if err := clusters.Delete(n); err != nil {
			errs = append(errs, err)
		}
	}
	removed, err := network.RemoveRules(ctx, topo)
	if err != nil {
		errs = append(errs, err)
	} else if removed > 0 {
		fmt.Fprintf(out, "removed %d iptables rules\n", removed)
	}
	for _, n := range networks {
		fmt.Fprintf(out, "removing network %s\n", n)
		if err := network.Remove(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 && st != nil {
		if err := st.Remove(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(kindNames)+len(networks)+removed == 0 {
		fmt.Fprintln(out, "nothing to remove")
	}
	return errors.Join(errs...)
}

func union(a, b []string) []string {
	for _, x := range b {
		if !contains(a, x) {
			a = append(a, x)
		}
	}
	return a
}
