package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshconform/meshconform/framework/artifacts"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites"
)

// labelVocabulary lists the labels specs carry, from the suites' one vocabulary.
func labelVocabulary() string {
	var areas, features, needs, specs []string
	for _, a := range v1alpha1.Areas {
		areas = append(areas, string(a))
	}
	for _, f := range v1alpha1.Features {
		features = append(features, string(f))
	}
	for _, n := range v1alpha1.Needs {
		needs = append(needs, string(n))
	}
	for _, s := range suites.Catalogue {
		specs = append(specs, s.ShortName)
	}
	return fmt.Sprintf("%s<%s>, %s<%s>, %s%s, %s<%s>, %s<%s>", v1alpha1.AreaLabelPrefix, strings.Join(areas, "|"),
		v1alpha1.FeatureLabelPrefix, strings.Join(features, "|"), v1alpha1.DataPlaneLabelPrefix, env.DataPlaneSidecar,
		v1alpha1.NeedsLabelPrefix, strings.Join(needs, "|"), v1alpha1.SpecLabelPrefix, strings.Join(specs, "|"))
}

// runSuites runs the conformance suites and turns the verdict into the exit code: exitOK all passed, exitFailed a spec
// failed, exitUsage no environment.
func runSuites(ctx context.Context, c suites.Config) error {
	began := time.Now()
	res, err := suites.Run(c)
	if res != nil {
		writeReports(ctx, c, res)
	}
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
	if res.Conformance != nil {
		for _, p := range res.Conformance.Profiles {
			fmt.Printf("profile %s: %s (%s)\n", p.Name, p.Result, p.Summary)
		}
	}
	if c.ReportDir != "" {
		fmt.Printf("reports in %s (conformance-report.yaml, report.html, junit.xml)\n", c.ReportDir)
	}
	if !res.Passed {
		return &exitError{code: exitFailed, err: fmt.Errorf("conformance failed after %s: see the failures above and %s",
			time.Since(began).Round(time.Second), c.ReportDir)}
	}
	fmt.Printf("conformance passed in %s\n", time.Since(began).Round(time.Second))
	return nil
}

// writeReports writes the run's reports into c.ReportDir and, when a spec failed, every cluster's artifacts (also
// after an interrupt: that is when they are wanted).
func writeReports(ctx context.Context, c suites.Config, res *suites.Result) {
	if c.ReportDir == "" {
		return
	}
	o := report.WriteOptions{Out: c.Out}
	if !c.NoArtifacts {
		o.Artifacts = func(ctx context.Context, st *env.State, dir string) error {
			return artifacts.Collect(ctx, st, dir, artifacts.Options{Out: c.Out})
		}
	}
	if err := report.Write(context.WithoutCancel(ctx), c.ReportDir, res.Run, o); err != nil {
		fmt.Fprintf(c.Out, "reports: %v\n", err)
	}
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
			if _, err := f.envName(); err != nil {
				return err
			}
			release, err := f.lock(cmd.Context())
			if err != nil {
				return err
			}
			defer release()
			return runSuites(cmd.Context(), c)
		},
	}
	f.register(cmd)
	t.register(cmd)
	return cmd
}
