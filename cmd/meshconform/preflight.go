package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

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
			name, err := f.envName()
			if err != nil {
				return err
			}
			return runPreflight(cmd.Context(), t, name)
		},
	}
	cmd.Flags().StringVar(&topo, "topology", DefaultTopology, "built-in name or topology file")
	f.register(cmd)
	return cmd
}

func runPreflight(ctx context.Context, t *topology.Topology, envName string) error {
	fmt.Printf("preflight for %s (environment %s):\n", t.Metadata.Name, envName)
	if preflight.Print(os.Stdout, preflight.Run(ctx, t, preflight.Options{Env: envName})) {
		return &exitError{code: exitPreflight, err: errors.New("preflight failed: fix the errors above")}
	}
	return nil
}
