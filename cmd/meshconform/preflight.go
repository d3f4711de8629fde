package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/preflight"
	"github.com/meshconform/meshconform/framework/topology"
)

func newPreflightCommand() *cobra.Command {
	var topo string
	var f envFlags
	cmd := &cobra.Command{
		Use:   "preflight",
		Short: "Check this machine can run a topology (docker, inotify, memory, CPU, leftovers)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := resolveTopology(topo)
			if err != nil {
				return err
			}
			return runPreflight(cmd.Context(), t, f.stateDir)
		},
	}
	cmd.Flags().StringVar(&topo, "topology", DefaultTopology, "built-in name or topology file")
	f.register(cmd)
	return cmd
}

func runPreflight(ctx context.Context, t *topology.Topology, stateDir string) error {
	var opts preflight.Options
	if st, err := env.Load(stateDir); err == nil {
		for _, c := range st.Clusters {
			opts.OwnedClusters = append(opts.OwnedClusters, c.KindName)
		}
		for _, n := range st.Networks {
			opts.OwnedNetworks = append(opts.OwnedNetworks, n.Name)
		}
	}
	fmt.Printf("preflight for %s:\n", t.Metadata.Name)
	if preflight.Print(os.Stdout, preflight.Run(ctx, t, opts)) {
		return &exitError{code: exitPreflight, err: errors.New("preflight failed: fix the errors above")}
	}
	return nil
}
