package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newValidateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE|BUILTIN",
		Short: "Check a topology file and print it with defaults filled in",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := resolveTopology(args[0])
			if err != nil {
				return err
			}
			fmt.Printf("%s: valid (%d clusters, %d networks, %s networking, features %v)\n", args[0],
				len(t.Spec.Clusters), len(t.Networks()), t.Spec.Networking, t.Features())
			return nil
		},
	}
}
