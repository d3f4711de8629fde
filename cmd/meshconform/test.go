package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshconform/meshconform/suites"
)

// runSuites runs the conformance suites and turns the verdict into the exit code: exitOK all passed, exitFailed a spec
// failed, exitUsage no environment.
func runSuites(ctx context.Context, c suites.Config) error {
	began := time.Now()
	passed, err := suites.Run(c)
	if ctx.Err() != nil {
		// Ginkgo stopped at the interrupt, ran the cleanups and wrote what it had.
		return fmt.Errorf("conformance run interrupted after %s (partial reports in %s): %w",
			time.Since(began).Round(time.Second), c.ReportDir, ctx.Err())
	}
	if errors.Is(err, suites.ErrNoEnvironment) {
		return &exitError{code: exitUsage, err: fmt.Errorf("%w: bring one up with `meshconform up` (state directory %s)", err, c.StateDir)}
	}
	if err != nil {
		return err
	}
	if c.ReportDir != "" {
		fmt.Printf("reports in %s (conformance-report.yaml, report.html, junit.xml)\n", c.ReportDir)
	}
	if !passed {
		return &exitError{code: exitFailed, err: fmt.Errorf("conformance failed after %s: see the failures above and %s",
			time.Since(began).Round(time.Second), c.ReportDir)}
	}
	fmt.Printf("conformance passed in %s\n", time.Since(began).Round(time.Second))
	return nil
}

func newTestCommand() *cobra.Command {
	var f envFlags
	var t testFlags
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Run the conformance suites against the environment `up` made (or clusters you brought)",
		Long: "test reads the environment file and runs the specs of every area (trust, discovery, gateway,\n" +
			"loadbalancing, isolation, doc-fidelity) against the live clusters. Exit code 0: every spec that ran passed;\n" +
			"1: a spec failed (the report directory has the conformance report and every cluster's artifacts);\n" +
			"2: bad flags or no environment.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := t.config(f.stateDir)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			return runSuites(cmd.Context(), c)
		},
	}
	f.register(cmd)
	t.register(cmd)
	return cmd
}
