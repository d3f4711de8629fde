package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/meshconform/meshconform/framework/topology"
)

func newTopologiesCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "topologies",
		Short: "List the built-in topologies",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			for _, b := range topology.Builtins() {
				def := ""
				if b.Name == DefaultTopology {
					def = " (default)"
				}
				fmt.Fprintf(w, "%s%s\t%s\n", b.Name, def, b.Description)
			}
			return w.Flush()
		},
	}
}
