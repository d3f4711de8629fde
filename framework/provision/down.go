package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/meshconform/meshconform/framework/clusters"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/inventory"
	"github.com/meshconform/meshconform/framework/network"
)

// DownOptions choose what Down removes.
type DownOptions struct {
	StateDir string
	// Env names the environment to remove when its file is gone (from --env): found by its labels and tags.
	Env string
	// All removes every meshconform environment on the machine, after Confirm agrees to the listing.
	All bool
	// Confirm is asked before All removes anything; nil refuses (a caller without a terminal passes --yes).
	Confirm func(listing string) bool
	Out     io.Writer
}

// ErrNotConfirmed means `down --all` was not confirmed: nothing was removed.
var ErrNotConfirmed = errors.New("not confirmed: nothing removed")

// Down removes one environment: what its file records, and whatever else carries its name (labelled networks, kind
// clusters on them, tagged rules: an interrupted `up` may have made more than it recorded). Without a file it
// removes the environment opts.Env names, found the same way; with neither it removes nothing and lists the
// environments that exist. With All it removes every meshconform environment, after confirmation. From clusters the
// user brought it deletes only the objects this environment wrote there and labelled as its own (brought.go).
func Down(ctx context.Context, opts DownOptions) error {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	st, err := env.Load(opts.StateDir)
	switch {
	case err == nil, errors.Is(err, env.ErrNoEnvironment):
	case env.IsInvalid(err) && opts.Env != "":
		// The file cannot be trusted, the name can: remove by labels and tags, and leave the file for the user.
		fmt.Fprintf(out, "ignoring the environment file (%v): removing environment %s by its labels; the file is left in place\n", err, opts.Env)
		st = nil
	case env.IsInvalid(err):
		return fmt.Errorf("%w\nto remove its environment anyway, name it: `meshconform down --env NAME` (a `down` from an empty "+
			"--state-dir lists the environments on this machine)", err)
	default:
		return err
	}
	if st != nil && opts.Env != "" && opts.Env != st.Name {
		return fmt.Errorf("--env %s: %s holds environment %q: pass its state directory, or leave --env out to remove %q",
			opts.Env, st.Path(), st.Name, st.Name)
	}
	inv, err := inventory.Take(ctx)
	if err != nil {
		return err
	}
	name := opts.Env
	if st != nil {
		name = st.Name
	}
	plan := planDown(st, name, opts.All, inv)
	if plan.nothing {
		if len(inv) == 0 {
			fmt.Fprintf(out, "no environment in %s: nothing to remove\n", opts.StateDir)
			return nil
		}
		fmt.Fprintf(out, "no environment in %s: nothing removed. Environments on this machine:\n", opts.StateDir)
		for _, e := range inv {
			fmt.Fprintf(out, "  %s\n", e)
		}
		fmt.Fprintln(out, "remove one with `meshconform down --env NAME` (or from its own --state-dir), every one with `meshconform down --all`")
		return nil
	}
	if opts.All {
		listing := describe(plan, st)
		if opts.Confirm == nil || !opts.Confirm(listing) {
			return fmt.Errorf("down --all would remove:\n%s%w", listing, ErrNotConfirmed)
		}
	}
	var errs []error
	deleted := 0
	if st != nil {
		n, berrs := removeBroughtClusters(ctx, st, out)
		deleted, errs = n, append(errs, berrs...)
	}
	for _, n := range plan.clusters {
		fmt.Fprintf(out, "deleting cluster %s\n", n)
		if err := clusters.Delete(n); err != nil {
			errs = append(errs, err)
		}
	}
	removed := 0
	for _, tag := range plan.ruleTags {
		n, err := network.RemoveRules(ctx, tag)
		if err != nil {
			errs = append(errs, err)
		}
		removed += n
	}
	if removed > 0 {
		fmt.Fprintf(out, "removed %d iptables rules\n", removed)
	}
	for _, n := range plan.networks {
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
	if len(plan.clusters)+len(plan.networks)+removed+deleted == 0 {
		fmt.Fprintln(out, "nothing to remove")
	}
	return errors.Join(errs...)
}

// removal is what Down removes: kind clusters, docker networks, and the iptables rules carrying one of ruleTags
// ("" = every meshconform rule); nothing means none of them.
type removal struct {
	clusters, networks []string
	ruleTags           []string
	nothing            bool
}

// planDown decides what Down removes, from the environment file (nil if none), the environment's name (the file's,
// or --env), all, and what the machine holds. Only the named environment's things, or with all every environment's.
func planDown(st *env.State, name string, all bool, inv inventory.Inventory) removal {
	if st == nil && name == "" && !all {
		return removal{nothing: true}
	}
	var r removal
	if st != nil {
		for _, c := range st.Clusters {
			if c.Provisioned && c.KindName != "" {
				r.clusters = append(r.clusters, c.KindName)
			}
		}
		for _, n := range st.Networks {
			r.networks = append(r.networks, n.Name)
		}
	}
	if name != "" {
		mine := inv.Env(name)
		r.clusters = union(r.clusters, mine.Clusters)
		r.networks = union(r.networks, mine.Networks)
		r.ruleTags = []string{network.EnvRuleTag(name)}
	}
	if all {
		for _, e := range inv {
			r.clusters = union(r.clusters, e.Clusters)
			r.networks = union(r.networks, e.Networks)
		}
		r.ruleTags = []string{""} // every meshconform rule
	}
	return r
}

// describe lists what a removal takes, for the confirmation of `down --all`.
func describe(r removal, st *env.State) string {
	var b strings.Builder
	if st != nil {
		fmt.Fprintf(&b, "  environment %s (%s)\n", st.Name, st.Path())
	}
	for _, c := range r.clusters {
		fmt.Fprintf(&b, "  kind cluster %s\n", c)
	}
	for _, n := range r.networks {
		fmt.Fprintf(&b, "  docker network %s\n", n)
	}
	if slices.Contains(r.ruleTags, "") {
		b.WriteString("  every DOCKER-USER rule tagged meshconform:\n")
	}
	return b.String()
}

func union(a, b []string) []string {
	for _, x := range b {
		if !slices.Contains(a, x) {
			a = append(a, x)
		}
	}
	return a
}
