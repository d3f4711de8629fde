package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/meshconform/meshconform/framework/report"
	"github.com/meshconform/meshconform/suites"
)

// newReportCommand groups the commands on report files.
func newReportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Work with conformance report files",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newReportValidateCommand())
	return cmd
}

func newReportValidateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a conformance report file against its schema and for consistency",
		Long: "validate checks a conformance-report.yaml (YAML or JSON) against the JSON Schema of its apiVersion\n" +
			"(framework/report/apis/v1alpha1/schema.json), then that it is consistent: every result follows from its\n" +
			"counts, counts match their lists, profiles agree with the areas and with the topology's shape, and every\n" +
			"spec, profile and feature name is one this meshconform knows. It prints every problem with its JSON path.\n" +
			"Exit code 0: valid; 1: invalid; 2: no such file or wrong arguments.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			b, err := os.ReadFile(path)
			if err != nil { // no such file, a directory, no permission: bad input, not an invalid report
				return &exitError{code: exitUsage, err: fmt.Errorf("report validate: %w", err)}
			}
			d := suites.Definitions()
			cr, problems := report.Validate(b, &d)
			out := cmd.OutOrStdout()
			if len(problems) > 0 {
				for _, p := range problems {
					fmt.Fprintf(out, "%s: %s\n", path, p)
				}
				return &exitError{code: exitFailed, err: fmt.Errorf("%s: invalid conformance report: %d problem(s)", path, len(problems))}
			}
			fmt.Fprintf(out, "%s: valid %s (%s), result %s\n", path, cr.Kind, cr.APIVersion, cr.Result)
			for _, p := range cr.Profiles {
				fmt.Fprintf(out, "  profile %s: %s (%s)\n", p.Name, p.Result, p.Summary)
			}
			return nil
		},
	}
}
