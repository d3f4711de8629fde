package main

import (
	"context"
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/install"
	"github.com/meshconform/meshconform/framework/istio"
	"github.com/meshconform/meshconform/framework/provision"
	"github.com/meshconform/meshconform/framework/timeouts"
	"github.com/meshconform/meshconform/framework/topology"
)

func newUpCommand() *cobra.Command {
	var topo, networking string
	var offline, skipPreflight bool
	var f envFlags
	var m meshFlags
	var timeoutPairs map[string]string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Provision a topology (networks, kind clusters, reachability, MetalLB) and install the mesh and workloads",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := resolveTopology(topo, networking)
			if err != nil {
				return err
			}
			if err := m.validate(); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			to, err := parseTimeouts(timeoutPairs)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if err := m.requireEnvoy(cmd.Context()); err != nil {
				return err
			}
			release, err := f.lock(cmd.Context())
			if err != nil {
				return err
			}
			defer release()
			_, err = up(cmd.Context(), t, f, m, to, offline, skipPreflight)
			return err
		},
	}
	m.register(cmd)
	cmd.Flags().StringVar(&topo, "topology", DefaultTopology, "built-in name (see `meshconform topologies`) or topology file")
	cmd.Flags().StringVar(&networking, "networking", "", "bridged | isolated: override the topology's networking mode")
	cmd.Flags().BoolVar(&offline, "offline", false, "use images built here even if registries are reachable")
	cmd.Flags().BoolVar(&skipPreflight, "skip-preflight", false, "do not run the preflight checks first")
	timeoutFlag(cmd, &timeoutPairs)
	f.register(cmd)
	return cmd
}

// up brings the environment up; the caller holds the state directory's lock.
func up(ctx context.Context, t *topology.Topology, f envFlags, m meshFlags, to timeouts.Timeouts, offline, skipPreflight bool) (*env.State, error) {
	name, err := f.envName()
	if err != nil {
		return nil, err
	}
	if errs := env.CheckKindNames(name, topologyClusterNames(t)); !t.BringYourOwn() && len(errs) > 0 {
		return nil, &exitError{code: exitUsage, err: errors.Join(errs...)}
	}
	if !skipPreflight {
		if err := runPreflight(ctx, t, name); err != nil {
			return nil, err
		}
	}
	kit, err := images.New(images.Options{CacheDir: f.cacheDir, Out: os.Stdout})
	if err != nil {
		return nil, err
	}
	var mesh istio.Options
	var prebuild []string
	if !m.skip {
		if mesh, err = m.istioOptions(ctx, f, kit); err != nil {
			return nil, err
		}
		prebuild = install.Artifacts(mesh)
	}
	// The dependency graph of `up`: images → networks → clusters → reachability → images into the nodes, then
	// MetalLB in the background while the mesh's images load and Istio installs; only the steps that create a
	// LoadBalancer Service (east-west gateway, istiod's address for remotes) wait for their cluster's MetalLB, and
	// `up` ends when both have.
	inf, err := provision.Start(ctx, t, provision.Options{StateDir: f.stateDir, Env: name, Offline: offline, Kit: kit,
		Prebuild: prebuild, Out: os.Stdout, Timeouts: to})
	if err != nil {
		return inf.State, err
	}
	st := inf.State
	if m.skip {
		return st, inf.Wait()
	}
	return st, install.OnInfra(ctx, t, inf, install.Options{Kit: kit, Out: os.Stdout, Istio: mesh, Timeouts: to})
}

func topologyClusterNames(t *topology.Topology) []string {
	var names []string
	for _, c := range t.Spec.Clusters {
		names = append(names, c.Name)
	}
	return names
}
