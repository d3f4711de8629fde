package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshconform/meshconform/framework/provision"
)

func newDownCommand() *cobra.Command {
	var all bool
	var f envFlags
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove the environment's clusters, networks and rules (and only meshconform's)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			began := time.Now()
			// Cleanup must finish even when the user presses Ctrl-C again.
			ctx := context.WithoutCancel(cmd.Context())
			if err := provision.Down(ctx, f.stateDir, all, os.Stdout); err != nil {
				return err
			}
			fmt.Printf("down in %s\n", time.Since(began).Round(time.Second))
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "also remove every meshconform cluster, network and rule not in the environment file")
	f.register(cmd)
	return cmd
}
